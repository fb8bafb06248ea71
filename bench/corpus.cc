#include "bench/corpus.h"

#include <array>
#include <nlohmann/json.hpp>
#include <random>
#include <string_view>

namespace promptgate::bench {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr std::array<std::string_view, 60> kWords = {
    "the",    "request",  "function", "returns", "value",   "when",    "buffer",  "is",
    "empty",  "we",       "should",   "handle",  "error",   "case",    "and",     "retry",
    "after",  "timeout",  "config",   "file",    "loads",   "module",  "test",    "passes",
    "build",  "fails",    "because",  "missing", "header",  "include", "update",  "docs",
    "please", "refactor", "this",     "class",   "into",    "smaller", "parts",   "with",
    "clear",  "names",    "server",   "client",  "stream",  "parser",  "state",   "machine",
    "cache",  "invalid",  "input",    "output",  "logging", "metrics", "latency", "memory",
    "thread", "queue",    "worker",   "commit"};

constexpr std::array<std::string_view, 8> kCode = {
    "#include <vector>\n#include <string>\n\nstatic int parse_header(const char* p, size_t n) {\n  "
    "for (size_t i = 0; i < n; ++i) {\n    if (p[i] == ':') return static_cast<int>(i);\n  }\n  "
    "return -1;\n}\n",
    "def load_config(path):\n    with open(path) as f:\n        data = yaml.safe_load(f)\n    "
    "if \"listen\" not in data:\n        raise ValueError(f\"missing listen in {path}\")\n    "
    "return data\n",
    "export async function fetchUser(id) {\n  const res = await fetch(`/api/users/${id}`, { "
    "headers: "
    "{ accept: 'application/json' } });\n  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n  "
    "return res.json();\n}\n",
    "func (s *Server) handle(w http.ResponseWriter, r *http.Request) {\n\tctx, cancel := "
    "context.WithTimeout(r.Context(), 5*time.Second)\n\tdefer cancel()\n\tif err := "
    "s.db.PingContext(ctx); "
    "err != nil {\n\t\thttp.Error(w, err.Error(), 503)\n\t\treturn\n\t}\n}\n",
    "SELECT u.id, u.name, count(o.id) AS orders\nFROM users u LEFT JOIN orders o ON o.user_id = "
    "u.id\n"
    "WHERE u.created_at > now() - interval '30 days'\nGROUP BY u.id, u.name ORDER BY orders DESC "
    "LIMIT 50;\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  "
    "template:\n"
    "    spec:\n      containers:\n        - name: web\n          image: registry.local/web:1.4.2\n"
    "          ports:\n            - containerPort: 8080\n",
    "impl Parser {\n    pub fn next_token(&mut self) -> Option<Token> {\n        while let Some(c) "
    "= "
    "self.peek() {\n            if c.is_whitespace() { self.bump(); continue; }\n            "
    "return "
    "Some(self.lex(c));\n        }\n        None\n    }\n}\n",
    "<div class=\"card\">\n  <h2>{{ title }}</h2>\n  <p class=\"muted\">Updated {{ updated_at | "
    "date }}</p>\n"
    "  <button onclick=\"save()\">Save</button>\n</div>\n"};

constexpr std::array<std::string_view, 4> kLogs = {
    "2026-11-02T10:15:32.118Z INFO  http: GET /api/v2/items?page=3 200 12.4ms bytes=18234 "
    "trace=7f3a91c2\n",
    "2026-11-02T10:15:32.245Z WARN  pool: connection 17 idle for 30001ms, closing (active=12 "
    "idle=4)\n",
    "2026-11-02T10:15:33.002Z ERROR worker: job 88213 failed: timeout after 5000ms (attempt 2/5)\n",
    "2026-11-02T10:15:33.517Z DEBUG cache: hit ratio 0.913 over 4096 lookups, evicted 37 "
    "entries\n"};

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string base62(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(kBase62[below(62)]);
    return s;
  }
  std::string digits(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + below(10)));
    return s;
  }
  std::string prose(size_t words) {
    std::string s;
    for (size_t i = 0; i < words; ++i) {
      if (i) s += (below(12) == 0) ? ". " : " ";
      s += kWords[below(kWords.size())];
    }
    return s + ".";
  }
  std::string code(size_t blocks) {
    std::string s;
    for (size_t i = 0; i < blocks; ++i) s += kCode[below(kCode.size())];
    return s;
  }
  std::string logs(size_t lines) {
    std::string s;
    for (size_t i = 0; i < lines; ++i) s += kLogs[below(kLogs.size())];
    return s;
  }
  // A synthetic secret of a well-known shape.
  std::string secret() {
    switch (below(4)) {
      case 0: {
        std::string id = "AKIA";
        for (int i = 0; i < 16; ++i) id.push_back("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[below(32)]);
        return "aws_access_key_id = " + id;
      }
      case 1:
        return "curl -H 'Authorization: Bearer sk-ant-api03-" + base62(93) + "AA'";
      case 2:
        return "contact: jane.roe" + digits(3) + "@corp-mail.io";
      default:
        return "xoxb-" + digits(11) + "-" + digits(12) + "-" + base62(24);
    }
  }

 private:
  std::mt19937_64 rng_;
};

nlohmann::json tools_schema(Gen& g) {
  nlohmann::json tools = nlohmann::json::array();
  for (int i = 0; i < 9; ++i) {
    nlohmann::json props;
    for (int p = 0; p < 6; ++p)
      props["param_" + std::to_string(p)] = {{"type", p % 2 ? "string" : "integer"},
                                             {"description", g.prose(25)}};
    tools.push_back(
        {{"name", "Tool" + std::to_string(i)},
         {"description", g.prose(180)},
         {"input_schema", {{"type", "object"}, {"properties", props}, {"required", {"param_0"}}}}});
  }
  return tools;
}

}  // namespace

Corpus prompt_corpus(size_t total_bytes, size_t bytes_per_finding, uint64_t seed) {
  Gen g(seed);
  Corpus c;
  nlohmann::json tools = tools_schema(g);
  size_t since_last = 0;
  while (c.total_bytes < total_bytes) {
    nlohmann::json messages = nlohmann::json::array();
    size_t turns = 2 + g.below(16);
    for (size_t t = 0; t < turns; ++t) {
      std::string text;
      switch (g.below(4)) {
        case 0:
          text = g.prose(200 + g.below(400));
          break;
        case 1:
          text = "Here is the file:\n```\n" + g.code(3 + g.below(20)) + "```\n" + g.prose(60);
          break;
        case 2:
          text = g.logs(20 + g.below(120));
          break;
        default:
          text = g.code(2 + g.below(8)) + g.logs(10);
          break;
      }
      since_last += text.size();
      if (since_last >= bytes_per_finding) {
        text.insert(g.below(text.size()), "\n" + g.secret() + "\n");
        since_last = 0;
        ++c.planted;
      }
      if (t % 2 == 0) {
        messages.push_back({{"role", "user"}, {"content", {{{"type", "text"}, {"text", text}}}}});
      } else {
        messages.push_back({{"role", "assistant"},
                            {"content",
                             {{{"type", "text"}, {"text", g.prose(30)}},
                              {{"type", "tool_use"},
                               {"id", "toolu_" + g.base62(24)},
                               {"name", "Read"},
                               {"input", {{"file_path", "/src/app/module.cc"}}}}}}});
        messages.push_back({{"role", "user"},
                            {"content",
                             {{{"type", "tool_result"},
                               {"tool_use_id", "toolu_" + g.base62(24)},
                               {"content", text}}}}});
      }
    }
    nlohmann::json body = {{"model", "claude-sonnet-4-5"},
                           {"max_tokens", 32000},
                           {"system", {{{"type", "text"}, {"text", g.prose(900)}}}},
                           {"tools", tools},
                           {"messages", messages},
                           {"metadata", {{"user_id", "user_" + g.base62(64)}}},
                           {"stream", true}};
    c.bodies.push_back(body.dump());
    c.total_bytes += c.bodies.back().size();
  }
  return c;
}

Corpus session_corpus(size_t turns, uint64_t seed) {
  Gen g(seed);
  Corpus c;
  nlohmann::json tools = tools_schema(g);
  std::string system = g.prose(2500);
  nlohmann::json messages = nlohmann::json::array();
  for (size_t t = 0; t < turns; ++t) {
    std::string prompt = g.prose(20 + g.below(120));
    std::string result = g.below(2) ? g.code(30 + g.below(150)) : g.logs(20 + g.below(100));
    if (t % 25 == 24) {
      result.insert(g.below(result.size()), "\n" + g.secret() + "\n");
      ++c.planted;
    }
    std::string tool_id = "toolu_" + g.base62(24);
    messages.push_back({{"role", "user"}, {"content", {{{"type", "text"}, {"text", prompt}}}}});
    messages.push_back(
        {{"role", "assistant"},
         {"content",
          {{{"type", "text"}, {"text", g.prose(30)}},
           {{"type", "tool_use"},
            {"id", tool_id},
            {"name", "Read"},
            {"input", {{"file_path", "/src/app/module" + std::to_string(t) + ".cc"}}}}}}});
    messages.push_back(
        {{"role", "user"},
         {"content", {{{"type", "tool_result"}, {"tool_use_id", tool_id}, {"content", result}}}}});
    nlohmann::json body = {{"model", "claude-sonnet-4-5"},
                           {"max_tokens", 32000},
                           {"system", {{{"type", "text"}, {"text", system}}}},
                           {"tools", tools},
                           {"messages", messages},
                           {"metadata", {{"user_id", "user_session"}}},
                           {"stream", true}};
    c.bodies.push_back(body.dump());
    c.total_bytes += c.bodies.back().size();
  }
  return c;
}

Corpus dense_corpus(size_t total_bytes, uint64_t seed) {
  Gen g(seed);
  Corpus c;
  std::string text;
  while (c.total_bytes + text.size() < total_bytes) {
    switch (g.below(8)) {
      case 0:
        text += "order " + g.digits(16) + " shipped; ";
        break;
      case 1:
        text += "mail " + g.base62(8) + "@" + g.base62(6) + ".com; ";
        break;
      case 2:
        text += "call +1 " + g.digits(3) + "-" + g.digits(3) + "-" + g.digits(4) + "; ";
        break;
      case 3:
        text += "password = \"" + g.base62(3) + "\"; token: abc; ";
        break;
      case 4:
        text += "id " + g.digits(3) + "-" + g.digits(2) + "-" + g.digits(4) + " ref; ";
        break;
      case 5:
        text += "key AKIA" + g.base62(10) + " sk-" + g.base62(12) + " ghp_" + g.base62(20) + "; ";
        break;
      case 6:
        text += "ts " + g.digits(13) + " v" + g.digits(1) + "." + g.digits(2) + "; ";
        break;
      default:
        text += "card " + g.digits(4) + " " + g.digits(4) + " " + g.digits(4) + " " + g.digits(4) +
                "; ";
        break;
    }
    if (text.size() > 64 * 1024) {
      c.total_bytes += text.size();
      c.bodies.push_back(std::move(text));
      text.clear();
    }
  }
  if (!text.empty()) {
    c.total_bytes += text.size();
    c.bodies.push_back(std::move(text));
  }
  return c;
}

}  // namespace promptgate::bench

// Parsing and validation of the proxy's YAML configuration; see config.h.
#include "proxy/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "detectors/yaml_reader.h"
#include "proxy/model_hosts.h"

namespace promptgate::proxy {

const char* const kDefaultConfigYaml = R"(# promptgate's embedded default configuration.
listen: 127.0.0.1:8080
mode: enforce
audit_log: "-"
rules: [builtin]
destinations:
  # The built-in catalogue of model API hosts (Anthropic, OpenAI, Gemini, Vertex AI, Bedrock,
  # Azure, Mistral, ...; `promptgate run --check-config` prints it) is intercepted; hosts listed
  # under `intercept` here are added to it. Everything else is tunnelled untouched. A gateway
  # usually sets `default: deny`.
  default: tunnel
  intercept_builtin: true
  intercept: []
max_body_bytes: 33554432
block_status: 400
)";

const char* to_string(Destination d) {
  switch (d) {
    case Destination::intercept:
      return "intercept";
    case Destination::tunnel:
      return "tunnel";
    case Destination::deny:
      return "deny";
  }
  return "?";
}

const char* to_string(Mode m) {
  return m == Mode::enforce ? "enforce" : "monitor";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One label of a pattern against one label of a host; '*' matches any run of characters.
bool label_matches(std::string_view pat, std::string_view label) {
  size_t star = pat.find('*');
  if (star == std::string_view::npos) return pat == label;
  std::string_view head = pat.substr(0, star), tail = pat.substr(star + 1);
  return !label.empty() && label.size() >= head.size() + tail.size() &&
         label.substr(0, head.size()) == head && label.substr(label.size() - tail.size()) == tail;
}

std::vector<std::string_view> split_labels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t dot = s.find('.', pos);
    out.push_back(
        s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return out;
}

}  // namespace

bool host_matches(std::string_view pattern_in, std::string_view host_in) {
  std::string pattern = lower(pattern_in), host = lower(host_in);
  if (!host.empty() && host.back() == '.') host.pop_back();
  auto pl = split_labels(pattern), hl = split_labels(host);
  // A leading "*." stands for one label or more: the rest is matched against the last labels.
  size_t skip = 0;
  if (pl.size() > 1 && pl.front() == "*") {
    pl.erase(pl.begin());
    if (hl.size() <= pl.size()) return false;
    skip = hl.size() - pl.size();
    for (size_t i = 0; i < skip; ++i)
      if (hl[i].empty()) return false;
  } else if (pl.size() != hl.size()) {
    return false;
  }
  for (size_t i = 0; i < pl.size(); ++i)
    if (!label_matches(pl[i], hl[skip + i])) return false;
  return true;
}

namespace {
// The first pattern matching `host`, or empty.
std::string_view first_match(const std::vector<std::string>& patterns, std::string_view host) {
  for (const auto& p : patterns)
    if (host_matches(p, host)) return p;
  return {};
}
bool any_matches(const std::vector<std::string>& patterns, std::string_view host) {
  return !first_match(patterns, host).empty();
}
}  // namespace

ProxyConfig::DestinationMatch ProxyConfig::match_destination(std::string_view host) const {
  using By = DestinationMatch::By;
  // Deny first, so a broad intercept pattern cannot open a hole a deny entry closed. The
  // config's own entries come before the catalogue: what the admin wrote wins over what is
  // built in (and --check-config warns when that tunnels a model host).
  if (auto p = first_match(deny_hosts, host); !p.empty()) return {Destination::deny, By::deny, p};
  if (auto p = first_match(intercept_hosts, host); !p.empty())
    return {Destination::intercept, By::intercept, p};
  if (auto p = first_match(tunnel_hosts, host); !p.empty())
    return {Destination::tunnel, By::tunnel, p};
  if (intercept_builtin)
    if (const ModelHost* m = builtin_model_hosts().find(host))
      return {Destination::intercept, By::catalogue, ModelHostCatalogue::pattern_for(*m, host)};
  return {default_destination, By::fallback, {}};
}

HostPort ProxyConfig::tcp_target(const HostPort& wanted) const {
  for (const auto& c : connect_to)
    if (lower(c.from.host) == lower(wanted.host) && c.from.port == wanted.port) return c.to;
  return wanted;
}

bool ProxyConfig::is_connect_to_target(std::string_view host) const {
  return std::any_of(connect_to.begin(), connect_to.end(),
                     [&](const ConnectTo& c) { return lower(c.from.host) == lower(host); });
}

bool ProxyConfig::fail_open(std::string_view host) const {
  return any_matches(fail_open_hosts, host);
}

bool ProxyConfig::signed_body_host(std::string_view host) const {
  // A fact about the host, not a policy: it holds whether or not the catalogue is intercepted.
  return any_matches(signed_body_hosts, host) || builtin_model_hosts().signed_body(host);
}

std::vector<std::string> ProxyConfig::groups_of(std::string_view user) const {
  std::vector<std::string> out;
  for (const auto& [group, members] : groups)
    if (std::find(members.begin(), members.end(), user) != members.end()) out.push_back(group);
  return out;
}

const PolicyBlock* ProxyConfig::policy_for(const Identity& who, std::string_view host) const {
  for (const auto& p : policies) {
    if (!p.users.empty() && std::find(p.users.begin(), p.users.end(), who.user) == p.users.end())
      continue;
    if (!p.groups.empty() &&
        std::none_of(p.groups.begin(), p.groups.end(), [&](const std::string& g) {
          return std::find(who.groups.begin(), who.groups.end(), g) != who.groups.end();
        }))
      continue;
    if (!p.hosts.empty() && !any_matches(p.hosts, host)) continue;
    return &p;
  }
  return nullptr;
}

bool ProxyConfig::private_destination_allowed(std::string_view host) const {
  return allow_private_destinations || is_connect_to_target(host) ||
         any_matches(allowed_private_hosts, host);
}

HostPort parse_host_port(std::string_view text, std::string_view what) {
  HostPort hp;
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw ConfigError(std::string(what) + ": expected [IPv6]:PORT, got '" + std::string(text) +
                        "'");
    hp.host = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      throw ConfigError(std::string(what) + ": expected HOST:PORT, got '" + std::string(text) +
                        "'");
    hp.host = std::string(text.substr(0, colon));
  }
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw ConfigError(std::string(what) + ": bad port in '" + std::string(text) + "'");
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

ConnectTo parse_connect_to(const std::string& s) {
  // HOST:PORT:TARGET_HOST:TARGET_PORT (no IPv6 literals on the left, as curl).
  size_t first = s.find(':');
  size_t second = first == std::string::npos ? first : s.find(':', first + 1);
  if (second == std::string::npos)
    throw ConfigError("connect_to: expected HOST:PORT:TARGET_HOST:TARGET_PORT, got '" + s + "'");
  ConnectTo c;
  c.from = parse_host_port(std::string_view(s).substr(0, second), "connect_to");
  c.to = parse_host_port(std::string_view(s).substr(second + 1), "connect_to");
  return c;
}

namespace {

using YAML::Node;

class Parser {
 public:
  explicit Parser(const std::string& source) : in_(source) {}

  // Every mistake goes to `errors` and parsing goes on with the next setting (or list item), so
  // that one run names them all.
  ProxyConfig parse(const std::string& text, std::vector<YamlError>& errors) const {
    ProxyConfig c;
    c.source = in_.file();
    Node root;
    try {
      root = in_.load(text);
    } catch (const YamlError& e) {
      errors.push_back(e);  // malformed YAML: nothing more can be read
      return c;
    }
    if (root.IsNull()) return c;
    std::vector<std::string_view> known;
    for (const auto& f : fields()) known.push_back(f.key);
    errors_ = in_.unknown_keys(root, known, "the configuration");
    if (!root.IsMap()) {
      errors = std::move(errors_);
      return c;
    }
    for (const auto& kv : root) {
      std::string key = YamlReader::key_of(kv.first);
      auto field = std::find_if(fields().begin(), fields().end(),
                                [&](const Field& f) { return f.key == key; });
      if (field != fields().end()) attempt(kv.second, [&] { field->set(*this, kv.second, c); });
    }
    check_group_references(c);
    c.rule_references = std::move(rule_references_);
    if (c.max_decoded_body_bytes < c.max_body_bytes) c.max_decoded_body_bytes = c.max_body_bytes;
    if (c.max_buffered_body_bytes < c.max_body_bytes) c.max_buffered_body_bytes = c.max_body_bytes;
    errors = std::move(errors_);
    return c;
  }

 private:
  // Runs `f`; a mistake it fails with is noted (at `at` when it does not know its line) and
  // parsing goes on.
  template <typename F>
  void attempt(const Node& at, F&& f) const {
    try {
      f();
    } catch (const YamlError& e) {
      errors_.push_back(e);
    } catch (const ConfigError& e) {  // parse_host_port and friends do not know the line
      errors_.emplace_back(in_.file(), YamlReader::line_of(at), "", e.what());
    }
  }

  // A list of host patterns; one that cannot match is a mistake, named with its line.
  std::vector<std::string> hosts(const Node& v, std::string_view key) const {
    std::vector<std::string> out;
    if (v.IsNull()) return out;
    for (auto& item : in_.string_items(v, key)) {
      attempt(item.node, [&] { check_host_pattern(item.node, item.value); });
      out.push_back(std::move(item.value));
    }
    return out;
  }

  void check_host_pattern(const Node& at, const std::string& pattern) const {
    std::string problem = host_pattern_problem(pattern);
    if (!problem.empty())
      in_.fail(at, "host pattern '" + pattern + "' can never match: " + problem);
  }

  void note_rule(const Node& at, std::string id, std::string where) const {
    rule_references_.push_back({std::move(id), YamlReader::line_of(at), std::move(where)});
  }

  // Groups named in policies and overrides must be defined under auth.groups (the only source
  // of groups): a misspelt one would match nobody.
  void check_group_references(const ProxyConfig& c) const {
    for (const auto& [name, line, where] : group_references_) {
      const std::string& group = name;  // clang 14 cannot capture a structured binding
      bool defined = std::any_of(c.groups.begin(), c.groups.end(),
                                 [&](const auto& g) { return g.first == group; });
      if (!defined)
        errors_.emplace_back(
            in_.file(), line, "",
            "unknown group '" + name + "' in " + where + " (groups are defined under auth.groups)");
    }
  }

  void note_groups(const Node& v, std::vector<std::string>& out, const std::string& where) const {
    for (auto& item : in_.string_items(v, "groups")) {
      group_references_.push_back({item.value, YamlReader::line_of(item.node), where});
      out.push_back(std::move(item.value));
    }
  }

  struct GroupReference {
    std::string name;
    int line;
    std::string where;
  };
  mutable std::vector<YamlError> errors_;
  mutable std::vector<ProxyConfig::RuleReference> rule_references_;
  mutable std::vector<GroupReference> group_references_;

  // A top-level key and how its value sets the configuration; the keys are the known ones.
  struct Field {
    std::string_view key;
    void (*set)(const Parser& p, const Node& v, ProxyConfig& c);
  };
  static const std::vector<Field>& fields();

  Destination destination(const Node& n) const {
    std::string v = in_.string(n, "default");
    if (v == "intercept") return Destination::intercept;
    if (v == "tunnel") return Destination::tunnel;
    if (v == "deny") return Destination::deny;
    in_.fail(n, "destination must be intercept, tunnel or deny, not '" + v + "'");
  }

  Mode mode(const Node& n) const {
    std::string m = in_.string(n, "mode");
    if (m == "enforce") return Mode::enforce;
    if (m == "monitor") return Mode::monitor;
    in_.fail(n, "mode must be enforce or monitor, not '" + m + "'");
  }

  Category category(const Node& n, std::string_view key) const {
    std::string cat = in_.string(n, key);
    auto parsed = parse_category(cat);
    if (!parsed) in_.fail(n, "category must be credential, pii, phi or pci, not '" + cat + "'");
    return *parsed;
  }

  std::vector<ActionOverride> action_overrides(const Node& n, const std::string& where) const {
    if (!n.IsSequence()) in_.fail(n, "'actions' must be a list");
    std::vector<ActionOverride> out;
    for (const auto& a : n) attempt(a, [&] { out.push_back(action_override(a, where)); });
    return out;
  }

  void destinations(const Node& v, ProxyConfig& c) const {
    in_.check_keys(v, {"default", "intercept_builtin", "intercept", "tunnel", "deny"},
                   "destinations");
    if (v["default"]) c.default_destination = destination(v["default"]);
    if (v["intercept_builtin"])
      c.intercept_builtin = in_.boolean(v["intercept_builtin"], "intercept_builtin");
    if (v["intercept"]) c.intercept_hosts = hosts(v["intercept"], "intercept");
    if (v["tunnel"]) c.tunnel_hosts = hosts(v["tunnel"], "tunnel");
    if (v["deny"]) c.deny_hosts = hosts(v["deny"], "deny");
  }

  void timeouts(const Node& v, ProxyConfig& c) const {
    in_.check_keys(v,
                   {"header_ms", "body_ms", "idle_ms", "upstream_connect_ms",
                    "upstream_response_ms", "drain_ms", "tunnel_idle_ms"},
                   "timeouts");
    constexpr uint64_t kDay = 86'400'000;
    in_.optional_whole_number(v, "header_ms", 1, kDay, c.header_timeout_ms);
    in_.optional_whole_number(v, "body_ms", 1, kDay, c.body_timeout_ms);
    in_.optional_whole_number(v, "idle_ms", 1, kDay, c.idle_timeout_ms);
    in_.optional_whole_number(v, "upstream_connect_ms", 1, kDay, c.upstream_connect_timeout_ms);
    in_.optional_whole_number(v, "upstream_response_ms", 1, kDay, c.upstream_response_timeout_ms);
    in_.optional_whole_number(v, "drain_ms", 1, kDay, c.drain_timeout_ms);
    in_.optional_whole_number(v, "tunnel_idle_ms", 1, kDay, c.tunnel_idle_timeout_ms);
  }

  void auth(const Node& v, ProxyConfig& c) const {
    in_.check_keys(v, {"users_file", "client_ca", "groups"}, "auth");
    if (v["users_file"]) c.users_file = in_.string(v["users_file"], "users_file");
    if (v["client_ca"]) c.client_ca = in_.string(v["client_ca"], "client_ca");
    if (v["groups"]) {
      if (!v["groups"].IsMap()) in_.fail(v["groups"], "'groups' must map a group to its users");
      for (const auto& g : v["groups"])
        c.groups.push_back({YamlReader::key_of(g.first), in_.strings(g.second, "groups")});
    }
  }

  void tokenize(const Node& v, TokenizeConfig& t) const {
    in_.check_keys(v,
                   {"max_conversations", "max_entries_per_conversation", "max_total_bytes",
                    "idle_ttl_seconds"},
                   "tokenize");
    in_.optional_whole_number(v, "max_conversations", 1, 1'000'000, t.max_conversations);
    in_.optional_whole_number(v, "max_entries_per_conversation", 1, 1'000'000,
                              t.max_entries_per_conversation);
    in_.optional_whole_number(v, "max_total_bytes", 4096, 1ull << 36, t.max_total_bytes);
    in_.optional_whole_number(v, "idle_ttl_seconds", 1, 30 * 86'400, t.idle_ttl_seconds);
  }

  bool block_or_allow(const Node& v, const char* key) const {
    std::string s = in_.string(v, key);
    if (s != "block" && s != "allow")
      in_.fail(v, std::string("'") + key + "' must be block or allow");
    return s == "block";
  }

  void documents(const Node& v, AttachmentsConfig& a) const {
    in_.check_keys(v, {"read", "on_unreadable", "max_pages", "max_ocr_pages", "time_budget_ms"},
                   "documents");
    if (v["read"]) a.read = in_.boolean(v["read"], "read");
    if (v["on_unreadable"])
      a.block_unreadable = block_or_allow(v["on_unreadable"], "on_unreadable");
    in_.optional_whole_number(v, "max_pages", 1, 100'000, a.max_pages);
    in_.optional_whole_number(v, "max_ocr_pages", 0, 10'000, a.max_ocr_pages);
    in_.optional_whole_number(v, "time_budget_ms", 1, 600'000, a.document_budget_ms);
  }

  void pictures(const Node& v, AttachmentsConfig& a) const {
    in_.check_keys(v, {"on_timeout", "max_pixels", "time_budget_ms", "concurrency"}, "pictures");
    if (v["on_timeout"]) a.block_on_timeout = block_or_allow(v["on_timeout"], "on_timeout");
    in_.optional_whole_number(v, "max_pixels", 1, 1'000'000'000, a.max_pixels);
    in_.optional_whole_number(v, "time_budget_ms", 1, 600'000, a.picture_budget_ms);
    in_.optional_whole_number(v, "concurrency", 1, 256, a.reader_threads);
  }

  void incremental_scan(const Node& v, IncrementalScanConfig& inc) const {
    in_.check_keys(v, {"enabled", "max_identities", "max_blocks_per_identity"}, "incremental_scan");
    if (v["enabled"]) inc.enabled = in_.boolean(v["enabled"], "enabled");
    in_.optional_whole_number(v, "max_identities", 1, 1'000'000, inc.max_identities);
    in_.optional_whole_number(v, "max_blocks_per_identity", 1, 10'000'000,
                              inc.max_blocks_per_identity);
  }

  PolicyBlock policy_block(const Node& n) const {
    in_.check_keys(n, {"name", "users", "groups", "hosts", "mode", "actions"}, "a policy");
    PolicyBlock p;
    if (n["name"]) p.name = in_.string(n["name"], "name");
    if (p.name.empty()) p.name = "policy at line " + std::to_string(YamlReader::line_of(n));
    const std::string where = "policy '" + p.name + "'";
    if (n["users"]) p.users = in_.strings(n["users"], "users");
    if (n["groups"]) note_groups(n["groups"], p.groups, where);
    if (n["hosts"]) p.hosts = hosts(n["hosts"], "hosts");
    if (n["mode"]) p.mode = mode(n["mode"]);
    if (n["actions"]) p.actions = action_overrides(n["actions"], where + " actions");
    return p;
  }

  OverridesConfig overrides(const Node& n) const {
    in_.check_keys(n,
                   {"enabled", "rules", "categories", "groups", "ttl_seconds", "grant_seconds",
                    "min_justification"},
                   "overrides");
    OverridesConfig o;
    if (n["enabled"]) o.enabled = in_.boolean(n["enabled"], "enabled");
    if (n["rules"] && !n["rules"].IsNull())
      for (auto& item : in_.string_items(n["rules"], "rules")) {
        note_rule(item.node, item.value, "overrides.rules");
        o.rules.push_back(std::move(item.value));
      }
    const size_t errors_before = errors_.size();
    if (n["categories"])
      for (const auto& item : in_.string_items(n["categories"], "categories"))
        attempt(item.node, [&] { o.categories.push_back(category(item.node, "categories")); });
    if (n["groups"] && !n["groups"].IsNull()) note_groups(n["groups"], o.groups, "overrides");
    in_.optional_whole_number(n, "ttl_seconds", 10, 86'400, o.ttl_seconds);
    in_.optional_whole_number(n, "grant_seconds", 0, 7 * 86'400, o.grant_seconds);
    in_.optional_whole_number(n, "min_justification", 1, 200, o.min_justification);
    // (A misspelt category is the mistake to name, not its consequence.)
    if (o.enabled && o.rules.empty() && o.categories.empty() && errors_.size() == errors_before)
      in_.fail(n, "overrides are enabled but no 'rules' or 'categories' are listed");
    return o;
  }

  ActionOverride action_override(const Node& n, const std::string& where) const {
    in_.check_keys(n, {"rule", "category", "host", "action"}, "an action override");
    ActionOverride o;
    if (n["rule"]) {
      o.rule = in_.string(n["rule"], "rule");
      note_rule(n["rule"], o.rule, where);
    }
    if (n["category"]) o.category = category(n["category"], "category");
    if (n["host"]) {
      o.host = in_.string(n["host"], "host");
      check_host_pattern(n["host"], o.host);
    }
    if (!n["action"]) in_.fail(n, "an action override needs 'action: block|redact|tokenize|log'");
    std::string a = in_.string(n["action"], "action");
    auto act = parse_action(a);
    if (!act)
      in_.fail(n["action"], "action must be block, redact, tokenize or log, not '" + a + "'");
    o.action = *act;
    return o;
  }

  // `rules: [FILE, ...]` adds to the built-in packs; `rules: {files: [...], builtin: replace}`
  // uses the files alone (`builtin: keep`, the default, is the list form).
  void rule_files(const Node& v, ProxyConfig& c) const {
    if (!v.IsMap()) {
      c.rules = in_.strings(v, "rules");
      return;
    }
    in_.check_keys(v, {"files", "builtin"}, "rules");
    if (v["files"]) c.rules = in_.strings(v["files"], "files");
    if (v["builtin"]) {
      std::string b = in_.string(v["builtin"], "builtin");
      if (b != "keep" && b != "replace")
        in_.fail(v["builtin"], "'builtin' must be keep or replace, not '" + b + "'");
      c.rules_builtin = b == "keep";
    }
    if (!c.rules_builtin && c.rules.empty())
      in_.fail(v, "rules.builtin: replace needs rule files under rules.files");
    if (!c.rules_builtin && std::find(c.rules.begin(), c.rules.end(), "builtin") != c.rules.end())
      in_.fail(v, "rules.files names builtin while rules.builtin is replace");
  }

  HostPort upstream_proxy(const Node& v) const {
    std::string url = in_.string(v, "upstream_proxy");
    if (url.rfind("http://", 0) == 0) url = url.substr(7);
    while (!url.empty() && url.back() == '/') url.pop_back();
    return parse_host_port(url, "upstream_proxy");
  }

  std::vector<uint16_t> ports(const Node& v) const {
    if (!v.IsSequence()) in_.fail(v, "'allowed_connect_ports' must be a list of ports");
    std::vector<uint16_t> out;
    for (const auto& port : v)
      out.push_back(in_.whole_number<uint16_t>(port, "allowed_connect_ports", 1, 65535));
    return out;
  }

  YamlReader in_;
};

const std::vector<Parser::Field>& Parser::fields() {
  // The setters' parameter types, short so that a field reads as one line.
  using P = const Parser&;
  using N = const Node&;
  using C = ProxyConfig&;
  static const std::vector<Field> table = {
      {"listen",
       [](P p, N v, C c) { c.listen = parse_host_port(p.in_.string(v, "listen"), "listen"); }},
      {"mode", [](P p, N v, C c) { c.mode = p.mode(v); }},
      {"audit_log",
       [](P p, N v, C c) { c.audit_log = v.IsNull() ? "" : p.in_.string(v, "audit_log"); }},
      {"upstream_ca", [](P p, N v, C c) { c.upstream_ca = p.in_.string(v, "upstream_ca"); }},
      {"connect_to",
       [](P p, N v, C c) {
         for (const auto& s : p.in_.strings(v, "connect_to"))
           c.connect_to.push_back(parse_connect_to(s));
       }},
      {"rules", [](P p, N v, C c) { p.rule_files(v, c); }},
      {"threads",
       [](P p, N v, C c) { c.threads = p.in_.whole_number<unsigned>(v, "threads", 0, 256); }},
      {"destinations", [](P p, N v, C c) { p.destinations(v, c); }},
      {"fail_open_hosts", [](P p, N v, C c) { c.fail_open_hosts = p.hosts(v, "fail_open_hosts"); }},
      {"signed_body_hosts",
       [](P p, N v, C c) { c.signed_body_hosts = p.hosts(v, "signed_body_hosts"); }},
      {"actions",
       [](P p, N v, C c) {
         auto more = p.action_overrides(v, "actions");
         c.actions.insert(c.actions.end(), more.begin(), more.end());
       }},
      {"block_status",
       [](P p, N v, C c) {
         c.block_status = p.in_.whole_number<unsigned>(v, "block_status", 400, 499);
       }},
      {"after_block",
       [](P p, N v, C c) {
         std::string a = p.in_.string(v, "after_block");
         auto act = parse_action(a);
         if (!act || *act == Action::log)
           p.in_.fail(v, "after_block must be redact, tokenize or block, not '" + a + "'");
         c.after_block = *act;
       }},
      {"block_help_url",
       [](P p, N v, C c) {
         c.block_help_url = p.in_.string(v, "block_help_url");
         if (c.block_help_url.find_first_of(" \t\r\n") != std::string::npos)
           p.in_.fail(v, "block_help_url must be one URL, without spaces");
       }},
      {"scan_headers",
       [](P p, N v, C c) {
         for (const auto& h : p.in_.strings(v, "scan_headers")) c.scan_headers.push_back(lower(h));
       }},
      {"max_body_bytes",
       [](P p, N v, C c) {
         c.max_body_bytes = p.in_.whole_number(v, "max_body_bytes", 1024, 1ull << 32);
       }},
      {"max_decoded_body_bytes",
       [](P p, N v, C c) {
         c.max_decoded_body_bytes =
             p.in_.whole_number(v, "max_decoded_body_bytes", 1024, 1ull << 34);
       }},
      {"max_buffered_body_bytes",
       [](P p, N v, C c) {
         c.max_buffered_body_bytes =
             p.in_.whole_number(v, "max_buffered_body_bytes", 1024, 1ull << 40);
       }},
      {"max_header_bytes",
       [](P p, N v, C c) {
         c.max_header_bytes = p.in_.whole_number<uint32_t>(v, "max_header_bytes", 1024, 1 << 20);
       }},
      {"timeouts", [](P p, N v, C c) { p.timeouts(v, c); }},
      {"admin_listen",
       [](P p, N v, C c) {
         c.admin_listen = parse_host_port(p.in_.string(v, "admin_listen"), "admin_listen");
       }},
      {"allowed_connect_ports", [](P p, N v, C c) { c.allowed_connect_ports = p.ports(v); }},
      {"allowed_private_hosts",
       [](P p, N v, C c) { c.allowed_private_hosts = p.hosts(v, "allowed_private_hosts"); }},
      {"allow_private_destinations",
       [](P p, N v, C c) {
         c.allow_private_destinations = p.in_.boolean(v, "allow_private_destinations");
       }},
      {"max_connections",
       [](P p, N v, C c) {
         c.max_connections = p.in_.whole_number<uint32_t>(v, "max_connections", 1, 10'000'000);
       }},
      {"max_connections_per_client",
       [](P p, N v, C c) {
         c.max_connections_per_client =
             p.in_.whole_number<uint32_t>(v, "max_connections_per_client", 1, 10'000'000);
       }},
      {"auth", [](P p, N v, C c) { p.auth(v, c); }},
      {"policies",
       [](P p, N v, C c) {
         if (!v.IsSequence()) p.in_.fail(v, "'policies' must be a list");
         for (const auto& block : v)
           p.attempt(block, [&] { c.policies.push_back(p.policy_block(block)); });
       }},
      {"upstream_proxy", [](P p, N v, C c) { c.upstream_proxy = p.upstream_proxy(v); }},
      {"overrides", [](P p, N v, C c) { c.overrides = p.overrides(v); }},
      {"incremental_scan", [](P p, N v, C c) { p.incremental_scan(v, c.incremental_scan); }},
      {"tokenize", [](P p, N v, C c) { p.tokenize(v, c.tokenize); }},
      {"documents", [](P p, N v, C c) { p.documents(v, c.attachments); }},
      {"pictures", [](P p, N v, C c) { p.pictures(v, c.attachments); }},
      {"known_secrets",
       [](P p, N v, C c) { c.known_secrets = v.IsNull() ? "" : p.in_.string(v, "known_secrets"); }},
  };
  return table;
}

}  // namespace

ProxyConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                         std::vector<std::string>& errors) {
  std::vector<YamlError> found;
  ProxyConfig c = Parser(source_name).parse(yaml_text, found);
  std::stable_sort(found.begin(), found.end(),
                   [](const YamlError& a, const YamlError& b) { return a.line() < b.line(); });
  for (const auto& e : found) errors.push_back(e.what());
  return c;
}

ProxyConfig load_config(const std::string& path, std::vector<std::string>& errors) {
  if (path.empty()) return parse_config(kDefaultConfigYaml, "embedded default config", errors);
  std::ifstream in(path);
  if (!in) {
    errors.push_back(path + ": cannot read the configuration file");
    return ProxyConfig{};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, errors);
}

namespace {
// Callers know one error type for the configuration; its message lists every mistake.
void throw_if_any(const std::vector<std::string>& errors) {
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
  if (!message.empty()) throw ConfigError(message);
}
}  // namespace

ProxyConfig parse_config(const std::string& yaml_text, const std::string& source_name) {
  std::vector<std::string> errors;
  ProxyConfig c = parse_config(yaml_text, source_name, errors);
  throw_if_any(errors);
  return c;
}

ProxyConfig load_config(const std::string& path) {
  std::vector<std::string> errors;
  ProxyConfig c = load_config(path, errors);
  throw_if_any(errors);
  return c;
}

std::vector<std::string> check_rule_references(const ProxyConfig& cfg, const RulePacks& packs) {
  std::vector<std::string> errors;
  for (const auto& ref : cfg.rule_references) {
    if (std::any_of(packs.rules.begin(), packs.rules.end(),
                    [&](const Rule& r) { return r.id == ref.id; }))
      continue;
    std::string message = "unknown rule '" + ref.id + "' in " + ref.where;
    if (auto near = closest_rule_id(packs, ref.id); !near.empty())
      message += " (did you mean '" + near + "'?)";
    else
      message += " (promptgate rules list shows the rule ids)";
    errors.push_back(YamlError(cfg.source, ref.line, "", message).what());
  }
  return errors;
}

std::string host_pattern_problem(std::string_view p) {
  if (p.empty()) return "it is empty";
  if (p.find("://") != std::string_view::npos)
    return "a host pattern is a host name, without a scheme";
  if (p.find('/') != std::string_view::npos) return "a host pattern is a host name, without a path";
  if (std::count(p.begin(), p.end(), ':') == 1)  // two or more: an IPv6 address
    return "a host pattern is a host name, without a port";
  for (char ch : p) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isspace(u)) return "it contains a blank";
    if (!std::isalnum(u) && std::string_view("-._*:[]").find(ch) == std::string_view::npos)
      return std::string("no host name contains '") + ch + "'";
  }
  std::string_view labels = p;
  if (labels.ends_with('.')) labels.remove_suffix(1);  // a trailing dot is ignored on hosts too
  if (labels.empty() || labels.starts_with('.') || labels.find("..") != std::string_view::npos)
    return "it has an empty label";
  return "";
}

}  // namespace promptgate::proxy

// The built-in catalogue of model API hosts and the destination policy around it: every entry is
// intercepted by the default config and by a config that lists its own hosts (additive), host
// patterns match exactly as documented, intercept_builtin: false drops the catalogue, a config
// that tunnels a catalogued host is warned about, and --check-config's table says what each
// pattern gets.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "proxy/config.h"
#include "proxy/destination_table.h"
#include "proxy/model_hosts.h"

using namespace promptgate::proxy;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_model_hosts(yaml, "hosts.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has(const std::vector<std::string>& warnings, const std::string& part) {
  for (const auto& w : warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("model hosts: the catalogue parses and every entry says who, where, which clients") {
  const auto& entries = builtin_model_hosts().entries();
  REQUIRE(entries.size() >= 20);
  for (const auto& e : entries) {
    INFO(e.vendor);
    CHECK(!e.vendor.empty());
    CHECK(!e.hosts.empty());
    CHECK(!e.examples.empty());
    CHECK(!e.clients.empty());
    CHECK(!e.formats.empty());
  }
}

TEST_CASE("model hosts: each catalogue example is intercepted by the default config") {
  const ProxyConfig embedded = load_config("");
  // A file that says nothing about destinations, and one with its own intercept list: both keep
  // the catalogue.
  const ProxyConfig limits_only = parse_config("max_body_bytes: 2048\n", "limits.yaml");
  const ProxyConfig own_list = parse_config(R"(destinations:
  default: deny
  intercept: [api.anthropic.com, "bedrock-runtime.*.amazonaws.com", llm-gateway.example.internal]
)",
                                            "own.yaml");
  for (const auto& e : builtin_model_hosts().entries())
    for (const auto& x : e.examples) {
      INFO(e.vendor << ": " << x);
      CHECK(embedded.destination_for(x) == Destination::intercept);
      CHECK(limits_only.destination_for(x) == Destination::intercept);
      CHECK(own_list.destination_for(x) == Destination::intercept);
      CHECK(embedded.signed_body_host(x) == e.signed_body);
    }
  CHECK(own_list.destination_for("llm-gateway.example.internal") == Destination::intercept);
  CHECK(own_list.destination_for("github.com") == Destination::deny);
  CHECK(embedded.destination_for("github.com") == Destination::tunnel);
  CHECK(tunnelled_model_host_warnings(embedded).empty());
  CHECK(tunnelled_model_host_warnings(own_list).empty());
}

TEST_CASE("model hosts: the names of issue 16 are all read") {
  const ProxyConfig c = load_config("");
  for (const char* host : {
           "api.anthropic.com",
           "api.openai.com",
           "chatgpt.com",
           "generativelanguage.googleapis.com",
           "cloudcode-pa.googleapis.com",
           "aiplatform.googleapis.com",
           "us-central1-aiplatform.googleapis.com",
           "aiplatform.us.rep.googleapis.com",
           "aiplatform.eu.rep.googleapis.com",
           "bedrock-runtime.eu-west-1.amazonaws.com",
           "bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
           "bedrock-runtime.us-east-1.api.aws",
           "vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.eu-west-1.vpce.amazonaws.com",
           "bedrock-runtime.cn-northwest-1.amazonaws.com.cn",
           "my-resource.openai.azure.com",
           "my-resource.services.ai.azure.com",
           "api.mistral.ai",
           "codestral.mistral.ai",
           "api.groq.com",
           "api.deepseek.com",
           "api.x.ai",
           "openrouter.ai",
           "api.together.xyz",
           "api.cohere.com",
           "api.fireworks.ai",
           "api.perplexity.ai",
           "api.githubcopilot.com",
           "api.individual.githubcopilot.com",
           "API.Anthropic.COM.",
       }) {
    INFO(host);
    CHECK(c.destination_for(host) == Destination::intercept);
    CHECK(is_model_host(host));
  }
  for (const char* host : {"anthropic.com", "openai.com", "s3.us-east-1.amazonaws.com",
                           "bedrock.us-east-1.amazonaws.com", "openai.azure.com",
                           "storage.googleapis.com", "githubcopilot.com", "github.com"}) {
    INFO(host);
    CHECK(c.destination_for(host) == Destination::tunnel);
    CHECK_FALSE(is_model_host(host));
  }
  CHECK(c.signed_body_host("bedrock-runtime-fips.us-east-1.amazonaws.com"));
  CHECK(c.signed_body_host("bedrock-runtime.us-east-1.api.aws"));
  CHECK_FALSE(c.signed_body_host("api.anthropic.com"));
}

TEST_CASE("host patterns: a leading '*.' spans labels, any other '*' stays within one") {
  // Leading "*.": one label or more, never the apex, never an empty label.
  CHECK(host_matches("*.githubcopilot.com", "api.githubcopilot.com"));
  CHECK(host_matches("*.githubcopilot.com", "api.business.githubcopilot.com"));
  CHECK_FALSE(host_matches("*.githubcopilot.com", "githubcopilot.com"));
  CHECK_FALSE(host_matches("*.githubcopilot.com", ".githubcopilot.com"));
  CHECK_FALSE(host_matches("*.githubcopilot.com", "evilgithubcopilot.com"));
  // "*" inside a label: within that label only.
  CHECK(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.amazonaws.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.a.b.amazonaws.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com",
                           "bedrock-runtime.us-east-1.amazonaws.com.cn"));
  CHECK(host_matches("*-aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com"));
  // Within a label, "*" is any run of characters, none included; a "*" label is never empty.
  CHECK(host_matches("*-aiplatform.googleapis.com", "-aiplatform.googleapis.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime..amazonaws.com"));
  CHECK_FALSE(host_matches("*-aiplatform.googleapis.com", "aiplatform.googleapis.com"));
  CHECK_FALSE(host_matches("*-aiplatform.googleapis.com", "x.us-aiplatform.googleapis.com"));
  // Both: a leading "*." and a one-label "*" after it.
  const char* vpce = "*.bedrock-runtime.*.vpce.amazonaws.com";
  CHECK(host_matches(vpce, "vpce-1-a.bedrock-runtime.us-east-1.vpce.amazonaws.com"));
  CHECK(host_matches(vpce, "a.b.bedrock-runtime.us-east-1.vpce.amazonaws.com"));
  CHECK_FALSE(host_matches(vpce, "bedrock-runtime.us-east-1.vpce.amazonaws.com"));
  CHECK_FALSE(host_matches(vpce, "vpce-1-a.bedrock-runtime.a.b.vpce.amazonaws.com"));
  CHECK_FALSE(host_matches(vpce, "vpce-1-a.bedrock-runtime.us-east-1.vpce.amazonaws.com.cn"));
}

TEST_CASE("destinations: deny and the config's own entries come before the catalogue") {
  ProxyConfig c = parse_config(R"(destinations:
  default: tunnel
  intercept: [llm-gateway.example.internal]
  tunnel: [chatgpt.com, "*.amazonaws.com", team.openai.azure.com]
  deny: [api.deepseek.com]
)",
                               "gw.yaml");
  using By = ProxyConfig::DestinationMatch::By;
  CHECK(c.destination_for("api.deepseek.com") == Destination::deny);
  CHECK(c.match_destination("api.deepseek.com").by == By::deny);
  CHECK(c.destination_for("chatgpt.com") == Destination::tunnel);
  CHECK(c.destination_for("bedrock-runtime.us-east-1.amazonaws.com") == Destination::tunnel);
  CHECK(c.match_destination("bedrock-runtime.us-east-1.amazonaws.com").pattern ==
        "*.amazonaws.com");
  CHECK(c.destination_for("bedrock-runtime.us-east-1.api.aws") == Destination::intercept);
  CHECK(c.match_destination("api.anthropic.com").by == By::catalogue);
  CHECK(c.match_destination("api.anthropic.com").pattern == "api.anthropic.com");
  // Signing is a fact about the host, whatever the policy.
  CHECK(c.signed_body_host("bedrock-runtime.us-east-1.amazonaws.com"));

  auto warnings = tunnelled_model_host_warnings(c);
  CHECK(has(warnings,
            "chatgpt.com (OpenAI ChatGPT back end) is a model API, tunnelled unread: "
            "tunnel entry 'chatgpt.com' comes first"));
  CHECK(has(warnings,
            "bedrock-runtime.*.amazonaws.com (Amazon Bedrock, e.g. "
            "bedrock-runtime.us-east-1.amazonaws.com) is a model API, tunnelled unread: "
            "tunnel entry '*.amazonaws.com' comes first"));
  // A literal tunnel entry inside a catalogue wildcard, which no example shows.
  CHECK(has(warnings, "team.openai.azure.com (Azure OpenAI) is a model API"));
  CHECK_FALSE(has(warnings, "api.deepseek.com"));  // denied is fine: refused, not unread
  CHECK_FALSE(has(warnings, "api.aws"));
}

TEST_CASE("destinations: intercept_builtin false drops the catalogue, with a warning per host") {
  ProxyConfig tunnels = parse_config(R"(destinations:
  intercept_builtin: false
  intercept: [api.anthropic.com]
)",
                                     "narrow.yaml");
  CHECK_FALSE(tunnels.intercept_builtin);
  CHECK(tunnels.destination_for("api.anthropic.com") == Destination::intercept);
  CHECK(tunnels.destination_for("api.openai.com") == Destination::tunnel);
  auto warnings = tunnelled_model_host_warnings(tunnels);
  CHECK(has(warnings,
            "api.openai.com (OpenAI) is a model API, tunnelled unread: "
            "intercept_builtin is false and the default is tunnel"));
  CHECK_FALSE(has(warnings, "api.anthropic.com"));

  // Deny by default: what the catalogue would have read is refused instead. No warning.
  ProxyConfig denies = parse_config(R"(destinations:
  default: deny
  intercept_builtin: false
  intercept: [api.anthropic.com]
)",
                                    "sidecar.yaml");
  CHECK(denies.destination_for("api.openai.com") == Destination::deny);
  CHECK(tunnelled_model_host_warnings(denies).empty());
}

TEST_CASE("destinations: the table lists config entries, every catalogue pattern, the default") {
  ProxyConfig c = parse_config(R"(destinations:
  default: deny
  intercept: [llm-gateway.example.internal]
  tunnel: [chatgpt.com]
)",
                               "gw.yaml");
  auto rows = destination_table(c);
  size_t patterns = 0;
  for (const auto& e : builtin_model_hosts().entries()) patterns += e.hosts.size();
  REQUIRE(rows.size() == 2 + patterns + 1);
  CHECK(rows.front().pattern == "llm-gateway.example.internal");
  CHECK(rows.front().source == "intercept");
  CHECK(rows.back().pattern == "*");
  CHECK(rows.back().destination == Destination::deny);
  bool saw_chatgpt = false;
  for (const auto& r : rows)
    if (r.source == "built-in: OpenAI ChatGPT back end") {
      saw_chatgpt = true;
      CHECK(r.destination == Destination::tunnel);
      CHECK(r.note == "tunnel entry 'chatgpt.com' comes first");
    }
  CHECK(saw_chatgpt);
  std::string text = format_destination_table(c);
  CHECK(text.find("  intercept  llm-gateway.example.internal") != std::string::npos);
  CHECK(text.find("built-in: Amazon Bedrock") != std::string::npos);
}

TEST_CASE("model hosts: a catalogue file whose patterns and examples disagree is refused") {
  CHECK(error_of("hosts:\n  - vendor: A\n    hosts: [\"*.a.test\"]\n    examples: [b.test]\n")
            .find("hosts.yaml:2: A: pattern '*.a.test' has no example that it matches") == 0);
  CHECK(error_of("hosts:\n  - vendor: A\n    hosts: [a.test, b.test]\n    examples: [a.test]\n")
            .find("pattern 'b.test' has no example") != std::string::npos);
  CHECK(error_of("hosts:\n  - vendor: A\n    hosts: [\"*.a.test\"]\n"
                 "    examples: [x.a.test, c.test]\n")
            .find("example 'c.test' matches none") != std::string::npos);
  CHECK(error_of("hosts:\n  - vendor: A\n    hostz: [a.test]\n").find("unknown key 'hostz'") !=
        std::string::npos);
  CHECK(error_of("hosts:\n  - hosts: [a.test]\n    examples: [a.test]\n").find("needs 'vendor'") !=
        std::string::npos);
  CHECK(error_of("hosts: {}\n").find("'hosts' must be a list") != std::string::npos);
}

TEST_CASE("model hosts: docs/model-hosts.md names every vendor and pattern of the catalogue") {
  const std::string doc = read_file(PROMPTGATE_SOURCE_DIR "/docs/model-hosts.md");
  REQUIRE(!doc.empty());
  for (const auto& e : builtin_model_hosts().entries()) {
    INFO(e.vendor);
    CHECK(doc.find(e.vendor) != std::string::npos);
    for (const auto& p : e.hosts) {
      INFO(p);
      CHECK(doc.find("`" + p + "`") != std::string::npos);
    }
  }
}

// The proxy's configuration and policy: the embedded default parses, errors name file and line,
// host patterns, destination policy, per-rule / category / host action overrides, the request
// verdict, signed bodies, and block messages that never carry a value.
#include <catch2/catch.hpp>

#include "config.h"
#include "policy.h"

using namespace promptgate;
using namespace promptgate::proxy;

namespace {
Finding finding(const std::string& rule, Category cat, Action action, const std::string& where) {
  Finding f;
  f.rule_id = rule;
  f.category = cat;
  f.action = action;
  f.location = where;
  f.length = 40;
  f.fingerprint = "fp_0123456789abcdef";
  return f;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "gw.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("the embedded default config intercepts the model APIs and tunnels the rest") {
  ProxyConfig c = load_config("");
  CHECK(c.listen.host == "127.0.0.1");
  CHECK(c.listen.port == 8080);
  CHECK(c.mode == Mode::enforce);
  CHECK(c.block_status == 400);
  CHECK(c.max_body_bytes == 32ull << 20);
  CHECK(c.destination_for("api.anthropic.com") == Destination::intercept);
  CHECK(c.destination_for("API.Anthropic.com.") == Destination::intercept);
  CHECK(c.destination_for("bedrock-runtime.eu-west-1.amazonaws.com") == Destination::intercept);
  CHECK(c.signed_body_host("bedrock-runtime.eu-west-1.amazonaws.com"));
  CHECK(c.destination_for("github.com") == Destination::tunnel);
  CHECK(c.destination_for("anthropic.com") == Destination::tunnel);
}

TEST_CASE("host patterns") {
  CHECK(host_matches("*.example.com", "a.example.com"));
  CHECK(host_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(host_matches("*.example.com", "example.com"));
  CHECK_FALSE(host_matches("*.example.com", "badexample.com"));
  CHECK(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.amazonaws.com"));
  CHECK_FALSE(host_matches("bedrock-runtime.*.amazonaws.com", "bedrock-runtime.a.b.amazonaws.com"));
  CHECK(host_matches("*-aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com"));
  CHECK_FALSE(host_matches("api.anthropic.com", "api.anthropic.com.evil.test"));
}

TEST_CASE("deny wins over intercept, default applies to unlisted hosts") {
  ProxyConfig c = parse_config(R"(destinations:
  default: deny
  intercept: ["*.corp.test"]
  deny: [secret.corp.test]
  tunnel: [github.com]
)",
                               "gw.yaml");
  CHECK(c.destination_for("api.corp.test") == Destination::intercept);
  CHECK(c.destination_for("secret.corp.test") == Destination::deny);
  CHECK(c.destination_for("github.com") == Destination::tunnel);
  CHECK(c.destination_for("example.org") == Destination::deny);
}

TEST_CASE("config errors name the file, the line and what is wrong") {
  CHECK(error_of("listen: 127.0.0.1:8080\nlisn: x\n") ==
        "gw.yaml:2: unknown key 'lisn' in the configuration (known: actions, audit_log, "
        "block_status, connect_to, destinations, fail_open_hosts, listen, max_body_bytes, "
        "max_decoded_body_bytes, max_header_bytes, mode, rules, scan_headers, signed_body_hosts, "
        "threads, timeouts, upstream_ca)");
  CHECK(error_of("mode: observe\n") == "gw.yaml:1: mode must be enforce or monitor, not 'observe'");
  CHECK(error_of("listen: 127.0.0.1\n").find("gw.yaml:1: listen: expected HOST:PORT") == 0);
  CHECK(error_of("listen: 127.0.0.1:99999\n").find("gw.yaml:1: listen: bad port") == 0);
  CHECK(error_of("block_status: 503\n") == "gw.yaml:1: 'block_status' must be between 400 and 499");
  CHECK(error_of("actions:\n  - {rule: x}\n").find("gw.yaml:2: an action override needs") == 0);
  CHECK(error_of("actions:\n  - {category: secrets, action: log}\n")
            .find("gw.yaml:2: category must be credential, pii, phi or pci") == 0);
  CHECK(error_of("destinations:\n  default: allow\n").find("gw.yaml:2: destination must be") == 0);
  CHECK(error_of("connect_to: [\"a:1:b\"]\n").find("connect_to:") != std::string::npos);
  CHECK(error_of("listen: [unclosed\n").find("gw.yaml:") == 0);
}

TEST_CASE("connect_to maps a host:port to another TCP target") {
  ProxyConfig c = parse_config("connect_to: [\"api.anthropic.com:443:127.0.0.1:9443\"]\n", "x");
  HostPort t = c.tcp_target({"api.anthropic.com", 443});
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 9443);
  CHECK(c.tcp_target({"api.anthropic.com", 8443}).port == 8443);
  CHECK(c.tcp_target({"other.test", 443}).host == "other.test");
  ConnectTo flag = parse_connect_to("upstream.test:443:localhost:1");
  CHECK(flag.to.host == "localhost");
}

TEST_CASE("overrides by rule, category and host; the most severe action wins") {
  ProxyConfig c = parse_config(R"(actions:
  - {rule: generic-password, action: log}
  - {category: pii, host: "*.internal.test", action: log}
  - {category: pii, action: redact}
)",
                               "x");
  auto pw = finding("generic-password", Category::credential, Action::block, "messages[0]");
  auto email = finding("email-address", Category::pii, Action::block, "messages[1]");
  auto token = finding("github-pat-classic", Category::credential, Action::block, "system");
  CHECK(action_for(c, "api.anthropic.com", pw) == Action::log);
  CHECK(action_for(c, "api.anthropic.com", email) == Action::redact);
  CHECK(action_for(c, "llm.internal.test", email) == Action::log);
  CHECK(action_for(c, "api.anthropic.com", token) == Action::block);

  CHECK(decide(c, "api.anthropic.com", {}, false).verdict == Verdict::allow);
  CHECK(decide(c, "api.anthropic.com", {pw}, false).verdict == Verdict::log);
  CHECK(decide(c, "api.anthropic.com", {pw, email}, false).verdict == Verdict::redact);
  auto d = decide(c, "api.anthropic.com", {pw, email, token}, false);
  CHECK(d.verdict == Verdict::block);
  REQUIRE(d.actions.size() == 3);
  CHECK(d.actions[1] == Action::redact);
}

TEST_CASE("a signed body cannot be redacted, so redaction becomes a block") {
  ProxyConfig c = parse_config("actions: [{category: pii, action: redact}]\n", "x");
  auto email = finding("email-address", Category::pii, Action::block, "messages[0].content");
  auto d = decide(c, "bedrock-runtime.us-east-1.amazonaws.com", {email}, true);
  CHECK(d.verdict == Verdict::block);
  CHECK(d.redaction_refused_signed);
  std::string msg = block_message({email}, d.actions, d.redaction_refused_signed);
  CHECK(msg.find("signed by the client") != std::string::npos);
}

TEST_CASE("the block message names rule, location and fingerprint, and what to do") {
  auto token = finding("github-pat-classic", Category::credential, Action::block,
                       "messages[3].content[0].content");
  auto email = finding("email-address", Category::pii, Action::log, "system");
  std::string msg = block_message({token, email}, {Action::block, Action::log}, false);
  CHECK(msg.rfind("promptgate blocked this request:", 0) == 0);
  CHECK(msg.find("'github-pat-classic' at messages[3].content[0].content") != std::string::npos);
  CHECK(msg.find("fp_0123456789abcdef") != std::string::npos);
  CHECK(msg.find("email-address") == std::string::npos);  // logged findings are not the reason
  CHECK(msg.find("Remove the value") != std::string::npos);
}

TEST_CASE("a config file that does not mention destinations still intercepts the model APIs") {
  ProxyConfig c = parse_config("max_body_bytes: 2048\n", "limits-only.yaml");
  CHECK(c.destination_for("api.anthropic.com") == Destination::intercept);
  CHECK(c.signed_body_host("bedrock-runtime.us-east-1.amazonaws.com"));
  ProxyConfig own = parse_config("destinations: {intercept: [llm.corp.test]}\n", "own.yaml");
  CHECK(own.destination_for("llm.corp.test") == Destination::intercept);
  CHECK(own.destination_for("api.anthropic.com") == Destination::tunnel);
}

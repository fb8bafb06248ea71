// The proxy's configuration and policy: the embedded default parses, errors name file and line,
// host patterns, destination policy, per-rule / category / host action overrides, the request
// verdict, signed bodies, and block messages that never carry a value.
#include <catch2/catch.hpp>

#include "proxy/config.h"
#include "proxy/policy.h"

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
  std::string unknown = error_of("listen: 127.0.0.1:8080\nlisn: x\n");
  CHECK(unknown.rfind("gw.yaml:2: unknown key 'lisn' in the configuration (known: ", 0) == 0);
  CHECK(unknown.find("listen") != std::string::npos);
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

TEST_CASE("every mistake of a file is reported, in line order, not only the first") {
  std::string all = error_of(
      "mode: observe\nlisn: x\nactions:\n  - {category: secrets, action: log}\n  - {rule: a}\n"
      "block_status: 503\n");
  CHECK(all ==
        "gw.yaml:1: mode must be enforce or monitor, not 'observe'\n"
        "gw.yaml:2: unknown key 'lisn' in the configuration (known: " +
            all.substr(all.find("(known: ") + 8, all.find(")\n") - all.find("(known: ") - 8) +
            ")\n"
            "gw.yaml:4: category must be credential, pii, phi or pci, not 'secrets'\n"
            "gw.yaml:5: an action override needs 'action: block|redact|tokenize|log'\n"
            "gw.yaml:6: 'block_status' must be between 400 and 499");
}

TEST_CASE("rule ids the config names are checked against the loaded rules") {
  ProxyConfig c = parse_config(
      "actions:\n  - {rule: github-pat-clasic, action: log}\n  - {rule: us-ssn, action: log}\n"
      "overrides:\n  enabled: true\n  rules: [no-such-rule-at-all-anywhere]\n",
      "gw.yaml");
  auto packs = promptgate::load_rule_packs({promptgate::RuleSource::builtin()});
  auto errors = promptgate::proxy::check_rule_references(c, packs);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] ==
        "gw.yaml:2: unknown rule 'github-pat-clasic' in actions (did you mean "
        "'github-pat-classic'?)");
  CHECK(errors[1] ==
        "gw.yaml:6: unknown rule 'no-such-rule-at-all-anywhere' in overrides.rules (promptgate "
        "rules list shows the rule ids)");
}

TEST_CASE("host patterns that can never match a host name are refused") {
  using promptgate::proxy::host_pattern_problem;
  for (const char* good : {"api.anthropic.com", "*.example.com", "bedrock-runtime.*.amazonaws.com",
                           "10.0.0.1", "::1", "host.", "under_score.test"})
    CHECK(host_pattern_problem(good).empty());
  CHECK(host_pattern_problem("https://api.anthropic.com").find("scheme") != std::string::npos);
  CHECK(host_pattern_problem("api.anthropic.com/v1").find("path") != std::string::npos);
  CHECK(host_pattern_problem("api.anthropic.com:443").find("port") != std::string::npos);
  CHECK(host_pattern_problem("api .test").find("blank") != std::string::npos);
  CHECK(host_pattern_problem("a..test") == "it has an empty label");
  CHECK(host_pattern_problem(".test") == "it has an empty label");
  CHECK(host_pattern_problem("") == "it is empty");
  CHECK(host_pattern_problem("api,test") == "no host name contains ','");
  CHECK(error_of("fail_open_hosts: [ok.test, \"http://x.test\"]\n")
            .starts_with("gw.yaml:1: host pattern 'http://x.test' can never match"));
}

TEST_CASE("rules: a list adds to the built-in packs, builtin: replace uses the files alone") {
  ProxyConfig list = parse_config("rules: [mine.yaml]\n", "gw.yaml");
  CHECK(list.rules_builtin);
  CHECK(promptgate::rule_sources(list.rules, list.rules_builtin).size() == 2);
  ProxyConfig replace =
      parse_config("rules:\n  files: [mine.yaml]\n  builtin: replace\n", "gw.yaml");
  CHECK_FALSE(replace.rules_builtin);
  auto sources = promptgate::rule_sources(replace.rules, replace.rules_builtin);
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].path == "mine.yaml");
  CHECK(error_of("rules:\n  builtin: replace\n").find("needs rule files") != std::string::npos);
  CHECK(error_of("rules:\n  builtin: drop\n").find("keep or replace") != std::string::npos);
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

TEST_CASE("overrides by rule, category and host: the most severe action wins") {
  ProxyConfig c = parse_config(R"(actions:
  - {rule: generic-password, action: log}
  - {category: pii, host: "*.internal.test", action: log}
  - {category: pii, action: redact}
)",
                               "x");
  auto pw = finding("generic-password", Category::credential, Action::block, "messages[0]");
  auto email = finding("email-address", Category::pii, Action::block, "messages[1]");
  auto token = finding("github-pat-classic", Category::credential, Action::block, "system");
  CHECK(action_for(c, nullptr, "api.anthropic.com", pw) == Action::log);
  CHECK(action_for(c, nullptr, "api.anthropic.com", email) == Action::redact);
  CHECK(action_for(c, nullptr, "llm.internal.test", email) == Action::log);
  CHECK(action_for(c, nullptr, "api.anthropic.com", token) == Action::block);

  CHECK(decide(c, nullptr, "api.anthropic.com", {}, false).verdict == Verdict::allow);
  CHECK(decide(c, nullptr, "api.anthropic.com", {pw}, false).verdict == Verdict::log);
  CHECK(decide(c, nullptr, "api.anthropic.com", {pw, email}, false).verdict == Verdict::redact);
  auto d = decide(c, nullptr, "api.anthropic.com", {pw, email, token}, false);
  CHECK(d.verdict == Verdict::block);
  REQUIRE(d.actions.size() == 3);
  CHECK(d.actions[1] == Action::redact);
}

TEST_CASE("a signed body cannot be redacted, so redaction becomes a block") {
  ProxyConfig c = parse_config("actions: [{category: pii, action: redact}]\n", "x");
  auto email = finding("email-address", Category::pii, Action::block, "messages[0].content");
  auto d = decide(c, nullptr, "bedrock-runtime.us-east-1.amazonaws.com", {email}, true);
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
  // A config's own intercept list adds to the built-in catalogue (test_model_hosts.cc).
  ProxyConfig own = parse_config("destinations: {intercept: [llm.corp.test]}\n", "own.yaml");
  CHECK(own.destination_for("llm.corp.test") == Destination::intercept);
  CHECK(own.destination_for("api.anthropic.com") == Destination::intercept);
}

TEST_CASE("policy blocks by user, group and host: the first match wins") {
  ProxyConfig c = parse_config(R"(auth:
  users_file: /dev/null
  groups: {security: [alice], ci: [ci-bot, ci-bot-2]}
policies:
  - name: security may send pii, monitored
    groups: [security]
    mode: monitor
  - name: ci redacts instead of blocking
    groups: [ci]
    actions: [{category: credential, action: redact}]
  - name: bob on the internal model
    users: [bob]
    hosts: ["*.internal.test"]
    actions: [{category: pii, action: log}]
)",
                               "gw.yaml");
  Identity alice{"alice", c.groups_of("alice")};
  Identity ci{"ci-bot-2", c.groups_of("ci-bot-2")};
  Identity bob{"bob", c.groups_of("bob")};
  CHECK(alice.groups == std::vector<std::string>{"security"});
  REQUIRE(c.policy_for(alice, "api.anthropic.com"));
  CHECK(c.policy_for(alice, "api.anthropic.com")->mode == Mode::monitor);
  const PolicyBlock* p = c.policy_for(ci, "api.anthropic.com");
  REQUIRE(p);
  CHECK(p->name == "ci redacts instead of blocking");
  auto token = finding("github-pat-classic", Category::credential, Action::block, "system");
  CHECK(action_for(c, p, "api.anthropic.com", token) == Action::redact);
  CHECK(action_for(c, nullptr, "api.anthropic.com", token) == Action::block);
  CHECK(c.policy_for(bob, "api.anthropic.com") == nullptr);
  CHECK(c.policy_for(bob, "llm.internal.test") != nullptr);
  CHECK(c.policy_for(Identity{}, "api.anthropic.com") == nullptr);
}

TEST_CASE("gateway settings: admin listener, CONNECT ports, private destinations, parent proxy") {
  ProxyConfig c = parse_config(R"(admin_listen: 0.0.0.0:9191
allowed_connect_ports: [443, 8443]
allowed_private_hosts: ["*.corp.internal"]
connect_to: ["api.anthropic.com:443:10.0.0.5:443"]
upstream_proxy: http://parent.corp.internal:3128
timeouts: {drain_ms: 5000}
)",
                               "gw.yaml");
  CHECK(c.admin_listen.port == 9191);
  CHECK(c.allowed_connect_ports == std::vector<uint16_t>{443, 8443});
  CHECK(c.private_destination_allowed("git.corp.internal"));
  CHECK(c.private_destination_allowed("api.anthropic.com"));  // named by connect_to
  CHECK_FALSE(c.private_destination_allowed("example.com"));
  REQUIRE(c.upstream_proxy);
  CHECK(c.upstream_proxy->port == 3128);
  CHECK(c.drain_timeout_ms == 5000);
  ProxyConfig d = load_config("");
  CHECK(d.admin_listen.port == 9090);
  CHECK(d.allowed_connect_ports == std::vector<uint16_t>{443});
  CHECK_FALSE(d.private_destination_allowed("localhost"));
}

TEST_CASE("tokenize rewrites like redact, is weaker, and is refused on a signed body") {
  CHECK(parse_action("tokenize") == Action::tokenize);
  CHECK(std::string(to_string(Action::tokenize)) == "tokenize");
  CHECK(Action::log < Action::tokenize);
  CHECK(Action::tokenize < Action::redact);
  ProxyConfig c = parse_config(R"(actions:
  - {category: credential, action: tokenize}
  - {category: pii, action: redact}
)",
                               "x");
  auto token = finding("github-pat-classic", Category::credential, Action::block, "system");
  auto email = finding("email-address", Category::pii, Action::block, "messages[0]");
  auto d = decide(c, nullptr, "api.anthropic.com", {token}, false);
  CHECK(d.verdict == Verdict::redact);
  CHECK(d.actions == std::vector<Action>{Action::tokenize});
  // Each finding keeps its own action: one tokenized, one redacted.
  d = decide(c, nullptr, "api.anthropic.com", {token, email}, false);
  CHECK(d.verdict == Verdict::redact);
  CHECK(d.actions == std::vector<Action>{Action::tokenize, Action::redact});
  d = decide(c, nullptr, "bedrock-runtime.us-east-1.amazonaws.com", {token}, true);
  CHECK(d.verdict == Verdict::block);
  CHECK(d.redaction_refused_signed);
  CHECK(d.actions == std::vector<Action>{Action::block});
}

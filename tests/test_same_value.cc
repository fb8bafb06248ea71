// One finding per value: the rules that match the same value at the same place are merged into
// one finding named by the most specific rule, in both scan modes; the policy still applies
// every merged rule's configured action (a merge never weakens a verdict).
#include <catch2/catch.hpp>

#include "detectors/engine.h"
#include "detectors/same_value.h"
#include "proxy/policy.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;

namespace {

// A synthetic 40-character AWS-style secret (base64 alphabet, varied enough for the entropy
// check), next to the names the specific and the generic rules look for.
std::string aws_env() {
  return "aws_access_key_id = " + aws_key_id(7) +
         "\naws_secret_access_key = 7Qm2Xc9LpR4tVw8ZbN1yKd6HfJ3sGa5Ue0Wo/Ti+\n";
}

Finding at(std::string rule, Severity sev, Action action, uint64_t start, uint64_t end,
           std::string fp) {
  Finding f;
  f.rule_id = std::move(rule);
  f.category = Category::credential;
  f.severity = sev;
  f.action = action;
  f.start = start;
  f.end = end;
  f.fingerprint = std::move(fp);
  return f;
}

}  // namespace

TEST_CASE("same value: an AWS secret the generic rules also match is one finding", "[same-value]") {
  Scanner s(builtin_rules(), test_key());
  std::string text = aws_env();
  for (bool streamed : {false, true}) {
    ScanResult r;
    if (streamed) {
      auto stream = s.open_stream(InputFormat::text);
      stream->write(text.substr(0, 50));
      stream->write(text.substr(50));
      r = stream->finish();
    } else {
      r = s.scan(text, InputFormat::text);
    }
    size_t secret_at = text.find("7Qm2");
    std::vector<const Finding*> on_secret;
    for (const auto& f : r.findings)
      if (f.start == secret_at) on_secret.push_back(&f);
    REQUIRE(on_secret.size() == 1);
    const Finding& f = *on_secret[0];
    CHECK(f.rule_id == "aws-secret-access-key");
    CHECK(f.action == Action::block);
    REQUIRE_FALSE(f.also_matched.empty());
    for (const auto& m : f.also_matched) CHECK(is_generic_rule(m.rule_id));
    CHECK(strongest_action(f) == Action::block);
  }
}

TEST_CASE("same value: a card after 'card number' is named by its brand rule", "[same-value]") {
  Scanner s(builtin_rules(), test_key());
  std::string card = visa_number(3);
  auto r = s.scan("card number: " + card + "\n", InputFormat::text);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "card-visa");
  CHECK(matched_by(r.findings[0], "card-pan-context"));
}

TEST_CASE("same value: ranking and what is never merged", "[same-value]") {
  SECTION("specific before generic, whatever the severities") {
    std::vector<Finding> fs = {
        at("generic-token-unquoted", Severity::critical, Action::redact, 10, 50, "fp_a"),
        at("acme-token", Severity::medium, Action::log, 10, 50, "fp_a")};
    merge_same_value(fs);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].rule_id == "acme-token");
    CHECK(fs[0].action == Action::log);
    CHECK(strongest_action(fs[0]) == Action::redact);
  }
  SECTION("a format rule before one that needs the words around the value") {
    std::vector<Finding> fs = {
        at("card-by-keyword", Severity::critical, Action::block, 0, 16, "fp_c"),
        at("card-brand", Severity::high, Action::block, 0, 16, "fp_c")};
    merge_same_value(fs, [](std::string_view id) { return RuleTraits{id == "card-brand", true}; });
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].rule_id == "card-brand");
  }
  SECTION("then severity, then a rule with validators, then the id") {
    std::vector<Finding> fs = {at("b-rule", Severity::high, Action::redact, 0, 8, "fp_a"),
                               at("a-rule", Severity::high, Action::redact, 0, 8, "fp_a"),
                               at("c-rule", Severity::medium, Action::block, 0, 8, "fp_a")};
    merge_same_value(fs, [](std::string_view id) { return RuleTraits{false, id == "b-rule"}; });
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].rule_id == "b-rule");
    CHECK(fs[0].also_matched.size() == 2);
    CHECK(strongest_action(fs[0]) == Action::block);
    std::vector<Finding> plain = {at("b-rule", Severity::high, Action::redact, 0, 8, "fp_a"),
                                  at("a-rule", Severity::high, Action::redact, 0, 8, "fp_a")};
    merge_same_value(plain);
    CHECK(plain[0].rule_id == "a-rule");
  }
  SECTION("two values in one attachment (same raw span) stay two findings") {
    Finding one = at("rule-a", Severity::high, Action::block, 100, 900, "fp_a");
    Finding two = at("rule-b", Severity::high, Action::block, 100, 900, "fp_b");
    one.in_attachment = two.in_attachment = true;
    std::vector<Finding> fs = {one, two};
    merge_same_value(fs);
    CHECK(fs.size() == 2);
  }
  SECTION("the same value at two places stays two findings, sorted by start") {
    std::vector<Finding> fs = {at("rule-a", Severity::high, Action::block, 50, 60, "fp_a"),
                               at("rule-a", Severity::high, Action::block, 5, 15, "fp_a")};
    merge_same_value(fs);
    REQUIRE(fs.size() == 2);
    CHECK(fs[0].start == 5);
  }
}

TEST_CASE("same value: the policy applies every merged rule's configured action", "[same-value]") {
  Finding f = at("aws-secret-access-key", Severity::critical, Action::block, 0, 40, "fp_a");
  f.also_matched = {{"generic-secret-unquoted", Category::credential, Action::redact}};
  proxy::ProxyConfig cfg;
  CHECK(proxy::action_for(cfg, nullptr, "api.example", f) == Action::block);
  // Lowering the specific rule leaves the generic one's redact: the value still never leaves.
  cfg.actions = {{"aws-secret-access-key", std::nullopt, "", Action::log}};
  CHECK(proxy::action_for(cfg, nullptr, "api.example", f) == Action::redact);
  // Lowering the category lowers them all.
  cfg.actions = {{"", Category::credential, "", Action::log}};
  CHECK(proxy::action_for(cfg, nullptr, "api.example", f) == Action::log);
}

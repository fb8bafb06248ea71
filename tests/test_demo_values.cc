// The values of `promptgate demo` (cli/demo_values.h): one per kind, every category covered,
// each valid by its format facts and blocked by the default config; the same seed gives the same
// values; a config under which a kind cannot block says which rule. And the published test
// values docs/blocked.md explains are indeed not blocked.
#include <catch2/catch.hpp>
#include <set>

#include "cli/demo_values.h"
#include "detectors/validators.h"
#include "proxy/config.h"
#include "proxy/policy.h"
#include "tests/synthetic.h"

using namespace promptgate;

namespace {

bool blocked_by_default(const std::string& text) {
  static const proxy::ProxyConfig config = proxy::load_config("");
  Scanner scanner(testing::builtin_rules(), testing::test_key());
  ScanResult r = scanner.scan(demo_request_body(text), InputFormat::json);
  return proxy::decide(config, nullptr, "api.anthropic.com", r.findings, false).verdict ==
         proxy::Verdict::block;
}

}  // namespace

TEST_CASE("demo: one blocked value per kind, every category, valid by its format facts") {
  const proxy::ProxyConfig config = proxy::load_config("");
  auto values = make_demo_values(testing::builtin_rules(), config, 7);
  REQUIRE(values.size() == 5);
  std::set<std::string> categories;
  for (const auto& v : values) {
    INFO(v.rule << " " << v.value);
    categories.insert(v.category);
    CHECK(v.text.find(v.value) != std::string::npos);
    CHECK(blocked_by_default(v.text));
    CHECK_FALSE(looks_like_placeholder(v.value));
    if (v.rule == "github-pat-classic") CHECK(base62_crc32_valid(v.value));
    if (v.rule == "card-visa") CHECK(luhn_valid(v.value));
    if (v.rule == "us-ssn") CHECK(us_ssn_valid(v.value));
    if (v.rule == "anthropic-api-key") CHECK(v.value.size() == 13 + 93 + 2);
    if (v.rule == "medicare-mbi") CHECK(v.value.size() == 11);
  }
  CHECK(categories == std::set<std::string>{"credential", "pii", "phi", "pci"});
}

TEST_CASE("demo: a seed gives the same values, another seed others") {
  const proxy::ProxyConfig config = proxy::load_config("");
  auto a = make_demo_values(testing::builtin_rules(), config, 11);
  auto b = make_demo_values(testing::builtin_rules(), config, 11);
  auto c = make_demo_values(testing::builtin_rules(), config, 12);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].value == b[i].value);
    CHECK(a[i].value != c[i].value);
  }
}

TEST_CASE("demo: a config under which a kind does not block names the rule") {
  proxy::ProxyConfig config =
      proxy::parse_config("actions: [{rule: us-ssn, action: log}]\n", "ssn-logged.yaml");
  try {
    make_demo_values(testing::builtin_rules(), config, 1);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("'us-ssn'") != std::string::npos);
  }
}

TEST_CASE("demo: the well-known test values are not blocked, as docs/blocked.md says") {
  // Mostly one digit: the placeholder check skips it, like 4242424242424242.
  CHECK_FALSE(blocked_by_default("Charge the card 4111111111111111 for the renewal"));
  CHECK(luhn_valid("4111111111111111"));
  CHECK(looks_like_placeholder("4111111111111111"));
  // A number published in advertising: the SSN rules skip it by name.
  CHECK_FALSE(blocked_by_default("Update the record: SSN 123-45-6789 on file"));
  CHECK_FALSE(us_ssn_valid("123-45-6789"));
  // ghp_ + 36 random characters: the last 6 are GitHub's CRC32 of the first 30, and a random
  // tail matches it about once in 62^6 tries.
  const std::string random_tail = "ghp_Q7mK2xVd9LpR4tWn8YbC3hJs6FgZ1aEu5NcT";
  CHECK_FALSE(base62_crc32_valid(random_tail));
  CHECK_FALSE(blocked_by_default("my token " + random_tail));
  CHECK(blocked_by_default("my token " + testing::github_token(3)));
}

// Stand-ins (action tokenize): shape per format, checksums valid, deterministic per key,
// distinct per value, never the value itself, and still recognised by the engine where the
// format allows. Every value here is synthetic.
#include <catch2/catch.hpp>
#include <random>
#include <regex>
#include <set>

#include "detectors/rules.h"
#include "detectors/same_value.h"
#include "detectors/standin.h"
#include "detectors/validators.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;

namespace {

const RulePacks& packs() {
  static const RulePacks p = load_rule_packs({RuleSource::builtin()});
  return p;
}

const Rule& rule(const std::string& id) {
  for (const auto& r : packs().rules)
    if (r.id == id) return r;
  FAIL("no rule " << id);
  throw;
}

std::vector<unsigned char> key(uint8_t seed) {
  std::vector<unsigned char> k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(seed * 31 + i);
  return k;
}

bool json_plain(const std::string& s) {
  for (char c : s)
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  return true;
}

std::string random_of(std::mt19937_64& rng, std::string_view alphabet, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(alphabet[rng() % alphabet.size()]);
  return out;
}

constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// The rule ids the built-in engine reports for `text`.
std::set<std::string> rules_found(const std::string& text) {
  static Scanner scanner(builtin_rules(), test_key());
  std::set<std::string> ids;
  for (const auto& f : scanner.scan(text, InputFormat::text).findings) {
    ids.insert(f.rule_id);
    for (const auto& m : f.also_matched) ids.insert(m.rule_id);
  }
  return ids;
}

// Same length, same character class at every position outside [from, to) kept verbatim.
void check_same_classes(const std::string& a, const std::string& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("position " << i);
    CHECK(std::isdigit(static_cast<unsigned char>(a[i])) ==
          std::isdigit(static_cast<unsigned char>(b[i])));
    CHECK(std::islower(static_cast<unsigned char>(a[i])) ==
          std::islower(static_cast<unsigned char>(b[i])));
    CHECK(std::isupper(static_cast<unsigned char>(a[i])) ==
          std::isupper(static_cast<unsigned char>(b[i])));
    if (!std::isalnum(static_cast<unsigned char>(a[i]))) CHECK(a[i] == b[i]);
  }
}

}  // namespace

TEST_CASE("the literal frame of a pattern", "[standin]") {
  CHECK(standin_frame(R"(\bghp_[A-Za-z0-9]{36}\b)", github_token(1)).head == 4);
  CHECK(standin_frame(R"(\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b)", aws_key_id(2)).head == 4);
  std::string ant = "sk-ant-api03-" + std::string(93, 'x') + "AA";
  auto f = standin_frame(R"(\bsk-ant-api03-[A-Za-z0-9_-]{93}AA\b)", ant);
  CHECK(f.head == 13);
  CHECK(f.tail == 2);
  CHECK(standin_frame(R"(\bxox[baprs]-[0-9]{8,14}-[A-Za-z0-9]{18,34}\b)",
                      "xoxp-123456789012-abcdefghijklmnopqrstuv")
            .head == 5);
  CHECK(standin_frame(R"(\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,32})",
                      "dckr_oat_abcdefghijklmnopqrstuvwxyz012")
            .head == 9);
  CHECK(standin_frame(R"(\b(?P<secret>glpat-(?:[A-Za-z0-9_-]{20}))(?:[^A-Za-z0-9_.-]|\b))",
                      "glpat-abcdefghij0123456789")
            .head == 6);
  // A context pattern: only the secret group counts, and a password keeps nothing.
  CHECK(standin_frame(R"((?i:password)\s*=\s*(?P<secret>[^\s]{8,64}))", "ghp_like_pw1").head == 0);
  // Alternatives at the top level, or no literal at all: nothing is kept.
  CHECK(standin_frame("abc|def", "abcdefghijkl").head == 0);
  CHECK(standin_frame(R"([0-9a-f]{32})", "0123456789abcdef0123456789abcdef").head == 0);
  // The frame never covers more than half of the value.
  auto big = standin_frame("ABCDEFGHIJKLMNOP[0-9]{4}", "ABCDEFGHIJKLMNOP1234");
  CHECK(big.head <= 10);
}

TEST_CASE("GitHub tokens keep their prefix and a valid CRC32", "[standin]") {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::string token = github_token(seed);
    std::string s = make_standin(rule("github-pat-classic"), token, key(1), 0);
    CHECK(s != token);
    CHECK(s.size() == token.size());
    CHECK(s.rfind("ghp_", 0) == 0);
    CHECK(base62_crc32_valid(s));
    check_same_classes(s.substr(0, 4), token.substr(0, 4));
  }
  std::string token = github_token(7);
  std::string s = make_standin(rule("github-pat-classic"), token, key(1), 0);
  CHECK(rules_found("token " + s).count("github-pat-classic") == 1);
  std::string npm = github_token(8, "npm");
  std::string n = make_standin(rule("npm-access-token"), npm, key(1), 0);
  CHECK(n.rfind("npm_", 0) == 0);
  CHECK(base62_crc32_valid(n));
}

TEST_CASE("token formats keep prefix, suffix, length and character classes", "[standin]") {
  std::mt19937_64 rng(42);
  SECTION("AWS access key id") {
    std::string id = aws_key_id(3);
    std::string s = make_standin(rule("aws-access-key-id"), id, key(2), 0);
    CHECK(s.rfind("AKIA", 0) == 0);
    check_same_classes(s, id);
    CHECK(s.find_first_of("0189") == std::string::npos);  // base32 digits only
    CHECK(rules_found("aws_access_key_id = " + s).count("aws-access-key-id") == 1);
  }
  SECTION("Anthropic API key") {
    std::string k = "sk-ant-api03-" + random_of(rng, "ABCDEFGHIJabcdefghij0123456789_-", 93) + "AA";
    std::string s = make_standin(rule("anthropic-api-key"), k, key(2), 0);
    CHECK(s.rfind("sk-ant-api03-", 0) == 0);
    CHECK(s.substr(s.size() - 2) == "AA");
    check_same_classes(s, k);
    CHECK(s != k);
    CHECK(rules_found("ANTHROPIC_API_KEY=" + s).count("anthropic-api-key") == 1);
  }
  SECTION("Slack bot token") {
    std::string t = "xoxb-" + random_of(rng, "0123456789", 12) + "-" +
                    random_of(rng, "0123456789", 13) + "-" + random_of(rng, kAlnum, 24);
    std::string s = make_standin(rule("slack-bot-token"), t, key(2), 0);
    CHECK(s.rfind("xoxb-", 0) == 0);
    check_same_classes(s, t);
    CHECK(rules_found("SLACK=" + s).count("slack-bot-token") == 1);
  }
  SECTION("hex stays hex") {
    std::string hex = random_of(rng, "0123456789abcdef", 64);
    std::string s = make_standin(rule("digitalocean-pat"), "dop_v1_" + hex, key(2), 0);
    CHECK(s.rfind("dop_v1_", 0) == 0);
    CHECK(s.find_first_not_of("0123456789abcdef", 7) == std::string::npos);
    CHECK(rules_found("token: " + s).count("digitalocean-pat") == 1);
  }
}

TEST_CASE("checksummed numbers stay valid", "[standin]") {
  SECTION("cards: Luhn-valid, same length and separators, first digit kept") {
    for (uint64_t seed = 0; seed < 50; ++seed) {
      std::string card = visa_number(seed);
      std::string s = make_standin(rule("card-visa"), card, key(3), 0);
      CHECK(s != card);
      CHECK(s.size() == card.size());
      CHECK(s[0] == '4');
      CHECK(luhn_valid(s));
    }
    std::string spaced = visa_number(9);
    for (size_t at : {4, 9, 14}) spaced.insert(at, " ");
    std::string s = make_standin(rule("card-visa"), spaced, key(3), 0);
    check_same_classes(s, spaced);
    CHECK(luhn_valid(s));
    CHECK(rules_found("card " + s).count("card-visa") == 1);
  }
  SECTION("US SSN moves to the 9xx area, outside the ITIN groups") {
    std::regex shape(R"(9\d\d-(0[1-9]|[1-4]\d)-\d{4})");
    for (uint8_t k = 0; k < 50; ++k) {
      std::string s = make_standin(rule("us-ssn"), "234-56-7012", key(k), 0);
      CHECK(std::regex_match(s, shape));
      CHECK_FALSE(us_ssn_valid(s));
      CHECK_FALSE(us_itin_valid(s));
      CHECK(s.substr(s.size() - 4) != "0000");
    }
    CHECK(make_standin(rule("us-ssn-context"), "234 56 7012", key(1), 0).substr(3, 1) == " ");
  }
  SECTION("ITIN stays a valid ITIN") {
    for (uint8_t k = 0; k < 20; ++k)
      CHECK(us_itin_valid(make_standin(rule("us-itin"), "912-78-1234", key(k), 0)));
  }
  SECTION("IBAN keeps its country and a valid mod-97") {
    std::string iban = "GB82 WEST 1234 5698 7654 32";  // the documentation example
    REQUIRE(iban_valid(iban));
    std::string s = make_standin(rule("iban"), iban, key(4), 0);
    CHECK(s != iban);
    CHECK(s.rfind("GB", 0) == 0);
    check_same_classes(s, iban);
    CHECK(iban_valid(s));
  }
  SECTION("ABA routing number, NPI, DEA") {
    std::string aba = make_standin(rule("aba-routing-number"), "011000015", key(5), 0);
    CHECK(aba_routing_valid(aba));
    CHECK(aba.rfind("01", 0) == 0);
    std::string npi = make_standin(rule("npi"), "1234567893", key(5), 0);
    CHECK(npi != "1234567893");
    CHECK(npi_valid(npi));
    CHECK(npi[0] == '1');
    std::string dea = make_standin(rule("dea-number"), "AB1234563", key(5), 0);
    REQUIRE(dea_valid("AB1234563"));
    CHECK(dea_valid(dea));
    CHECK(dea[0] == 'A');
  }
  SECTION("JWT keeps its header and stays a JWT") {
    std::string jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzeW50aGV0aWMtdXNlciIsImlhdCI6MX0."
        "c2lnbmF0dXJlLXRoYXQtaXMtbm90LXJlYWwtYXQtYWxsLTEyMzQ1Ng";
    std::string s = make_standin(rule("jwt"), jwt, key(6), 0);
    CHECK(s != jwt);
    CHECK(s.substr(0, 37) == jwt.substr(0, 37));
    CHECK(jwt_valid(s));
  }
}

TEST_CASE("emails and short values", "[standin]") {
  std::string email = "jane.roe84@northwind-mail.com";
  std::string s = make_standin(rule("email-address"), email, key(7), 0);
  CHECK(std::regex_match(s, std::regex(R"(user-[0-9a-f]{10}@example\.com)")));
  CHECK(rules_found("mail " + s).empty());  // example.com is a placeholder to the engine
  for (std::string v : {"123", "12/27", "E11.9", "4821"}) {
    std::string t = make_standin(rule("card-cvv"), v, key(7), 0);
    CHECK(std::regex_match(t, std::regex("tok_[a-z2-7]{8}")));
  }
}

TEST_CASE("deterministic per key and attempt, distinct per value, never the value", "[standin]") {
  const Rule& gh = rule("github-pat-classic");
  std::string token = github_token(11);
  CHECK(make_standin(gh, token, key(1), 0) == make_standin(gh, token, key(1), 0));
  CHECK(make_standin(gh, token, key(1), 0) != make_standin(gh, token, key(2), 0));
  CHECK(make_standin(gh, token, key(1), 0) != make_standin(gh, token, key(1), 1));
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 2000; ++seed)
    seen.insert(make_standin(gh, github_token(seed), key(1), 0));
  CHECK(seen.size() == 2000);
  // Nothing to draw from: the fallback still differs from the value.
  Rule bare;
  bare.id = "bare";
  std::string dashes = "----------";
  std::string d = make_standin(bare, dashes, key(1), 0);
  CHECK(d != dashes);
  CHECK(d.rfind("tok_", 0) == 0);
  // Eight digits: 10^8 draws, so a draw equal to the value is retried.
  for (uint8_t k = 0; k < 100; ++k) CHECK(make_standin(bare, "12345678", key(k), 0) != "12345678");
}

TEST_CASE("stand-ins need no JSON escaping, whatever the value holds", "[standin]") {
  Rule bare;
  bare.id = "generic-password";
  for (std::string v : {std::string("pa\"ss\\wo\nrd!"), std::string("p\xC3\xA4sswort-\xE2\x82\xAC"),
                        std::string("\t\x01\x02quoted\"\"value")}) {
    std::string s = make_standin(bare, v, key(8), 0);
    CHECK(json_plain(s));
    CHECK(s.size() == v.size());
  }
}

// Every built-in rule's own match examples: each stand-in differs from its value, needs no JSON
// escaping and keeps the length (emails and short values aside); for the formats listed below
// the engine still recognises the stand-in as the same rule.
TEST_CASE("stand-ins of every rule's examples", "[standin]") {
  static Scanner scanner(builtin_rules(), test_key());
  const std::set<std::string> must_still_match = {
      "github-pat-classic", "github-oauth-token",    "aws-access-key-id", "anthropic-api-key",
      "slack-bot-token",    "npm-access-token",      "card-visa",         "digitalocean-pat",
      "gitlab-pat",         "stripe-live-secret-key"};
  size_t total = 0, still_same_rule = 0;
  std::set<std::string> matched_rules;
  for (const auto& r : packs().rules) {
    for (const auto& ex : r.match_examples) {
      auto result = scanner.scan(ex.text, InputFormat::text);
      for (const auto& f : result.findings) {
        if (!matched_by(f, r.id)) continue;
        std::string value = ex.text.substr(f.start, f.end - f.start);
        std::string s = make_standin(r, value, key(9), 0);
        INFO(r.id);
        CHECK(s != value);
        CHECK(json_plain(s));
        bool reshaped = value.size() < kMinStandinLength ||
                        (r.id == "email-address" && value.find('@') != std::string::npos);
        if (!reshaped) CHECK(s.size() == value.size());
        std::string replaced = ex.text;
        replaced.replace(f.start, f.end - f.start, s);
        ++total;
        if (rules_found(replaced).count(r.id)) {
          ++still_same_rule;
          matched_rules.insert(r.id);
        }
      }
    }
  }
  for (const auto& id : must_still_match) {
    INFO(id);
    CHECK(matched_rules.count(id) == 1);
  }
  CHECK(total > 300);
  // 508 of 612 when written. The rest: stand-ins that break a date, a range or an infix the
  // pattern requires (phone area codes, card brands past the first digit, OpenAI's T3BlbkFJ),
  // SSNs moved to 9xx on purpose, emails at example.com, short values.
  CHECK(still_same_rule * 100 >= total * 80);
}

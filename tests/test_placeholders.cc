// The placeholder model against every shipped rule's shape: each rule's match examples are
// turned into documentation placeholders of the same shape (the value's characters replaced by
// x / X / 0 filler, one repeated character, a sequential run, a cut-off value with "...", a bare
// word in <> or [] or ${}), and none of them may be reported, while the real examples still are.
#include <re2/re2.h>

#include <catch2/catch.hpp>
#include <functional>

#include "detectors/placeholders.h"
#include "tests/synthetic.h"

using namespace promptgate;

namespace {

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The value with its letters and digits replaced, keeping every other byte and the case class.
std::string refill(std::string_view v, const std::function<char(char, size_t)>& with) {
  std::string out(v);
  for (size_t i = 0; i < out.size(); ++i)
    if (is_lower(out[i]) || is_upper(out[i]) || is_digit(out[i])) out[i] = with(out[i], i);
  return out;
}

// The letters and digits of `v` replaced by a sequential run in v's own alphabet (digits, hex,
// upper case or letters), every other byte kept: `abcd-efgh...`, `0123456789abcdef0123`.
std::string sequential(std::string_view v) {
  bool digits = true, hex_lower = true, hex_upper = true, upper = true;
  for (char c : v) {
    if (!(is_lower(c) || is_upper(c) || is_digit(c))) continue;
    digits &= is_digit(c);
    hex_lower &= is_digit(c) || (c >= 'a' && c <= 'f');
    hex_upper &= is_digit(c) || (c >= 'A' && c <= 'F');
    upper &= is_digit(c) || is_upper(c);
  }
  std::string_view alphabet = digits      ? "0123456789"
                              : hex_lower ? "0123456789abcdef"
                              : hex_upper ? "0123456789ABCDEF"
                              : upper     ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          : "abcdefghijklmnopqrstuvwxyz";
  size_t k = 0;
  return refill(v, [&](char, size_t) { return alphabet[k++ % alphabet.size()]; });
}

// Placeholder versions of a secret: the part after the rule's fixed prefix (`lead`, what all its
// examples start with: `ghp_`, `sk-ant-api03-`) is filled in.
std::vector<std::string> variants(std::string_view secret, size_t keep) {
  keep = std::min(keep, secret.size() / 2);
  std::string lead(secret.substr(0, keep));
  std::string_view body = secret.substr(keep);
  auto same_class = [](char fill_lower, char fill_upper, char fill_digit) {
    return [=](char c, size_t) {
      return is_digit(c) ? fill_digit : is_upper(c) ? fill_upper : fill_lower;
    };
  };
  std::vector<std::string> out = {
      lead + refill(body, same_class('x', 'X', '0')),
      lead + refill(body, same_class('a', 'A', '1')),
      lead + refill(body, same_class('f', 'F', '9')),
      lead + sequential(body),
      std::string(secret.substr(0, keep + std::min<size_t>(4, body.size()))) + "...",
  };
  return out;
}

}  // namespace

TEST_CASE("placeholder model: documentation values and templates") {
  for (const char* p :
       {"AKIAIOSFODNN7EXAMPLE", "xxxxxxxxxxxxxxxx", "<your-token>", "${API_KEY}", "changeme",
        "your_api_key_here", "process.env.TOKEN", "aaaaaaaaaaaa", "0123456789", "ababababababab",
        "sk-ant-api03-...", "glc_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "glsa_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX_AAAAAAAA", "xxxxxxxxxxxxxx.atlasv1.xxxxxxxxxxxx",
        "[PASSWORD]", "DB_PASSWORD", "REDACTED", "ghp_AbCd000000000000000000000000000000WxYz",
        "9876543210"})
    CHECK(looks_like_placeholder(p));
  for (const char* real : {"Zq8Lw3Nv7Tx2pR", "R7fXk2mPq9LzW4vN8sTyB3cJ6hD1gA", "LivSIM$bCrb8q"})
    CHECK_FALSE(looks_like_placeholder(real));
  CHECK_FALSE(looks_like_placeholder(testing::github_token(6)));
  // The bytes around the value: a bare word in brackets, a template, a cut-off value.
  CHECK(placeholder_in_context("neo4j:[", "PASSWORD", "]@localhost"));
  CHECK(placeholder_in_context("Bearer <", "your-key", ">"));
  CHECK(placeholder_in_context("=${", "TOKEN", "}"));
  CHECK(placeholder_in_context("= ", "sk-ant-api03-Zq8L", "..."));
  CHECK_FALSE(placeholder_in_context("= ", "Zq8Lw3Nv7Tx2pR", "\n"));
  CHECK_FALSE(placeholder_in_context("<", "kim@mailhost.org", ">"));
}

TEST_CASE("placeholder variants of every shipped rule's examples are not reported") {
  auto rules = testing::builtin_rules();
  Scanner scanner(rules, testing::test_key());
  size_t variants_tried = 0, shape_kept = 0, rules_tested = 0;
  for (size_t i = 0; i < rules->size(); ++i) {
    const Rule& r = rules->rule(i);
    if (!r.not_placeholder) continue;  // opted out, with its reason in the pack
    RE2 re(r.pattern);
    bool tested = false;
    struct Real {
      const Example* ex;
      uint64_t start, end;
    };
    std::vector<Real> reals;
    for (const auto& ex : r.match_examples) {
      auto found = scanner.scan(ex.text, InputFormat::text).findings;
      // Reported under its own id, or merged into a more specific rule's finding of the same
      // value (one finding per value, same_value.h).
      auto own = std::find_if(found.begin(), found.end(), [&](const Finding& f) {
        return f.rule_id == r.id || std::any_of(f.also_matched.begin(), f.also_matched.end(),
                                                [&](const auto& m) { return m.rule_id == r.id; });
      });
      INFO(r.id << ": " << ex.text);
      REQUIRE(own != found.end());  // the real example still is reported
      // Below 8 bytes (a CVV, a short id) a value is too short to tell filler from data.
      if (own->derived || own->in_base64 || own->end - own->start < 8) continue;
      reals.push_back({&ex, own->start, own->end});
    }
    // The fixed prefix: what every example's value starts with.
    size_t lead = SIZE_MAX;
    for (const auto& a : reals)
      for (const auto& b : reals) {
        size_t k = 0;
        while (k < a.end - a.start && k < b.end - b.start &&
               a.ex->text[a.start + k] == b.ex->text[b.start + k])
          ++k;
        lead = std::min(lead, reals.size() > 1 ? k : 0);
      }
    for (const auto& real : reals) {
      const std::string& t = real.ex->text;
      std::string_view secret = std::string_view(t).substr(real.start, real.end - real.start);
      for (const auto& v : variants(secret, lead)) {
        std::string text = t.substr(0, real.start) + v + t.substr(real.end);
        ++variants_tried;
        // Count the variants that still have the rule's shape: those test the model, not the
        // pattern.
        if (RE2::PartialMatch(text, re)) ++shape_kept, tested = true;
        auto got = scanner.scan(text, InputFormat::text).findings;
        bool reported = std::any_of(got.begin(), got.end(), [&](const Finding& f) {
          return f.rule_id == r.id || std::any_of(f.also_matched.begin(), f.also_matched.end(),
                                                  [&](const auto& m) { return m.rule_id == r.id; });
        });
        INFO(r.where.file << ":" << r.where.line << " " << r.id << " variant " << v);
        CHECK_FALSE(reported);
      }
    }
    rules_tested += tested;
  }
  INFO("variants " << variants_tried << ", with the rule's shape " << shape_kept);
  CHECK(rules_tested > 300);
  CHECK(shape_kept > 1000);
}

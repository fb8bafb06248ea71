// Justified overrides: marker parsing (body and header forms, last occurrence, line starts, JSON
// escapes, missing justification, code charset, the block message's own example), the codes'
// MAC (any book with the same key accepts them; tampering, expiry on an injected clock, another
// identity or other values are refused) and this replica's grants,
// eligibility, the config section, and the whole step as the proxy runs it.
#include <catch2/catch.hpp>

#include "proxy/config.h"
#include "proxy/override.h"

using namespace promptgate;
using namespace promptgate::proxy;
using namespace std::chrono_literals;

namespace {

// Steady and wall time moving together (`now += 60s` moves both).
struct FakeClock {
  struct Both {
    std::chrono::steady_clock::time_point steady{std::chrono::hours(1000)};
    int64_t wall = 1'790'000'000;  // 2026
    Both& operator+=(std::chrono::seconds d) {
      steady += d;
      wall += d.count();
      return *this;
    }
  } now;
  OverrideBook::Clock fn() {
    return [this] { return now.steady; };
  }
  OverrideBook::WallClock wall() {
    return [this] { return now.wall; };
  }
};

OverrideBook::Key test_key(unsigned char fill = 7) {
  OverrideBook::Key k;
  k.fill(fill);
  return k;
}

OverrideBook make_book(FakeClock& clock, size_t max_entries = 100, unsigned char fill = 7) {
  return OverrideBook(test_key(fill), max_entries, clock.fn(), clock.wall());
}

Finding finding(const std::string& rule, Category cat, const std::string& fp) {
  Finding f;
  f.rule_id = rule;
  f.category = cat;
  f.action = Action::block;
  f.length = 40;
  f.fingerprint = fp;
  return f;
}

OverridesConfig enabled_for_credentials() {
  OverridesConfig c;
  c.enabled = true;
  c.categories = {Category::credential};
  return c;
}

// The code offered in a block message's override instructions.
std::string offered_code(const std::string& message) {
  std::string marker = "promptgate-override: ";
  size_t at = message.find(marker);
  REQUIRE(at != std::string::npos);
  return message.substr(at + marker.size(), kOverrideCodeDisplayLength);
}

}  // namespace

TEST_CASE("override codes: normalisation and charset", "[override]") {
  CHECK(normalize_override_code("K7M2QX9PAB12") == "K7M2QX9PAB12");
  CHECK(normalize_override_code("k7m2-qx9p-ab12") == "K7M2QX9PAB12");
  CHECK(normalize_override_code("OIL000000000") == "011000000000");  // read-alike letters
  CHECK_FALSE(normalize_override_code("K7M2QX9PAB1"));               // too short
  CHECK_FALSE(normalize_override_code("K7M2QX9PAB123"));             // too long
  CHECK_FALSE(normalize_override_code("U7M2QX9PAB12"));              // U is not in the alphabet
  CHECK_FALSE(normalize_override_code("K7M2QX9PAB1!"));
  CHECK(override_code_id("K7M2QX9PAB12").size() == 8);
  CHECK(override_code_id("K7M2QX9PAB12") != override_code_id("K7M2QX9PAB13"));
  CHECK(override_code_id("k7m2-qx9p-ab12") == override_code_id("K7M2QX9PAB12"));
}

TEST_CASE("override markers in a request body", "[override]") {
  SECTION("plain text") {
    auto r = find_override_marker(
        "hello\npromptgate-override: K7M2QX9PAB12 because it is a synthetic test fixture\nmore");
    REQUIRE(r);
    CHECK(r->code == "K7M2QX9PAB12");
    CHECK_FALSE(r->code_malformed);
    CHECK(r->justification == "it is a synthetic test fixture");
  }
  SECTION("JSON: the last occurrence wins, escapes end the line and are decoded") {
    std::string body =
        R"({"messages":[{"role":"user","content":"first\npromptgate-override: AAAAAAAAAA because an older reason"},)"
        R"({"role":"user","content":"Promptgate-Override: k7m2-qx9p-ab12 Because a \"quoted\" caf\u00e9 reason\nnext line"}]})";
    auto r = find_override_marker(body);
    REQUIRE(r);
    CHECK(r->code == "K7M2QX9PAB12");
    CHECK(r->justification == "a \"quoted\" caf\xC3\xA9 reason");
  }
  SECTION("JSON: at the start of a string, ending at the closing quote") {
    auto r = find_override_marker(
        R"({"content":[{"type":"text","text":"promptgate-override: K7M2QX9PAB12 because needed for the demo"}]})");
    REQUIRE(r);
    CHECK(r->justification == "needed for the demo");
  }
  SECTION("not at the start of a line: ignored") {
    CHECK_FALSE(find_override_marker("see promptgate-override: K7M2QX9PAB12 because reasons here"));
    CHECK_FALSE(find_override_marker("X-Promptgate-Override: K7M2QX9PAB12 because reasons here"));
  }
  SECTION("a later mid-line mention does not hide an earlier real marker") {
    auto r = find_override_marker(
        "promptgate-override: K7M2QX9PAB12 because the real reason\nas in promptgate-override: x");
    REQUIRE(r);
    CHECK(r->code == "K7M2QX9PAB12");
  }
  SECTION("missing justification") {
    auto r = find_override_marker("promptgate-override: K7M2QX9PAB12\n");
    REQUIRE(r);
    CHECK(r->code == "K7M2QX9PAB12");
    CHECK(r->justification.empty());
    r = find_override_marker("promptgate-override: K7M2QX9PAB12 because   ");
    REQUIRE(r);
    CHECK(r->justification.empty());
  }
  SECTION("without the word because, the rest of the line is the justification") {
    auto r = find_override_marker("promptgate-override: K7M2QX9PAB12 rotating it tomorrow");
    REQUIRE(r);
    CHECK(r->justification == "rotating it tomorrow");
  }
  SECTION("malformed code") {
    auto r = find_override_marker("promptgate-override: K7M2 because a long enough reason");
    REQUIRE(r);
    CHECK(r->code_malformed);
    CHECK(r->code.empty());
  }
  SECTION("the block message's own instructions, echoed back, are not an override") {
    std::string instructions = override_instructions("K7M2QX9PAB12", 600s, 10);
    CHECK_FALSE(find_override_marker("promptgate blocked this request." + instructions));
    // Copied as a line without replacing the placeholder: a code, but no reason.
    auto r = find_override_marker("promptgate-override: K7M2QX9PAB12 because <your reason>");
    REQUIRE(r);
    CHECK(r->justification.empty());
    CHECK_FALSE(find_override_marker("promptgate-override: <code> because <reason>"));
  }
  SECTION("the justification is capped without cutting a character") {
    std::string longer;
    for (int i = 0; i < 300; ++i) longer += "\xC3\xA9";
    auto r = find_override_marker("promptgate-override: K7M2QX9PAB12 because " + longer);
    REQUIRE(r);
    CHECK(r->justification.size() == kMaxJustificationBytes);
  }
  SECTION("no marker") {
    CHECK_FALSE(find_override_marker(""));
    CHECK_FALSE(find_override_marker(R"({"messages":[{"role":"user","content":"hi"}]})"));
  }
}

TEST_CASE("override header", "[override]") {
  auto r = parse_override_header(" k7m2qx9pab12 because deploying the test fixture ");
  REQUIRE(r);
  CHECK(r->code == "K7M2QX9PAB12");
  CHECK(r->justification == "deploying the test fixture");
  r = parse_override_header("promptgate-override: K7M2QX9PAB12 because pasted the whole line");
  REQUIRE(r);
  CHECK(r->code == "K7M2QX9PAB12");
  CHECK(r->justification == "pasted the whole line");
  // A header value is plain text: quotes and backslashes are the user's.
  r = parse_override_header(R"(K7M2QX9PAB12 because path C:\new "dir")");
  REQUIRE(r);
  CHECK(r->justification == R"(path C:\new "dir")");
  CHECK_FALSE(parse_override_header("   "));
}

TEST_CASE("override codes: a MAC any replica with the key checks", "[override]") {
  FakeClock clock;
  OverrideBook book = make_book(clock);
  std::string code = book.issue("user:alice", {"fp_b", "fp_a", "fp_a"});
  REQUIRE(code.size() == kOverrideCodeDisplayLength);
  CHECK(code[4] == '-');
  CHECK(code[9] == '-');
  REQUIRE(normalize_override_code(code));
  CHECK(book.issue("user:alice", {"fp_a", "fp_b"}) == code);  // same inputs, same second
  CHECK(book.issue("user:alice", {"fp_a"}) != code);

  using R = OverrideBook::Redeem;
  const std::string why = "synthetic fixture for a test";
  const std::vector<std::string> both = {"fp_a", "fp_b"};
  auto check = [&](OverrideBook& b, const std::string& who, const std::string& c,
                   const std::vector<std::string>& fps, const std::string& reason = "") {
    return b.redeem(who, c, fps, reason.empty() ? why : reason, 10, 600s, 0s).result;
  };
  SECTION("another book with the same key accepts it; another key does not") {
    OverrideBook replica = make_book(clock);
    auto r = replica.redeem("user:alice", code, both, why, 10, 600s, 0s);
    CHECK(r.result == R::ok);
    CHECK(r.first_here);
    CHECK_FALSE(replica.redeem("user:alice", code, both, why, 10, 600s, 0s).first_here);
    OverrideBook stranger = make_book(clock, 100, 8);
    CHECK(check(stranger, "user:alice", code, both) == R::invalid);
  }
  SECTION("resent: accepted again while valid (not single use)") {
    CHECK(check(book, "user:alice", code, both) == R::ok);
    CHECK(check(book, "user:alice", code, both) == R::ok);
  }
  SECTION("typed in lower case, without hyphens, O for 0") {
    std::string typed;
    for (char c : code)
      if (c != '-') typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : typed)
      if (c == '0') c = 'o';
    CHECK(check(book, "user:alice", typed, both) == R::ok);
  }
  SECTION("tampering with any symbol is refused") {
    std::string plain = *normalize_override_code(code);
    for (size_t i = 0; i < plain.size(); ++i) {
      std::string bad = plain;
      bad[i] = bad[i] == 'Z' ? 'Y' : 'Z';
      CHECK(check(book, "user:alice", bad, both) == R::invalid);
    }
  }
  SECTION("expiry counts from the issue: max(ttl, grant)") {
    clock.now += 600s;
    CHECK(check(book, "user:alice", code, both) == R::ok);
    clock.now += 1s;
    CHECK(check(book, "user:alice", code, both) == R::expired);
    CHECK(book.redeem("user:alice", code, both, why, 10, 600s, 3600s).result == R::ok);
    clock.now += 3000s;
    CHECK(book.redeem("user:alice", code, both, why, 10, 600s, 3600s).result == R::expired);
  }
  SECTION("a code far older than the time field's range is refused, not revived") {
    clock.now += std::chrono::seconds(int64_t{1} << 20);
    CHECK(check(book, "user:alice", code, both) == R::invalid);
  }
  SECTION("issued by a replica whose clock is a little ahead") {
    FakeClock ahead = clock;
    ahead.now += 120s;
    OverrideBook fast = make_book(ahead);
    CHECK(check(book, "user:alice", fast.issue("user:alice", both), both) == R::ok);
  }
  SECTION("another identity") {
    CHECK(check(book, "user:bob", code, both) == R::invalid);
    CHECK(check(book, "addr:10.0.0.5", code, both) == R::invalid);
  }
  SECTION("exactly the values it was issued for") {
    CHECK(check(book, "user:alice", code, {"fp_a", "fp_b", "fp_c"}) == R::invalid);
    CHECK(check(book, "user:alice", code, {"fp_b"}) == R::invalid);
    CHECK(check(book, "user:alice", code, {"fp_b", "fp_a", "fp_b"}) == R::ok);  // order, repeats
  }
  SECTION("the justification") {
    CHECK(check(book, "user:alice", code, both, "too short") == R::no_justification);
    // Ten characters, counted as characters rather than bytes.
    CHECK(check(book, "user:alice", code, both, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") ==
          R::no_justification);
    CHECK(check(book, "user:alice", code, both, "0123456789") == R::ok);
  }
  SECTION("malformed codes") {
    CHECK(check(book, "user:alice", "ZZZZ-ZZZZ-ZZZZ", both) == R::invalid);
    CHECK(check(book, "user:alice", "nonsense", both) == R::invalid);
  }
}

TEST_CASE("override book: this replica's grants cover the same values until issue + grant",
          "[override]") {
  FakeClock clock;
  OverrideBook book = make_book(clock);
  std::string code = book.issue("addr:10.0.0.5", {"fp_a", "fp_b"});
  CHECK_FALSE(book.granted("addr:10.0.0.5", {"fp_a"}));
  clock.now += 20s;
  REQUIRE(book.redeem("addr:10.0.0.5", code, {"fp_a", "fp_b"}, "a reason long enough", 10, 30s, 60s)
              .result == OverrideBook::Redeem::ok);
  auto g = book.granted("addr:10.0.0.5", {"fp_b"});
  REQUIRE(g);
  CHECK(g->code_id == override_code_id(code));
  CHECK(g->justification == "a reason long enough");
  CHECK_FALSE(book.granted("addr:10.0.0.5", {"fp_a", "fp_c"}));
  CHECK_FALSE(book.granted("addr:10.0.0.6", {"fp_a"}));
  clock.now += 39s;
  CHECK(book.granted("addr:10.0.0.5", {"fp_a"}));
  clock.now += 1s;  // 60 s after the issue, not after the redemption
  CHECK_FALSE(book.granted("addr:10.0.0.5", {"fp_a"}));
}

TEST_CASE("override book: bounded memory of seen codes", "[override]") {
  FakeClock clock;
  OverrideBook book = make_book(clock, 3);
  std::vector<std::string> codes;
  for (int i = 0; i < 5; ++i) codes.push_back(book.issue("user:u", {"fp" + std::to_string(i)}));
  const std::string why = "a reason long enough";
  for (int i = 0; i < 5; ++i)
    CHECK(book.redeem("user:u", codes[i], {"fp" + std::to_string(i)}, why, 1, 600s, 0s).first_here);
  // The oldest was forgotten: seen as new again (still valid: the code itself is the proof).
  CHECK(book.redeem("user:u", codes[0], {"fp0"}, why, 1, 600s, 0s).first_here);
  CHECK_FALSE(book.redeem("user:u", codes[4], {"fp4"}, why, 1, 600s, 0s).first_here);
}

TEST_CASE("override eligibility: by rule, category and group: off by default", "[override]") {
  Identity alice{"alice", {"developers"}};
  Identity bob{"bob", {"contractors"}};
  Finding token = finding("github-pat-classic", Category::credential, "fp_1");
  Finding email = finding("email-address", Category::pii, "fp_2");

  OverridesConfig off;
  CHECK_FALSE(off.enabled);
  CHECK_FALSE(override_eligible(off, alice, token));

  OverridesConfig by_rule;
  by_rule.enabled = true;
  by_rule.rules = {"email-address"};
  CHECK(override_eligible(by_rule, alice, email));
  CHECK_FALSE(override_eligible(by_rule, alice, token));

  OverridesConfig by_category = enabled_for_credentials();
  CHECK(override_eligible(by_category, bob, token));
  CHECK_FALSE(override_eligible(by_category, bob, email));

  by_category.groups = {"developers"};
  CHECK(override_eligible(by_category, alice, token));
  CHECK_FALSE(override_eligible(by_category, bob, token));
  CHECK_FALSE(override_eligible(by_category, Identity{}, token));
}

TEST_CASE("override identity keys", "[override]") {
  CHECK(override_identity_key(Identity{"alice", {}}, "10.0.0.5:41000") == "user:alice");
  CHECK(override_identity_key(Identity{}, "10.0.0.5:41000") == "addr:10.0.0.5");
  CHECK(override_identity_key(Identity{}, "::1:41000") == "addr:::1");
}

TEST_CASE("apply_override: offer, redeem, grant, refuse", "[override]") {
  FakeClock clock;
  OverrideBook book = make_book(clock);
  OverridesConfig config = enabled_for_credentials();
  config.grant_seconds = 300;
  Identity who{"alice", {}};
  const std::string key = override_identity_key(who, "10.0.0.5:41000");
  std::vector<Finding> findings = {finding("github-pat-classic", Category::credential, "fp_1"),
                                   finding("email-address", Category::pii, "fp_2")};
  std::vector<Action> blocked = {Action::block, Action::log};

  // 1. Blocked, nothing asked: a code is offered.
  auto actions = blocked;
  auto offer = apply_override(book, config, who, key, findings, actions, std::nullopt);
  CHECK_FALSE(offer.forward);
  CHECK(actions == blocked);
  std::string code = offered_code(offer.message);
  REQUIRE(normalize_override_code(code));
  CHECK(normalize_override_code(code)->size() == kOverrideCodeLength);
  REQUIRE(offer.record);
  CHECK(offer.record->status == "offered");
  CHECK(offer.record->code_id == override_code_id(code));
  CHECK(offer.record->fingerprints == std::vector<std::string>{"fp_1"});

  SECTION("redeemed, then granted while the conversation is resent, then expired") {
    auto marker = find_override_marker("promptgate-override: " + code +
                                       " because synthetic key in a test fixture");
    actions = blocked;
    auto used = apply_override(book, config, who, key, findings, actions, marker);
    CHECK(used.forward);
    CHECK(used.verdict == Verdict::log);
    CHECK(actions == std::vector<Action>{Action::log, Action::log});
    REQUIRE(used.record);
    CHECK(used.record->status == "redeemed");
    CHECK(used.record->justification == "synthetic key in a test fixture");
    CHECK(used.record->code_id == override_code_id(code));
    for (const auto& field :
         {used.record->code_id, used.record->justification, used.record->reason})
      CHECK(field.find(code) == std::string::npos);

    actions = blocked;
    auto again = apply_override(book, config, who, key, findings, actions, marker);
    CHECK(again.forward);
    CHECK(again.record->status == "granted");
    CHECK(again.record->code_id == override_code_id(code));

    // Another replica (same key, no memory of this one) accepts the resent line too.
    OverrideBook other = make_book(clock);
    actions = blocked;
    auto elsewhere = apply_override(other, config, who, key, findings, actions, marker);
    CHECK(elsewhere.forward);
    CHECK(elsewhere.record->status == "redeemed");

    clock.now += 601s;  // past max(ttl 600, grant 300) from the issue
    actions = blocked;
    auto later = apply_override(book, config, who, key, findings, actions, marker);
    CHECK_FALSE(later.forward);
    CHECK(actions == blocked);
    CHECK(later.record->status == "refused");
    CHECK_THAT(later.message, Catch::Contains("expired"));
    CHECK(offered_code(later.message) != code);  // a fresh code
  }
  SECTION("no justification: refused, the code stays valid, no new code") {
    auto marker = find_override_marker("promptgate-override: " + code);
    actions = blocked;
    auto refused = apply_override(book, config, who, key, findings, actions, marker);
    CHECK_FALSE(refused.forward);
    CHECK_THAT(refused.message, Catch::Contains("at least 10 characters"));
    CHECK(refused.message.find("promptgate-override: ") == std::string::npos);
    CHECK(refused.record->status == "refused");
    marker->justification = "now with a real reason";
    CHECK(apply_override(book, config, who, key, findings, actions, marker).forward);
  }
  SECTION("another identity cannot use the code") {
    Identity bob{"bob", {}};
    auto marker = find_override_marker("promptgate-override: " + code + " because I want to");
    actions = blocked;
    auto refused = apply_override(book, config, bob, override_identity_key(bob, "10.0.0.6:1"),
                                  findings, actions, marker);
    CHECK_FALSE(refused.forward);
    CHECK_THAT(refused.message, Catch::Contains("not valid for you"));
  }
  SECTION("a new blocking value the code does not cover") {
    findings.push_back(finding("aws-access-key-id", Category::credential, "fp_3"));
    actions = {Action::block, Action::log, Action::block};
    auto marker =
        find_override_marker("promptgate-override: " + code + " because a long enough reason");
    auto refused = apply_override(book, config, who, key, findings, actions, marker);
    CHECK_FALSE(refused.forward);
    CHECK(actions[0] == Action::block);
    CHECK(refused.record->fingerprints == std::vector<std::string>{"fp_1", "fp_3"});
  }
  SECTION("an ineligible blocking finding: no code, no offer") {
    actions = {Action::block, Action::block};  // the pii finding is not eligible
    auto none = apply_override(book, config, who, key, findings, actions, std::nullopt);
    CHECK_FALSE(none.forward);
    CHECK(none.message.empty());
    CHECK_FALSE(none.record);
  }
  SECTION("disabled: nothing happens, an attempt is recorded as refused") {
    OverridesConfig off;
    actions = blocked;
    CHECK_FALSE(apply_override(book, off, who, key, findings, actions, std::nullopt).record);
    auto marker = find_override_marker("promptgate-override: " + code + " because please");
    auto tried = apply_override(book, off, who, key, findings, actions, marker);
    CHECK_FALSE(tried.forward);
    REQUIRE(tried.record);
    CHECK(tried.record->reason == "overrides disabled");
  }
  SECTION("other actions keep their verdict after the override") {
    actions = {Action::block, Action::redact};
    auto marker =
        find_override_marker("promptgate-override: " + code + " because a long enough reason");
    auto used = apply_override(book, config, who, key, findings, actions, marker);
    CHECK(used.forward);
    CHECK(used.verdict == Verdict::redact);
  }
}

TEST_CASE("config: the overrides section", "[override]") {
  auto c = parse_config(R"(
overrides:
  enabled: true
  rules: [github-pat-classic]
  categories: [credential, pii]
  groups: [developers]
  ttl_seconds: 300
  grant_seconds: 0
  min_justification: 20
auth:
  groups:
    developers: [alice]
)",
                        "gw.yaml");
  CHECK(c.overrides.enabled);
  CHECK(c.overrides.rules == std::vector<std::string>{"github-pat-classic"});
  CHECK(c.overrides.categories == std::vector<Category>{Category::credential, Category::pii});
  CHECK(c.overrides.groups == std::vector<std::string>{"developers"});
  CHECK(c.overrides.ttl_seconds == 300);
  CHECK(c.overrides.grant_seconds == 0);
  CHECK(c.overrides.min_justification == 20);
  CHECK_FALSE(load_config("").overrides.enabled);

  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      parse_config(yaml, "gw.yaml");
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of("overrides:\n  enabled: true\n  categories: [secrets]\n"),
             Catch::StartsWith("gw.yaml:3: category must be credential, pii, phi or pci"));
  CHECK_THAT(error_of("overrides:\n  enabled: yes please\n"),
             Catch::StartsWith("gw.yaml:2: 'enabled' must be true or false"));
  CHECK_THAT(error_of("overrides:\n  enabled: true\n  ttl_seconds: 5\n  rules: [x]\n"),
             Catch::StartsWith("gw.yaml:3: 'ttl_seconds' must be between"));
  CHECK_THAT(error_of("overrides:\n  enable: true\n"),
             Catch::StartsWith("gw.yaml:2: unknown key 'enable' in overrides"));
  CHECK_THAT(error_of("overrides:\n  enabled: true\n"),
             Catch::Contains("no 'rules' or 'categories'"));
  // A group that auth.groups does not define would match nobody.
  CHECK(error_of("overrides:\n  enabled: true\n  rules: [x]\n  groups: [devs]\n") ==
        "gw.yaml:4: unknown group 'devs' in overrides (groups are defined under auth.groups)");
}

TEST_CASE("apply_override: an override covers every finding of the value", "[override]") {
  FakeClock clock;
  OverrideBook book = make_book(clock, 100);
  OverridesConfig config = enabled_for_credentials();
  Identity who{"alice", {}};
  const std::string key = override_identity_key(who, "10.0.0.5:41000");
  // The value blocks where a specific rule found it and would be redacted where only a generic
  // rule did (an earlier message of the conversation); another value stays redacted.
  std::vector<Finding> findings = {finding("github-pat-classic", Category::credential, "fp_1"),
                                   finding("generic-token-unquoted", Category::credential, "fp_1"),
                                   finding("generic-token-unquoted", Category::credential, "fp_9")};
  std::vector<Action> actions = {Action::block, Action::redact, Action::redact};
  auto offer = apply_override(book, config, who, key, findings, actions, std::nullopt);
  std::string code = offered_code(offer.message);
  auto marker = find_override_marker("promptgate-override: " + code + " because synthetic fixture");
  auto used = apply_override(book, config, who, key, findings, actions, marker);
  CHECK(used.forward);
  CHECK(actions == std::vector<Action>{Action::log, Action::log, Action::redact});
  CHECK(used.verdict == Verdict::redact);
}

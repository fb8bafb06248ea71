// The digit-run finder (the engine's prefilter for card numbers): where it reports, what it
// refuses (dates, numbers glued to words), that its 64-byte masks find exactly what a byte-by-byte
// walk finds, that a stream rescanning `reach()` bytes misses nothing at a chunk boundary, and
// that rules using it are found by the engine and rejected with file, line and id when malformed.
#include <catch2/catch.hpp>
#include <random>

#include "detectors/digit_runs.h"
#include "detectors/engine.h"
#include "tests/synthetic.h"

using namespace promptgate;

namespace {

std::vector<uint64_t> ends(const DigitRunFinder& f, std::string_view text, uint32_t spec = 0) {
  std::vector<DigitRunHit> hits;
  f.find(text, 0, 0, hits);
  std::vector<uint64_t> out;
  for (const auto& h : hits)
    if (h.spec == spec) out.push_back(h.end);
  return out;
}

// Mostly under 300 bytes (a few 64-byte blocks); every tenth text spans 1-3 of the finder's
// 4 KiB batches of masks, so runs and the letters before them also cross a batch boundary.
size_t random_length(std::mt19937_64& rng, int round) {
  return round % 10 ? std::uniform_int_distribution<size_t>(0, 300)(rng)
                    : std::uniform_int_distribution<size_t>(4000, 12300)(rng);
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

// The definition, one byte at a time: every run start at a word boundary from which N digits
// follow, separators only after a group of min_group digits (first_group for the first), only
// between two digits and at most max_separators of them.
std::vector<uint64_t> reference(const DigitRunSpec& spec, std::string_view t) {
  std::vector<uint64_t> out;
  for (size_t s = 0; s < t.size(); ++s) {
    if (!digit(t[s])) continue;
    if (!spec.first_digits.empty() && spec.first_digits.find(t[s]) == std::string::npos) continue;
    if (spec.whole_run && s >= 2 && spec.separators.find(t[s - 1]) != std::string::npos &&
        digit(t[s - 2]))
      continue;
    if (s > 0 && (std::isalnum(static_cast<unsigned char>(t[s - 1])) || t[s - 1] == '_')) continue;
    uint32_t count = 0, group = 0, separators = 0;
    for (size_t p = s; p < t.size();) {
      if (digit(t[p])) {
        ++p;
        ++group;
        if (++count == spec.digits) {
          if (!(spec.ends_run && p < t.size() && digit(t[p]))) out.push_back(p);
          break;
        }
      } else if (group >= std::max(count == group ? spec.first_group : 1u, spec.min_group) &&
                 spec.separators.find(t[p]) != std::string::npos && p + 1 < t.size() &&
                 digit(t[p + 1]) && separators < spec.max_separators) {
        ++p;
        ++separators;
        group = 0;
      } else {
        break;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a digit run is reported where its N-th digit ends, from every group start",
          "[digit_runs]") {
  DigitRunFinder cards({{8, " -", 4}});
  CHECK(ends(cards, "card 4111111111111111 ok") == std::vector<uint64_t>{13});
  // Each 4-digit group is a run start of its own (as `\b` is in Hyperscan).
  CHECK(ends(cards, "4111 1111-1111 1111") == std::vector<uint64_t>{9, 14, 19});
  CHECK(ends(cards, "x 3782 822463 10005") == std::vector<uint64_t>{11, 16});
}

TEST_CASE("dates, short groups, glued words and double separators are not runs", "[digit_runs]") {
  DigitRunFinder cards({{8, " -", 4}});
  CHECK(ends(cards, "2026-11-02T10:15:33.002Z ERROR").empty());
  CHECK(ends(cards, "v41111111 and id_41111111 and x41111111").empty());
  CHECK(ends(cards, "4111  1111 and 4111--1111 and 4111 -1111").empty());
  CHECK(ends(cards, "1234567").empty());
  CHECK(ends(cards, "12345678") == std::vector<uint64_t>{8});
  CHECK(ends(cards, "(12345678)") == std::vector<uint64_t>{9});
  DigitRunFinder ssn({{9, "-", 2, 3}});
  CHECK(ends(ssn, "ssn 623-99-5531.") == std::vector<uint64_t>{15});
  CHECK(ends(ssn, "ssn 623-9-95531.").empty());
  CHECK(ends(ssn, "at 10:15:33.002 on 20-26-11-02-33").empty());
  // max_separators: an SSN has two; a date and a time have three (and would be a 9-digit run).
  DigitRunFinder ssn_any_shape({{9, " -", 2, 3}});
  CHECK(ends(ssn_any_shape, "at 2026-11-24 17:11:18") == std::vector<uint64_t>{15});
  DigitRunFinder ssn_shape({{9, " -", 2, 3, "", false, 2}});
  CHECK(ends(ssn_shape, "at 2026-11-24 17:11:18").empty());
  CHECK(ends(ssn_shape, "ssn 623-99-5531 or 623 99 5531 or 623995531") ==
        std::vector<uint64_t>{15, 30, 43});
  // Cards start with 2-6: an epoch-milliseconds timestamp does not.
  DigitRunFinder networks({{8, " -", 4, 4, "23456"}});
  CHECK(ends(networks, "ts 1700000000000, card 4111111111111111").size() == 1);
  // whole_run: a group after "digit separator" does not start a run of its own.
  DigitRunFinder cpf({{11, ".-", 2, 3, "", true}});
  CHECK(ends(cpf, "cpf 123.456.789-09 and 1.123.456.789-09") == std::vector<uint64_t>{18});
  // ends_run: no digit after the N-th, so a longer number is no candidate; a separator or the
  // end of the text may follow.
  DigitRunSpec ssn_ends = {9, " -", 2, 3, "", false, 2};
  ssn_ends.ends_run = true;
  DigitRunFinder exact({ssn_ends});
  CHECK(ends(exact, "ssn 623-99-5531. id 4294967295 and 1700000000000") ==
        std::vector<uint64_t>{15});
  CHECK(ends(exact, "623-99-5531-77 and 623995531") == std::vector<uint64_t>{11, 28});
  CHECK(ends(exact, "623-99-55312").empty());
  // A run of 64 digits fills the 64 bits a start is tested on: the byte after them tells.
  DigitRunFinder longest({{64, "", 1, 1, "", false, 63, 0, true}});
  const std::string digits64(64, '7');
  CHECK(ends(longest, "x " + digits64 + " y") == std::vector<uint64_t>{66});
  CHECK(ends(longest, "x " + digits64 + "7 y").empty());
  // Across two 64-byte blocks: the 9th digit is the last byte of the first.
  std::string padded = std::string(55, ' ') + "623995531";
  CHECK(ends(exact, padded) == std::vector<uint64_t>{64});
  CHECK(ends(exact, padded + "1").empty());
  CHECK(ends(exact, padded + " 1") == std::vector<uint64_t>{64});
}

TEST_CASE("the 64-byte masks find what a byte-by-byte walk finds", "[digit_runs]") {
  std::mt19937_64 rng(11);
  const std::vector<DigitRunSpec> specs = {{8, " -", 4},
                                           {9, "-", 2, 3},
                                           {3, "./", 1},
                                           {5, " ", 1, 2},
                                           {4, "-", 1, 1, "2468"},
                                           {4, "-.", 2, 2, "", true},
                                           {9, " -", 2, 3, "", false, 2},
                                           {11, ".-", 1, 1, "", false, 0},
                                           {6, "-", 1, 1, "", false, 1},
                                           {9, " -", 2, 3, "", false, 2, 0, true},
                                           {5, "", 1, 1, "", false, 63, 0, true},
                                           {64, "-", 1, 1, "", false, 63, 0, true}};
  DigitRunFinder finder(specs);
  const std::string alphabet = "0123456789012345678901234567890123456789 -./_aQx\n";
  for (int round = 0; round < 400; ++round) {
    std::string text(random_length(rng, round), ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    for (uint32_t k = 0; k < specs.size(); ++k) {
      INFO("round " << round << " spec " << k << " text '" << text << "'");
      REQUIRE(ends(finder, text, k) == reference(specs[k], text));
    }
  }
}

TEST_CASE("rescanning reach() bytes before new ones misses no hit at a chunk boundary",
          "[digit_runs]") {
  DigitRunFinder finder({{8, " -", 4}});
  std::string text =
      "order 4111 1111 1111 1111 and 5500-0000-0000-0004, ts 2026-11-02 ref 30569309025904 end";
  auto whole = ends(finder, text);
  REQUIRE(whole.size() >= 6);
  for (size_t cut = 1; cut < text.size(); ++cut) {
    std::vector<DigitRunHit> hits;
    finder.find(std::string_view(text).substr(0, cut), 0, 0, hits);
    size_t rescan = cut > finder.reach() ? cut - finder.reach() : 0;
    finder.find(text, rescan, cut, hits);
    std::vector<uint64_t> got;
    for (const auto& h : hits) got.push_back(h.end);
    INFO("cut at " << cut);
    REQUIRE(got == whole);
  }
}

TEST_CASE("a rule with digit_run is found by the engine in block and stream mode", "[digit_runs]") {
  auto rules = RuleSet::compile(parse_rule_pack(R"(pack: mine
rules:
  - id: account-number
    category: pii
    severity: high
    action: redact
    description: ten-digit account number, 3-3-4 with dashes or plain
    pattern: '\b(?:\d{10}|\d{3}-\d{3}-\d{4})\b'
    digit_run: {digits: 10, separators: '-', min_group: 3}
)",
                                                "mine.yaml"));
  Scanner scanner(rules, testing::test_key());
  std::string text = "acct 555-014-7788 and 9873541260, not 2026-11-02 or 555-01-47788";
  auto block = scanner.scan(text, InputFormat::text);
  REQUIRE(block.findings.size() == 2);
  CHECK(block.findings[0].start == 5);
  CHECK(block.findings[0].end == 17);
  CHECK(block.findings[1].start == 22);
  for (size_t cut = 1; cut < text.size(); ++cut) {
    auto stream = scanner.open_stream(InputFormat::text);
    stream->write(std::string_view(text).substr(0, cut));
    stream->write(std::string_view(text).substr(cut));
    auto streamed = stream->finish();
    INFO("cut at " << cut);
    REQUIRE(streamed.findings.size() == 2);
    CHECK(streamed.findings[0].start == 5);
    CHECK(streamed.findings[1].start == 22);
  }
}

TEST_CASE("a malformed digit_run names the file, line and rule", "[digit_runs]") {
  auto error_of = [](const std::string& tail) {
    try {
      RuleSet::compile(
          parse_rule_pack("pack: mine\nrules:\n  - id: my-rule\n    category: pii\n"
                          "    severity: high\n    action: block\n"
                          "    description: d\n    pattern: '\\d{12}'\n" +
                              tail,
                          "my-rules.yaml"));
    } catch (const RuleError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = error_of("    digit_run: {digits: 1}\n");
  CHECK(e.find("my-rules.yaml:9: rule 'my-rule': digit_run.digits must be 2..64") !=
        std::string::npos);
  e = error_of("    digit_run: {digits: 12, separators: 'x'}\n");
  CHECK(e.find("my-rules.yaml:9: rule 'my-rule': digit_run.separators") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, min_group: 13}\n");
  CHECK(e.find("min_group must be 1..digits") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, min_group: 3, first_group: 2}\n");
  CHECK(e.find("first_group must be min_group..digits") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, first_digits: '2-6'}\n");
  CHECK(e.find("digit_run.first_digits must be digits") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, whole_run: maybe}\n");
  CHECK(e.find("digit_run.whole_run must be true or false") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, ends_run: often}\n");
  CHECK(e.find("my-rules.yaml:9: rule 'my-rule': digit_run.ends_run must be true or false") !=
        std::string::npos);
  e = error_of("    digit_run: {digits: 12, max_separators: 12}\n");
  CHECK(e.find("my-rules.yaml:9: rule 'my-rule': digit_run.max_separators must be 0..digits-1") !=
        std::string::npos);
  e = error_of("    digit_run: {digits: 12, max_separators: some}\n");
  CHECK(e.find("must be numbers") != std::string::npos);
  e = error_of("    digit_run: {digits: 12, gap: 1}\n");
  CHECK(e.find("unknown digit_run field 'gap'") != std::string::npos);
  e = error_of("    digit_run: 12\n");
  CHECK(e.find("my-rules.yaml:9") != std::string::npos);
  // The line named is the conflicting prefilter's (a digit_run may be an alias from elsewhere).
  e = error_of("    prefilter: '\\d{4}'\n    digit_run: {digits: 12}\n");
  CHECK(e.find("my-rules.yaml:9: rule 'my-rule': digit_run replaces the prefilter") !=
        std::string::npos);
  e = error_of("    digit_run: {digits: 12}\n    prefilter: '\\d{4}'\n");
  CHECK(e.find("my-rules.yaml:10: rule 'my-rule': digit_run replaces the prefilter") !=
        std::string::npos);
}

TEST_CASE("after_capitals: a run right after capitals at a word boundary, not after a word",
          "[digit_runs]") {
  DigitRunFinder finder({{2, "", 2, 2, "", false, 63, 2}});
  std::vector<DigitRunHit> hits;
  //                      0123456789012345678901234567890123456789
  const std::string text = "pay DE50 3446 and GB18NWBK, not XDE50, De50, 50, DE5";
  finder.find(text, 0, 0, hits);
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].end == 8);   // DE50
  CHECK(hits[1].end == 22);  // GB18
  // Capitals that straddle a 64-byte block boundary, and a stream that starts after them.
  std::string padded(62, ' ');
  padded += "NL25RABO";
  hits.clear();
  finder.find(padded, 0, 0, hits);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].end == 66);
  hits.clear();
  finder.find(padded, 64, 0, hits);
  REQUIRE(hits.size() == 1);
}

TEST_CASE("after_capitals: the 64-byte masks find what a byte-by-byte walk finds", "[digit_runs]") {
  // Capitals, lower case and digits mixed, so runs follow capitals, lower case and both, also
  // across the 64-byte blocks (the capital mask prefilters the block's run starts).
  std::mt19937_64 rng(23);
  const std::string alphabet = "0123456789ABCDEZab _-\n";
  for (uint32_t capitals : {1u, 2u, 3u}) {
    DigitRunFinder finder({{2, "", 2, 2, "", false, 63, capitals}});
    for (int round = 0; round < 400; ++round) {
      std::string text(random_length(rng, round), ' ');
      for (char& c : text) c = alphabet[rng() % alphabet.size()];
      std::vector<uint64_t> want;
      for (size_t s = capitals; s + 2 <= text.size(); ++s) {
        bool ok = digit(text[s]) && digit(text[s + 1]);
        for (uint32_t j = 1; j <= capitals && ok; ++j)
          ok = text[s - j] >= 'A' && text[s - j] <= 'Z';
        if (ok && s > capitals) {
          char before = text[s - capitals - 1];
          ok = !(std::isalnum(static_cast<unsigned char>(before)) || before == '_');
        }
        if (ok) want.push_back(s + 2);
      }
      INFO("capitals " << capitals << " round " << round << " text '" << text << "'");
      REQUIRE(ends(finder, text) == want);
    }
  }
}

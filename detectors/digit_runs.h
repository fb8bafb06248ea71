// The engine's own prefilter for digit-shaped formats (card numbers, national ids), which have no
// literal for Hyperscan to anchor on: a character-class prefilter such as `\b[2-6]\d{3}[ -]?\d{4}`
// runs as an automaton over every byte and halves the speed of the whole Hyperscan database.
// This finder looks only at the starts of digit runs, found on digit masks 64 bytes at a time.
//
// A rule opts in with `digit_run: {digits: N, separators: ' -', min_group: G, first_group: F,
// first_digits: D}` instead of `prefilter:`. A hit is reported where the N-th digit ends, for every
// start of a digit run at a word boundary (the byte before is not [A-Za-z0-9_]) from which N digits
// follow, with at most one separator between two digits and only after a group of at least G
// digits, F for the first group (so a card's 4-4-4-4 counts and a date's 2026-11-02 does not), and,
// with `first_digits: '23456'`, only from a run that starts with one of those digits, and with
// `max_separators: S`, only with at most S separators among the N digits, and with `ends_run:
// true`, only when no digit follows the N-th (the end of the text counts as no digit). Like a
// Hyperscan report, a hit must lie inside every match of the rule's pattern.
//
//   DigitRunFinder finder({{8, " -", 4}});
//   std::vector<DigitRunHit> hits;
//   finder.find(text, 0, 0, hits);   // hits[i].spec == 0, hits[i].end = offset after 8th digit
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

struct DigitRunSpec {
  uint32_t digits = 0;           // how many digits a hit needs
  std::string separators;        // bytes allowed (one at a time) between two digits
  uint32_t min_group = 1;        // digits a group needs before a separator may follow
  uint32_t first_group = 1;      // the same for the first group (at least min_group)
  std::string first_digits{};    // the digits a run may start with (empty: any)
  bool whole_run = false;        // only from a run's first digit, never after "digit separator"
  uint32_t max_separators = 63;  // separators a hit may have among its digits
  // Instead of a word boundary: the run follows this many capital letters that start at a word
  // boundary (`DE50 3446...`, `GB18NWBK...`: an IBAN's country code). 0: a word boundary.
  uint32_t after_capitals = 0;
  // The N-th digit ends the run: a hit is not reported when a digit follows it (`\d{4}\b` at
  // the end of the rule's pattern), so the many longer numbers in code and logs cost nothing.
  bool ends_run = false;
  bool operator==(const DigitRunSpec&) const = default;
};

struct DigitRunHit {
  uint32_t spec;  // index into the finder's specs
  uint64_t end;   // offset in the searched text just after the last digit
};

class DigitRunFinder {
 public:
  DigitRunFinder() = default;
  explicit DigitRunFinder(std::vector<DigitRunSpec> specs);

  bool empty() const { return specs_.empty(); }
  // The most bytes one hit spans (digits and separators), plus the byte before it: a stream that
  // rescans this much before its new bytes finds every hit that crosses a chunk boundary.
  uint32_t reach() const { return reach_; }

  // Appends, in increasing `end` order per spec, the hits whose run starts at or after `from` and
  // that end after `report_after`. `text[from - 1]`, when present, is the byte before `from`.
  void find(std::string_view text, size_t from, uint64_t report_after,
            std::vector<DigitRunHit>& out) const;

 private:
  void follow(const unsigned char* base, size_t n, size_t start, uint32_t spec,
              uint64_t report_after, std::vector<DigitRunHit>& out) const;

  void follow_groups(uint64_t ahead, const unsigned char* base, size_t n, size_t start,
                     uint32_t spec, uint64_t report_after, std::vector<DigitRunHit>& out) const;

  // Per spec, the test on the digit mask of the 64 bytes from a run start.
  static constexpr uint32_t kMaxLead = 16;
  struct Filter {
    uint32_t lead;          // digits in a row a run must start with (at most kMaxLead)
    uint32_t first_digits;  // bit d: a run may start with digit d
    bool whole_run;
    uint64_t span_bits;    // the bytes from a start that a hit can span (0: more than 64)
    uint32_t span_digits;  // digits a hit needs within them (0 when span_bits is 0)
    // Whether a start with `ahead` (the digit mask of the 64 bytes from it) and first digit
    // `digit` (0-9) may begin a hit; the lead is tested apart.
    bool admits(uint64_t ahead, unsigned digit) const;
  };

  // Runs after capitals (DigitRunSpec::after_capitals), found from `candidates`, the run starts
  // of a block that follow a letter.
  void find_after_capitals(uint64_t candidates, uint64_t cur, uint64_t next,
                           const unsigned char* base, size_t n, size_t b, uint64_t report_after,
                           std::vector<DigitRunHit>& out) const;

  std::vector<DigitRunSpec> specs_;
  bool any_plain_ = false, any_after_capitals_ = false;
  uint32_t min_capitals_ = 0;  // the fewest capitals an after_capitals spec needs (at most 63)
  std::vector<std::array<bool, 256>> is_separator_;  // per spec
  std::vector<Filter> filters_;                      // per spec
  uint32_t reach_ = 0;
  Filter any_{};  // passed by every start that passes some spec's filter
};

}  // namespace promptgate

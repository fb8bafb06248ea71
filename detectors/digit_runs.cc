#include "detectors/digit_runs.h"

#include <algorithm>
#include <bit>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "detectors/cpu_features.h"

namespace promptgate {
namespace {

bool is_digit(unsigned char c) {
  return static_cast<unsigned>(c - '0') < 10u;
}

bool is_word(unsigned char c) {
  return is_digit(c) || static_cast<unsigned>((c | 0x20) - 'a') < 26u || c == '_';
}

// Bits i..i+63 of the 128-bit value (high:low).
uint64_t window(uint64_t low, uint64_t high, unsigned i) {
  return i == 0 ? low : (low >> i) | (high << (64 - i));
}

#if defined(__x86_64__) && defined(__GNUC__)
// digit_mask of 64 bytes in two AVX2 steps, on CPUs that have it.
__attribute__((target("avx2"))) uint64_t digit_mask_avx2(const unsigned char* p) {
  const __m256i zero_digit = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9);
  uint64_t m = 0;
  for (unsigned part = 0; part < 2; ++part) {
    __m256i d = _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * part)),
                                zero_digit);
    m |= static_cast<uint64_t>(static_cast<uint32_t>(
             _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d))))
         << (32 * part);
  }
  return m;
}

#endif

// Of the run starts in `starts` (bits of the 64-byte block at `at`), those with at least `need`
// digits among the `span_bits` bytes from them and a first digit in `first_digits`: branch-free,
// because most starts (years, times, ids) fail and a mispredicted branch each cost more than the
// test.
__attribute__((always_inline)) inline uint64_t passing_starts(uint64_t starts, uint64_t cur,
                                                              uint64_t next,
                                                              const unsigned char* at,
                                                              uint64_t span_bits, uint32_t need,
                                                              uint32_t first_digits) {
  uint64_t pass = 0;
  for (; starts; starts &= starts - 1) {
    unsigned i = static_cast<unsigned>(__builtin_ctzll(starts));
    bool enough = static_cast<uint32_t>(std::popcount(window(cur, next, i) & span_bits)) >= need;
    bool first = (first_digits >> ((at[i] - '0') & 31)) & 1u;
    pass |= static_cast<uint64_t>(enough & first) << i;
  }
  return pass;
}

}  // namespace

DigitRunFinder::DigitRunFinder(std::vector<DigitRunSpec> specs) : specs_(std::move(specs)) {
  for (auto& s : specs_) {
    s.first_group = std::max(s.first_group, s.min_group);
    if (s.separators.empty()) s.first_group = s.digits;  // the whole run is one group
    std::array<bool, 256> sep{};
    for (char c : s.separators) sep[static_cast<unsigned char>(c)] = true;
    is_separator_.push_back(sep);
    // N digits, N-1 separators, the capitals and 1 byte before.
    reach_ = std::max<uint32_t>(reach_, 2 * s.digits + s.after_capitals);
    (s.after_capitals ? any_after_capitals_ : any_plain_) = true;
    if (s.after_capitals)
      min_capitals_ = std::min<uint32_t>(min_capitals_ ? min_capitals_ : 63, s.after_capitals);
    uint32_t lead = std::clamp<uint32_t>(std::min(s.first_group, s.digits), 1, kMaxLead);
    max_lead_ = std::max(max_lead_, lead);
    uint32_t first_digits = s.first_digits.empty() ? 0x3FF : 0;
    for (char c : s.first_digits)
      if (is_digit(static_cast<unsigned char>(c))) first_digits |= 1u << (c - '0');
    // The widest a hit can be: separators only after a first group of `first_group` digits and
    // then after every `min_group` more, none after the last digit.
    uint32_t separators = 0;
    if (!s.separators.empty() && s.digits > s.first_group)
      separators = 1 + (s.digits - s.first_group - 1) / std::max<uint32_t>(s.min_group, 1);
    separators = std::min(separators, s.max_separators);
    // Past 64 bytes the masks cannot tell; the test then passes every start (needs no digits).
    uint32_t span = s.digits + separators;
    uint64_t span_bits = span >= 64 ? 0 : (uint64_t{1} << span) - 1;
    filters_.push_back({lead, first_digits, s.whole_run, span_bits, span >= 64 ? 0 : s.digits});
  }
  // What every spec's filter implies, tested once for all: the shortest lead, the widest span
  // with the fewest digits in it, any allowed first digit.
  bool first = true;
  for (size_t k = 0; k < filters_.size(); ++k) {
    if (specs_[k].after_capitals) continue;
    const Filter& f = filters_[k];
    if (first) {
      any_ = f;
      first = false;
    }
    {
      any_.lead = std::min(any_.lead, f.lead);
      any_.first_digits |= f.first_digits;
      if (!f.span_bits || !any_.span_bits) {
        any_.span_bits = 0;
        any_.span_digits = 0;
      } else {
        any_.span_bits |= f.span_bits;
        any_.span_digits = std::min(any_.span_digits, f.span_digits);
      }
    }
  }
}

uint64_t DigitRunFinder::digit_mask(const unsigned char* p, size_t len) {
  uint64_t m = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (len == 64 && cpu::has_avx2) return digit_mask_avx2(p);
#endif
#if defined(__SSE2__)
  if (len == 64) {
    const __m128i zero_digit = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    for (unsigned part = 0; part < 4; ++part) {
      __m128i d = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * part)),
                               zero_digit);
      m |= static_cast<uint64_t>(
               static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d))))
           << (16 * part);
    }
    return m;
  }
#endif
  for (size_t i = 0; i < len; ++i)
    if (is_digit(p[i])) m |= uint64_t{1} << i;
  return m;
}

uint64_t DigitRunFinder::letter_mask(const unsigned char* p, size_t len) {
  uint64_t m = 0;
#if defined(__SSE2__)
  if (len == 64) {
    const __m128i lower_bit = _mm_set1_epi8(0x20), letter_a = _mm_set1_epi8('a'),
                  twenty_five = _mm_set1_epi8(25), underscore = _mm_set1_epi8('_');
    for (unsigned part = 0; part < 4; ++part) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * part));
      __m128i l = _mm_sub_epi8(_mm_or_si128(v, lower_bit), letter_a);
      __m128i letter = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, twenty_five), l),
                                    _mm_cmpeq_epi8(v, underscore));
      m |= static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(letter))) << (16 * part);
    }
    return m;
  }
#endif
  for (size_t i = 0; i < len; ++i)
    if (is_word(p[i]) && !is_digit(p[i])) m |= uint64_t{1} << i;
  return m;
}

uint64_t DigitRunFinder::capital_mask(const unsigned char* p, size_t len) {
  uint64_t m = 0;
#if defined(__SSE2__)
  if (len == 64) {
    const __m128i letter_a = _mm_set1_epi8('A'), twenty_five = _mm_set1_epi8(25);
    for (unsigned part = 0; part < 4; ++part) {
      __m128i l =
          _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * part)), letter_a);
      m |= static_cast<uint64_t>(static_cast<unsigned>(
               _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(l, twenty_five), l))))
           << (16 * part);
    }
    return m;
  }
#endif
  for (size_t i = 0; i < len; ++i)
    if (p[i] >= 'A' && p[i] <= 'Z') m |= uint64_t{1} << i;
  return m;
}

// `start` is a digit whose previous byte is not a word byte: follows the run for spec `k`.
void DigitRunFinder::follow(const unsigned char* base, size_t n, size_t start, uint32_t k,
                            uint64_t report_after, std::vector<DigitRunHit>& out) const {
  const DigitRunSpec& spec = specs_[k];
  const auto& is_separator = is_separator_[k];
  uint32_t count = 0, group = 0, separators = 0;
  for (size_t p = start; p < n;) {
    if (is_digit(base[p])) {
      ++p;
      ++group;
      if (++count == spec.digits) {
        if (p > report_after) out.push_back({k, p});
        return;
      }
    } else if (group >= (count == group ? spec.first_group : spec.min_group) &&
               is_separator[base[p]] && p + 1 < n && is_digit(base[p + 1]) &&
               separators++ < spec.max_separators) {
      ++p;
      group = 0;
    } else {
      return;
    }
  }
}

// The same walk a group at a time on `ahead`, the digit mask of the 64 bytes from `start`; only
// a run longer than that goes back to the byte walk.
void DigitRunFinder::follow_groups(uint64_t ahead, const unsigned char* base, size_t n,
                                   size_t start, uint32_t k, uint64_t report_after,
                                   std::vector<DigitRunHit>& out) const {
  const DigitRunSpec& spec = specs_[k];
  uint32_t count = 0, separators = 0;
  unsigned pos = 0;  // bit of `ahead` where the current group starts (always a digit)
  for (;;) {
    uint64_t rest = ahead >> pos;
    unsigned group = ~rest ? static_cast<unsigned>(__builtin_ctzll(~rest)) : 64 - pos;
    if (count + group >= spec.digits) {
      uint64_t end = start + pos + (spec.digits - count);
      if (end > report_after) out.push_back({k, end});
      return;
    }
    if (pos + group + 1 >= 64) return follow(base, n, start, k, report_after, out);
    count += group;
    if (group < (pos == 0 ? spec.first_group : spec.min_group) ||
        separators++ == spec.max_separators)
      return;
    unsigned separator = pos + group;
    // Bits past the end of the text are not digits, so the byte after the separator exists.
    if (!((ahead >> (separator + 1)) & 1u) || !is_separator_[k][base[start + separator]]) return;
    pos = separator + 1;
  }
}

void DigitRunFinder::find_after_capitals(uint64_t candidates, uint64_t cur, uint64_t next,
                                         const unsigned char* base, size_t n, size_t b,
                                         uint64_t report_after,
                                         std::vector<DigitRunHit>& out) const {
  auto capital = [](unsigned char c) { return c >= 'A' && c <= 'Z'; };
  for (; candidates; candidates &= candidates - 1) {
    unsigned i = static_cast<unsigned>(__builtin_ctzll(candidates));
    size_t at = b + i;
    for (uint32_t k = 0; k < specs_.size(); ++k) {
      const uint32_t c = specs_[k].after_capitals;
      if (!c || at < c) continue;
      bool ok = true;
      for (uint32_t j = 1; j <= c && ok; ++j) ok = capital(base[at - j]);
      if (!ok || (at > c && is_word(base[at - c - 1]))) continue;
      if (!((filters_[k].first_digits >> (base[at] - '0')) & 1u)) continue;
      follow_groups(window(cur, next, i), base, n, at, k, report_after, out);
    }
  }
}

// Compiled twice, picked once at load time: for x86-64-v3 (AVX2, POPCNT, BMI) and the baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void DigitRunFinder::find(std::string_view text, size_t from, uint64_t report_after,
                          std::vector<DigitRunHit>& out) const {
  if (specs_.empty() || from >= text.size()) return;
  const auto* const base = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // 64 bytes a step, with the digit mask of the next 64 at hand. A spec follows a run (a group
  // at a time) only from a digit that starts it (the byte before is not a word byte) and begins
  // the spec's first group of digits in a row: most numbers, times and dates in code and logs
  // fail that on the masks alone.
  bool previous_is_digit = from > 0 && is_digit(base[from - 1]);
  uint64_t next = digit_mask(base + from, std::min<size_t>(64, n - from));
  for (size_t b = from; b < n; b += 64) {
    uint64_t cur = next;
    next = b + 64 < n ? digit_mask(base + b + 64, std::min<size_t>(64, n - b - 64)) : 0;
    uint64_t starts = cur & ~((cur << 1) | (previous_is_digit ? 1u : 0u));
    previous_is_digit = (cur >> 63) & 1u;
    if (!starts) continue;
    // Not after a letter or '_' either (the byte before the block is read once).
    const size_t len = std::min<size_t>(64, n - b);
    const uint64_t after_letter =
        (letter_mask(base + b, len) << 1) |
        (b > 0 && is_word(base[b - 1]) && !is_digit(base[b - 1]) ? 1u : 0u);
    if (any_after_capitals_ && (starts & after_letter)) {
      // Most runs after a letter follow lower case (`v2`, `abc123`): only those with capitals in
      // the bytes just before go on (the first `min_capitals_` bits of a block are checked there).
      uint64_t capitals = capital_mask(base + b, len);
      uint64_t candidates = starts & after_letter;
      for (uint32_t j = 1; j <= min_capitals_; ++j)
        candidates &= (capitals << j) | ((uint64_t{1} << j) - 1);
      if (candidates) find_after_capitals(candidates, cur, next, base, n, b, report_after, out);
    }
    if (!any_plain_) continue;
    starts &= ~after_letter;
    // with_lead[i]: the starts followed by at least i digits in a row.
    std::array<uint64_t, kMaxLead + 1> with_lead;
    with_lead[1] = starts;
    for (uint32_t i = 1; i < any_.lead; ++i) with_lead[i + 1] = with_lead[i] & window(cur, next, i);
    // Most blocks have no start that could begin a hit of any spec.
    uint64_t any = passing_starts(with_lead[any_.lead], cur, next, base + b, any_.span_bits,
                                  any_.span_digits, any_.first_digits);
    if (!any) continue;
    for (uint32_t i = any_.lead; i < max_lead_; ++i)
      with_lead[i + 1] = with_lead[i] & window(cur, next, i);
    for (uint32_t k = 0; k < specs_.size(); ++k) {
      if (specs_[k].after_capitals) continue;
      const Filter& f = filters_[k];
      uint64_t mine = with_lead[f.lead] & any;
      if (!mine) continue;
      mine = passing_starts(mine, cur, next, base + b, f.span_bits, f.span_digits, f.first_digits);
      for (; mine; mine &= mine - 1) {
        unsigned i = static_cast<unsigned>(__builtin_ctzll(mine));
        size_t at = b + i;
        if (f.whole_run && at >= 2 && is_separator_[k][base[at - 1]] && is_digit(base[at - 2]))
          continue;
        follow_groups(window(cur, next, i), base, n, at, k, report_after, out);
      }
    }
  }
}

}  // namespace promptgate

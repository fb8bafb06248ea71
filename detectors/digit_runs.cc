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

__extension__ using uint128 = unsigned __int128;

// Bits i..i+63 of the 128-bit value (high:low).
uint64_t window(uint64_t low, uint64_t high, unsigned i) {
  // One double shift (shrd), without a branch for i == 0.
  return static_cast<uint64_t>(((static_cast<uint128>(high) << 64) | low) >> i);
}

// The three masks of one 64-byte block: bit i says what byte i is.
struct BlockMasks {
  uint64_t digits;    // 0-9
  uint64_t letters;   // A-Z, a-z, _
  uint64_t capitals;  // A-Z
};

// Masks of `blocks` whole 64-byte blocks from `p`: 16 bytes a step with SSE2 (the x86-64
// baseline), else a byte at a time.
void classify_baseline(const unsigned char* p, size_t blocks, BlockMasks* out) {
#if defined(__SSE2__)
  const __m128i zero_digit = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9),
                capital_a = _mm_set1_epi8('A'), twenty_five = _mm_set1_epi8(25),
                lower_bit = _mm_set1_epi8(0x20), underscore = _mm_set1_epi8('_');
  auto in_range = [](__m128i d, __m128i top) { return _mm_cmpeq_epi8(_mm_min_epu8(d, top), d); };
  auto bits = [](__m128i m) {
    return static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(m)));
  };
  for (size_t k = 0; k < blocks; ++k, p += 64) {
    BlockMasks m{0, 0, 0};
    for (unsigned part = 0; part < 4; ++part) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * part));
      __m128i capital = in_range(_mm_sub_epi8(v, capital_a), twenty_five);
      __m128i letter = _mm_or_si128(
          in_range(_mm_sub_epi8(_mm_or_si128(v, lower_bit), _mm_set1_epi8('a')), twenty_five),
          _mm_cmpeq_epi8(v, underscore));
      m.digits |= bits(in_range(_mm_sub_epi8(v, zero_digit), nine)) << (16 * part);
      m.letters |= bits(letter) << (16 * part);
      m.capitals |= bits(capital) << (16 * part);
    }
    out[k] = m;
  }
#else
  for (size_t k = 0; k < blocks; ++k, p += 64) {
    BlockMasks m{0, 0, 0};
    for (unsigned i = 0; i < 64; ++i) {
      m.digits |= uint64_t{is_digit(p[i])} << i;
      m.letters |= uint64_t{is_word(p[i]) && !is_digit(p[i])} << i;
      m.capitals |= uint64_t{p[i] >= 'A' && p[i] <= 'Z'} << i;
    }
    out[k] = m;
  }
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same, 32 bytes a step, on CPUs with AVX2.
__attribute__((target("avx2"))) void classify_avx2(const unsigned char* p, size_t blocks,
                                                   BlockMasks* out) {
  const __m256i zero_digit = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9),
                capital_a = _mm256_set1_epi8('A'), small_a = _mm256_set1_epi8('a'),
                twenty_five = _mm256_set1_epi8(25), lower_bit = _mm256_set1_epi8(0x20),
                underscore = _mm256_set1_epi8('_');
  for (size_t k = 0; k < blocks; ++k, p += 64) {
    BlockMasks m{0, 0, 0};
    for (unsigned part = 0; part < 2; ++part) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * part));
      __m256i d = _mm256_sub_epi8(v, zero_digit);
      __m256i c = _mm256_sub_epi8(v, capital_a);
      __m256i l = _mm256_sub_epi8(_mm256_or_si256(v, lower_bit), small_a);
      __m256i digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
      __m256i capital = _mm256_cmpeq_epi8(_mm256_min_epu8(c, twenty_five), c);
      __m256i letter = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(l, twenty_five), l),
                                       _mm256_cmpeq_epi8(v, underscore));
      const unsigned shift = 32 * part;
      m.digits |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(digit))} << shift;
      m.letters |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(letter))} << shift;
      m.capitals |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(capital))} << shift;
    }
    out[k] = m;
  }
}
#endif

// Masks of the 64-byte blocks of the `len` bytes at `p`; the last block may be short (its bits
// past the end are 0: no byte there is a digit or a letter).
void classify(const unsigned char* p, size_t len, BlockMasks* out) {
  const size_t whole = len / 64;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu::has_avx2)
    classify_avx2(p, whole, out);
  else
#endif
    classify_baseline(p, whole, out);
  if (len % 64) {
    unsigned char padded[64] = {};
    std::copy(p + 64 * whole, p + len, padded);
    classify(padded, 64, out + whole);
  }
}

}  // namespace

// Branch-free (`&`, not `&&`): most starts (years, times, ids) fail, and a mispredicted branch
// each cost more than the test.
__attribute__((always_inline)) inline bool DigitRunFinder::Filter::admits(uint64_t ahead,
                                                                          unsigned digit) const {
  return (static_cast<uint32_t>(std::popcount(ahead & span_bits)) >= span_digits) &
         static_cast<bool>((first_digits >> digit) & 1u);
}

namespace {

// Of the run starts in `starts` (bits of the 64-byte block at `at`), those `filter` (a
// DigitRunFinder::Filter, private to it) admits.
template <class Filter>
__attribute__((always_inline)) inline uint64_t passing_starts(uint64_t starts, uint64_t cur,
                                                              uint64_t next,
                                                              const unsigned char* at,
                                                              const Filter& filter) {
  uint64_t pass = 0;
  for (; starts; starts &= starts - 1) {
    unsigned i = static_cast<unsigned>(__builtin_ctzll(starts));
    pass |= static_cast<uint64_t>(filter.admits(window(cur, next, i), (at[i] - '0') & 31)) << i;
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
        if (p > report_after && !(spec.ends_run && p < n && is_digit(base[p])))
          out.push_back({k, p});
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
      // Whether a digit follows the N-th: the group goes on past it, or the group reaches the
      // end of `ahead` and the byte after it (beyond the mask) is a digit.
      bool digit_follows =
          count + group > spec.digits || (pos + group == 64 && end < n && is_digit(base[end]));
      if (end > report_after && !(spec.ends_run && digit_follows)) out.push_back({k, end});
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
  bool previous_is_letter = from > 0 && is_word(base[from - 1]) && !previous_is_digit;
  // The masks are made kBatch blocks at a time, plus the block after them for `next`; that one
  // is made again as the first of the following batch.
  constexpr size_t kBatch = 64;
  std::array<BlockMasks, kBatch + 1> masks;
  for (size_t batch = from; batch < n; batch += 64 * kBatch) {
    const size_t blocks = std::min<size_t>(kBatch, (n - batch + 63) / 64);
    classify(base + batch, std::min<size_t>(64 * (blocks + 1), n - batch), masks.data());
    if (64 * blocks >= n - batch) masks[blocks] = {0, 0, 0};
    for (size_t block = 0; block < blocks; ++block) {
      const size_t b = batch + 64 * block;
      const uint64_t cur = masks[block].digits, next = masks[block + 1].digits;
      const uint64_t letters = masks[block].letters;
      uint64_t starts = cur & ~((cur << 1) | (previous_is_digit ? 1u : 0u));
      // Not after a letter or '_' either.
      const uint64_t after_letter = (letters << 1) | (previous_is_letter ? 1u : 0u);
      previous_is_digit = (cur >> 63) & 1u;
      previous_is_letter = (letters >> 63) & 1u;
      if (!starts) continue;
      if (any_after_capitals_ && (starts & after_letter)) {
        // Most runs after a letter follow lower case (`v2`, `abc123`): only those with capitals in
        // the bytes just before go on (the first `min_capitals_` bits of a block are checked
        // there).
        const uint64_t capitals = masks[block].capitals;
        uint64_t candidates = starts & after_letter;
        for (uint32_t j = 1; j <= min_capitals_; ++j)
          candidates &= (capitals << j) | ((uint64_t{1} << j) - 1);
        if (candidates) find_after_capitals(candidates, cur, next, base, n, b, report_after, out);
      }
      if (!any_plain_) continue;
      starts &= ~after_letter;
      // Starts followed by at least any_.lead digits in a row.
      for (uint32_t i = 1; i < any_.lead; ++i) starts &= window(cur, next, i);
      // Most blocks have no start that could begin a hit of any spec.
      uint64_t any = passing_starts(starts, cur, next, base + b, any_);
      // Few starts pass, and each is tested once against every spec with the 64 bits ahead of it:
      // a mask per lead length over the whole block (up to kMaxLead shifts) cost more.
      for (; any; any &= any - 1) {
        const unsigned i = static_cast<unsigned>(__builtin_ctzll(any));
        const size_t at = b + i;
        const uint64_t ahead = window(cur, next, i);
        const auto run = static_cast<uint32_t>(std::countr_one(ahead));
        const unsigned digit = (base[at] - '0') & 31;
        for (uint32_t k = 0; k < specs_.size(); ++k) {
          const Filter& f = filters_[k];
          if (specs_[k].after_capitals || run < f.lead || !f.admits(ahead, digit)) continue;
          if (f.whole_run && at >= 2 && is_separator_[k][base[at - 1]] && is_digit(base[at - 2]))
            continue;
          follow_groups(ahead, base, n, at, k, report_after, out);
        }
      }
    }
  }
}

}  // namespace promptgate

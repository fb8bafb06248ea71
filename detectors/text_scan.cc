#include "detectors/text_scan.h"

#include <array>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "detectors/cpu_features.h"

namespace promptgate::readers {
namespace {

Masks classify_scalar(const char* p) {
  Masks m;
  for (unsigned i = 0; i < 32; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (kBase64RunAlphabet[c]) m.alpha |= 1u << i;
    if (c >= 0x80 || c == '%') m.stop |= 1u << i;
    if (c <= '\r') m.eol |= 1u << i;
  }
  return m;
}

// One 64-byte chunk (masks a, then b): true when no reader has anything to do in it, and then
// `c` is moved past it. Else `c` is left as it was. kFresh: nothing before it was decided (a
// whole text read from its start, which stops at the first run of kScanMinRun).
template <bool kWrap, bool kFresh = false>
inline bool chunk_quiet(const Masks& a, const Masks& b, RunCarry& c, bool b64) {
  const uint64_t alpha = uint64_t{b.alpha} << 32 | a.alpha;
  const uint64_t non = ~alpha;
  const uint64_t lead = non ? static_cast<uint64_t>(__builtin_ctzll(non)) : 64;
  const uint64_t r16 = runs_of_16(alpha);  // bit j: bits j..j+15 set
  static_assert(kScanWrapRun == 16 && kScanMinRun == 20);
  bool event = (a.stop | b.stop) != 0;
  if (b64) {
    // A run of kScanMinRun reaches into the chunk (unless it is a decided run that goes on
    // through it), or a run of that length open at its start ends in it.
    const bool reaches = c.run + lead >= kScanMinRun || (r16 & (r16 >> 4)) != 0;
    if (kFresh)
      event |= reaches;
    else
      event |= (c.run >= kScanMinRun && non != 0) || (!c.decided && reaches);
  }
  if (kWrap) {
    // A line end (LF, or the CR of CR LF) right after kScanWrapRun bytes of the alphabet.
    const uint64_t eol = uint64_t{b.eol} << 32 | a.eol;
    event |= ((r16 << 16) & eol) != 0;
    event |= lead < 16 && ((eol >> lead) & 1) && c.run + lead >= kScanWrapRun;
  }
  if (event) return false;
  c.run = non ? static_cast<uint64_t>(__builtin_clzll(non)) : c.run + 64;
  if (!kFresh) c.decided = c.decided && non == 0;
  return true;
}

// Keeps the first n (< 64) bytes of a chunk.
inline void mask_tail(Masks& a, Masks& b, size_t n) {
  const uint64_t valid = (uint64_t{1} << n) - 1;
  const auto lo = static_cast<uint32_t>(valid), hi = static_cast<uint32_t>(valid >> 32);
  a.alpha &= lo, a.stop &= lo, a.eol &= lo;
  b.alpha &= hi, b.stop &= hi, b.eol &= hi;
}

template <bool kWrap>
size_t skip_chunks_scalar(const char* p, size_t avail, RunCarry& c, bool b64) {
  size_t done = 0;
  for (; avail - done >= 64; done += 64)
    if (!chunk_quiet<kWrap>(classify_scalar(p + done), classify_scalar(p + done + 32), c, b64))
      break;
  return done;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) inline Masks classify_avx2(const char* p) {
  // Base64 alphabet by nibbles: the low nibble's bit set says which high nibbles accept it.
  // bit 0: 0x2_ (+ - /), 1: 0x3_ (digits), 2: 0x4_ (A-O), 3: 0x5_ (P-Z _), 4: 0x6_, 5: 0x7_.
  const __m256i lo_lut =
      _mm256_broadcastsi128_si256(_mm_setr_epi8(0x2A, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E,
                                                0x3E, 0x3E, 0x3C, 0x15, 0x14, 0x15, 0x14, 0x1D));
  const __m256i hi_lut =
      _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  __m256i lo = _mm256_shuffle_epi8(lo_lut, _mm256_and_si256(v, nibble));
  __m256i hi = _mm256_shuffle_epi8(hi_lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
  __m256i not_alpha = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256());
  Masks m;
  m.alpha = ~static_cast<uint32_t>(_mm256_movemask_epi8(not_alpha));
  m.stop = static_cast<uint32_t>(
      _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('%')), v)));
  // Line ends: every byte up to CR (a superset: the readers look at the byte itself).
  const __m256i cr = _mm256_set1_epi8('\r');
  m.eol = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v, cr), v)));
  return m;
}

template <bool kWrap, bool kFresh = false>
__attribute__((target("avx2"))) size_t skip_chunks_avx2(const char* p, size_t avail,
                                                        RunCarry& carry, bool b64) {
  RunCarry c = carry;  // in registers
  size_t done = 0;
  for (; avail - done >= 64; done += 64)
    if (!chunk_quiet<kWrap, kFresh>(classify_avx2(p + done), classify_avx2(p + done + 32), c, b64))
      break;
  carry = c;
  return done;
}

__attribute__((target("avx2"))) bool quiet_text_avx2(const char* p, size_t n, bool wrap,
                                                     size_t& done, RunCarry& c) {
  c = RunCarry{};
  done = wrap ? skip_chunks_avx2<true, true>(p, n, c, true)
              : skip_chunks_avx2<false, true>(p, n, c, true);
  if (n - done >= 64) return false;
  if (n == done) return true;
  Masks a = classify_avx2(p + done), b;
  if (n - done > 32) b = classify_avx2(p + done + 32);
  mask_tail(a, b, n - done);
  return wrap ? chunk_quiet<true, true>(a, b, c, true) : chunk_quiet<false, true>(a, b, c, true);
}

// AVX-512BW: a whole 64-byte chunk per vector, the masks straight from the compares.
__attribute__((target("avx512bw"))) inline void classify_avx512(const char* p, Masks& a, Masks& b) {
  // The nibble tables of classify_avx2, once per 128-bit lane.
  alignas(64) static constexpr uint8_t kLo[64] = {
      0x2A, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3C, 0x15, 0x14,
      0x15, 0x14, 0x1D, 0x2A, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E,
      0x3C, 0x15, 0x14, 0x15, 0x14, 0x1D, 0x2A, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E,
      0x3E, 0x3E, 0x3E, 0x3C, 0x15, 0x14, 0x15, 0x14, 0x1D, 0x2A, 0x3E, 0x3E, 0x3E,
      0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3E, 0x3C, 0x15, 0x14, 0x15, 0x14, 0x1D};
  alignas(64) static constexpr uint8_t kHi[64] = {0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, 1, 2, 4, 8, 16, 32, 0, 0, 0, 0, 0, 0, 0, 0};
  const __m512i lo_lut = _mm512_load_si512(kLo);
  const __m512i hi_lut = _mm512_load_si512(kHi);
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  __m512i v = _mm512_loadu_si512(p);
  __m512i lo = _mm512_shuffle_epi8(lo_lut, _mm512_and_si512(v, nibble));
  __m512i hi = _mm512_shuffle_epi8(hi_lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble));
  uint64_t alpha = _mm512_test_epi8_mask(lo, hi);
  uint64_t stop = _mm512_movepi8_mask(v) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('%'));
  uint64_t eol = _mm512_cmple_epu8_mask(v, _mm512_set1_epi8('\r'));
  a.alpha = static_cast<uint32_t>(alpha), b.alpha = static_cast<uint32_t>(alpha >> 32);
  a.stop = static_cast<uint32_t>(stop), b.stop = static_cast<uint32_t>(stop >> 32);
  a.eol = static_cast<uint32_t>(eol), b.eol = static_cast<uint32_t>(eol >> 32);
}

template <bool kWrap, bool kFresh = false>
__attribute__((target("avx512bw"))) size_t skip_chunks_avx512(const char* p, size_t avail,
                                                              RunCarry& carry, bool b64) {
  RunCarry c = carry;
  size_t done = 0;
  for (; avail - done >= 64; done += 64) {
    Masks a, b;
    classify_avx512(p + done, a, b);
    if (!chunk_quiet<kWrap, kFresh>(a, b, c, b64)) break;
  }
  carry = c;
  return done;
}

__attribute__((target("avx512bw"))) bool quiet_text_avx512(const char* p, size_t n, bool wrap,
                                                           size_t& done, RunCarry& c) {
  c = RunCarry{};
  done = wrap ? skip_chunks_avx512<true, true>(p, n, c, true)
              : skip_chunks_avx512<false, true>(p, n, c, true);
  if (n - done >= 64) return false;
  if (n == done) return true;
  Masks a, b;
  classify_avx512(p + done, a, b);
  mask_tail(a, b, n - done);
  return wrap ? chunk_quiet<true, true>(a, b, c, true) : chunk_quiet<false, true>(a, b, c, true);
}
#endif

}  // namespace

Masks classify(const char* p) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu::has_avx2) return classify_avx2(p);
#endif
  return classify_scalar(p);
}

size_t skip_chunks(const char* p, size_t avail, RunCarry& c, bool b64, bool wrap) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu::has_avx512bw)
    return wrap ? skip_chunks_avx512<true>(p, avail, c, b64)
                : skip_chunks_avx512<false>(p, avail, c, b64);
  if (cpu::has_avx2)
    return wrap ? skip_chunks_avx2<true>(p, avail, c, b64)
                : skip_chunks_avx2<false>(p, avail, c, b64);
#endif
  return wrap ? skip_chunks_scalar<true>(p, avail, c, b64)
              : skip_chunks_scalar<false>(p, avail, c, b64);
}

bool quiet_text(const char* p, size_t n, bool wrap, size_t& done, RunCarry& c) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu::has_avx512bw) return quiet_text_avx512(p, n, wrap, done, c);
  if (cpu::has_avx2) return quiet_text_avx2(p, n, wrap, done, c);
#endif
  c = RunCarry{};
  done = skip_chunks(p, n, c, true, wrap);
  if (n - done >= 64) return false;
  if (n == done) return true;
  Masks a = classify_scalar(p + done), b = classify_scalar(p + done + 32);
  mask_tail(a, b, n - done);
  return wrap ? chunk_quiet<true, true>(a, b, c, true) : chunk_quiet<false, true>(a, b, c, true);
}

}  // namespace promptgate::readers

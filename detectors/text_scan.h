// How the text readers (text_readers.h) find the bytes they must look at without looking at
// every byte: a text is classified 32 bytes at a time (AVX2, or a scalar fallback) into bit masks
// (base64 alphabet, non-ASCII and '%', line ends), and whole 64-byte chunks with
// nothing for any reader are skipped with a few bit operations each.
//
//   readers::RunCarry c{...};                       // the state at the first byte
//   size_t quiet = readers::skip_chunks(p, n, c, b64, wrap);   // bytes with nothing to do
//   readers::Masks m = readers::classify(p + quiet);           // then block by block
//
// "Something to do" is a superset of what the readers act on; they check each candidate exactly.
// The text must have 64 readable bytes after its end (DecodedText keeps them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace promptgate::readers {

// The letters of a base64 run, standard and URL-safe alphabets together (1 for a letter): what
// the chunk classifier and the readers' run finder both count as "inside a run".
inline constexpr std::array<uint8_t, 256> kBase64RunAlphabet = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<size_t>(c)] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '-' ||
                                c == '_';
  return t;
}();

inline constexpr uint32_t kScanMinRun = 20;   // base64 characters that make a run worth a look
inline constexpr uint32_t kScanWrapRun = 16;  // alphabet characters before a wrapped line break
inline constexpr size_t kScanShort = 16;      // texts this short: quiet_short()

// One 32-byte block, a bit per byte.
struct Masks {
  uint32_t alpha = 0;  // base64 alphabet, standard or URL-safe
  uint32_t stop = 0;   // non-ASCII, '%'
  uint32_t eol = 0;    // LF, CR (and the other bytes below 0x0E)
};

Masks classify(const char* p);

// The state of a text at a chunk boundary: the length of the base64-alphabet run open there,
// and whether the reader already decided it (it then needs no look until it ends).
struct RunCarry {
  uint64_t run = 0;
  bool decided = false;
};

// Bytes from p, in whole 64-byte chunks, in which no reader has anything to do; `c` is moved
// past them. `b64`: base64 runs matter; `wrap`: line ends after kScanWrapRun alphabet bytes
// matter.
size_t skip_chunks(const char* p, size_t avail, RunCarry& c, bool b64, bool wrap);
// Whether a whole text of n bytes (from its first byte) has nothing for any reader. When it has
// something, `skipped` and `carry` say where the first chunk that needs a closer look starts.
bool quiet_text(const char* p, size_t n, bool wrap, size_t& skipped, RunCarry& carry);

// A text of at most 16 bytes has nothing for any reader unless it holds a non-ASCII byte or a
// '%' (too short for a base64 run or a wrapped value). Inline: most JSON values are this short.
inline bool quiet_short(const char* p, size_t n) {
#if defined(__SSE2__)
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  unsigned stop = static_cast<unsigned>(
      _mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_set1_epi8('%')))));
  return (stop & ((1u << n) - 1)) == 0;
#else
  for (size_t i = 0; i < n; ++i)
    if (static_cast<unsigned char>(p[i]) >= 0x80 || p[i] == '%') return false;
  return true;
#endif
}

// Bit j: bits j..j+15 of w are all set.
inline uint64_t runs_of_16(uint64_t w) {
  uint64_t y = w & (w >> 1);
  y &= y >> 2;
  y &= y >> 4;
  return y & (y >> 8);
}

}  // namespace promptgate::readers

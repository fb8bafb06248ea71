// Unicode normalisation for the text readers, on ICU: default-ignorable code points (zero-width
// space and joiners, soft hyphen, word joiner, byte order mark, variation selectors, ...) are
// dropped and compatibility forms folded (NFKC: full-width letters and digits, mathematical
// alphanumerics, ligatures, no-break and thin spaces), with every change reported as a piece of
// the input and what replaced it, so a reader can map normalised bytes back.
//
//   const TextNormaliser& n = TextNormaliser::instance();   // shared, immutable
//   if (!n.is_normalised(text)) n.normalise(text, out, pieces);
//
// Text may be cut and normalised piecewise at any offset stable_prefix() returns: the pieces
// come out as they would in one go. Ill-formed UTF-8 reads as U+FFFD (a change).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

class TextNormaliser {
 public:
  // One change: input bytes [from, from + len) became output [out_from, out_from + out_len)
  // (out_len 0: dropped). Unchanged bytes between changes are not listed.
  struct Change {
    uint32_t from, len, out_from, out_len;
  };

  static const TextNormaliser& instance();

  // True when normalising would change nothing (quick: no copy).
  bool is_normalised(std::string_view text) const;
  // Appends the normalised text to `out` and its changes (offsets relative to `text` and to
  // where `out` was on entry) to `changes`.
  void normalise(std::string_view text, std::string& out, std::vector<Change>& changes) const;
  // The longest prefix of `text` that can be normalised now without knowing what follows: up to
  // the last code point with a normalisation boundary before it (every ASCII byte has one).
  // 0 when there is none.
  size_t stable_prefix(std::string_view text) const;

 private:
  TextNormaliser();
  struct Impl;
  const Impl* impl_;
};

}  // namespace promptgate

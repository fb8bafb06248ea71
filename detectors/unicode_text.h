// Unicode normalisation for the text readers, on ICU: default-ignorable code points (zero-width
// space and joiners, soft hyphen, word joiner, byte order mark, variation selectors, ...) are
// dropped, compatibility forms folded (NFKC: full-width letters and digits, mathematical
// alphanumerics, ligatures, no-break and thin spaces), and letters of other scripts that look
// like an ASCII letter or digit (Cyrillic 'а', Greek 'Ο', ... by ICU's confusable skeleton)
// replaced by it where they stand in a run of ASCII letters and digits (a credential written
// with look-alikes; a word all in Cyrillic is left alone). Every change is reported as a piece
// of the input and what replaced it, so a reader can map normalised bytes back.
//
//   const TextNormaliser& n = TextNormaliser::instance();   // shared, immutable
//   if (!n.is_normalised(text, before, after)) n.normalise(text, before, after, out, changes);
//
// `before` / `after`: the text is preceded / followed by an ASCII letter, digit, '_' or '-' (it
// continues a run). Text may be cut and normalised piecewise at any offset stable_prefix()
// returns: the pieces come out as they would in one go. Ill-formed UTF-8 reads as U+FFFD.
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
  bool is_normalised(std::string_view text, bool before, bool after) const;
  // Appends the normalised text to `out` and its changes (offsets relative to `text` and to
  // where `out` was on entry) to `changes`.
  void normalise(std::string_view text, bool before, bool after, std::string& out,
                 std::vector<Change>& changes) const;
  // The longest prefix of `text` that can be normalised now without knowing what follows: up to
  // the last code point with a normalisation boundary before it that does not split a run of
  // letters and digits. 0 when there is none.
  size_t stable_prefix(std::string_view text) const;

  // The ASCII letter or digit a code point looks like, or 0.
  char look_alike(int32_t c) const;
  // A letter, digit, '_' or '-' in ASCII, full-width or mathematical form, or a look-alike.
  bool run_member(int32_t c) const;

 private:
  TextNormaliser();
  struct Fold {
    uint32_t from, len;
    char ascii;
  };
  void look_alikes(std::string_view text, bool before, bool after, std::vector<Fold>& folds) const;
  void normalise_piece(std::string_view text, int32_t from, int32_t to, std::string& out,
                       uint32_t base, std::vector<Change>& changes) const;
  struct Impl;
  const Impl* impl_;
};

}  // namespace promptgate

#include "detectors/unicode_text.h"

#include <unicode/bytestream.h>
#include <unicode/edits.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/uspoof.h>
#include <unicode/utf8.h>

#include <array>
#include <cctype>
#include <map>
#include <stdexcept>
#include <utility>

namespace promptgate {

struct TextNormaliser::Impl {
  const icu::Normalizer2* nfkc = nullptr;
  icu::UnicodeSet ignorable;
  // Letters of other scripts that look like one ASCII letter or digit (ICU's confusable
  // skeleton), by code point below 0x10000; 0: none.
  std::array<char, 0x10000> look_alike{};
};

namespace {

std::string skeleton(USpoofChecker* sc, UChar32 c) {
  char in[8] = {};
  int32_t n = 0;
  UBool bad = false;
  U8_APPEND(in, n, static_cast<int32_t>(sizeof in), c, bad);
  char out[64] = {};
  UErrorCode err = U_ZERO_ERROR;
  int32_t m = uspoof_getSkeletonUTF8(sc, 0, in, n, out, sizeof out, &err);
  return U_SUCCESS(err) && !bad ? std::string(out, static_cast<size_t>(m)) : std::string();
}

// The ASCII letter (same case first) or digit a code point is confusable with, or 0.
void build_look_alikes(std::array<char, 0x10000>& table) {
  UErrorCode err = U_ZERO_ERROR;
  USpoofChecker* sc = uspoof_open(&err);
  if (U_FAILURE(err)) return;
  std::map<std::string, std::string> ascii;  // skeleton -> ASCII letters and digits with it
  for (int a = '0'; a <= 'z'; ++a)
    if (std::isalnum(a)) ascii[skeleton(sc, a)].push_back(static_cast<char>(a));
  // Latin extensions, IPA, Greek, Cyrillic, Armenian, Cherokee, phonetic extensions, Lisu.
  const std::pair<UChar32, UChar32> ranges[] = {
      {0x00C0, 0x02AF}, {0x0370, 0x058F}, {0x13A0, 0x13FF}, {0x1D00, 0x1DBF},
      {0xA4D0, 0xA4FF}, {0xA640, 0xA69F}, {0xAB70, 0xABBF}};
  for (auto [lo, hi] : ranges)
    for (UChar32 c = lo; c <= hi; ++c) {
      auto it = ascii.find(skeleton(sc, c));
      if (it == ascii.end()) continue;
      std::string same_case, letters, digits;
      for (char a : it->second) {
        if (std::isdigit(static_cast<unsigned char>(a))) {
          digits += a;
        } else {
          letters += a;
          if (static_cast<bool>(u_isupper(c)) == static_cast<bool>(std::isupper(a))) same_case += a;
        }
      }
      for (const std::string* pick : {&same_case, &letters, &digits})
        if (pick->size() == 1) {
          table[static_cast<size_t>(c)] = (*pick)[0];
          break;
        } else if (!pick->empty()) {
          break;  // ambiguous
        }
    }
  uspoof_close(sc);
}

// Full-width and mathematical letters and digits: NFKC makes them ASCII.
bool folds_to_ascii_alnum(UChar32 c) {
  return (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) ||
         (c >= 0xFF41 && c <= 0xFF5A) || (c >= 0x1D400 && c <= 0x1D7FF);
}

bool ascii_member(UChar32 c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         c == '-';
}

}  // namespace

TextNormaliser::TextNormaliser() {
  auto* impl = new Impl;  // lives as long as the process (instance() is a static)
  UErrorCode err = U_ZERO_ERROR;
  impl->nfkc = icu::Normalizer2::getNFKCInstance(err);
  impl->ignorable.applyPattern(icu::UnicodeString("[:Default_Ignorable_Code_Point:]", -1, US_INV),
                               err);
  impl->ignorable.freeze();
  if (U_FAILURE(err) || !impl->nfkc)
    throw std::runtime_error(std::string("ICU normaliser unavailable: ") + u_errorName(err));
  build_look_alikes(impl->look_alike);
  impl_ = impl;
}

const TextNormaliser& TextNormaliser::instance() {
  static const TextNormaliser n;
  return n;
}

char TextNormaliser::look_alike(UChar32 c) const {
  return c >= 0 && c < 0x10000 ? impl_->look_alike[static_cast<size_t>(c)] : 0;
}

bool TextNormaliser::run_member(UChar32 c) const {
  return ascii_member(c) || folds_to_ascii_alnum(c) || look_alike(c);
}

// The look-alikes to fold in `text`: those in a run of letters, digits, '_' and '-' that also
// holds ASCII (or full-width) ones, inside `text` or right outside it (before / after).
void TextNormaliser::look_alikes(std::string_view text, bool before, bool after,
                                 std::vector<Fold>& folds) const {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto len = static_cast<int32_t>(text.size());
  size_t run_first = folds.size();  // this run's look-alikes
  bool mixed = before, in_run = before;
  for (int32_t i = 0; i < len;) {
    int32_t at = i;
    UChar32 c;
    U8_NEXT(s, i, len, c);
    char ascii = c >= 0x80 ? look_alike(c) : 0;
    if (ascii) {
      if (!in_run) run_first = folds.size(), mixed = false;
      in_run = true;
      folds.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(i - at), ascii});
    } else if (ascii_member(c) || folds_to_ascii_alnum(c)) {
      if (!in_run) run_first = folds.size();
      in_run = mixed = true;
    } else {
      if (in_run && !mixed) folds.resize(run_first);
      in_run = mixed = false;
    }
  }
  if (in_run && !mixed && !after) folds.resize(run_first);
}

bool TextNormaliser::is_normalised(std::string_view text, bool before, bool after) const {
  const auto len = static_cast<int32_t>(text.size());
  if (impl_->ignorable.spanUTF8(text.data(), len, USET_SPAN_NOT_CONTAINED) != len) return false;
  UErrorCode err = U_ZERO_ERROR;
  bool yes = impl_->nfkc->isNormalizedUTF8(icu::StringPiece(text.data(), len), err);
  if (!U_SUCCESS(err) || !yes) return false;
  std::vector<Fold> folds;
  look_alikes(text, before, after, folds);
  return folds.empty();
}

// Normalises text [from, to) (no look-alike inside) into `out`, listing its changes.
void TextNormaliser::normalise_piece(std::string_view text, int32_t from, int32_t to,
                                     std::string& out, uint32_t base,
                                     std::vector<Change>& changes) const {
  int32_t at = from;
  while (at < to) {
    // Default-ignorable code points are dropped; NFKC keeps them.
    int32_t keep = impl_->ignorable.spanUTF8(text.data() + at, to - at, USET_SPAN_NOT_CONTAINED);
    if (keep > 0) {
      UErrorCode err = U_ZERO_ERROR;
      icu::Edits edits;
      const auto out_at = static_cast<uint32_t>(out.size());
      icu::StringByteSink<std::string> sink(&out);
      impl_->nfkc->normalizeUTF8(0, icu::StringPiece(text.data() + at, keep), sink, &edits, err);
      if (U_FAILURE(err)) {  // cannot happen with valid arguments; keep the text as it is
        out.resize(out_at);
        out.append(text.data() + at, static_cast<size_t>(keep));
      } else {
        auto it = edits.getFineIterator();
        while (it.next(err))
          if (it.hasChange())
            changes.push_back({static_cast<uint32_t>(at + it.sourceIndex()),
                               static_cast<uint32_t>(it.oldLength()),
                               out_at - base + static_cast<uint32_t>(it.destinationIndex()),
                               static_cast<uint32_t>(it.newLength())});
      }
      at += keep;
    }
    int32_t drop = impl_->ignorable.spanUTF8(text.data() + at, to - at, USET_SPAN_CONTAINED);
    if (drop > 0) {
      changes.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(drop),
                         static_cast<uint32_t>(out.size()) - base, 0});
      at += drop;
    }
  }
}

void TextNormaliser::normalise(std::string_view text, bool before, bool after, std::string& out,
                               std::vector<Change>& changes) const {
  const auto base = static_cast<uint32_t>(out.size());
  std::vector<Fold> folds;
  look_alikes(text, before, after, folds);
  int32_t at = 0;
  for (const Fold& f : folds) {
    normalise_piece(text, at, static_cast<int32_t>(f.from), out, base, changes);
    changes.push_back({f.from, f.len, static_cast<uint32_t>(out.size()) - base, 1});
    out.push_back(f.ascii);
    at = static_cast<int32_t>(f.from + f.len);
  }
  normalise_piece(text, at, static_cast<int32_t>(text.size()), out, base, changes);
}

size_t TextNormaliser::stable_prefix(std::string_view text) const {
  // Walk back code point by code point (a few at most in practice) to a boundary that NFKC
  // does not look across and that does not cut a run of look-alikes from its context.
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  int32_t i = static_cast<int32_t>(text.size());
  UChar32 next = -1;  // the code point that starts at i
  for (int steps = 0; i > 0 && steps < 64; ++steps) {
    int32_t start = i;
    UChar32 c;
    U8_PREV(s, 0, start, c);
    // Only a complete code point that ends where we stepped from can be judged.
    bool complete = c >= 0 && U8_LENGTH(c) == i - start;
    bool boundary = complete && (c < 0x80 || impl_->nfkc->hasBoundaryBefore(c));
    if (boundary && start > 0) {
      int32_t prev_at = start;
      UChar32 prev;
      U8_PREV(s, 0, prev_at, prev);
      if (run_member(prev) && run_member(c)) boundary = false;
    }
    if (boundary) return static_cast<size_t>(start);
    next = c;
    i = start;
  }
  (void)next;
  return 0;
}

}  // namespace promptgate

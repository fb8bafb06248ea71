#include "detectors/unicode_text.h"

#include <unicode/bytestream.h>
#include <unicode/edits.h>
#include <unicode/normalizer2.h>
#include <unicode/uniset.h>
#include <unicode/utf8.h>

#include <stdexcept>

namespace promptgate {

struct TextNormaliser::Impl {
  const icu::Normalizer2* nfkc = nullptr;
  icu::UnicodeSet ignorable;
};

TextNormaliser::TextNormaliser() {
  auto* impl = new Impl;  // lives as long as the process (instance() is a static)
  UErrorCode err = U_ZERO_ERROR;
  impl->nfkc = icu::Normalizer2::getNFKCInstance(err);
  impl->ignorable.applyPattern(icu::UnicodeString("[:Default_Ignorable_Code_Point:]", -1, US_INV),
                               err);
  impl->ignorable.freeze();
  if (U_FAILURE(err) || !impl->nfkc)
    throw std::runtime_error(std::string("ICU normaliser unavailable: ") + u_errorName(err));
  impl_ = impl;
}

const TextNormaliser& TextNormaliser::instance() {
  static const TextNormaliser n;
  return n;
}

bool TextNormaliser::is_normalised(std::string_view text) const {
  const auto len = static_cast<int32_t>(text.size());
  if (impl_->ignorable.spanUTF8(text.data(), len, USET_SPAN_NOT_CONTAINED) != len) return false;
  UErrorCode err = U_ZERO_ERROR;
  bool yes = impl_->nfkc->isNormalizedUTF8(icu::StringPiece(text.data(), len), err);
  return U_SUCCESS(err) && yes;
}

void TextNormaliser::normalise(std::string_view text, std::string& out,
                               std::vector<Change>& changes) const {
  const auto len = static_cast<int32_t>(text.size());
  const auto base = static_cast<uint32_t>(out.size());
  int32_t at = 0;
  while (at < len) {
    // Default-ignorable code points are dropped; NFKC keeps them.
    int32_t keep = impl_->ignorable.spanUTF8(text.data() + at, len - at, USET_SPAN_NOT_CONTAINED);
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
    int32_t drop = impl_->ignorable.spanUTF8(text.data() + at, len - at, USET_SPAN_CONTAINED);
    if (drop > 0) {
      changes.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(drop),
                         static_cast<uint32_t>(out.size()) - base, 0});
      at += drop;
    }
  }
}

size_t TextNormaliser::stable_prefix(std::string_view text) const {
  // Walk back code point by code point (a few at most in practice).
  size_t i = text.size();
  for (int steps = 0; i > 0 && steps < 64; ++steps) {
    size_t start = i - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80 && i - start < 4)
      --start;
    auto lead = static_cast<unsigned char>(text[start]);
    if (lead < 0x80) return start;  // ASCII: always a boundary
    int32_t off = static_cast<int32_t>(start);
    UChar32 c;
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), off, static_cast<int32_t>(i), c);
    // Only a complete code point that ends where we stepped from can be judged.
    if (c >= 0 && static_cast<size_t>(off) == i && impl_->nfkc->hasBoundaryBefore(c)) return start;
    i = start;
  }
  return 0;
}

}  // namespace promptgate

// Base64 decoding as lenient as the decoders behind the model APIs (Node's Buffer, Python's
// b64decode): the URL-safe alphabet is read as the standard one, anything outside the alphabet
// (line breaks, padding, stray bytes) is dropped instead of ending the text, and a missing or
// partial last block is padded. The decoding itself is OpenSSL's.
//
// The detector decodes a document's text piece by piece as it streams; the redactor decodes the
// same text in one go. Both go through this class, so a finding's offsets inside a document mean
// the same bytes to both.
//
//   LenientBase64 b64;
//   std::string out;
//   b64.feed(piece1, out);  // any split
//   b64.feed(piece2, out);
//   b64.finish(out);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace promptgate {

class LenientBase64 {
 public:
  LenientBase64();
  ~LenientBase64();
  LenientBase64(const LenientBase64&) = delete;
  LenientBase64& operator=(const LenientBase64&) = delete;

  // Starts a new text (the object can be reused).
  void reset();
  // Decodes `text` (appending whole bytes to `out`); the last partial block waits for more.
  void feed(std::string_view text, std::string& out);
  // Ends the text: pads what is left so its bytes come out too.
  void finish(std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One text in one call.
std::string decode_base64_leniently(std::string_view text);

}  // namespace promptgate

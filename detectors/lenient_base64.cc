#include "detectors/lenient_base64.h"

#include <openssl/evp.h>

#include <new>
#include <utility>

namespace promptgate {

struct LenientBase64::Impl {
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  ~Impl() { EVP_ENCODE_CTX_free(ctx); }
  uint64_t chars = 0;  // alphabet characters fed since reset()
  unsigned char in[1024];
  unsigned char out[1024];  // EVP_DecodeUpdate writes at most 3/4 of `in` plus a buffered block

  void update(const unsigned char* p, size_t n, std::string& to) {
    int outl = 0;
    if (n && EVP_DecodeUpdate(ctx, out, &outl, p, static_cast<int>(n)) >= 0 && outl > 0)
      to.append(reinterpret_cast<const char*>(out), static_cast<size_t>(outl));
  }
};

LenientBase64::LenientBase64() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx) throw std::bad_alloc();
  reset();
}

LenientBase64::~LenientBase64() = default;

void LenientBase64::reset() {
  EVP_DecodeInit(impl_->ctx);
  impl_->chars = 0;
}

void LenientBase64::feed(std::string_view text, std::string& out) {
  Impl& d = *impl_;
  size_t n = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!alphabet) continue;
    d.in[n++] = c;
    ++d.chars;
    if (n == sizeof d.in) d.update(d.in, std::exchange(n, 0), out);
  }
  d.update(d.in, n, out);
}

void LenientBase64::finish(std::string& out) {
  Impl& d = *impl_;
  // Two or three characters left make one or two bytes once padded; a single one carries less
  // than a byte, so it is completed with a filler character and its junk byte kept (dropping
  // it would make EVP reject, and lose, the whole buffered block before it).
  static const unsigned char kTwo[] = {'=', '='};
  static const unsigned char kOne[] = {'A', '=', '='};
  switch (d.chars % 4) {
    case 1:
      d.update(kOne, sizeof kOne, out);
      break;
    case 2:
      d.update(kTwo, 2, out);
      break;
    case 3:
      d.update(kTwo, 1, out);
      break;
    default:
      break;
  }
  int outl = 0;
  if (EVP_DecodeFinal(d.ctx, d.out, &outl) >= 0 && outl > 0)
    out.append(reinterpret_cast<const char*>(d.out), static_cast<size_t>(outl));
  reset();
}

std::string decode_base64_leniently(std::string_view text) {
  LenientBase64 b64;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  b64.feed(text, out);
  b64.finish(out);
  return out;
}

}  // namespace promptgate

// libFuzzer target: a request body under Content-Encoding, decoded as proxy/pipeline/body_intake
// decodes it: in pieces as they arrive, under an output bound (the body budget). The decoded
// output never passes the bound, a bound that stopped decoding says so, and the same bytes
// are accepted or refused, and decode to the same output, in one piece or in many.
// Input: [coding index][piece-size seed][bound selector] then the encoded body.
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/content_decoding.h"
#include "tests/fuzz/fuzz_util.h"

using promptgate::fuzz::Splitter;
using promptgate::proxy::ContentDecoder;

namespace {

const char* const kCodings[] = {"gzip",       "deflate",       "br",         "zstd",
                                "identity",   "x-gzip",        "gzip, br",   "br, zstd",
                                "zstd, gzip", "deflate, gzip", "gzip, gzip", "br, identity"};

struct Result {
  bool ok = false;
  bool limit = false;
  std::string out;
};

Result decode(std::string_view coding, std::string_view body, size_t bound, Splitter* split) {
  Result r;
  std::string error;
  auto decoder = ContentDecoder::create(coding, bound, error);
  FUZZ_CHECK(decoder != nullptr, "every listed coding is supported");
  bool ok = true;
  while (ok && !body.empty()) {
    size_t n = split ? std::min(split->next(), body.size()) : body.size();
    ok = decoder->decode(body.substr(0, n), r.out);
    body.remove_prefix(n);
    FUZZ_CHECK(r.out.size() <= bound, "decoded output within its bound");
  }
  if (ok) ok = decoder->finish(r.out);
  FUZZ_CHECK(r.out.size() <= bound, "decoded output within its bound after finish");
  FUZZ_CHECK(ok || !decoder->error().empty(), "a failure names its cause");
  r.ok = ok;
  r.limit = decoder->output_limit_exceeded();
  FUZZ_CHECK(!r.limit || !ok, "an exceeded bound fails the decode");
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::string_view coding = kCodings[data[0] % std::size(kCodings)];
  const size_t bound = 1 + size_t{data[2]} * 256;  // 1 B .. 64 KiB
  std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  Result whole = decode(coding, body, bound, nullptr);
  Splitter split(data[1], 64);
  Result pieces = decode(coding, body, bound, &split);
  FUZZ_CHECK(whole.ok == pieces.ok, "success does not depend on how the body was split");
  // Which failure comes first may depend on the split (corrupt data found within one large
  // piece before its output is counted, or the bound reached piece by piece first): both refuse.
  if (whole.ok) FUZZ_CHECK(whole.out == pieces.out, "the same output however split");
  return 0;
}

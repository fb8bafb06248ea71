// Content-Encoding decoders: round trips for every coding fed in small pieces, chained codings,
// raw deflate, concatenated gzip members and zstd frames, unknown codings, corrupt and truncated
// input, and a decompression bomb stopped at the output limit.
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <string>

#include "proxy/content_decoding.h"

using promptgate::proxy::ContentDecoder;

namespace {

constexpr size_t kLimit = 32u << 20;

// Window bits as deflateInit2 takes them: 15 zlib, -15 raw, 31 gzip.
std::string zlib_compress(const std::string& in, int window_bits) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&s, in.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}
std::string gzip(const std::string& in) {
  return zlib_compress(in, 16 + MAX_WBITS);
}
std::string zlib_deflate(const std::string& in) {
  return zlib_compress(in, MAX_WBITS);
}
std::string raw_deflate(const std::string& in) {
  return zlib_compress(in, -MAX_WBITS);
}

std::string brotli(const std::string& in) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(size ? size : 64, '\0');
  size = out.size();
  REQUIRE(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.size(),
                                reinterpret_cast<const uint8_t*>(in.data()), &size,
                                reinterpret_cast<uint8_t*>(out.data())) == BROTLI_TRUE);
  out.resize(size);
  return out;
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Text that compresses but is not trivially repetitive.
std::string sample(size_t n) {
  std::string out;
  uint32_t x = 12345;
  while (out.size() < n) {
    x = x * 1103515245u + 12345u;
    out += "message ";
    out += std::to_string(x % 1000);
    out += (x & 0x100) ? " {\"role\":\"user\"}\n" : " token sk-not-a-secret\n";
  }
  out.resize(n);
  return out;
}

struct Decoded {
  bool ok = false;
  bool finished = false;
  std::string out;
  std::string error;
  bool limit = false;
};

Decoded decode(const std::string& coding, const std::string& body, size_t piece,
               size_t limit = kLimit) {
  std::string error;
  auto decoder = ContentDecoder::create(coding, limit, error);
  REQUIRE(decoder);
  Decoded d;
  d.ok = true;
  for (size_t pos = 0; pos < body.size() && d.ok; pos += piece)
    d.ok = decoder->decode(std::string_view(body).substr(pos, piece), d.out);
  if (d.ok) d.finished = decoder->finish(d.out);
  d.error = decoder->error();
  d.limit = decoder->output_limit_exceeded();
  return d;
}

}  // namespace

TEST_CASE("Content decoding: each coding round-trips in small pieces", "[decoding]") {
  const std::string plain = sample(200 * 1024);
  struct Case {
    const char* coding;
    std::string body;
  };
  const Case cases[] = {
      {"gzip", gzip(plain)},
      {"x-gzip", gzip(plain)},
      {"deflate", zlib_deflate(plain)},
      {"deflate", raw_deflate(plain)},
      {"br", brotli(plain)},
      {"zstd", zstd(plain)},
      {"identity", plain},
      {" GZip ", gzip(plain)},
  };
  for (const auto& c : cases) {
    for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, c.body.size()}) {
      INFO(c.coding << " in pieces of " << piece);
      Decoded d = decode(c.coding, c.body, piece);
      CHECK(d.ok);
      CHECK(d.finished);
      CHECK(d.error.empty());
      CHECK(d.out == plain);
    }
  }
}

TEST_CASE("Content decoding: empty bodies and empty payloads", "[decoding]") {
  for (const char* coding : {"gzip", "deflate", "br", "zstd", "identity"}) {
    INFO(coding);
    Decoded d = decode(coding, "", 1);
    CHECK(d.ok);
    CHECK(d.finished);
    CHECK(d.out.empty());
  }
  CHECK(decode("gzip", gzip(""), 1).finished);
  CHECK(decode("br", brotli(""), 1).finished);
  CHECK(decode("zstd", zstd(""), 1).finished);
  CHECK(decode("deflate", raw_deflate(""), 1).finished);
}

TEST_CASE("Content decoding: lists are decoded in reverse order", "[decoding]") {
  const std::string plain = sample(50 * 1024);
  // "gzip, br": gzip was applied first, then br.
  const std::string body = brotli(gzip(plain));
  for (size_t piece : {size_t{1}, size_t{7}, body.size()}) {
    Decoded d = decode("gzip, br", body, piece);
    CHECK(d.ok);
    CHECK(d.finished);
    CHECK(d.out == plain);
  }
  Decoded three = decode("deflate,zstd ,  BR", brotli(zstd(zlib_deflate(plain))), 7);
  CHECK(three.finished);
  CHECK(three.out == plain);
  Decoded with_identity = decode("identity, gzip", gzip(plain), 7);
  CHECK(with_identity.finished);
  CHECK(with_identity.out == plain);
  // The wrong order is corrupt data for the outer decoder.
  Decoded wrong = decode("br, gzip", body, 7);
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.error.rfind("gzip:", 0) == 0);
}

TEST_CASE("Content decoding: concatenated gzip members and zstd frames", "[decoding]") {
  const std::string a = sample(30000);
  const std::string b = "second member\n";
  for (size_t piece : {size_t{1}, size_t{7}, size_t{1} << 20}) {
    Decoded g = decode("gzip", gzip(a) + gzip(b), piece);
    CHECK(g.finished);
    CHECK(g.out == a + b);
    Decoded z = decode("zstd", zstd(a) + zstd(b), piece);
    CHECK(z.finished);
    CHECK(z.out == a + b);
  }
  // One complete member followed by half of another is cut short.
  const std::string second = gzip(b);
  Decoded partial = decode("gzip", gzip(a) + second.substr(0, 12), 7);
  CHECK(partial.ok);
  CHECK_FALSE(partial.finished);
}

TEST_CASE("Content decoding: unknown codings are refused by name", "[decoding]") {
  for (const char* coding : {"compress", "foo", "gzip, foo", "gzip br"}) {
    INFO(coding);
    std::string error;
    CHECK_FALSE(ContentDecoder::create(coding, kLimit, error));
    CHECK(error.find("unsupported Content-Encoding '") == 0);
  }
  std::string error;
  CHECK_FALSE(ContentDecoder::create("gzip, foo", kLimit, error));
  CHECK(error == "unsupported Content-Encoding 'foo'");
  CHECK_FALSE(ContentDecoder::create("gzip,gzip,gzip,gzip,gzip", kLimit, error));
  CHECK(error.find("too many") != std::string::npos);
}

TEST_CASE("Content decoding: corrupt input names the coding that failed", "[decoding]") {
  const std::string plain = sample(20000);
  struct Case {
    const char* coding;
    std::string body;
  };
  std::string bad_gzip = gzip(plain);
  bad_gzip[bad_gzip.size() / 2] ^= 0x55;
  bad_gzip[bad_gzip.size() / 2 + 1] ^= 0x55;
  std::string bad_zstd = zstd(plain);
  bad_zstd[bad_zstd.size() / 2] ^= 0x55;
  bad_zstd[bad_zstd.size() / 2 + 1] ^= 0x55;
  std::string bad_br = brotli(plain);
  bad_br[bad_br.size() / 2] ^= 0x55;
  bad_br[bad_br.size() / 2 + 1] ^= 0x55;
  const Case cases[] = {
      {"gzip", "this is not gzip at all"},
      {"gzip", bad_gzip},
      {"deflate", "\xff\xff\xff\xff not deflate"},
      {"br", "\xff\xff\xff\xff not brotli"},
      {"br", bad_br},
      {"zstd", "this is not zstd"},
      {"zstd", bad_zstd},
      {"gzip", gzip(plain) + "trailing garbage"},
      {"deflate", zlib_deflate(plain) + "x"},
      {"br", brotli(plain) + "x"},
  };
  for (const auto& c : cases) {
    INFO(c.coding << " body of " << c.body.size() << " bytes");
    Decoded d = decode(c.coding, c.body, 7);
    CHECK_FALSE((d.ok && d.finished));
    CHECK(d.error.rfind(std::string(c.coding) + ":", 0) == 0);
    CHECK_FALSE(d.limit);
  }
}

TEST_CASE("Content decoding: truncated streams fail at finish", "[decoding]") {
  const std::string plain = sample(20000);
  const std::string gz = gzip(plain);
  const std::string zs = zstd(plain);
  const std::string br = brotli(plain);
  struct Case {
    const char* coding;
    std::string body;
  };
  const Case cases[] = {
      {"gzip", gz.substr(0, gz.size() - 4)},  // the trailer's length field missing
      {"gzip", gz.substr(0, gz.size() / 2)},
      {"deflate", raw_deflate(plain).substr(0, 100)},
      {"deflate", "x"},  // not even a header
      {"zstd", zs.substr(0, zs.size() - 3)},
      {"br", br.substr(0, br.size() - 1)},
  };
  for (const auto& c : cases) {
    INFO(c.coding << " body of " << c.body.size() << " bytes");
    Decoded d = decode(c.coding, c.body, 7);
    CHECK(d.ok);
    CHECK_FALSE(d.finished);
    CHECK(d.error.rfind(std::string(c.coding) + ":", 0) == 0);
    CHECK(d.error.find("truncated") != std::string::npos);
  }
}

TEST_CASE("Content decoding: a decompression bomb stops at the output limit", "[decoding]") {
  const std::string zeros(100u << 20, '\0');
  const size_t limit = 1u << 20;
  struct Case {
    const char* coding;
    std::string body;
  };
  const std::string gz = gzip(zeros);
  const Case cases[] = {
      {"gzip", gz},
      {"br", brotli(zeros)},
      {"zstd", zstd(zeros)},
      {"gzip, br", brotli(gz)},
      {"identity", std::string(limit + 1, 'a')},
  };
  for (const auto& c : cases) {
    INFO(c.coding << " body of " << c.body.size() << " bytes");
    std::string error;
    auto decoder = ContentDecoder::create(c.coding, limit, error);
    REQUIRE(decoder);
    std::string out;
    bool ok = true;
    for (size_t pos = 0; pos < c.body.size() && ok; pos += 16384)
      ok = decoder->decode(std::string_view(c.body).substr(pos, 16384), out);
    CHECK_FALSE(ok);
    CHECK(decoder->output_limit_exceeded());
    CHECK(out.size() <= limit);
    CHECK(decoder->error().find("limit") != std::string::npos);
    // Failure is sticky.
    CHECK_FALSE(decoder->decode("more", out));
    CHECK_FALSE(decoder->finish(out));
  }
  // Exactly at the limit is fine.
  Decoded exact = decode("gzip", gzip(std::string(limit, 'z')), 4096, limit);
  CHECK(exact.finished);
  CHECK(exact.out.size() == limit);
}

TEST_CASE("Content decoding: a zstd frame must hold the size its header declares, however split",
          "[decoding]") {
  // Magic, a single-segment header declaring 11,688 bytes, then one empty raw last block.
  // libzstd refuses this frame when it gets it whole and, alone, accepted it in pieces.
  const std::string lying("\x28\xb5\x2f\xfd\x60\xa8\x2d\x01\x00\x00", 10);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, size_t{64}}) {
    Decoded d = decode("zstd", lying, piece);
    INFO("piece " << piece);
    CHECK_FALSE((d.ok && d.finished));
    CHECK(d.error.rfind("zstd: corrupt data", 0) == 0);
  }
  // A frame in libzstd's legacy v0.7 format (magic 0xFD2FB527): libzstd decodes it whole and
  // refuses it split; HTTP's zstd (RFC 8878) has no legacy formats, so it is refused either way.
  const std::string legacy("\x27\xb5\x2f\xfd\x60\xa8\x00\x00\x00\x00", 10);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{64}}) {
    Decoded d = decode("zstd", legacy, piece);
    INFO("legacy, piece " << piece);
    CHECK_FALSE((d.ok && d.finished));
    CHECK(d.error.rfind("zstd: corrupt data", 0) == 0);
  }
  // A true frame after a skippable one (whose header gives its own length, not content) and a
  // frame without a declared size (streamed) both still decode, in any pieces.
  std::string skippable("\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);
  const std::string a = sample(5000);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::string streamed(ZSTD_compressBound(a.size()) + 64, '\0');
  ZSTD_outBuffer out{streamed.data(), streamed.size(), 0};
  ZSTD_inBuffer in{a.data(), a.size(), 0};
  REQUIRE(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end) == 0);
  ZSTD_freeCCtx(cctx);
  streamed.resize(out.pos);
  REQUIRE(ZSTD_getFrameContentSize(streamed.data(), streamed.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
  for (size_t piece : {size_t{1}, size_t{5}, size_t{1} << 20}) {
    Decoded d = decode("zstd", skippable + zstd(a) + streamed, piece);
    INFO("piece " << piece);
    CHECK(d.finished);
    CHECK(d.out == a + a);
  }
}

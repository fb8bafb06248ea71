// libFuzzer target: bytes from a client socket, read the way proxy/connection.cc and
// proxy/request_handler.cc read them: Beast's request_parser<buffer_body> under a header limit
// and a body limit, the read buffer capped at header limit + 64 KiB, the bytes arriving in
// pieces of fuzzer-chosen sizes, a chunked body read into a buffer that grows as it fills, and
// up to three pipelined requests on one connection. The head goes through the proxy's own checks
// (check_framing, the Content-Encoding list, hop-by-hop fields, the query string, the model).
// Input: one byte seeding the piece sizes, then the bytes the client sends.
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/content_decoding.h"
#include "proxy/http_fields.h"
#include "proxy/pipeline/head_stage.h"
#include "tests/fuzz/fuzz_util.h"

namespace http = boost::beast::http;
namespace net = boost::asio;
using promptgate::fuzz::Splitter;

namespace {

constexpr size_t kHeaderLimit = 4096;
constexpr size_t kBodyLimit = 32 * 1024;
constexpr size_t kBufferMax = kHeaderLimit + 64 * 1024;  // as connection.cc sizes it
constexpr size_t kBodyStep = 4096;                       // the chunked body buffer's growth

// The client's bytes as the socket delivers them, appended to the read buffer.
struct Socket {
  std::string_view bytes;
  Splitter split;
  // Moves up to one piece into `buf` (never past kBufferMax); false at the end of the input.
  bool read(std::string& buf) {
    if (bytes.empty()) return false;
    size_t room = kBufferMax - buf.size();
    if (room == 0) return false;
    size_t n = std::min({split.next(), bytes.size(), room});
    buf.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    return true;
  }
};

void check_head(const http::request_parser<http::buffer_body>& parser) {
  using namespace promptgate::proxy;
  const auto& req = parser.get();
  HeadFacts facts;
  facts.version = req.version();
  facts.chunked = parser.chunked();
  for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it)
    facts.transfer_encoding.push_back(it->value());
  if (auto refusal = check_framing(facts))
    FUZZ_CHECK(refusal->status >= 400 && refusal->status < 500 && !refusal->message.empty(),
               "a framing refusal is a 4xx with a message");
  // Beast refuses Content-Length together with chunked; the proxy relies on it.
  FUZZ_CHECK(!(parser.chunked() && parser.content_length()), "chunked and a Content-Length");
  std::string encodings;
  for (const auto& field : req) {
    (void)is_hop_by_hop(field.name_string());
    if (field.name() == http::field::content_encoding) {
      if (!encodings.empty()) encodings += ", ";
      encodings += field.value();
    }
  }
  std::string error;
  auto decoder = ContentDecoder::create(encodings, 1 << 16, error);
  FUZZ_CHECK(decoder || !error.empty(), "an unknown coding is named");
  std::string_view target = req.target();
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    std::string decoded = percent_decode(target.substr(q + 1));
    FUZZ_CHECK(decoded.size() <= target.size() - q - 1, "percent-decoding never grows");
  }
}

// One request from the connection; false when the connection would be closed after it.
bool read_request(std::string& buf, Socket& socket) {
  http::request_parser<http::buffer_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  boost::beast::error_code ec;
  // The head: async_read_header puts the buffer to the parser until the header is done.
  while (!parser.is_header_done()) {
    size_t used = buf.empty() ? 0 : parser.put(net::buffer(buf), ec);
    buf.erase(0, used);
    if (ec == http::error::need_more || (!ec && used == 0 && !parser.is_header_done())) {
      ec = {};
      if (!socket.read(buf)) return false;  // end of input or the buffer is full: 400 / closed
      continue;
    }
    if (ec) return false;  // 400 (or 431 on header_limit)
  }
  check_head(parser);
  const size_t fields_before = std::distance(parser.get().begin(), parser.get().end());
  // The body, into a buffer that grows by kBodyStep (as BodyIntake::grow_for_chunk does).
  std::string body;
  size_t used_body = 0;
  while (!parser.is_done()) {
    if (used_body == body.size()) {
      if (body.size() >= kBodyLimit) return false;  // the parser would refuse the next byte
      body.resize(std::min(kBodyLimit, body.size() + kBodyStep));
    }
    auto& b = parser.get().body();
    b.data = body.data() + used_body;
    b.size = body.size() - used_body;
    // Beast's read operations put only a non-empty buffer, and read more when a put makes no
    // progress (a chunk header split across reads).
    size_t used = buf.empty() ? 0 : parser.put(net::buffer(buf), ec);
    buf.erase(0, used);
    const size_t got = body.size() - used_body - b.size;
    used_body += got;
    FUZZ_CHECK(used_body <= kBodyLimit, "body within the body limit");
    if (ec == http::error::need_buffer) {
      ec = {};
      continue;
    }
    if (ec == http::error::need_more || (!ec && used == 0 && got == 0)) {
      ec = {};
      if (!socket.read(buf)) {
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return false;  // cut short: the client went away
      }
      continue;
    }
    if (ec) return false;  // 400 or 413
  }
  body.resize(used_body);
  if (auto length = parser.content_length(); length && !parser.chunked())
    FUZZ_CHECK(*length == body.size(), "a complete body has its declared length");
  const size_t fields_after = std::distance(parser.get().begin(), parser.get().end());
  FUZZ_CHECK(fields_after >= fields_before, "trailers only add fields");
  FUZZ_CHECK(fields_after == fields_before || parser.chunked(), "trailers only after chunks");
  std::string model = promptgate::proxy::model_of(body);
  FUZZ_CHECK(model.size() <= 100 && body.find(model) != std::string::npos,
             "the model is a short piece of the body");
  return parser.get().keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Socket socket{{reinterpret_cast<const char*>(data + 1), size - 1}, Splitter(data[0], 512)};
  std::string buf;
  for (int i = 0; i < 3; ++i) {
    if (!read_request(buf, socket)) break;
    FUZZ_CHECK(buf.size() <= kBufferMax, "the read buffer stays bounded");
  }
  return 0;
}

// The ClientHello server-name peek (proxy/client_hello.h): a real OpenSSL ClientHello with and
// without SNI, every truncation of it, a ClientHello fragmented over several records, bytes that
// are not TLS, malformed handshakes, and server names that are not valid host names.
#include <openssl/ssl.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/client_hello.h"

using namespace promptgate::proxy;
using Peek = ClientHelloPeek;

namespace {

std::string u8(unsigned v) {
  return std::string(1, static_cast<char>(v & 0xff));
}
std::string u16(size_t v) {
  return u8(static_cast<unsigned>(v >> 8)) + u8(static_cast<unsigned>(v));
}
std::string u24(size_t v) {
  return u8(static_cast<unsigned>(v >> 16)) + u16(v & 0xffff);
}

std::string extension(uint16_t type, const std::string& data) {
  return u16(type) + u16(data.size()) + data;
}
std::string sni(const std::string& name, unsigned name_type = 0) {
  std::string entry = u8(name_type) + u16(name.size()) + name;
  return extension(0, u16(entry.size()) + entry);
}

// A ClientHello body: TLS 1.2 legacy version, random, a 32-byte session id, two suites, null
// compression, then the extensions (none at all when `extensions` is nullptr).
std::string hello_body(const std::string* extensions) {
  std::string b = "\x03\x03" + std::string(32, 'r') + u8(32) + std::string(32, 's') + u16(4) +
                  "\x13\x01\x13\x02" + u8(1) + std::string(1, '\0');
  if (extensions) b += u16(extensions->size()) + *extensions;
  return b;
}
std::string handshake(const std::string& body, unsigned type = 1) {
  return u8(type) + u24(body.size()) + body;
}
// The message cut into handshake records of at most `fragment` bytes.
std::string records(const std::string& message, size_t fragment = 1 << 14) {
  std::string out;
  for (size_t at = 0; at < message.size(); at += fragment) {
    std::string piece = message.substr(at, fragment);
    out += "\x16\x03\x01" + u16(piece.size()) + piece;
  }
  return out;
}
std::string hello_with(const std::string& extensions, size_t fragment = 1 << 14) {
  return records(handshake(hello_body(&extensions)), fragment);
}

// What OpenSSL's client sends first, with `server_name` as SNI (none when empty).
std::string openssl_client_hello(const std::string& server_name) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both now
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // wants to read the ServerHello: the ClientHello is in `out`
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  return std::string(data, static_cast<size_t>(n));
}

Peek::Status status_of(const std::string& bytes) {
  return peek_client_hello(bytes).status;
}

}  // namespace

TEST_CASE("client hello: OpenSSL's ClientHello gives its server name, every prefix needs more") {
  const std::string hello = openssl_client_hello("API.Anthropic.com");
  REQUIRE(hello.size() > 100);
  Peek p = peek_client_hello(hello);
  CHECK(p.status == Peek::complete);
  CHECK(p.server_name == "api.anthropic.com");
  for (size_t n = 0; n < hello.size(); ++n) {
    INFO(n);
    CHECK(status_of(hello.substr(0, n)) == Peek::need_more);
  }
  // What follows the ClientHello (early data, a second flight) does not matter.
  Peek more = peek_client_hello(hello + "\x17\x03\x03" + u16(3) + "abc");
  CHECK(more.status == Peek::complete);
  CHECK(more.server_name == "api.anthropic.com");
}

TEST_CASE("client hello: no server name extension, or no extensions at all") {
  Peek p = peek_client_hello(openssl_client_hello(""));
  CHECK(p.status == Peek::complete);
  CHECK(p.server_name.empty());
  Peek bare = peek_client_hello(records(handshake(hello_body(nullptr))));
  CHECK(bare.status == Peek::complete);
  CHECK(bare.server_name.empty());
  const std::string other = extension(10, u16(2) + u16(29));  // supported_groups only
  CHECK(peek_client_hello(hello_with(other)).server_name.empty());
}

TEST_CASE("client hello: a ClientHello over several records is joined") {
  const std::string exts = extension(10, u16(2) + u16(29)) +
                           sni("bedrock-runtime.us-east-1.api.aws") + extension(0x0a0a, "");
  for (size_t fragment : {1, 7, 40, 100, 1000}) {
    INFO(fragment);
    const std::string bytes = hello_with(exts, fragment);
    Peek p = peek_client_hello(bytes);
    CHECK(p.status == Peek::complete);
    CHECK(p.server_name == "bedrock-runtime.us-east-1.api.aws");
    for (size_t n = 0; n < bytes.size(); n += 3)
      CHECK(status_of(bytes.substr(0, n)) == Peek::need_more);
  }
  // OpenSSL's own ClientHello, re-framed into 64-byte records.
  std::string real = openssl_client_hello("api.openai.com");
  std::string message = real.substr(5);
  CHECK(peek_client_hello(records(message, 64)).server_name == "api.openai.com");
}

TEST_CASE("client hello: bytes that do not start a TLS handshake") {
  CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == Peek::not_tls);
  CHECK(status_of("SSH-2.0-OpenSSH_9.6\r\n") == Peek::not_tls);
  CHECK(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == Peek::not_tls);
  CHECK(status_of(std::string("\x16\x02", 2)) == Peek::not_tls);  // SSL 2 major version
  CHECK(status_of(std::string("\x17\x03\x03\x00\x01x", 6)) == Peek::not_tls);  // application data
  CHECK(status_of(std::string("\x16", 1)) == Peek::need_more);
  CHECK(status_of(std::string("\x16\x03", 2)) == Peek::need_more);
}

TEST_CASE("client hello: malformed handshakes are told apart from incomplete ones") {
  const std::string good_exts = sni("api.x.ai");
  // Another handshake message first (a ServerHello), in full and as soon as its header is in.
  CHECK(status_of(records(handshake(hello_body(&good_exts), 2))) == Peek::malformed);
  CHECK(status_of(records(handshake(hello_body(&good_exts), 2)).substr(0, 9)) == Peek::malformed);
  // An empty record, a record larger than TLS allows.
  CHECK(status_of(std::string("\x16\x03\x01\x00\x00", 5)) == Peek::malformed);
  CHECK(status_of("\x16\x03\x01" + u16(20000)) == Peek::malformed);
  // A message announced larger than kMaxClientHelloBytes: refused from its first bytes.
  CHECK(status_of("\x16\x03\x01" + u16(100) + u8(1) + u24(kMaxClientHelloBytes + 1)) ==
        Peek::malformed);
  // A record of another type while the ClientHello is incomplete.
  std::string first_half = hello_with(good_exts, 40).substr(0, 45);
  CHECK(status_of(first_half + "\x15\x03\x03" + u16(2) + "\x02\x28") == Peek::malformed);
  // Inner lengths that do not add up.
  std::string body = hello_body(&good_exts);
  std::string odd_ciphers = body;
  odd_ciphers[2 + 32 + 1 + 32 + 1] = 3;  // cipher_suites length 3: odd
  CHECK(status_of(records(handshake(odd_ciphers))) == Peek::malformed);
  std::string short_body = body.substr(0, 30);
  CHECK(status_of(records(handshake(short_body))) == Peek::malformed);
  std::string overlong_ext = hello_body(nullptr) + u16(10) + u16(0) + u16(50) + "abc";
  CHECK(status_of(records(handshake(overlong_ext))) == Peek::malformed);
  std::string trailing = body + "zz";
  CHECK(status_of(records(handshake(trailing))) == Peek::malformed);
  // Two server_name extensions: parsers could disagree on which one counts.
  CHECK(status_of(hello_with(sni("a.example") + sni("b.example"))) == Peek::malformed);
  // A server_name list that does not fill its extension.
  CHECK(status_of(hello_with(extension(0, u16(20) + u8(0) + u16(3) + "abc"))) == Peek::malformed);
  // Handshake bytes after the ClientHello in the same record.
  CHECK(status_of(records(handshake(body) + "\x01")) == Peek::malformed);
}

TEST_CASE("client hello: a server name that is not a valid host name counts as none") {
  for (const char* bad : {"1.2.3.4", "api.anthropic.com.", "under_score.example", "-lead.example",
                          "a..b", "", "host name.example", "[::1]", "::1"}) {
    INFO(bad);
    Peek p = peek_client_hello(hello_with(sni(bad)));
    CHECK(p.status == Peek::complete);
    CHECK(p.server_name.empty());
  }
  // Only host_name entries count; the first one wins.
  Peek typed = peek_client_hello(hello_with(extension(
      0, u16(2 * 3 + 9 + 10) + u8(7) + u16(9) + "x.example" + u8(0) + u16(10) + "y1.example")));
  CHECK(typed.server_name == "y1.example");
  CHECK(valid_server_name("xn--bcher-kva.example"));
  CHECK(valid_server_name("localhost"));
  CHECK(valid_server_name(std::string(63, 'a') + ".example"));
  CHECK_FALSE(valid_server_name(std::string(64, 'a') + ".example"));
  CHECK_FALSE(
      valid_server_name(std::string(252, 'a').insert(60, ".").insert(120, ".").insert(180, ".")));
}

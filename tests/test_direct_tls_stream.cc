// DirectTlsStream against asio's ssl::stream (as beast::ssl_stream) and against itself, on
// loopback in one io_context with coroutines: handshakes in both roles (SNI and name
// verification), Beast HTTP with chunked and Content-Length bodies, 5 MB each way, handshake
// prefix bytes, deadlines, close_notify vs truncation, verification failure, and keep-alive round
// trips mixing many small writes with large ones.
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "proxy/certificate_authority.h"
#include "proxy/direct_tls_stream.h"

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;
using promptgate::proxy::CertificateAuthority;
using promptgate::proxy::DirectTlsStream;
using AsioTls = beast::ssl_stream<beast::tcp_stream>;
using namespace net::experimental::awaitable_operators;
using namespace std::chrono_literals;

static_assert(std::is_same_v<std::remove_reference_t<decltype(beast::get_lowest_layer(
                                 std::declval<DirectTlsStream&>()))>,
                             DirectTlsStream>,
              "get_lowest_layer(tls) must be the stream itself (it carries the timeouts)");
static_assert(beast::is_async_stream<DirectTlsStream>::value);

constexpr const char* kHost = "api.direct-tls.test";

auto tok(error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

// One CA for the whole run (key generation is the slow part), in a directory removed at exit.
struct Pki {
  std::filesystem::path dir;
  std::shared_ptr<CertificateAuthority> ca;
  ssl::context server{ssl::context::tls_server};      // the CA's client-facing context
  ssl::context client{ssl::context::tls_client};      // trusts the CA
  ssl::context untrusting{ssl::context::tls_client};  // trusts nothing

  Pki() {
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof rnd);
    std::string name = "promptgate-direct-tls-test-";
    for (unsigned char c : rnd) name += "0123456789abcdef"[c & 15];
    dir = std::filesystem::temp_directory_path() / name;
    ca = CertificateAuthority::load_or_create(dir.string());
    SSL_CTX* ctx = ca->client_facing_context();
    SSL_CTX_up_ref(ctx);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    server = ssl::context(ctx);
    client.add_certificate_authority(net::buffer(ca->cert_pem()));
    client.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_mode(client.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    untrusting.set_verify_mode(ssl::verify_peer);
  }
  ~Pki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

Pki& pki() {
  static Pki p;
  return p;
}

// The upstream side of server.cc: SNI plus name verification on the SSL object.
void expect_name(SSL* ssl, const char* host) {
  SSL_set_tlsext_host_name(ssl, host);
  SSL_set1_host(ssl, host);
}

net::awaitable<std::pair<tcp::socket, tcp::socket>> connected_pair() {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, {net::ip::address_v4::loopback(), 0});
  tcp::socket client(ex);
  co_await client.async_connect(acceptor.local_endpoint(), net::use_awaitable);
  tcp::socket server = co_await acceptor.async_accept(net::use_awaitable);
  client.set_option(tcp::no_delay(true));
  server.set_option(tcp::no_delay(true));
  co_return std::make_pair(std::move(client), std::move(server));
}

// Runs a test body to completion; a hang fails the test instead of the run.
void run(std::function<net::awaitable<void>()> body) {
  net::io_context io;
  bool done = false;
  std::exception_ptr error;
  net::co_spawn(io, body(), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  io.run_for(60s);
  REQUIRE(done);
  if (error) std::rethrow_exception(error);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Deterministic synthetic bodies: a repeating pattern that shifts with the seed.
std::string pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('!' + (i * 7 + seed) % 90);
  return s;
}

std::string transformed(std::string s) {  // what the server answers: each byte shifted
  for (char& c : s) c = static_cast<char>(c + 1);
  return s;
}

// The server side of one exchange: reads a request, answers with the request body transformed,
// its checksum in a header, chunked when asked; "x-pieces: N" answers with N small chunk writes
// and one large one instead. Returns false when the client closed.
template <class Stream>
net::awaitable<bool> serve_one(Stream& s, beast::flat_buffer& buf) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  error_code ec;
  co_await http::async_read(s, buf, parser, tok(ec));
  if (ec == http::error::end_of_stream || ec == net::error::eof) co_return false;
  if (ec) {
    FAIL_CHECK("server read: " << ec.message());
    co_return false;
  }
  auto& req = parser.get();
  std::string body = transformed(req.body());
  if (auto pieces = req["x-pieces"]; !pieces.empty()) {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.chunked(true);
    res.set("x-checksum", std::to_string(fnv1a(req.body())));
    http::response_serializer<http::empty_body> sr{res};
    co_await http::async_write_header(s, sr, net::use_awaitable);
    size_t at = 0;
    for (int i = 0, n = std::stoi(std::string(pieces)); i < n && at < body.size(); ++i) {
      size_t len = std::min<size_t>(1 + i % 37, body.size() - at);
      co_await net::async_write(s, http::make_chunk(net::buffer(body.data() + at, len)),
                                net::use_awaitable);
      at += len;
    }
    if (at < body.size())
      co_await net::async_write(
          s, http::make_chunk(net::buffer(body.data() + at, body.size() - at)), net::use_awaitable);
    co_await net::async_write(s, http::make_chunk_last(), net::use_awaitable);
    co_return true;
  }
  http::response<http::string_body> res{http::status::ok, 11};
  res.set("x-checksum", std::to_string(fnv1a(req.body())));
  res.body() = std::move(body);
  if (req["x-reply-chunked"] == "1")
    res.chunked(true);
  else
    res.prepare_payload();
  co_await http::async_write(s, res, net::use_awaitable);
  co_return true;
}

template <class Stream>
net::awaitable<void> serve(Stream& s, int rounds) {
  beast::flat_buffer buf;
  for (int i = 0; i < rounds; ++i) {
    bool more = co_await serve_one(s, buf);
    CHECK(more);
    if (!more) break;
  }
}

struct Ask {
  std::string body;
  bool chunked_request = false;
  bool chunked_reply = false;
  int pieces = 0;
};

template <class Stream>
net::awaitable<void> ask(Stream& s, beast::flat_buffer& buf, const Ask& a) {
  http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
  req.set(http::field::host, kHost);
  req.set("x-reply-chunked", a.chunked_reply ? "1" : "0");
  if (a.pieces) req.set("x-pieces", std::to_string(a.pieces));
  req.body() = a.body;
  if (a.chunked_request)
    req.chunked(true);
  else
    req.prepare_payload();
  co_await http::async_write(s, req, net::use_awaitable);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  co_await http::async_read(s, buf, parser, net::use_awaitable);
  auto& res = parser.get();
  CHECK(res.result_int() == 200);
  CHECK(res["x-checksum"] == std::to_string(fnv1a(a.body)));
  CHECK(res.chunked() == (a.chunked_reply || a.pieces > 0));
  REQUIRE(res.body().size() == a.body.size());
  CHECK(fnv1a(res.body()) == fnv1a(transformed(a.body)));
  CHECK(res.keep_alive());
}

// (Named Ask values, no temporaries in a co_await expression: GCC 12 destroys those twice.)
template <class Stream>
net::awaitable<void> ask_basics(Stream& s) {
  beast::flat_buffer buf;
  const Ask small_json{"{\"model\":\"m\",\"messages\":[]}", false, true};
  const Ask chunked_request{pattern(3000, 1), true, false};
  const Ask big{pattern(5 * 1024 * 1024, 2), false, false};
  const Ask big_chunked{pattern(5 * 1024 * 1024 + 17, 3), true, true};
  co_await ask(s, buf, small_json);
  co_await ask(s, buf, chunked_request);
  co_await ask(s, buf, big);
  co_await ask(s, buf, big_chunked);
}
constexpr int kBasicRounds = 4;

std::unique_ptr<AsioTls> asio_stream(tcp::socket s, ssl::context& ctx) {
  return std::make_unique<AsioTls>(beast::tcp_stream(std::move(s)), ctx);
}

DirectTlsStream direct_server(tcp::socket s) {
  DirectTlsStream tls(std::move(s), pki().server.native_handle());
  CertificateAuthority::set_fallback_host(tls.native_handle(), kHost);
  return tls;
}

DirectTlsStream direct_client(tcp::socket s, ssl::context& ctx, const char* host = kHost) {
  DirectTlsStream tls(std::move(s), ctx.native_handle());
  expect_name(tls.native_handle(), host);
  return tls;
}

// The peer writes `text` after `delay`.
template <class Stream>
net::awaitable<void> write_later(Stream& s, std::chrono::milliseconds delay, const char* text) {
  net::steady_timer t(co_await net::this_coro::executor, delay);
  co_await t.async_wait(net::use_awaitable);
  co_await net::async_write(s, net::buffer(text, std::strlen(text)), net::use_awaitable);
}

template <class Client, class Server>
net::awaitable<void> handshake(Client& c, Server& s) {
  error_code cec, sec;
  co_await (c.async_handshake(ssl::stream_base::client, tok(cec)) &&
            s.async_handshake(ssl::stream_base::server, tok(sec)));
  INFO("client: " << cec.message() << ", server: " << sec.message());
  REQUIRE(!cec);
  REQUIRE(!sec);
}

}  // namespace

TEST_CASE("DirectTlsStream server with an asio client: HTTP both framings and 5 MB each way",
          "[direct_tls]") {
  run([]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    auto client = asio_stream(std::move(c), pki().client);
    expect_name(client->native_handle(), kHost);
    DirectTlsStream server = direct_server(std::move(s));
    co_await handshake(*client, server);
    // The certificate minted for the SNI name verified on the client.
    CHECK(SSL_get_verify_result(client->native_handle()) == X509_V_OK);
    co_await (ask_basics(*client) && serve(server, kBasicRounds));
  });
}

TEST_CASE("DirectTlsStream client (SNI, verified name) with an asio server", "[direct_tls]") {
  run([]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    DirectTlsStream client = direct_client(std::move(c), pki().client);
    auto server = asio_stream(std::move(s), pki().server);
    CertificateAuthority::set_fallback_host(server->native_handle(), "fallback.invalid");
    co_await handshake(client, *server);
    // The server minted for the SNI name (not the fallback), and the client checked it.
    CHECK(SSL_get_verify_result(client.native_handle()) == X509_V_OK);
    const char* sni = SSL_get_servername(server->native_handle(), TLSEXT_NAMETYPE_host_name);
    REQUIRE(sni != nullptr);
    CHECK(std::string(sni) == kHost);
    co_await (ask_basics(client) && serve(*server, kBasicRounds));
  });
}

TEST_CASE("DirectTlsStream on both ends", "[direct_tls]") {
  run([]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    DirectTlsStream client = direct_client(std::move(c), pki().client);
    DirectTlsStream server = direct_server(std::move(s));
    co_await handshake(client, server);
    co_await (ask_basics(client) && serve(server, kBasicRounds));
  });
}

namespace {

const std::string& connect_header() {
  static const std::string h =
      std::string("CONNECT ") + kHost + ":443 HTTP/1.1\r\nHost: " + kHost + ":443\r\n\r\n";
  return h;
}

// The CONNECT header and the ClientHello go out back to back, without waiting for a 200.
net::awaitable<void> connect_then_hello(tcp::socket& c) {
  co_await net::async_write(c, net::buffer(connect_header()), net::use_awaitable);
  auto tls = asio_stream(std::move(c), pki().client);
  expect_name(tls->native_handle(), kHost);
  co_await tls->async_handshake(ssl::stream_base::client, net::use_awaitable);
  beast::flat_buffer buf;
  const Ask hello{"prefix test", false, false};
  co_await ask(*tls, buf, hello);
}

// Reads the header plus the first `whole_record ? whole record : 3 bytes` of TLS, then hands
// what it read past the header to the handshake.
net::awaitable<void> read_header_then_handshake(tcp::socket& s, bool whole_record) {
  const std::string& connect = connect_header();
  std::string raw;  // (net::async_read would copy a beast::flat_buffer passed by reference)
  size_t want = connect.size() + (whole_record ? 5 : 3);
  co_await net::async_read(s, net::dynamic_buffer(raw), net::transfer_exactly(want),
                           net::use_awaitable);
  if (whole_record) {
    auto* p = reinterpret_cast<const unsigned char*>(raw.data()) + connect.size();
    CHECK(p[0] == 0x16);  // a handshake record
    size_t record = (size_t{p[3]} << 8) | p[4];
    co_await net::async_read(s, net::dynamic_buffer(raw), net::transfer_exactly(record),
                             net::use_awaitable);
  }
  CHECK(raw.substr(0, connect.size()) == connect);
  beast::flat_buffer buf;
  buf.commit(net::buffer_copy(buf.prepare(raw.size() - connect.size()),
                              net::buffer(raw) + connect.size()));
  const size_t prefix = buf.size();
  CHECK(prefix == raw.size() - connect.size());
  DirectTlsStream tls = direct_server(std::move(s));
  error_code ec;
  size_t used = co_await tls.async_handshake(ssl::stream_base::server, buf.data(), tok(ec));
  INFO(ec.message());
  CHECK(!ec);
  CHECK(used == prefix);
  buf.consume(used);
  if (ec) co_return;
  bool served = co_await serve_one(tls, buf);
  CHECK(served);
}

}  // namespace

TEST_CASE("DirectTlsStream handshake uses bytes read before it (ClientHello after CONNECT)",
          "[direct_tls]") {
  // Whole: the prefix holds the entire first record. Partial: only 3 bytes of its header.
  auto whole_record = GENERATE(true, false);
  run([whole_record]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    co_await (connect_then_hello(c) && read_header_then_handshake(s, whole_record));
  });
}

TEST_CASE("DirectTlsStream deadlines end pending operations with beast timeout", "[direct_tls]") {
  SECTION("client handshake against a peer that never speaks") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      DirectTlsStream client = direct_client(std::move(c), pki().client);
      client.expires_after(200ms);
      error_code ec;
      co_await client.async_handshake(ssl::stream_base::client, tok(ec));
      CHECK(ec == beast::error::timeout);
      CHECK(!client.socket().is_open());
    });
  }
  SECTION("server handshake against a client that never speaks") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      DirectTlsStream server = direct_server(std::move(s));
      beast::get_lowest_layer(server).expires_after(200ms);
      error_code ec;
      co_await server.async_handshake(ssl::stream_base::server, tok(ec));
      CHECK(ec == beast::error::timeout);
      CHECK(!server.socket().is_open());
    });
  }
  SECTION("reads after the handshake, with deadlines moved later, earlier and cleared") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      auto client = asio_stream(std::move(c), pki().client);
      expect_name(client->native_handle(), kHost);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(*client, server);
      auto ex = co_await net::this_coro::executor;
      char data[64];
      error_code ec;
      size_t n = 0;
      auto read = [&]() -> net::awaitable<void> {
        n = co_await server.async_read_some(net::buffer(data), tok(ec));
      };

      // Moved later before it fires: the timer fires early, re-arms, the read succeeds.
      server.expires_after(50ms);
      server.expires_after(10s);
      co_await (read() && write_later(*client, 300ms, "one"));
      CHECK(!ec);
      CHECK(std::string(data, n) == "one");

      // Cleared: no timeout at all.
      server.expires_after(50ms);
      server.expires_never();
      co_await (read() && write_later(*client, 300ms, "two"));
      CHECK(!ec);
      CHECK(std::string(data, n) == "two");

      // Passed while no operation was pending: the next operation times out at once.
      server.expires_after(50ms);
      net::steady_timer idle(ex, 200ms);
      co_await idle.async_wait(net::use_awaitable);
      co_await read();
      CHECK(ec == beast::error::timeout);
      CHECK(!server.socket().is_open());
    });
  }
  SECTION("a deadline moved earlier ends a read the peer never answers") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      DirectTlsStream client = direct_client(std::move(c), pki().client);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(client, server);
      client.expires_after(30s);
      client.expires_after(200ms);
      char data[16];
      error_code ec;
      co_await client.async_read_some(net::buffer(data), tok(ec));
      CHECK(ec == beast::error::timeout);
      CHECK(!client.socket().is_open());
      // Later operations on the closed stream fail, and never touch a reused descriptor.
      client.expires_never();
      co_await net::async_write(client, net::buffer("x", 1), tok(ec));
      CHECK(ec == net::error::bad_descriptor);
    });
  }
}

TEST_CASE("DirectTlsStream end of stream: close_notify is eof, a bare TCP close is truncation",
          "[direct_tls]") {
  SECTION("the asio peer shuts down: our read gets eof, then both shutdowns complete") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      auto client = asio_stream(std::move(c), pki().client);
      expect_name(client->native_handle(), kHost);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(*client, server);
      error_code peer_ec, read_ec, shutdown_ec;
      auto ours = [&]() -> net::awaitable<void> {
        char data[16];
        co_await server.async_read_some(net::buffer(data), tok(read_ec));
        server.expires_after(5s);
        co_await server.async_shutdown(tok(shutdown_ec));
      };
      co_await (client->async_shutdown(tok(peer_ec)) && ours());
      CHECK(read_ec == net::error::eof);
      CHECK(!shutdown_ec);
      CHECK(!peer_ec);  // the asio peer waited for and got our close_notify
    });
  }
  SECTION("the peer closes TCP without close_notify: stream_truncated") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      auto client = asio_stream(std::move(c), pki().client);
      expect_name(client->native_handle(), kHost);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(*client, server);
      co_await net::async_write(*client, net::buffer("partial", 7), net::use_awaitable);
      beast::get_lowest_layer(*client).socket().shutdown(tcp::socket::shutdown_send);
      char data[16];
      error_code ec;
      size_t n = co_await server.async_read_some(net::buffer(data), tok(ec));
      CHECK(!ec);
      CHECK(std::string(data, n) == "partial");  // data before the close still arrives
      co_await server.async_read_some(net::buffer(data), tok(ec));
      CHECK(ec == ssl::error::stream_truncated);
    });
  }
  SECTION("our shutdown: the asio peer's read gets eof; a DirectTlsStream peer's too") {
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      auto client = asio_stream(std::move(c), pki().client);
      expect_name(client->native_handle(), kHost);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(*client, server);
      error_code ec;
      co_await server.async_shutdown(tok(ec));
      CHECK(!ec);
      char data[16];
      co_await client->async_read_some(net::buffer(data), tok(ec));
      CHECK(ec == net::error::eof);
    });
    run([]() -> net::awaitable<void> {
      auto [c, s] = co_await connected_pair();
      DirectTlsStream client = direct_client(std::move(c), pki().client);
      DirectTlsStream server = direct_server(std::move(s));
      co_await handshake(client, server);
      error_code ec;
      co_await client.async_shutdown(tok(ec));
      CHECK(!ec);
      char data[16];
      co_await server.async_read_some(net::buffer(data), tok(ec));
      CHECK(ec == net::error::eof);
    });
  }
}

TEST_CASE("DirectTlsStream client refuses an untrusted or misnamed certificate", "[direct_tls]") {
  struct Case {
    ssl::context* ctx;
    const char* expected_name;
  };
  auto which = GENERATE(0, 1);
  Case tc = which == 0 ? Case{&pki().untrusting, kHost} : Case{&pki().client, "other.test"};
  run([tc]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    DirectTlsStream client = direct_client(std::move(c), *tc.ctx, tc.expected_name);
    SSL_set_tlsext_host_name(client.native_handle(), kHost);  // the server mints for kHost
    DirectTlsStream server = direct_server(std::move(s));
    error_code cec, sec;
    co_await (client.async_handshake(ssl::stream_base::client, tok(cec)) &&
              server.async_handshake(ssl::stream_base::server, tok(sec)));
    REQUIRE(cec);
    CHECK(cec.category() == net::error::get_ssl_category());
    CHECK_THAT(cec.message(), Catch::Contains("certificate verify failed"));
    CHECK(SSL_get_verify_result(client.native_handle()) != X509_V_OK);
    CHECK(sec);  // the server got the client's alert
  });
}

TEST_CASE("DirectTlsStream keep-alive: 100 round trips of small and large writes", "[direct_tls]") {
  auto peer = GENERATE(as<std::string>{}, "asio client", "direct client");
  run([peer]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    DirectTlsStream server = direct_server(std::move(s));
    auto rounds = [](auto& stream) -> net::awaitable<void> {
      beast::flat_buffer buf;
      for (int i = 0; i < 100; ++i) {
        // Odd rounds: a reply of 40 small chunk writes then one large chunk (up to 150 KB).
        size_t size = i % 3 == 0 ? 150 * 1024 + i : (i % 3 == 1 ? 900 + i : 40 + i);
        const Ask round{pattern(size, i), i % 2 == 0, i % 4 == 0, i % 2 ? 40 : 0};
        co_await ask(stream, buf, round);
      }
    };
    if (peer == "asio client") {
      auto client = asio_stream(std::move(c), pki().client);
      expect_name(client->native_handle(), kHost);
      co_await handshake(*client, server);
      co_await (rounds(*client) && serve(server, 100));
    } else {
      DirectTlsStream client = direct_client(std::move(c), pki().client);
      co_await handshake(client, server);
      co_await (rounds(client) && serve(server, 100));
    }
  });
}

TEST_CASE("DirectTlsStream is movable and small", "[direct_tls]") {
  CHECK(sizeof(DirectTlsStream) <= 2 * sizeof(void*));
  run([]() -> net::awaitable<void> {
    auto [c, s] = co_await connected_pair();
    DirectTlsStream client = direct_client(std::move(c), pki().client);
    DirectTlsStream moved_server = direct_server(std::move(s));
    DirectTlsStream server = std::move(moved_server);
    co_await handshake(client, server);
    DirectTlsStream moved_client = std::move(client);
    co_await (ask_basics(moved_client) && serve(server, kBasicRounds));
  });
}

// Memory and CPU of DirectTlsStream against beast::ssl_stream<beast::tcp_stream> (asio's BIO-pair
// stream), both ends in one thread on loopback, with the CA's client-facing context as the
// server and a client context trusting it (both with SSL_MODE_RELEASE_BUFFERS, as the proxy).
//
//   build/bench/tls_stream_memory [connections=200] [megabytes=256]
//
// Memory: heap growth (mallinfo2 uordblks + hblkhd) per idle established pair (one server-mode
// plus one client-mode stream, as one intercepted connection holds) after a handshake and one
// small request/response each. CPU: process CPU time to move `megabytes` through one pair.
#include <malloc.h>
#include <openssl/rand.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "proxy/certificate_authority.h"
#include "proxy/direct_tls_stream.h"

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using promptgate::proxy::CertificateAuthority;
using promptgate::proxy::DirectTlsStream;
using namespace net::experimental::awaitable_operators;

constexpr const char* kHost = "api.bench.test";

struct AsioKind {
  static constexpr const char* name = "beast::ssl_stream<tcp_stream>";
  using Stream = beast::ssl_stream<beast::tcp_stream>;
  static std::unique_ptr<Stream> make(tcp::socket s, ssl::context& ctx) {
    return std::make_unique<Stream>(beast::tcp_stream(std::move(s)), ctx);
  }
};

struct DirectKind {
  static constexpr const char* name = "DirectTlsStream";
  using Stream = DirectTlsStream;
  static std::unique_ptr<Stream> make(tcp::socket s, ssl::context& ctx) {
    return std::make_unique<Stream>(std::move(s), ctx.native_handle());
  }
};

template <class Kind>
struct Pair {
  std::unique_ptr<typename Kind::Stream> client, server;
};

size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

template <class Kind>
net::awaitable<Pair<Kind>> establish(tcp::acceptor& acceptor, ssl::context& client_ctx,
                                     ssl::context& server_ctx) {
  auto ex = co_await net::this_coro::executor;
  tcp::socket c(ex);
  co_await c.async_connect(acceptor.local_endpoint(), net::use_awaitable);
  tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
  c.set_option(tcp::no_delay(true));
  s.set_option(tcp::no_delay(true));
  Pair<Kind> p{Kind::make(std::move(c), client_ctx), Kind::make(std::move(s), server_ctx)};
  SSL_set_tlsext_host_name(p.client->native_handle(), kHost);
  SSL_set1_host(p.client->native_handle(), kHost);
  CertificateAuthority::set_fallback_host(p.server->native_handle(), kHost);
  co_await (p.client->async_handshake(ssl::stream_base::client, net::use_awaitable) &&
            p.server->async_handshake(ssl::stream_base::server, net::use_awaitable));
  static const std::string request = "GET /v1/models HTTP/1.1\r\nHost: api.bench.test\r\n\r\n";
  static const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
  char buf[512];
  co_await net::async_write(*p.client, net::buffer(request), net::use_awaitable);
  co_await net::async_read(*p.server, net::buffer(buf, request.size()), net::use_awaitable);
  co_await net::async_write(*p.server, net::buffer(response), net::use_awaitable);
  co_await net::async_read(*p.client, net::buffer(buf, response.size()), net::use_awaitable);
  co_return p;
}

template <class Kind>
net::awaitable<void> measure_memory(ssl::context& client_ctx, ssl::context& server_ctx,
                                    int connections) {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, {net::ip::address_v4::loopback(), 0}, true);
  acceptor.listen(1024);
  {  // warm-up: the leaf certificate, OpenSSL's lazily built tables, Asio's services
    std::vector<Pair<Kind>> warm;
    for (int i = 0; i < 8; ++i)
      warm.push_back(co_await establish<Kind>(acceptor, client_ctx, server_ctx));
  }
  std::vector<Pair<Kind>> pairs;
  pairs.reserve(static_cast<size_t>(connections));
  size_t before = heap_in_use();
  for (int i = 0; i < connections; ++i)
    pairs.push_back(co_await establish<Kind>(acceptor, client_ctx, server_ctx));
  size_t after = heap_in_use();
  double per_pair = static_cast<double>(after - before) / connections;
  std::printf("%-32s idle pair (server+client stream): %8.0f bytes (%.1f KB)\n", Kind::name,
              per_pair, per_pair / 1024);
}

template <class Kind>
net::awaitable<void> measure_cpu(ssl::context& client_ctx, ssl::context& server_ctx,
                                 size_t megabytes) {
  auto ex = co_await net::this_coro::executor;
  tcp::acceptor acceptor(ex, {net::ip::address_v4::loopback(), 0});
  Pair<Kind> p = co_await establish<Kind>(acceptor, client_ctx, server_ctx);
  const size_t total = megabytes * 1024 * 1024;
  std::vector<char> out(64 * 1024, 'x'), in(64 * 1024);
  double t0 = cpu_seconds();
  auto send = [&]() -> net::awaitable<void> {
    for (size_t sent = 0; sent < total; sent += out.size())
      co_await net::async_write(*p.client, net::buffer(out), net::use_awaitable);
  };
  auto receive = [&]() -> net::awaitable<void> {
    for (size_t got = 0; got < total;)
      got += co_await p.server->async_read_some(net::buffer(in), net::use_awaitable);
  };
  co_await (send() && receive());
  double cpu = cpu_seconds() - t0;
  std::printf("%-32s %zu MB through one pair: %.3f s CPU, %.2f ns/byte (both ends)\n", Kind::name,
              megabytes, cpu, cpu * 1e9 / static_cast<double>(total));
}

void run(net::io_context& io, net::awaitable<void> a) {
  std::exception_ptr error;
  net::co_spawn(io, std::move(a), [&](std::exception_ptr e) { error = e; });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
}

}  // namespace

int main(int argc, char** argv) {
  int connections = argc > 1 ? std::atoi(argv[1]) : 200;
  size_t megabytes = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 256;
  unsigned char rnd[8];
  RAND_bytes(rnd, sizeof rnd);
  std::string name = "promptgate-tls-bench-";
  for (unsigned char c : rnd) name += "0123456789abcdef"[c & 15];
  auto dir = std::filesystem::temp_directory_path() / name;
  {
    auto ca = CertificateAuthority::load_or_create(dir.string());
    SSL_CTX* server_native = ca->client_facing_context();
    SSL_CTX_up_ref(server_native);
    SSL_CTX_set_mode(server_native, SSL_MODE_RELEASE_BUFFERS);
    ssl::context server_ctx(server_native);
    ssl::context client_ctx(ssl::context::tls_client);
    client_ctx.add_certificate_authority(net::buffer(ca->cert_pem()));
    client_ctx.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_mode(client_ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);

    net::io_context io;
    std::printf("sizeof: beast::ssl_stream<tcp_stream> %zu, DirectTlsStream %zu\n",
                sizeof(AsioKind::Stream), sizeof(DirectKind::Stream));
    std::printf("%d idle connections, heap growth per pair:\n", connections);
    run(io, measure_memory<AsioKind>(client_ctx, server_ctx, connections));
    run(io, measure_memory<DirectKind>(client_ctx, server_ctx, connections));
    run(io, measure_memory<AsioKind>(client_ctx, server_ctx, connections));
    run(io, measure_memory<DirectKind>(client_ctx, server_ctx, connections));
    if (megabytes > 0) {
      run(io, measure_cpu<AsioKind>(client_ctx, server_ctx, megabytes));
      run(io, measure_cpu<DirectKind>(client_ctx, server_ctx, megabytes));
      run(io, measure_cpu<AsioKind>(client_ctx, server_ctx, megabytes));
      run(io, measure_cpu<DirectKind>(client_ctx, server_ctx, megabytes));
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return 0;
}

#include "proxy/upstream.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proxy/descriptors.h"
#include "proxy/internal_address.h"

namespace promptgate::proxy {

std::shared_ptr<ssl::context> make_upstream_tls(const ProxyConfig& config) {
  auto ctx_ptr = std::make_shared<ssl::context>(ssl::context::tls_client);
  ssl::context& ctx = *ctx_ptr;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx.set_default_verify_paths();
  if (!config.upstream_ca.empty()) {
    beast::error_code ec;
    ctx.load_verify_file(config.upstream_ca, ec);
    if (ec)
      throw ConfigError("upstream_ca " + config.upstream_ca + ": cannot load (" + ec.message() +
                        ")");
  }
  ctx.set_verify_mode(ssl::verify_peer);
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.native_handle(), kAlpn, sizeof kAlpn);
  return ctx_ptr;
}

net::awaitable<std::string> connect_via_parent(beast::tcp_stream& stream, const HostPort& target) {
  std::string authority = target.host + ":" + std::to_string(target.port);
  http::request<http::empty_body> req{http::verb::connect, authority, 11};
  req.set(http::field::host, authority);
  beast::error_code ec;
  co_await http::async_write(stream, req, tok(ec));
  if (ec) co_return "parent proxy: " + ec.message();
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a CONNECT answer has no body
  co_await http::async_read_header(stream, buf, parser, tok(ec));
  if (ec) co_return "parent proxy: " + ec.message();
  if (parser.get().result_int() != 200)
    co_return "parent proxy answered " + std::to_string(parser.get().result_int()) +
        " to CONNECT " + authority;
  if (buf.size()) co_return "parent proxy sent data before the tunnel opened";
  co_return std::string();
}

namespace {

// A socket error as the client reads it; out of descriptors, the message names that, whatever
// the failing operation reported (descriptors.h).
std::string cause_of(const beast::error_code& ec) {
  const bool emfile = ec == boost::system::errc::too_many_files_open ||
                      ec == boost::system::errc::too_many_files_open_in_system;
  if (auto note = descriptor_exhaustion_note(emfile)) return *note + " (" + ec.message() + ")";
  return ec.message();
}

// The verified TLS handshake over a connected stream; sets conn.upstream.tls_stream.
net::awaitable<std::optional<UpstreamFailure>> handshake_upstream(
    Connection& conn, const Target& t, std::unique_ptr<beast::tcp_stream> stream) {
  beast::error_code ec;
  auto tls =
      std::make_unique<TlsStream>(std::move(*stream), conn.snap->upstream_tls->native_handle());
  SSL* ssl = tls->native_handle();
  beast::error_code addr_ec;
  auto ip = net::ip::make_address(t.host, addr_ec);
  if (addr_ec) {
    SSL_set_tlsext_host_name(ssl, t.host.c_str());
    SSL_set1_host(ssl, t.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip.to_string().c_str());
  }
  co_await tls->async_handshake(ssl::stream_base::client, tok(ec));
  if (ec) {
    std::string detail = ec.message();
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) detail = X509_verify_cert_error_string(verify);
    conn.sh.metrics.upstream_error(ec == beast::error::timeout ? "timeout" : "tls");
    conn.sh.metrics.tls_handshake_failure("upstream");
    co_return UpstreamFailure{
        ec == beast::error::timeout ? 504u : 502u,
        "promptgate could not establish verified TLS to " + t.host + ": " + detail};
  }
  conn.upstream.tls_stream = std::move(tls);
  co_return std::nullopt;
}

}  // namespace

net::awaitable<std::optional<UpstreamFailure>> connect_upstream(Connection& conn, const Target& t) {
  Upstream& up = conn.upstream;
  up.close();
  const ProxyConfig& cfg = conn.cfg();
  // A name from the ClientHello of a CONNECT to an address: that address, already checked.
  const HostPort target =
      t.address.empty() ? cfg.tcp_target({t.host, t.port}) : HostPort{t.address, t.port};
  // With a parent proxy, the TCP connection goes to it; it resolves and reaches the target.
  const HostPort where = cfg.upstream_proxy ? *cfg.upstream_proxy : target;
  auto ex = co_await net::this_coro::executor;
  beast::error_code ec;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
  if (ec)
    co_return UpstreamFailure{
        502, "promptgate could not resolve upstream host " + where.host + ": " + cause_of(ec)};
  if (!cfg.upstream_proxy)
    if (std::string refusal = internal_destination_refusal(
            cfg, t.address.empty() ? t.host : t.address, addresses_of(endpoints));
        !refusal.empty())
      co_return UpstreamFailure{403, refusal};
  auto stream = std::make_unique<beast::tcp_stream>(ex);
  stream->expires_after(ms(cfg.upstream_connect_timeout_ms));
  co_await stream->async_connect(endpoints, tok(ec));
  if (ec) conn.sh.metrics.upstream_error(ec == beast::error::timeout ? "timeout" : "connect");
  if (ec == beast::error::timeout)
    co_return UpstreamFailure{504, "promptgate timed out connecting to " + t.host};
  if (ec)
    co_return UpstreamFailure{502, "promptgate could not connect to " + t.host + ":" +
                                       std::to_string(t.port) + ": " + cause_of(ec)};
  stream->socket().set_option(tcp::no_delay(true), ec);
  if (cfg.upstream_proxy) {
    stream->expires_after(ms(cfg.upstream_connect_timeout_ms));
    if (std::string err = co_await connect_via_parent(*stream, target); !err.empty()) {
      conn.sh.metrics.upstream_error("connect");
      co_return UpstreamFailure{502, "promptgate could not reach " + t.host + ": " + err};
    }
  }
  up.host = t.host;
  up.address = t.address;
  up.port = t.port;
  up.tls = t.tls;
  if (!t.tls) {
    up.plain = std::move(stream);
    co_return std::nullopt;
  }
  co_return co_await handshake_upstream(conn, t, std::move(stream));
}

}  // namespace promptgate::proxy

#include "proxy/connection.h"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <iostream>

#include "proxy/client_answer.h"
#include "proxy/client_hello.h"
#include "proxy/destination_table.h"
#include "proxy/internal_address.h"
#include "proxy/read_deadline.h"
#include "proxy/request_handler.h"
#include "proxy/upstream.h"

namespace promptgate::proxy {
namespace {

using namespace net::experimental::awaitable_operators;

// A request head that could not be read is answered (431, 413, 400) and recorded; a client
// that went away, or went quiet between requests, is not.
template <class Client>
net::awaitable<void> refuse_unreadable_head(Connection& conn, Client& client,
                                            const http::request_parser<http::buffer_body>& parser,
                                            const beast::error_code& ec, bool first) {
  const ProxyConfig& cfg = conn.cfg();
  std::optional<Refusal> refusal;
  if (ec == http::error::header_limit)
    refusal = refuse(431, "invalid_request_error", "promptgate: request header too large", false);
  else if (ec == http::error::body_limit)
    refusal = refuse(413, "request_too_large",
                     "promptgate refused this request: the body is larger than the " +
                         std::to_string(cfg.max_body_bytes) + "-byte limit.",
                     false);
  else if (ec == beast::error::timeout && first)
    refusal = refuse(408, "invalid_request_error",
                     "promptgate: timed out waiting for the request header", false);
  else if (ec != beast::error::timeout && !client_went_away(ec))
    refusal = refuse(400, "invalid_request_error", "promptgate: malformed request: " + ec.message(),
                     false);
  if (!refusal) co_return;
  bool keep = false;
  if (refusal->status == 408) {  // nothing arrived: a probe or an idle client, not a request
    co_await send_response(
        client, error_response(refusal->status, refusal->type.c_str(), refusal->message, false));
    co_return;
  }
  AuditScope audit(conn.sh.audit_sinks(), new_event(conn));
  if (parser.is_header_done() || ec == http::error::body_limit)
    audit->method = std::string(parser.get().method_string());
  co_await send_refusal(client, std::move(*refusal), audit.event(), keep);
}

// Reads the next request header. False when the connection should end (after an error answer
// where one is due). While waiting, the connection counts as idle, so a drain may close it.
template <class Client>
net::awaitable<bool> read_request_header(Connection& conn, Client& client, beast::flat_buffer& buf,
                                         http::request_parser<http::buffer_body>& parser,
                                         bool first) {
  // The limits for the wait come from the config current now; `waiting` keeps it alive even if
  // a reload replaces conn.snap below.
  std::shared_ptr<const Snapshot> waiting = conn.sh.current();
  conn.snap = waiting;
  const ProxyConfig& cfg = *waiting->config;
  if (conn.sh.draining && !first) co_return false;
  parser.header_limit(cfg.max_header_bytes);
  parser.body_limit(cfg.max_body_bytes);
  // Chunk headers, extensions and trailers are parsed from this buffer but count against no
  // parser limit: bounding the buffer bounds them (an overlong one fails the read with 400).
  buf.max_size(cfg.max_header_bytes + 64 * 1024);
  beast::error_code ec;
  {
    // Leaves the socket open when it passes, so a first head that does not arrive gets its 408.
    ReadDeadline deadline(beast::get_lowest_layer(client),
                          ms(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
    conn.state->idle = true;
    co_await http::async_read_header(client, buf, parser, tok(ec));
    conn.state->idle = false;
    deadline.classify(ec);
  }
  // A connection may have idled across a reload: the request runs on the config current now.
  conn.snap = conn.sh.current();
  if (!ec) co_return true;
  co_await refuse_unreadable_head(conn, client, parser, ec, first);
  co_return false;
}

// Answers 429 to an address locked out after repeated wrong credentials.
template <class Client>
net::awaitable<void> refuse_throttled(Connection& conn, Client& client, AuditEvent& ev,
                                      std::chrono::seconds wait) {
  conn.sh.metrics.auth_failure("throttled");
  ev.decision = "deny";
  ev.status = 429;
  ev.error = "proxy authentication throttled after repeated failures";
  auto res = error_response(
      429, "rate_limit_error",
      "promptgate: too many wrong proxy credentials from this address; try again in " +
          std::to_string(wait.count()) +
          " s with the right USER:SECRET in HTTPS_PROXY (ask your gateway admin if unsure).",
      false);
  res.set(http::field::retry_after, std::to_string(wait.count()));
  co_await send_response(client, std::move(res));
}

// Proxy authentication (when a users file or a client CA is configured): sets conn.identity,
// or answers 407. PBKDF2 is slow on purpose, so the check runs on a small pool, off the
// connection's thread. `certificate_may_follow`: a CONNECT to an intercepted host, where a
// client certificate in the TLS handshake can stand in for missing credentials. The caller's
// audit scope records a refusal.
template <class Client>
net::awaitable<bool> authenticate(Connection& conn, Client& client,
                                  const http::request_header<>& req, AuditEvent& ev,
                                  bool certificate_may_follow = false) {
  const auto& creds = conn.snap->credentials;
  const auto& client_certs = conn.snap->client_certificates;
  if (!creds && !client_certs) co_return true;
  std::string header(creds ? std::string(req[http::field::proxy_authorization]) : std::string());
  std::optional<std::string> user;
  const std::string address = conn.client.substr(0, conn.client.rfind(':'));
  if (!header.empty()) {
    if (auto wait = conn.sh.login_throttle.locked_out(address)) {
      co_await refuse_throttled(conn, client, ev, *wait);
      co_return false;
    }
    auto home = co_await net::this_coro::executor;
    co_await net::post(conn.sh.auth_pool, net::use_awaitable);
    user = creds->check_basic(header);
    co_await net::post(home, net::use_awaitable);
    if (user)
      conn.sh.login_throttle.succeeded(address);
    else
      conn.sh.login_throttle.failed(address);
  }
  if (user) {
    conn.identity = Identity{*user, conn.cfg().groups_of(*user)};
    ev.user = conn.identity.user;
    ev.groups = conn.identity.groups;
    co_return true;
  }
  if (header.empty() && certificate_may_follow && client_certs) {
    conn.certificate_required = true;
    co_return true;
  }
  const char* reason = header.empty() ? "missing" : "invalid";
  conn.sh.metrics.auth_failure(reason);
  // With only client certificates configured there is no credential to ask for: a 407 must
  // carry a challenge (RFC 9110 15.5.8), and a Basic one would only prompt for a password that
  // does not exist. The destination is refused instead.
  const unsigned status = creds ? 407 : 403;
  ev.decision = "deny";
  ev.status = status;
  ev.error = std::string("proxy authentication ") + reason;
  std::string how =
      creds ? "Put your gateway credentials in the proxy URL: "
              "HTTPS_PROXY=http://USER:SECRET@host:port"
            : "This gateway identifies users by client certificate, which only works for "
              "intercepted hosts (the model APIs); this destination is not one of them.";
  auto res = error_response(status, creds ? "authentication_error" : "permission_error",
                            "promptgate: proxy authentication required. " + how, false);
  if (creds) res.set(http::field::proxy_authenticate, "Basic realm=\"promptgate\"");
  co_await send_response(client, std::move(res));
  co_return false;
}

// Reads requests on an established client stream (TLS after interception) until the client
// closes or an answer requires closing.
template <class Client>
net::awaitable<void> serve_requests(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    const Target& target) {
  for (bool first = true;; first = false) {
    http::request_parser<http::buffer_body> parser;
    if (!co_await read_request_header(conn, client, buf, parser, first)) co_return;
    bool keep = false;
    co_await handle_request(conn, client, buf, parser, target, std::string(parser.get().target()),
                            keep);
    if (!keep) co_return;
    // An idle keep-alive connection should not hold on to the buffers a large request grew.
    if (buf.size() == 0) buf.shrink_to_fit();
  }
}

net::awaitable<void> relay_bytes(tcp::socket& from, tcp::socket& to, uint64_t& count,
                                 Clock::time_point& last_activity) {
  std::array<char, 16 * 1024> data;
  beast::error_code ec;
  for (;;) {
    size_t n = co_await from.async_read_some(net::buffer(data), tok(ec));
    if (ec) break;
    last_activity = Clock::now();
    co_await net::async_write(to, net::buffer(data.data(), n), tok(ec));
    if (ec) break;
    count += n;
  }
  // Pass the half-close on; on a hard error, close both so the other direction ends too.
  beast::error_code ignored;
  if (ec == net::error::eof) {
    to.shutdown(tcp::socket::shutdown_send, ignored);
  } else {
    from.close(ignored);
    to.close(ignored);
  }
}

// Closes both sides of a tunnel once neither direction has moved a byte for `idle`; returns
// true when it did. Ends (false) when cancelled because the relays finished first.
net::awaitable<bool> tunnel_watchdog(tcp::socket& a, tcp::socket& b,
                                     const Clock::time_point& last_activity,
                                     std::chrono::milliseconds idle) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    const auto due = last_activity + idle;
    if (Clock::now() >= due) {
      beast::error_code ignored;
      a.close(ignored);
      b.close(ignored);
      co_return true;
    }
    timer.expires_at(due);
    beast::error_code ec;
    co_await timer.async_wait(tok(ec));
    if (ec) co_return false;
  }
}

// Why a CONNECT to hp (already parsed and authenticated) is refused; empty when it may go on.
std::string connect_refusal(const ProxyConfig& cfg, const HostPort& hp, Destination dest) {
  // CONNECT safety: only allowed ports, and no internal addresses named directly.
  bool named_by_operator = cfg.tcp_target(hp).host != hp.host || cfg.tcp_target(hp).port != hp.port;
  if (dest != Destination::deny && !named_by_operator &&
      std::find(cfg.allowed_connect_ports.begin(), cfg.allowed_connect_ports.end(), hp.port) ==
          cfg.allowed_connect_ports.end())
    return "promptgate: CONNECT to port " + std::to_string(hp.port) +
           " is not allowed (allowed_connect_ports).";
  if (dest != Destination::deny && is_internal_address(hp.host) &&
      !cfg.private_destination_allowed(hp.host))
    return "promptgate: " + hp.host +
           " is an internal address; the gateway does not "
           "connect there unless allowed_private_hosts lists it.";
  if (dest == Destination::deny)
    return "promptgate: connections to " + hp.host +
           " are not allowed by policy. Ask your security team if you need this destination.";
  return {};
}

// A CONNECT the policy refuses: 403 with the reason, recorded as a deny.
net::awaitable<void> deny_connect(beast::tcp_stream& stream, std::string refusal, AuditEvent& ev) {
  bool keep = false;
  Refusal r = refuse(403, "permission_error", std::move(refusal), false);
  r.decision = "deny";
  co_await send_refusal(stream, std::move(r), ev, keep);
}

constexpr std::string_view kConnectionEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

// How a CONNECT goes on once decided. After a CONNECT to an IP address the 200 went out before
// the decision (the ClientHello it is made on follows it): then a refusal or an upstream failure
// can only close the connection, and `server_name` is what the ClientHello named.
struct ConnectStart {
  bool established = false;
  std::string server_name;
};

// A tunnel: the bytes pass untouched both ways until either side closes.
net::awaitable<void> tunnel(Connection& conn, beast::tcp_stream& stream, beast::flat_buffer& buf,
                            const HostPort& hp, AuditEvent& ev, const ConnectStart& start) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = conn.cfg();
  beast::error_code ec;
  HostPort target = cfg.tcp_target(hp);
  HostPort where = cfg.upstream_proxy ? *cfg.upstream_proxy : target;
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
  std::string refusal;
  if (!ec && !cfg.upstream_proxy)
    refusal = internal_destination_refusal(cfg, hp.host, addresses_of(endpoints));
  if (!refusal.empty()) {
    if (start.established) {  // the 200 is out: closing is the only answer left
      ev.decision = "deny";
      ev.status = 403;
      ev.error = refusal;
    } else {
      co_await deny_connect(stream, refusal, ev);
    }
    co_return;
  }
  beast::tcp_stream upstream(ex);
  std::string failure;
  if (!ec) {
    upstream.expires_after(ms(cfg.upstream_connect_timeout_ms));
    co_await upstream.async_connect(endpoints, tok(ec));
  }
  if (ec)
    failure = ec.message();
  else if (cfg.upstream_proxy)
    failure = co_await connect_via_parent(upstream, target);
  if (!failure.empty()) {
    sh.metrics.upstream_error(ec == beast::error::timeout ? "timeout" : "connect");
    ev.decision = "error";
    ev.status = 502;
    ev.error = "tunnel connect failed: " + failure;
    if (!start.established)
      co_await send_response(
          stream,
          error_response(502, "api_error",
                         "promptgate could not connect to " + hp.host + ": " + failure, false));
    co_return;
  }
  stream.expires_never();
  if (!start.established)
    co_await net::async_write(stream, net::buffer(kConnectionEstablished), tok(ec));
  if (ec) {
    ev.decision = "error";
    ev.error = "client closed the connection before the tunnel opened";
    co_return;
  }
  if (is_model_host(hp.host)) sh.metrics.model_host_tunnelled(hp.host);
  if (is_model_host(start.server_name)) sh.metrics.model_host_tunnelled(start.server_name);
  tcp::socket client_sock = stream.release_socket();
  tcp::socket upstream_sock = upstream.release_socket();
  conn.state->socket = &client_sock;
  if (buf.size()) {  // bytes the client sent right after the CONNECT header
    co_await net::async_write(upstream_sock, buf.data(), tok(ec));
    ev.tunnel_bytes_up += buf.size();
    buf.consume(buf.size());
  }
  Clock::time_point last_activity = Clock::now();
  auto ended = co_await (
      (relay_bytes(client_sock, upstream_sock, ev.tunnel_bytes_up, last_activity) &&
       relay_bytes(upstream_sock, client_sock, ev.tunnel_bytes_down, last_activity)) ||
      tunnel_watchdog(client_sock, upstream_sock, last_activity, ms(cfg.tunnel_idle_timeout_ms)));
  conn.state->socket = nullptr;
  ev.decision = "tunnel";
  ev.status = 200;
  if (ended.index() == 1 && std::get<1>(ended))
    ev.error = "tunnel closed after " + std::to_string(cfg.tunnel_idle_timeout_ms) +
               " ms without traffic (timeouts.tunnel_idle_ms)";
}

HandshakeFailure classify_handshake_error(const beast::error_code& ec) {
  unsigned long ssl_error =
      ec.category() == net::error::get_ssl_category() ? static_cast<unsigned long>(ec.value()) : 0;
  bool closed = ec == net::ssl::error::stream_truncated || ec == net::error::eof ||
                ec == net::error::connection_reset || ec == net::error::broken_pipe;
  bool timed_out = ec == beast::error::timeout || ec == net::error::timed_out;
  return classify_client_handshake(ssl_error, closed, timed_out, ec.message());
}

// One short stderr line per failed handshake (a misconfigured client retrying is held to a
// few a minute): its counterpart of the client's "certificate verification failed".
void say_handshake_failure(Shared& sh, const std::string& client, const std::string& host,
                           const HandshakeFailure& why) {
  unsigned held = 0;
  {
    std::lock_guard lock(sh.handshake_log_mu);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    if (!sh.handshake_log.allow(now.count(), held)) return;
  }
  std::string line = "promptgate: client TLS handshake failed: " + client + " -> " + host + ": " +
                     why.kind + " (" + why.advice + ")";
  if (held) line += " [" + std::to_string(held) + " more not shown]";
  std::cerr << line + "\n" << std::flush;
}

// Interception: answer 200, then be the TLS server for hp.host with a minted leaf, and serve
// the requests inside (each records itself; `audit` records only a failed handshake). With an
// `address`, hp.host came from the ClientHello of a CONNECT to that address, where the upstream
// connection goes.
net::awaitable<void> intercept(Connection& conn, beast::tcp_stream& stream, beast::flat_buffer& buf,
                               const HostPort& hp, AuditScope& audit, const ConnectStart& start,
                               const std::string& address) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = conn.cfg();
  AuditEvent& ev = audit.event();
  beast::error_code ec;
  if (!start.established)
    co_await net::async_write(stream, net::buffer(kConnectionEstablished), tok(ec));
  if (ec) {
    audit.cancel();
    co_return;
  }
  TlsStream tls(std::move(stream), sh.client_tls.native_handle());
  conn.state->socket = &beast::get_lowest_layer(tls).socket();
  CertificateAuthority::set_fallback_host(tls.native_handle(), hp.host);
  if (conn.certificate_required) conn.snap->client_certificates->require_on(tls.native_handle());
  beast::get_lowest_layer(tls).expires_after(ms(cfg.header_timeout_ms));
  size_t used = co_await tls.async_handshake(ssl::stream_base::server, buf.data(), tok(ec));
  CertificateIdentity from_certificate;
  if (conn.certificate_required) {
    from_certificate = ClientCertificateTrust::identity_of(tls.native_handle());
    if (!ec && from_certificate.user.empty()) ec = net::error::access_denied;
    if (ec) {  // no certificate, or one we do not trust: nothing was read, nothing forwarded
      if (from_certificate.refusal.empty()) from_certificate.refusal = ec.message();
      sh.metrics.auth_failure("certificate");
      ev.decision = "deny";
      ev.error = "client certificate authentication failed: " + from_certificate.refusal;
    }
  }
  if (ec) {  // a client that does not trust our CA, or that sent something other than TLS
    sh.metrics.tls_handshake_failure("client");
    conn.state->socket = nullptr;
    if (ev.decision.empty()) {
      ev.decision = "error";
      HandshakeFailure why = classify_handshake_error(ec);
      ev.tls_failure = why.kind;
      ev.error = "client TLS handshake failed: " + why.kind + "; " + why.advice + " (" +
                 ec.message() + ")";
      const char* sni = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name);
      say_handshake_failure(sh, ev.client, sni && *sni ? sni : hp.host, why);
    }
    co_return;
  }
  audit.cancel();  // the requests inside the tunnel record themselves
  if (conn.certificate_required)
    conn.identity = Identity{from_certificate.user, cfg.groups_of(from_certificate.user)};
  buf.consume(used);
  // The upstream and the policy are chosen by the CONNECT target, not by the Host header.
  Target target{hp.host, hp.port, true, Destination::intercept, address};
  co_await serve_requests(conn, tls, buf, target);
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
  co_await tls.async_shutdown(tok(ec));
  conn.state->socket = nullptr;
}

// What the ClientHello after a CONNECT to an IP address names; the bytes stay in the buffer.
struct ServerNamePeek {
  std::string name;          // empty: none (not TLS, no SNI, malformed, too large, too slow)
  bool client_gone = false;  // the client closed before a decision could be made
};

// TLS clients send their ClientHello at once; a client that says nothing for this long is not
// one (or waits for the server to speak first) and follows the address's policy.
constexpr uint32_t kClientHelloWaitMs = 5'000;

// Reads from the client until its first bytes show a whole ClientHello or cannot be one.
// Reads on the socket itself, raced against a timer: a timeout on the beast stream would close it.
net::awaitable<ServerNamePeek> peek_server_name(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                                const ProxyConfig& cfg) {
  ServerNamePeek out;
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(ms(std::min(cfg.header_timeout_ms, kClientHelloWaitMs)));
  const size_t limit = std::min(buf.max_size(), kMaxClientHelloBufferBytes);
  for (;;) {
    auto seen = buf.data();
    ClientHelloPeek p =
        peek_client_hello(std::string_view(static_cast<const char*>(seen.data()), seen.size()));
    if (p.status != ClientHelloPeek::need_more) {
      out.name = p.server_name;
      break;
    }
    if (buf.size() >= limit) break;
    beast::error_code ec, timer_ec;
    auto read = co_await (stream.socket().async_read_some(
                              buf.prepare(std::min<size_t>(limit - buf.size(), 16384)), tok(ec)) ||
                          timer.async_wait(tok(timer_ec)));
    if (read.index() == 1) break;  // the wait is over: no name
    buf.commit(std::get<0>(read));
    if (ec) {
      out.client_gone = true;
      break;
    }
  }
  co_return out;
}

// A CONNECT to an IP address, already checked as an address (port, internal ranges, deny):
// answer 200, peek at the ClientHello and decide by its server name. An intercepted name is
// read as if the client had CONNECTed to it, though the upstream connection still goes to the
// address; a denied name closes the connection; another name, or none, follows the address's
// own policy (`own`). See docs/model-hosts.md.
net::awaitable<void> connect_by_server_name(Connection& conn, beast::tcp_stream& stream,
                                            beast::flat_buffer& buf, const HostPort& hp,
                                            Destination own, AuditScope& audit) {
  const ProxyConfig& cfg = conn.cfg();
  AuditEvent& ev = audit.event();
  beast::error_code ec;
  co_await net::async_write(stream, net::buffer(kConnectionEstablished), tok(ec));
  ServerNamePeek peek;
  if (!ec) peek = co_await peek_server_name(stream, buf, cfg);
  if (ec || peek.client_gone) {
    ev.decision = "error";
    ev.error = "client closed the connection before its TLS ClientHello";
    co_return;
  }
  const ConnectStart start{true, peek.name};
  const Destination by_name = peek.name.empty() ? own : cfg.destination_for(peek.name);
  if (by_name == Destination::deny) {
    ev.decision = "deny";
    ev.destination = to_string(by_name);
    ev.error = "promptgate: the TLS ClientHello names " + peek.name +
               ", which is not allowed by policy; the connection to " + hp.host + " was closed.";
    co_return;
  }
  if (by_name == Destination::intercept || own == Destination::intercept) {
    ev.destination = to_string(Destination::intercept);
    // Named, not temporaries: GCC 12 may destroy a temporary in a co_await expression twice.
    const HostPort named = peek.name.empty() ? hp : HostPort{peek.name, hp.port};
    const std::string address = peek.name.empty() ? std::string() : hp.host;
    ev.host = named.host;
    co_await intercept(conn, stream, buf, named, audit, start, address);
    co_return;
  }
  if (conn.certificate_required) {  // let through for a certificate that a tunnel never checks
    conn.sh.metrics.auth_failure("certificate");
    ev.decision = "deny";
    ev.error =
        "proxy authentication missing: client certificates only identify users on "
        "intercepted connections";
    co_return;
  }
  co_await tunnel(conn, stream, buf, hp, ev, start);
}

net::awaitable<void> handle_connect(Connection& conn, beast::tcp_stream& stream,
                                    beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser) {
  const ProxyConfig& cfg = conn.cfg();
  AuditScope audit(conn.sh.audit_sinks(), new_event(conn));
  AuditEvent& ev = audit.event();
  ev.method = "CONNECT";
  HostPort hp;
  std::string refusal;
  try {
    hp = parse_host_port(parser.get().target(), "CONNECT target");
  } catch (const std::exception& e) {
    refusal = e.what();
  }
  // A CONNECT to an IP address may turn out to be intercepted (by its ClientHello's name).
  bool certificate_may_follow =
      refusal.empty() &&
      (cfg.destination_for(hp.host) == Destination::intercept || is_ip_literal(hp.host));
  if (!co_await authenticate(conn, stream, parser.get(), ev, certificate_may_follow)) co_return;
  if (!refusal.empty()) {
    ev.decision = "error";
    ev.status = 400;
    ev.error = refusal;
    co_await send_response(
        stream, error_response(400, "invalid_request_error", "promptgate: " + refusal, false));
    co_return;
  }
  ev.host = hp.host;
  ev.port = hp.port;
  Destination dest = cfg.destination_for(hp.host);
  ev.destination = to_string(dest);
  refusal = connect_refusal(cfg, hp, dest);
  if (!refusal.empty()) {
    co_await deny_connect(stream, refusal, ev);
    co_return;
  }
  const ConnectStart fresh;   // the 200 is still to be sent
  const std::string by_name;  // hp.host is the name: resolved, not an address given
  if (is_ip_literal(hp.host))
    co_await connect_by_server_name(conn, stream, buf, hp, dest, audit);
  else if (dest == Destination::tunnel)
    co_await tunnel(conn, stream, buf, hp, ev, fresh);
  else
    co_await intercept(conn, stream, buf, hp, audit, fresh, by_name);
}

// The target of an absolute-form request (http://host[:port]/path); an error (possibly empty
// text) when the URL cannot be read.
std::optional<std::string> parse_absolute_url(std::string_view url, Target& target,
                                              std::string& path) {
  std::string_view rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  target.tls = false;
  try {
    if (authority.find(':') != std::string_view::npos && authority.back() != ']') {
      HostPort hp = parse_host_port(authority, "URL");
      target.host = hp.host;
      target.port = hp.port;
    } else {
      target.host = std::string(authority);
      target.port = 80;
    }
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  if (target.host.empty()) return std::string();
  return std::nullopt;
}

// A plain-HTTP request in absolute form. False when the connection should end.
net::awaitable<bool> serve_plain_request(Connection& conn, beast::tcp_stream& stream,
                                         beast::flat_buffer& buf,
                                         http::request_parser<http::buffer_body>& parser) {
  const ProxyConfig& cfg = conn.cfg();
  auto& req = parser.get();
  AuditScope audit(conn.sh.audit_sinks(), new_event(conn));
  AuditEvent& ev = audit.event();
  ev.method = std::string(req.method_string());
  bool keep = false;
  // Absolute-form: http://host[:port]/path. https:// URLs must come through CONNECT.
  std::string_view url = req.target();
  if (url.substr(0, 7) != "http://") {
    co_await send_refusal(stream,
                          refuse(400, "invalid_request_error",
                                 "promptgate is a forward proxy: send CONNECT host:port or an "
                                 "absolute http:// URL (set HTTPS_PROXY=http://<this address>)",
                                 false),
                          ev, keep);
    co_return false;
  }
  if (!co_await authenticate(conn, stream, req, ev)) co_return false;
  Target target;
  std::string path;
  std::optional<std::string> bad_url = parse_absolute_url(url, target, path);
  if (bad_url) {
    co_await send_refusal(
        stream, refuse(400, "invalid_request_error", "promptgate: bad URL " + *bad_url, false), ev,
        keep);
    co_return false;
  }
  ev.host = target.host;
  ev.port = target.port;
  target.destination = cfg.destination_for(target.host);
  ev.destination = to_string(target.destination);
  if (target.destination == Destination::deny) {
    Refusal r =
        refuse(403, "permission_error",
               "promptgate: requests to " + target.host + " are not allowed by policy.", false);
    r.decision = "deny";
    co_await send_refusal(stream, std::move(r), ev, keep);
    co_return false;
  }
  if (target.destination == Destination::tunnel && is_model_host(target.host))
    conn.sh.metrics.model_host_tunnelled(target.host);
  audit.cancel();  // the request records itself
  co_await handle_request(conn, stream, buf, parser, target, path, keep);
  co_return keep;
}

}  // namespace

// A new client connection: CONNECT (then intercept / tunnel / deny) or plain-HTTP proxying of
// absolute-form requests.
net::awaitable<void> serve_client(Shared& sh, tcp::socket socket, std::shared_ptr<ConnState> state,
                                  UpstreamPool& pool) {
  beast::error_code ec;
  Connection conn{sh, {}, {}, sh.current(), state, pool, {}};
  auto remote = socket.remote_endpoint(ec);
  if (!ec) conn.client = remote.address().to_string() + ":" + std::to_string(remote.port());
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  state->socket = &stream.socket();
  beast::flat_buffer buf;
  for (bool first = true;; first = false) {
    http::request_parser<http::buffer_body> parser;
    if (!co_await read_request_header(conn, stream, buf, parser, first)) break;
    if (parser.get().method() == http::verb::connect) {
      co_await handle_connect(conn, stream, buf, parser);
      break;
    }
    if (!co_await serve_plain_request(conn, stream, buf, parser)) break;
  }
  state->socket = nullptr;
}

}  // namespace promptgate::proxy

// The proxy server: listener, CONNECT handling, TLS interception, request scanning, upstream
// forwarding and response streaming. Written as C++20 coroutines on Asio so each connection
// reads top to bottom; one io_context per thread, so a connection and its scanner never move
// between threads and the scan path takes no lock.
#include "server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "body_budget.h"
#include "content_decoding.h"
#include "direct_tls_stream.h"
#include "metrics.h"
#include "override.h"
#include "policy.h"
#include "proxy_auth.h"
#include "redactor.h"
#include "sse_restorer.h"
#include "token_vault.h"
#include "transcript.h"

namespace promptgate::proxy {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
// OpenSSL on the socket itself: no BIO-pair copies, a few KB per idle session (see its header).
using TlsStream = DirectTlsStream;
using Clock = std::chrono::steady_clock;
using namespace net::experimental::awaitable_operators;

// An allocator that leaves new elements uninitialised: a request body buffer is sized from
// Content-Length and then overwritten by the read, so zero-filling it first is wasted work.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using BodyBytes = std::vector<char, UninitializedAllocator<char>>;
// The request promptgate sends upstream; its body is the client's bytes, moved, not copied.
using ForwardRequest = http::request<http::vector_body<char, UninitializedAllocator<char>>>;

std::string_view as_view(const BodyBytes& b) {
  return std::string_view(b.data(), b.size());
}

auto tok(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

std::chrono::milliseconds ms(uint32_t v) {
  return std::chrono::milliseconds(v);
}

uint64_t micros_since(Clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
}

// What a reload replaces as a whole: config, compiled rules, users, upstream TLS trust. A request
// takes the snapshot current when it starts and finishes on it, whatever reloads happen meanwhile.
struct Snapshot {
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const Credentials> credentials;  // null: no proxy authentication
  std::shared_ptr<const ClientCertificateTrust> client_certificates;  // null: no mTLS
  std::shared_ptr<const KnownSecrets> known_secrets;
  std::shared_ptr<ssl::context> upstream_tls;
  // Transcript blocks already scanned clean under these rules; null when incremental scanning
  // is off. A reload starts from nothing.
  std::shared_ptr<SeenBlocks> seen_blocks;
  std::unordered_map<std::string_view, const Rule*> rule_by_id;  // stand-ins take the rule's shape
  uint64_t generation = 0;
};

// Per-connection state the drain logic can reach from another thread: it only ever posts to the
// connection's own executor, where `socket` and `idle` are read and written.
struct ConnState {
  net::any_io_executor executor;
  tcp::socket* socket = nullptr;  // the lowest layer, wherever it currently lives
  bool idle = true;               // waiting for the next request header
  std::string client_ip;
};

// Everything the connections share. The snapshot is swapped atomically by reloads; the rest is
// fixed at start apart from counters and the connection registry (touched on connect and close
// only, never on the scan path).
struct Shared {
  explicit Shared(ServerSetup s) : setup(std::move(s)), client_tls(make_client_tls(*setup.ca)) {}
  ServerSetup setup;
  ssl::context client_tls;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot;
  Metrics metrics;
  std::string request_id_prefix;
  std::atomic<uint64_t> next_request_id{1};
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> active_connections{0};
  BodyBudget body_budget;             // request bytes held in memory, all connections together
  LoginThrottle login_throttle;       // backoff for wrong proxy credentials, per client address
  std::unique_ptr<TokenVault> vault;  // action tokenize: stand-ins per conversation owner
  OverrideBook overrides;             // justified overrides: codes and grants, across reloads
  net::thread_pool auth_pool{2};      // password hashing and reload compiles, off the io threads

  std::mutex registry_mu;
  std::unordered_map<uint64_t, std::shared_ptr<ConnState>> connections;
  std::unordered_map<std::string, uint32_t> per_client;
  uint64_t next_connection_id = 1;

  std::shared_ptr<const Snapshot> current() const { return snapshot.load(); }
  static ssl::context make_client_tls(CertificateAuthority& ca);
};

ssl::context Shared::make_client_tls(CertificateAuthority& ca) {
  SSL_CTX* ctx = ca.client_facing_context();
  SSL_CTX_up_ref(ctx);  // asio's context frees what it wraps; the CA keeps its own reference
  // Idle connections give their TLS record buffers back (about 34 KB per connection).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ssl::context(ctx);
}

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

// The engine's scanner for this thread, rebuilt if the rule set changed.
// Shared: a request holds its scanner across its reads, while a reload may replace the thread's.
std::shared_ptr<Scanner> thread_scanner(const Shared& sh, const Snapshot& snap) {
  thread_local std::shared_ptr<Scanner> scanner;
  thread_local const KnownSecrets* known = nullptr;
  if (!scanner || scanner->rules() != snap.rules) {
    scanner = std::make_shared<Scanner>(snap.rules, sh.setup.key);
    known = nullptr;
  }
  if (known != snap.known_secrets.get()) {
    scanner->set_known_secrets(snap.known_secrets);
    known = snap.known_secrets.get();
  }
  return scanner;
}

// Anthropic-API-shaped error answers, so clients print them as they print the API's own.
http::response<http::string_body> error_response(unsigned status, const char* type,
                                                 const std::string& message, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.set("x-promptgate", "1");
  nlohmann::ordered_json body = {{"type", "error"},
                                 {"error", {{"type", type}, {"message", message}}}};
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// True when every Transfer-Encoding coding is chunked: a compressed transfer coding would be
// decoded by nobody (the proxy scans and forwards the bytes as they came).
bool only_chunked(const http::fields& fields) {
  for (auto [it, end] = fields.equal_range(http::field::transfer_encoding); it != end; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
        coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
        coding.remove_suffix(1);
      if (!coding.empty() && !beast::iequals(coding, "chunked")) return false;
    }
  }
  return true;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "proxy-authorization",
                                                "proxy-authenticate",
                                                "te",
                                                "trailer",
                                                "transfer-encoding",
                                                "upgrade",
                                                "expect",
                                                "content-length"};
  for (auto n : kNames)
    if (beast::iequals(n, name)) return true;
  return false;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

// The model named in a JSON body, for the audit log: the first top-level-looking "model" key
// with a short, name-like string value. Cheap on purpose (no second JSON parse on the hot path).
std::string model_of(std::string_view body) {
  size_t pos = 0;
  while ((pos = body.find("\"model\"", pos)) != std::string_view::npos) {
    size_t i = pos + 7;
    pos = i;
    if (pos > 7 && body[pos - 8] == '\\') continue;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t')) ++i;
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t')) ++i;
    if (i >= body.size() || body[i] != '"') continue;
    size_t end = body.find('"', i + 1);
    if (end == std::string_view::npos || end - i - 1 > 100) return {};
    std::string_view v = body.substr(i + 1, end - i - 1);
    for (char c : v)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
            c == ':' || c == '/' || c == '@'))
        return {};
    return std::string(v);
  }
  return {};
}

struct Target {
  std::string host;
  uint16_t port = 443;
  bool tls = true;
  Destination destination = Destination::intercept;
};

// The Host header for a target: the port only when it is not the scheme's default.
std::string host_header_for(const Target& target) {
  const bool bare_ipv6 = target.host.find(':') != std::string::npos && target.host[0] != '[';
  std::string host = bare_ipv6 ? "[" + target.host + "]" : target.host;
  if (target.port != (target.tls ? 443 : 80)) host += ":" + std::to_string(target.port);
  return host;
}

// One upstream connection, kept open across a client connection's keep-alive requests.
struct Upstream {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  std::unique_ptr<TlsStream> tls_stream;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;

  bool connected_to(const Target& t) const {
    return (tls_stream || plain) && host == t.host && port == t.port && tls == t.tls;
  }
  void close() {
    beast::error_code ec;
    if (tls_stream) tls_stream->socket().close(ec);
    if (plain) plain->socket().close(ec);
    tls_stream.reset();
    plain.reset();
    buffer.clear();
  }
};

// Idle upstream connections of one io thread, shared by every client connection on that thread.
// A client connection holds an upstream connection only while a request is in flight, so an
// idle client costs one TLS session instead of two (memory, descriptors), and a new client reuses
// a warm connection instead of paying a TCP and TLS handshake. Only its own thread touches it, so
// it takes no lock. Connections are keyed by target and snapshot generation (a reload may change
// upstream trust, connect_to or the parent proxy), newest last; a stale one is caught by
// forward_request's retry, and connections idle for longer than kMaxIdle are closed.
class UpstreamPool {
 public:
  static constexpr size_t kMaxIdlePerTarget = 1024;
  static constexpr size_t kMaxIdleTotal = 4096;  // per thread, all targets together
  static constexpr std::chrono::seconds kMaxIdle{30};

  std::optional<Upstream> take(const Target& t, uint64_t generation) {
    auto it = idle_.find(key(t, generation));
    if (it == idle_.end()) return std::nullopt;
    prune(it->second);
    if (it->second.empty()) {
      idle_.erase(it);
      return std::nullopt;
    }
    Upstream up = std::move(it->second.back().upstream);
    it->second.pop_back();
    return up;
  }
  void give(Upstream&& up, const Target& t, uint64_t generation) {
    // Bytes after the answer belong to nobody: such a connection must not serve another client.
    if (up.buffer.size() != 0) {
      up.close();
      return;
    }
    up.buffer.shrink_to_fit();
    // Connections made under an older snapshot are never taken again; idle ones expire. Every
    // target is swept, so a target nobody asks for again does not hold its sockets.
    size_t total = 0;
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->first.generation >= generation) prune(it->second);
      if (it->first.generation < generation || it->second.empty()) {
        it = idle_.erase(it);
      } else {
        total += it->second.size();
        ++it;
      }
    }
    auto& list = idle_[key(t, generation)];
    if (list.size() >= kMaxIdlePerTarget || total >= kMaxIdleTotal) {
      if (list.empty()) {
        up.close();
        return;
      }
      list.front().upstream.close();
      list.pop_front();
    }
    list.push_back({std::move(up), Clock::now()});
  }

 private:
  struct Key {
    std::string host;
    uint16_t port;
    bool tls;
    uint64_t generation;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string>{}(k.host) ^ (size_t{k.port} << 1) ^ (k.tls ? 0x9e37 : 0) ^
             (k.generation * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Idle {
    Upstream upstream;
    Clock::time_point since;
  };
  static Key key(const Target& t, uint64_t generation) {
    return {t.host, t.port, t.tls, generation};
  }
  static void prune(std::deque<Idle>& list) {
    const auto cutoff = Clock::now() - kMaxIdle;
    while (!list.empty() && list.front().since < cutoff) {
      list.front().upstream.close();
      list.pop_front();
    }
  }
  std::unordered_map<Key, std::deque<Idle>, KeyHash> idle_;
};

struct Connection {
  Shared& sh;
  std::string client;  // address:port
  Upstream upstream;
  std::shared_ptr<const Snapshot> snap;  // refreshed at the start of every request
  std::shared_ptr<ConnState> state;
  UpstreamPool& pool;  // idle upstream connections of this connection's thread
  Identity identity;   // from Proxy-Authorization on CONNECT (or on each plain request)
  // A CONNECT without proxy credentials to an intercepted host, let through because the client
  // may identify itself with a certificate in the TLS handshake that follows (which then must).
  bool certificate_required = false;
  const ProxyConfig& cfg() const { return *snap->config; }
  // Whose conversation this is: the authenticated user, else the client's address. One key
  // for every per-client memory (seen blocks, stand-ins, override codes).
  std::string conversation_owner() const { return override_identity_key(identity, client); }
};

// Every request and CONNECT ends here: one audit line and the matching metrics.
void record(Shared& sh, AuditEvent& ev) {
  ev.duration_ms = micros_since(ev.started) / 1000;
  sh.setup.audit->write(ev);
  sh.metrics.request(ev.host, ev.decision, static_cast<double>(micros_since(ev.started)) / 1e6);
  for (size_t i = 0; i < ev.findings.size(); ++i)
    sh.metrics.finding(ev.findings[i].rule_id, to_string(ev.findings[i].category),
                       to_string(i < ev.actions.size() ? ev.actions[i] : ev.findings[i].action));
  if (ev.upstream_status) sh.metrics.upstream_time(static_cast<double>(ev.upstream_ms) / 1e3);
  if (ev.tunnel_bytes_up || ev.tunnel_bytes_down)
    sh.metrics.tunnel_bytes(ev.tunnel_bytes_up, ev.tunnel_bytes_down);
  if (ev.tokenized || ev.restored || ev.unrestorable) {
    sh.metrics.tokenize(ev.tokenized, ev.restored, ev.unrestorable);
    VaultStats vs = sh.vault->stats();
    sh.metrics.set_tokenize_map(vs.conversations, vs.entries);
  }
}

AuditEvent new_event(Connection& conn) {
  AuditEvent ev;
  ev.request_id = conn.sh.request_id_prefix + std::to_string(conn.sh.next_request_id++);
  ev.client = conn.client;
  ev.user = conn.identity.user;
  ev.groups = conn.identity.groups;
  ev.mode = to_string(conn.cfg().mode);
  return ev;
}

// Loopback, private, link-local, CGNAT, multicast and unspecified addresses: where a gateway must
// not let clients reach unless the operator said so.
bool is_internal_address(const net::ip::address& a) {
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
      return is_internal_address(net::ip::make_address_v4(net::ip::v4_mapped, v6));
    auto b = v6.to_bytes();
    return v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() ||
           (b[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
  }
  uint32_t v = a.to_v4().to_uint();
  auto in = [&](uint32_t net_addr, int bits) {
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (v & mask) == (net_addr & mask);
  };
  return in(0x00000000, 8) || in(0x0A000000, 8) || in(0x7F000000, 8) || in(0xA9FE0000, 16) ||
         in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x64400000, 10) || in(0xE0000000, 4) ||
         v == 0xFFFFFFFF;
}

// Why connecting to `host` (resolved to `endpoints`) is refused, or empty when it is allowed.
template <class Endpoints>
std::string internal_destination_refusal(const ProxyConfig& cfg, const std::string& host,
                                         const Endpoints& endpoints) {
  if (cfg.private_destination_allowed(host)) return {};
  for (const auto& e : endpoints)
    if (is_internal_address(e.endpoint().address()))
      return "promptgate: " + host + " resolves to an internal address (" +
             e.endpoint().address().to_string() +
             "); the gateway does not connect there unless allowed_private_hosts lists it.";
  return {};
}

struct UpstreamFailure {
  unsigned status = 0;  // 502 or 504 (403: an internal address refused)
  std::string message;
  const char* kind = nullptr;  // set when the metric is still to be counted
};

// Through a parent proxy: ask it to CONNECT to `target`; empty on success, else why not.
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

net::awaitable<std::optional<UpstreamFailure>> connect_upstream(Connection& conn, const Target& t) {
  Upstream& up = conn.upstream;
  up.close();
  const ProxyConfig& cfg = conn.cfg();
  const HostPort target = cfg.tcp_target({t.host, t.port});
  // With a parent proxy, the TCP connection goes to it; it resolves and reaches the target.
  const HostPort where = cfg.upstream_proxy ? *cfg.upstream_proxy : target;
  auto ex = co_await net::this_coro::executor;
  beast::error_code ec;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
  if (ec)
    co_return UpstreamFailure{
        502, "promptgate could not resolve upstream host " + where.host + ": " + ec.message()};
  if (!cfg.upstream_proxy)
    if (std::string refusal = internal_destination_refusal(cfg, t.host, endpoints);
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
                                       std::to_string(t.port) + ": " + ec.message()};
  stream->socket().set_option(tcp::no_delay(true), ec);
  if (cfg.upstream_proxy) {
    stream->expires_after(ms(cfg.upstream_connect_timeout_ms));
    if (std::string err = co_await connect_via_parent(*stream, target); !err.empty()) {
      conn.sh.metrics.upstream_error("connect");
      co_return UpstreamFailure{502, "promptgate could not reach " + t.host + ": " + err};
    }
  }
  up.host = t.host;
  up.port = t.port;
  up.tls = t.tls;
  if (!t.tls) {
    up.plain = std::move(stream);
    co_return std::nullopt;
  }
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
  up.tls_stream = std::move(tls);
  co_return std::nullopt;
}

// Writes the request upstream, reads the response header, then streams the body to the client
// piece by piece as it arrives (an SSE event is written as soon as it is read).
struct Exchange {
  bool sent = false;              // the request reached the upstream socket
  bool response_started = false;  // a response header arrived
  bool client_keep_alive = false;
  bool upstream_reusable = false;
  unsigned upstream_status = 0;
  uint64_t upstream_ms = 0;
  std::optional<UpstreamFailure> failure;
  bool client_failed = false;
  uint64_t restored = 0, unrestorable = 0;  // action tokenize: stand-ins put back in the answer
};

// One piece of an answer's body to the client, in a chunk of its own when the answer is chunked.
template <class Client>
net::awaitable<void> write_body_piece(Client& out, bool chunked, std::string_view bytes,
                                      uint32_t timeout_ms, beast::error_code& ec) {
  if (bytes.empty()) co_return;
  beast::get_lowest_layer(out).expires_after(ms(timeout_ms));
  if (chunked)
    co_await net::async_write(out, http::make_chunk(net::buffer(bytes.data(), bytes.size())),
                              tok(ec));
  else
    co_await net::async_write(out, net::buffer(bytes.data(), bytes.size()), tok(ec));
}

template <class Client, class Up>
net::awaitable<void> exchange(const ProxyConfig& cfg, Client& client, Up& up,
                              beast::flat_buffer& ubuf, ForwardRequest& req,
                              bool client_wants_keep_alive,
                              const std::shared_ptr<const Substitutions>& restore,
                              BodyBudget::Hold* held, Exchange& x) {
  beast::error_code ec;
  auto t0 = Clock::now();
  auto& up_lowest = beast::get_lowest_layer(up);
  up_lowest.expires_after(ms(cfg.upstream_response_timeout_ms));
  co_await http::async_write(up, req, tok(ec));
  if (ec) {
    x.failure = UpstreamFailure{
        502, "promptgate could not send the request upstream: " + ec.message(), "protocol"};
    co_return;
  }
  x.sent = true;
  http::response_parser<http::buffer_body> rp;
  rp.body_limit(boost::none);
  if (req.method() == http::verb::head) rp.skip(true);
  co_await http::async_read_header(up, ubuf, rp, tok(ec));
  if (ec) {
    x.failure =
        ec == beast::error::timeout
            ? UpstreamFailure{504, "promptgate timed out waiting for the upstream", "timeout"}
            : UpstreamFailure{502,
                              "promptgate got no valid response from the upstream: " + ec.message(),
                              "protocol"};
    co_return;
  }
  x.response_started = true;
  // No retry after this point, so the request body is no longer needed.
  ForwardRequest::body_type::value_type().swap(req.body());
  if (held) held->set(0);
  x.upstream_ms = micros_since(t0) / 1000;
  auto& res = rp.get();
  x.upstream_status = res.result_int();
  bool upstream_keep = res.keep_alive();
  for (auto name : {"keep-alive", "proxy-connection"}) res.erase(name);
  res.keep_alive(client_wants_keep_alive);
  // Stand-ins are put back into an SSE answer as it streams (the restorer holds back at most
  // a stand-in's length), and into a JSON answer once it is complete. An encoded answer (we
  // asked for identity) passes untouched.
  std::string_view encoding = res[http::field::content_encoding];
  const bool restoring = restore && req.method() != http::verb::head &&
                         (encoding.empty() || beast::iequals(encoding, "identity"));
  std::string_view content_type = res[http::field::content_type];
  std::optional<StreamRestorer> sse;
  std::optional<std::string> whole;  // a JSON answer, collected
  if (restoring && content_type.substr(0, 17) == "text/event-stream") {
    sse.emplace(restore);
    res.erase(http::field::content_length);
    res.chunked(true);
  } else if (restoring && content_type.find("json") != std::string_view::npos) {
    whole.emplace();
  }
  Client& out = client;
  // The header goes out at once (a collected answer: once it is complete); then each piece of
  // body is written as soon as it is read, with our own chunk framing when the response is
  // chunked (so an SSE event is never held back).
  if (!whole) {
    http::response_serializer<http::buffer_body> sr{res};
    beast::get_lowest_layer(out).expires_after(ms(cfg.upstream_response_timeout_ms));
    co_await http::async_write_header(out, sr, tok(ec));
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  const bool chunked = res.chunked();
  std::array<char, 32 * 1024> piece;
  std::string restored_piece;
  while (!rp.is_done()) {
    res.body().data = piece.data();
    res.body().size = piece.size();
    up_lowest.expires_after(ms(cfg.upstream_response_timeout_ms));
    co_await http::async_read_some(up, ubuf, rp, tok(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      x.client_failed = true;  // the response is cut: the client must see the connection end
      co_return;
    }
    size_t got = piece.size() - res.body().size;
    if (got == 0) continue;  // framing only (a chunk header)
    std::string_view data(piece.data(), got);
    if (whole) {
      if (whole->size() + got > cfg.max_decoded_body_bytes) {
        x.client_failed = true;
        co_return;
      }
      whole->append(data);
      continue;
    }
    // (No conditional temporaries around co_await: GCC 12 miscompiles them.)
    if (sse) {
      restored_piece = sse->feed(data);
      data = restored_piece;
    }
    co_await write_body_piece(out, chunked, data, cfg.upstream_response_timeout_ms, ec);
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  if (sse) {
    restored_piece = sse->finish();
    x.restored = sse->restored();
    x.unrestorable = sse->unrestorable();
    co_await write_body_piece(out, chunked, restored_piece, cfg.upstream_response_timeout_ms, ec);
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  if (whole) {
    std::string restored = restore_json_body(*whole, *restore, &x.restored);
    res.chunked(false);
    res.content_length(restored.size());
    res.body().data = restored.data();
    res.body().size = restored.size();
    res.body().more = false;
    http::response_serializer<http::buffer_body> sr{res};
    beast::get_lowest_layer(out).expires_after(ms(cfg.upstream_response_timeout_ms));
    co_await http::async_write(out, sr, tok(ec));
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  if (chunked && !whole) {  // a collected answer went out with a Content-Length instead
    co_await net::async_write(out, http::make_chunk_last(), tok(ec));
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  x.client_keep_alive = client_wants_keep_alive && !res.need_eof();
  // An interim (1xx) answer is not the end of the exchange: never reuse after one.
  x.upstream_reusable = upstream_keep && rp.is_done() && x.upstream_status >= 200;
}

template <class Client>
net::awaitable<void> send_response(Client& client, http::response<http::string_body> res) {
  beast::error_code ec;
  beast::get_lowest_layer(client).expires_after(std::chrono::seconds(30));
  co_await http::async_write(client, res, tok(ec));
}

template <class Client>
net::awaitable<void> forward_request(Connection& conn, Client& client, const Target& target,
                                     ForwardRequest& out, bool keep_alive, AuditEvent& ev,
                                     bool& keep, BodyBudget::Hold* held,
                                     std::shared_ptr<const Substitutions> restore = nullptr) {
  Exchange x;
  const uint64_t generation = conn.snap->generation;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 0 && !conn.upstream.connected_to(target))
      if (auto warm = conn.pool.take(target, generation)) conn.upstream = std::move(*warm);
    bool reused = conn.upstream.connected_to(target);
    if (!reused) {
      if (auto failure = co_await connect_upstream(conn, target)) {
        x.failure = failure;
        break;
      }
    }
    x = Exchange{};
    if (conn.upstream.tls_stream)
      co_await exchange(conn.cfg(), client, *conn.upstream.tls_stream, conn.upstream.buffer, out,
                        keep_alive, restore, held, x);
    else
      co_await exchange(conn.cfg(), client, *conn.upstream.plain, conn.upstream.buffer, out,
                        keep_alive, restore, held, x);
    // A kept-alive upstream connection may have been closed by the server in the meantime:
    // retry once on a fresh one, as long as no response started.
    if (x.failure && reused && !x.response_started) {
      conn.upstream.close();
      continue;
    }
    break;
  }
  ev.upstream_status = x.upstream_status;
  ev.upstream_ms = x.upstream_ms;
  ev.restored = x.restored;
  ev.unrestorable = x.unrestorable;
  if (x.failure) {
    if (x.failure->kind) conn.sh.metrics.upstream_error(x.failure->kind);
    conn.upstream.close();
    ev.status = x.failure->status;
    ev.error = x.failure->message;
    co_await send_response(
        client, error_response(x.failure->status,
                               x.failure->status == 403 ? "permission_error" : "api_error",
                               x.failure->message, keep_alive));
    keep = keep_alive;
    co_return;
  }
  ev.status = x.upstream_status;
  if (x.upstream_reusable) conn.pool.give(std::move(conn.upstream), target, generation);
  conn.upstream.close();  // a moved-from Upstream is empty; this resets it for the next request
  keep = !x.client_failed && x.client_keep_alive;
}

// One request whose header has been read: read and scan the body, decide, then answer or
// forward. Sets `keep` when the client connection can carry another request.
template <class Client>
net::awaitable<void> handle_request(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser,
                                    const Target& target, std::string path, bool& keep) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = conn.cfg();
  auto& req = parser.get();
  keep = false;
  AuditEvent ev = new_event(conn);
  ev.method = std::string(req.method_string());
  ev.host = target.host;
  ev.port = target.port;
  ev.path = path.substr(0, path.find('?'));
  ev.destination = to_string(target.destination);
  const PolicyBlock* policy = cfg.policy_for(conn.identity, target.host);
  const Mode mode = policy && policy->mode ? *policy->mode : cfg.mode;
  if (policy) ev.policy = policy->name;
  ev.mode = to_string(mode);
  // While draining, answer this request and then close: the client reconnects elsewhere.
  bool wants_keep_alive = req.keep_alive() && !sh.draining;
  bool inspect = target.destination == Destination::intercept;
  auto finish = [&](unsigned status, const char* decision) {
    ev.status = status;
    ev.decision = decision;
  };
  auto respond = [&](unsigned status, const char* type, const std::string& msg, bool keep_conn,
                     const char* decision) -> net::awaitable<void> {
    finish(status, decision);
    if (!ev.error.size()) ev.error = msg;
    keep = keep_conn;
    co_await send_response(client, error_response(status, type, msg, keep_conn));
  };

  // Where the body ends must be read the same way here, upstream and by anything in front of
  // us (RFC 9112 6.1): a Transfer-Encoding that does not end in chunked, or one on HTTP/1.0,
  // leaves it ambiguous, and is refused rather than guessed at.
  if (req.count(http::field::transfer_encoding) &&
      (!parser.chunked() || req.version() < 11 || !only_chunked(req))) {
    co_await respond(400, "invalid_request_error",
                     "promptgate refused this request: its Transfer-Encoding is not just "
                     "chunked (or comes with HTTP/1.0), so where its body ends is ambiguous.",
                     false, "error");
    record(sh, ev);
    co_return;
  }
  // A chunked body may end in trailer fields, which Beast adds to the header: counted now, so a
  // trailer (say, a Content-Encoding that would make the upstream read the scanned bytes
  // differently) can be refused once the body is in.
  const auto header_fields = std::distance(req.begin(), req.end());

  if (beast::iequals(req[http::field::expect], "100-continue")) {
    beast::error_code ec;
    http::response<http::empty_body> cont{http::status::continue_, 11};
    co_await http::async_write(client, cont, tok(ec));
    if (ec) co_return;
  }

  // --- the body, scanned as it arrives -------------------------------------------------------
  BodyBytes raw_body;
  std::string decoded_body;  // only when a Content-Encoding applies
  // What this request holds in memory counts against max_buffered_body_bytes, all requests
  // together; past it the body is read and dropped, and the answer is 503.
  BodyBudget::Hold held(sh.body_budget);
  bool over_budget = false;
  bool too_large_alone = false;  // would not fit even with nothing else held: 413, not 503
  auto fits = [&](uint64_t raw_bytes) {
    const uint64_t total = raw_bytes + decoded_body.size();
    if (!over_budget && !held.try_grow_to(total, cfg.max_buffered_body_bytes)) {
      over_budget = true;
      too_large_alone = total > cfg.max_buffered_body_bytes;
    }
    return !over_budget;
  };
  // 503, which clients retry (a block is never 5xx: it would be retried for minutes); 413 for
  // a request that could not fit even alone.
  auto answer_over_budget = [&](bool keep_conn) -> net::awaitable<void> {
    if (too_large_alone) {
      co_await respond(413, "request_too_large",
                       "promptgate refused this request: with its decompressed copy it needs more "
                       "memory than max_buffered_body_bytes allows.",
                       keep_conn, "error");
      record(sh, ev);
      co_return;
    }
    sh.metrics.request_shed();
    finish(503, "error");
    ev.error = "the request bodies held in memory reached max_buffered_body_bytes";
    keep = keep_conn;
    auto res = error_response(
        503, "overloaded_error",
        "promptgate is holding too many request bodies in memory right now, so this request "
        "was not forwarded. Retry in a moment; if this persists, ask the promptgate operator "
        "to raise max_buffered_body_bytes or add capacity.",
        keep_conn);
    res.set(http::field::retry_after, "1");
    co_await send_response(client, std::move(res));
    record(sh, ev);
  };
  std::unique_ptr<ContentDecoder> decoder;
  // Repeated Content-Encoding lines are one list (RFC 9110 5.3), as the upstream will read them.
  std::string content_encoding;
  for (auto [it, end] = req.equal_range(http::field::content_encoding); it != end; ++it) {
    if (!content_encoding.empty()) content_encoding += ", ";
    content_encoding += it->value();
  }
  if (inspect && !content_encoding.empty() && !beast::iequals(content_encoding, "identity")) {
    std::string err;
    decoder = ContentDecoder::create(content_encoding, cfg.max_decoded_body_bytes, err);
    if (!decoder) {
      co_await respond(415, "invalid_request_error",
                       "promptgate cannot inspect this request: " + err +
                           ". It was not forwarded; send it uncompressed or with gzip, deflate, "
                           "br or zstd.",
                       false, "error");
      record(sh, ev);
      co_return;
    }
  }
  std::string_view content_type = req[http::field::content_type];
  InputFormat format = content_type.find("json") != std::string_view::npos ? InputFormat::json
                                                                           : InputFormat::automatic;
  const std::shared_ptr<Scanner> scanner_owner = thread_scanner(sh, *conn.snap);
  Scanner& scanner = *scanner_owner;
  std::unique_ptr<ScanStream> scan;
  // Over the budget: the memory goes back before the rest of the body is read and dropped.
  auto drop_body = [&] {
    BodyBytes().swap(raw_body);
    std::string().swap(decoded_body);
    scan.reset();
    held.set(0);
  };
  uint64_t scan_us = 0;
  bool decode_failed = false, decoded_too_large = false;
  std::string decode_error;
  // A JSON body is scanned whole once it has arrived, passing over the transcript blocks this
  // client's earlier requests already had scanned clean; anything else as it arrives.
  SeenBlocks* seen_blocks = format == InputFormat::json ? conn.snap->seen_blocks.get() : nullptr;
  auto scan_piece = [&](std::string_view piece) {
    if (seen_blocks) return;
    auto t0 = Clock::now();
    if (!scan) scan = scanner.open_stream(format);
    scan->write(piece);
    scan_us += micros_since(t0);
  };
  auto decode_piece = [&](std::string_view piece, bool last) {
    if (!decoder || decode_failed) return;
    std::string out;
    bool ok =
        last ? (decoder->decode(piece, out) && decoder->finish(out)) : decoder->decode(piece, out);
    if (!ok) {
      decode_failed = true;
      decoded_too_large = decoder->output_limit_exceeded();
      decode_error = decoder->error();
    }
    if (!out.empty()) {
      decoded_body += out;
      if (!fits(raw_body.size())) return;
      scan_piece(out);
    }
  };

  // The body is read straight into its final buffer and each new piece is scanned in place: no
  // intermediate copy. With a Content-Length (the parser has already refused one over the
  // limit), what the header read buffered is taken first and the rest comes from the stream
  // directly, past the parser, whose buffer copy and layers of composed operations cost more
  // than the read itself; a chunked body goes through the parser.
  size_t used = 0;
  beast::error_code ec;
  // One deadline for the whole body, not per read: a client dripping a byte at a time is cut
  // off at body_ms like one that stops.
  beast::get_lowest_layer(client).expires_after(ms(cfg.body_timeout_ms));
  auto take_piece = [&](size_t got) {
    std::string_view data(raw_body.data() + used, got);
    used += got;
    if (inspect) {
      if (decoder)
        decode_piece(data, false);
      else
        scan_piece(data);
    }
  };
  const bool direct = parser.content_length() && !parser.chunked();
  const uint64_t length = direct ? *parser.content_length() : 0;
  // The budget is taken as bytes arrive, a step ahead of them, not for the declared length:
  // headers that only announce large bodies must not fill it. The buffer's pages are not
  // touched (no zero-fill), so memory follows the bytes received too.
  constexpr uint64_t kReserveStep = 1 << 20;
  if (direct) {
    raw_body.resize(static_cast<size_t>(length));
    size_t buffered = std::min(buf.size(), raw_body.size());
    // Whole steps, so what a request holds is easy to reason about (and to watch).
    auto step_after = [&](uint64_t bytes) {
      return std::min<uint64_t>(length, (bytes / kReserveStep + 1) * kReserveStep);
    };
    if (buffered && fits(step_after(buffered))) {
      net::buffer_copy(net::buffer(raw_body.data(), buffered), buf.data());
      buf.consume(buffered);
      take_piece(buffered);
    }
    while (used < raw_body.size() && !over_budget) {
      const uint64_t reserved = step_after(used);
      if (!fits(reserved)) break;
      size_t got = co_await client.async_read_some(
          net::buffer(raw_body.data() + used, static_cast<size_t>(reserved) - used), tok(ec));
      if (got) take_piece(got);
      if (ec) break;
    }
    if (ec && used == raw_body.size()) ec = {};  // complete; the error belongs to the next read
  }
  while (!direct && !parser.is_done() && !over_budget) {
    if (raw_body.size() - used < 16 * 1024) {
      size_t grown = std::max<size_t>(2 * raw_body.size(), used + 64 * 1024);
      // Never past what the parser's body limit lets in (it fails the read beyond it).
      grown = std::min<size_t>(grown, std::max<size_t>(cfg.max_body_bytes, used) + 16 * 1024);
      if (!fits(grown)) break;
      raw_body.resize(grown);
    }
    req.body().data = raw_body.data() + used;
    req.body().size = raw_body.size() - used;
    co_await http::async_read(client, buf, parser, tok(ec));
    if (ec == http::error::need_buffer) ec = {};
    size_t got = raw_body.size() - used - req.body().size;
    if (got) take_piece(got);
    if (ec) break;
  }
  uint64_t received = used;
  if (over_budget && !ec) {
    // Give the memory back first, then read the rest of the body into a small buffer and drop
    // it: answering mid-upload and closing would reset the connection under the client before
    // it reads the answer. The body deadline still applies.
    received = direct ? length : used;
    drop_body();
    std::array<char, 16 * 1024> scratch;
    if (direct) {
      uint64_t left = length - std::min<uint64_t>(used, length);
      size_t buffered = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
      buf.consume(buffered);
      left -= buffered;
      while (left > 0 && !ec) {
        size_t got = co_await client.async_read_some(
            net::buffer(scratch.data(),
                        static_cast<size_t>(std::min<uint64_t>(left, scratch.size()))),
            tok(ec));
        left -= got;
      }
      if (ec && left == 0) ec = {};
    } else {
      while (!parser.is_done() && !ec) {
        req.body().data = scratch.data();
        req.body().size = scratch.size();
        co_await http::async_read(client, buf, parser, tok(ec));
        if (ec == http::error::need_buffer) ec = {};
        received += scratch.size() - req.body().size;
      }
    }
    ev.body_bytes = received;
    if (!ec) {
      co_await answer_over_budget(wants_keep_alive);
      co_return;
    }
    // A read error while dropping (a body over max_body_bytes, a timeout): answered below.
  } else {
    raw_body.resize(used);
    ev.body_bytes = raw_body.size();
  }
  if (ec) {
    ev.decision = "error";
    if (ec == http::error::body_limit) {
      co_await respond(413, "request_too_large",
                       "promptgate refused this request: the body is larger than the " +
                           std::to_string(cfg.max_body_bytes) + "-byte limit.",
                       false, "error");
    } else if (ec == beast::error::timeout) {
      co_await respond(408, "invalid_request_error",
                       "promptgate timed out reading the request body.", false, "error");
    } else if (ec == http::error::partial_message || ec == net::error::eof ||
               ec == net::error::connection_reset || ec == ssl::error::stream_truncated) {
      ev.error = "client closed the connection before the body was complete";
    } else {
      co_await respond(400, "invalid_request_error",
                       "promptgate could not read the request body: " + ec.message(), false,
                       "error");
    }
    record(sh, ev);
    co_return;
  }
  if (std::distance(req.begin(), req.end()) != header_fields) {
    co_await respond(400, "invalid_request_error",
                     "promptgate refused this request: it ends in trailer fields, which could "
                     "change how the upstream reads a body already scanned. Send them as headers.",
                     false, "error");
    record(sh, ev);
    co_return;
  }
  if (decoder) decode_piece({}, true);
  if (over_budget) {  // the decompressed body's tail did not fit
    drop_body();
    co_await answer_over_budget(wants_keep_alive);
    co_return;
  }
  if (inspect) ev.model = model_of(decoder ? std::string_view(decoded_body) : as_view(raw_body));

  // --- findings: body, query string, configured headers --------------------------------------
  std::vector<Finding> findings;
  bool scan_failed = false;
  std::string scan_error;
  if (inspect) {
    auto t0 = Clock::now();
    try {
      if (seen_blocks) {
        TranscriptScan t =
            scan_transcript(scanner, decoder ? std::string_view(decoded_body) : as_view(raw_body),
                            *seen_blocks, conn.conversation_owner());
        if (!t.result.ok()) {
          scan_failed = true;
          scan_error = t.result.error;
        }
        findings = std::move(t.result.findings);
        ev.scan_skipped_bytes = t.skipped_bytes;
      } else if (scan) {
        ScanResult r = scan->finish();
        scan.reset();  // its buffers go to the next request's stream on this thread
        if (!r.ok()) {
          scan_failed = true;
          scan_error = r.error;
        }
        findings = std::move(r.findings);
      }
      size_t q = path.find('?');
      if (q != std::string::npos) {
        ScanResult r =
            scanner.scan(percent_decode(std::string_view(path).substr(q + 1)), InputFormat::text);
        for (auto& f : r.findings) {
          f.location = "query";
          findings.push_back(std::move(f));
        }
      }
      for (const auto& name : cfg.scan_headers) {
        auto it = req.find(name);
        if (it == req.end()) continue;
        ScanResult r = scanner.scan(it->value(), InputFormat::text);
        for (auto& f : r.findings) {
          f.location = "header:" + name;
          findings.push_back(std::move(f));
        }
      }
    } catch (const std::exception& e) {
      scan_failed = true;
      scan_error = std::string("scanner error: ") + e.what();
    }
    scan_us += micros_since(t0);
  }
  ev.scan_us = scan_us;
  if (inspect)
    sh.metrics.scanned(
        (decoder ? decoded_body.size() : raw_body.size()) + path.size() - ev.scan_skipped_bytes,
        static_cast<double>(scan_us) / 1e6, ev.scan_skipped_bytes);
  bool fail_open = cfg.fail_open(target.host);
  if (decode_failed && !fail_open) {
    if (decoded_too_large)
      co_await respond(
          413, "request_too_large",
          "promptgate refused this request: its decompressed body is larger than the " +
              std::to_string(cfg.max_decoded_body_bytes) + "-byte limit.",
          wants_keep_alive, "error");
    else
      co_await respond(415, "invalid_request_error",
                       "promptgate could not decode the request body (" + decode_error +
                           "), so it was not forwarded.",
                       wants_keep_alive, "error");
    record(sh, ev);
    co_return;
  }
  if (scan_failed && !fail_open) {
    co_await respond(400, "invalid_request_error",
                     "promptgate could not parse the request body as JSON (" + scan_error +
                         "), so it was not forwarded.",
                     wants_keep_alive, "error");
    record(sh, ev);
    co_return;
  }

  // --- decision ------------------------------------------------------------------------------
  std::string_view authorization = req[http::field::authorization];
  bool body_signed =
      authorization.substr(0, 16) == "AWS4-HMAC-SHA256" || cfg.signed_body_host(target.host);
  RequestDecision decision = decide(cfg, policy, target.host, findings, body_signed);
  // A finding outside the body (query, header) cannot be redacted in place: block instead.
  for (size_t i = 0; i < findings.size(); ++i)
    if ((decision.actions[i] == Action::redact || decision.actions[i] == Action::tokenize) &&
        !findings[i].location.empty() &&
        (findings[i].location == "query" || findings[i].location.rfind("header:", 0) == 0)) {
      decision.actions[i] = Action::block;
      decision.verdict = Verdict::block;
    }
  ev.findings = findings;
  ev.actions = decision.actions;
  ev.decision = to_string(decision.verdict);
  bool enforce = mode == Mode::enforce;
  std::string override_offer;
  if (decision.verdict == Verdict::block && enforce && cfg.overrides.enabled) {
    // A justified override (docs/overrides.md): a code offered by an earlier block message,
    // repeated with a reason, lets this block through (and is logged); else a code is offered.
    std::string_view header = req[kOverrideHeader];
    auto asked = header.empty() ? find_override_marker(decoder ? std::string_view(decoded_body)
                                                               : as_view(raw_body))
                                : parse_override_header(header);
    OverrideOutcome o =
        apply_override(sh.overrides, cfg.overrides, conn.identity, conn.conversation_owner(),
                       findings, decision.actions, asked);
    ev.override_record = o.record;
    if (o.forward) {
      decision.verdict = o.verdict;
      ev.actions = decision.actions;
      ev.decision = to_string(decision.verdict);
    } else {
      override_offer = std::move(o.message);
    }
  }
  if (decision.verdict == Verdict::block && enforce) {
    std::string msg = block_message(findings, decision.actions, decision.redaction_refused_signed);
    msg += override_offer;  // holds a code: never copied into the audit log (ev.error)
    co_await respond(cfg.block_status, "invalid_request_error", msg, wants_keep_alive, "block");
    ev.error.clear();
    record(sh, ev);
    co_return;
  }
  if ((decision.verdict == Verdict::block || decision.verdict == Verdict::redact) && !enforce)
    ev.enforced = false;

  // --- forward -------------------------------------------------------------------------------
  ForwardRequest out{req.method(), path, 11};
  if (req.method() == http::verb::unknown) out.method_string(req.method_string());
  for (const auto& field : req)
    if (!is_hop_by_hop(field.name_string()) &&
        !beast::iequals(field.name_string(), kOverrideHeader))
      out.insert(field.name_string(), field.value());
  // The destination policy judged the CONNECT target (or the absolute URL's host), so that is
  // the Host the upstream gets; a different Host would let a shared front end route the
  // request elsewhere (RFC 9112 3.2.2 asks the same of absolute-form requests).
  out.set(http::field::host, host_header_for(target));
  if (decision.verdict == Verdict::redact && enforce) {
    std::vector<Finding> body_findings;
    std::vector<bool> tokenize;
    for (size_t i = 0; i < findings.size(); ++i) {
      Action a = decision.actions[i];
      if ((a != Action::redact && a != Action::tokenize) || findings[i].location == "query")
        continue;
      body_findings.push_back(findings[i]);
      tokenize.push_back(a == Action::tokenize);
    }
    std::shared_ptr<Conversation> conv;
    if (std::find(tokenize.begin(), tokenize.end(), true) != tokenize.end())
      conv = sh.vault->conversation(conn.conversation_owner());
    std::string redacted = redact_with(
        decoder ? std::string_view(decoded_body) : as_view(raw_body), body_findings,
        [&](const Finding& f, std::string_view value) {
          size_t i = static_cast<size_t>(&f - body_findings.data());
          auto rule = conn.snap->rule_by_id.find(f.rule_id);
          if (!tokenize[i] || rule == conn.snap->rule_by_id.end())
            return redaction_marker(f.rule_id);
          ++ev.tokenized;
          return conv->standin_for(*rule->second, value);
        },
        format == InputFormat::json ? InputFormat::json : InputFormat::automatic);
    out.body().assign(redacted.begin(), redacted.end());
    out.erase(http::field::content_encoding);
  } else {
    out.body() = std::move(raw_body);
  }
  // From here only the body going upstream is held, and only until the response header
  // arrives (exchange() lets it go then): an answer may stream for minutes.
  BodyBytes().swap(raw_body);
  std::string().swap(decoded_body);
  held.set(out.body().size());
  if (!out.body().empty() || parser.content_length() || parser.chunked())
    out.content_length(out.body().size());
  out.keep_alive(true);
  // Stand-ins this conversation was given (this turn or earlier) go back to their originals in
  // the answer; the restorer reads plain bytes, so the answer is asked for uncompressed.
  std::shared_ptr<const Substitutions> restore;
  if (inspect)
    if (auto conv = sh.vault->find(conn.conversation_owner()))
      if (auto subs = conv->restorations(); subs && !subs->empty()) restore = std::move(subs);
  if (restore) out.set(http::field::accept_encoding, "identity");
  co_await forward_request(conn, client, target, out, wants_keep_alive, ev, keep, &held, restore);
  record(sh, ev);
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
  beast::get_lowest_layer(client).expires_after(
      ms(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
  conn.state->idle = true;
  co_await http::async_read_header(client, buf, parser, tok(ec));
  conn.state->idle = false;
  // A connection may have idled across a reload: the request runs on the config current now.
  conn.snap = conn.sh.current();
  if (!ec) co_return true;
  if (ec == http::error::header_limit)
    co_await send_response(client, error_response(431, "invalid_request_error",
                                                  "promptgate: request header too large", false));
  else if (ec == http::error::body_limit)
    co_await send_response(
        client, error_response(413, "request_too_large",
                               "promptgate refused this request: the body is larger than the " +
                                   std::to_string(cfg.max_body_bytes) + "-byte limit.",
                               false));
  else if (ec == beast::error::timeout && first)
    co_await send_response(client, error_response(408, "invalid_request_error",
                                                  "promptgate: timed out waiting for the request "
                                                  "header",
                                                  false));
  else if (ec != net::error::eof && ec != beast::error::timeout &&
           ec != net::error::connection_reset && ec != ssl::error::stream_truncated &&
           ec != net::error::operation_aborted && ec != http::error::end_of_stream &&
           ec != net::error::bad_descriptor)
    co_await send_response(client,
                           error_response(400, "invalid_request_error",
                                          "promptgate: malformed request: " + ec.message(), false));
  co_return false;
}

// Proxy authentication (when a users file or a client CA is configured): sets conn.identity,
// or answers 407. PBKDF2 is slow on purpose, so the check runs on a small pool, off the
// connection's thread. `certificate_may_follow`: a CONNECT to an intercepted host, where a
// client certificate in the TLS handshake can stand in for missing credentials.
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
      conn.sh.metrics.auth_failure("throttled");
      ev.decision = "deny";
      ev.status = 429;
      ev.error = "proxy authentication throttled after repeated failures";
      record(conn.sh, ev);
      auto res = error_response(
          429, "rate_limit_error",
          "promptgate: too many wrong proxy credentials from this address; try again in " +
              std::to_string(wait->count()) +
              " s with the right USER:SECRET in HTTPS_PROXY (ask your gateway admin if unsure).",
          false);
      res.set(http::field::retry_after, std::to_string(wait->count()));
      co_await send_response(client, std::move(res));
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
  ev.decision = "deny";
  ev.status = 407;
  ev.error = std::string("proxy authentication ") + reason;
  record(conn.sh, ev);
  std::string how =
      creds ? "Put your gateway credentials in the proxy URL: "
              "HTTPS_PROXY=http://USER:SECRET@host:port"
            : "This gateway identifies users by client certificate, which only works for "
              "intercepted hosts (the model APIs); this destination is not one of them.";
  auto res = error_response(407, "authentication_error",
                            "promptgate: proxy authentication required. " + how, false);
  res.set(http::field::proxy_authenticate, "Basic realm=\"promptgate\"");
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

net::awaitable<void> relay_bytes(tcp::socket& from, tcp::socket& to, uint64_t& count) {
  std::array<char, 16 * 1024> data;
  beast::error_code ec;
  for (;;) {
    size_t n = co_await from.async_read_some(net::buffer(data), tok(ec));
    if (ec) break;
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

net::awaitable<void> handle_connect(Connection& conn, beast::tcp_stream& stream,
                                    beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = conn.cfg();
  AuditEvent ev = new_event(conn);
  ev.method = "CONNECT";
  HostPort hp;
  std::string refusal;
  try {
    hp = parse_host_port(parser.get().target(), "CONNECT target");
  } catch (const std::exception& e) {
    refusal = e.what();
  }
  bool certificate_may_follow =
      refusal.empty() && cfg.destination_for(hp.host) == Destination::intercept;
  if (!co_await authenticate(conn, stream, parser.get(), ev, certificate_may_follow)) co_return;
  if (!refusal.empty()) {
    co_await send_response(
        stream, error_response(400, "invalid_request_error", "promptgate: " + refusal, false));
    co_return;
  }
  ev.host = hp.host;
  ev.port = hp.port;
  Destination dest = cfg.destination_for(hp.host);
  ev.destination = to_string(dest);
  // CONNECT safety: only allowed ports, and no internal addresses named directly.
  bool named_by_operator = cfg.tcp_target(hp).host != hp.host || cfg.tcp_target(hp).port != hp.port;
  if (dest != Destination::deny && !named_by_operator &&
      std::find(cfg.allowed_connect_ports.begin(), cfg.allowed_connect_ports.end(), hp.port) ==
          cfg.allowed_connect_ports.end()) {
    refusal = "promptgate: CONNECT to port " + std::to_string(hp.port) +
              " is not allowed (allowed_connect_ports).";
  } else if (beast::error_code aec; dest != Destination::deny) {
    auto literal = net::ip::make_address(hp.host, aec);
    if (!aec && is_internal_address(literal) && !cfg.private_destination_allowed(hp.host))
      refusal = "promptgate: " + hp.host +
                " is an internal address; the gateway does not "
                "connect there unless allowed_private_hosts lists it.";
  }
  if (dest == Destination::deny && refusal.empty())
    refusal = "promptgate: connections to " + hp.host +
              " are not allowed by policy. Ask your security team if you need this destination.";
  // Awaited at once, so capturing by reference is safe.
  auto refuse = [&](const std::string& why) -> net::awaitable<void> {
    ev.decision = "deny";
    ev.status = 403;
    ev.error = why;
    record(sh, ev);
    co_await send_response(stream, error_response(403, "permission_error", why, false));
  };
  if (!refusal.empty()) {
    co_await refuse(refusal);
    co_return;
  }
  beast::error_code ec;
  if (dest == Destination::tunnel) {
    HostPort target = cfg.tcp_target(hp);
    HostPort where = cfg.upstream_proxy ? *cfg.upstream_proxy : target;
    auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver(ex);
    auto endpoints =
        co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
    if (!ec && !cfg.upstream_proxy) refusal = internal_destination_refusal(cfg, hp.host, endpoints);
    if (!refusal.empty()) {
      co_await refuse(refusal);
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
      record(sh, ev);
      co_await send_response(
          stream,
          error_response(502, "api_error",
                         "promptgate could not connect to " + hp.host + ": " + failure, false));
      co_return;
    }
    static constexpr std::string_view kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
    stream.expires_never();
    co_await net::async_write(stream, net::buffer(kOk), tok(ec));
    if (ec) co_return;
    tcp::socket client_sock = stream.release_socket();
    tcp::socket upstream_sock = upstream.release_socket();
    conn.state->socket = &client_sock;
    if (buf.size()) {  // bytes the client sent right after the CONNECT header
      co_await net::async_write(upstream_sock, buf.data(), tok(ec));
      ev.tunnel_bytes_up += buf.size();
      buf.consume(buf.size());
    }
    co_await (relay_bytes(client_sock, upstream_sock, ev.tunnel_bytes_up) &&
              relay_bytes(upstream_sock, client_sock, ev.tunnel_bytes_down));
    conn.state->socket = nullptr;
    ev.decision = "tunnel";
    ev.status = 200;
    record(sh, ev);
    co_return;
  }

  // Intercept: answer 200, then be the TLS server for hp.host with a minted leaf.
  static constexpr std::string_view kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
  co_await net::async_write(stream, net::buffer(kOk), tok(ec));
  if (ec) co_return;
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
      record(sh, ev);
    }
  }
  if (ec) {  // a client that does not trust our CA, or that sent something other than TLS
    sh.metrics.tls_handshake_failure("client");
    conn.state->socket = nullptr;
    co_return;
  }
  if (conn.certificate_required)
    conn.identity = Identity{from_certificate.user, cfg.groups_of(from_certificate.user)};
  buf.consume(used);
  // The upstream and the policy are chosen by the CONNECT target, not by the Host header.
  Target target{hp.host, hp.port, true, Destination::intercept};
  co_await serve_requests(conn, tls, buf, target);
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
  co_await tls.async_shutdown(tok(ec));
  conn.state->socket = nullptr;
}

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
    const ProxyConfig& cfg = conn.cfg();
    auto& req = parser.get();
    if (req.method() == http::verb::connect) {
      co_await handle_connect(conn, stream, buf, parser);
      break;
    }
    // Absolute-form: http://host[:port]/path. https:// URLs must come through CONNECT.
    std::string_view url = req.target();
    if (url.substr(0, 7) != "http://") {
      co_await send_response(
          stream,
          error_response(400, "invalid_request_error",
                         "promptgate is a forward proxy: send CONNECT host:port or an absolute "
                         "http:// URL (set HTTPS_PROXY=http://<this address>)",
                         false));
      break;
    }
    AuditEvent auth_ev = new_event(conn);
    auth_ev.method = std::string(req.method_string());
    if (!co_await authenticate(conn, stream, req, auth_ev)) break;
    std::string_view rest = url.substr(7);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    Target target;
    target.tls = false;
    std::string bad_url;
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
      bad_url = e.what();
    }
    if (!bad_url.empty() || target.host.empty()) {
      co_await send_response(stream, error_response(400, "invalid_request_error",
                                                    "promptgate: bad URL " + bad_url, false));
      break;
    }
    target.destination = cfg.destination_for(target.host);
    if (target.destination == Destination::deny) {
      co_await send_response(stream, error_response(403, "permission_error",
                                                    "promptgate: requests to " + target.host +
                                                        " are not allowed by policy.",
                                                    false));
      break;
    }
    bool keep = false;
    co_await handle_request(conn, stream, buf, parser, target, path, keep);
    if (!keep) break;
  }
  state->socket = nullptr;
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "promptgate: connection error: " << x.what() << "\n";
  }
}

// Builds a snapshot from the setup's loader; throws on a bad config or rule set.
std::shared_ptr<const Snapshot> build_snapshot(Shared& sh, uint64_t generation) {
  Loaded loaded = sh.setup.load();
  auto snap = std::make_shared<Snapshot>();
  snap->config = loaded.config;
  snap->rules = loaded.rules;
  snap->credentials = loaded.credentials;
  snap->client_certificates = loaded.client_certificates;
  snap->known_secrets = loaded.known_secrets;
  snap->upstream_tls = make_upstream_tls(*loaded.config);
  for (size_t i = 0; i < loaded.rules->size(); ++i)
    snap->rule_by_id.emplace(loaded.rules->rule(i).id, &loaded.rules->rule(i));
  if (loaded.config->incremental_scan.enabled)
    snap->seen_blocks = std::make_shared<SeenBlocks>(
        SeenBlocks::Limits{loaded.config->incremental_scan.max_identities,
                           loaded.config->incremental_scan.max_blocks_per_identity});
  snap->generation = generation;
  return snap;
}

// Compiles the new config and rules on a thread of its own (never an io thread), then swaps the
// snapshot. A broken config is refused: the old one keeps serving. Serialised by reload_mu.
struct Reloader {
  explicit Reloader(Shared& s) : sh(s) {}
  Shared& sh;
  std::mutex reload_mu;
  std::atomic<uint64_t> generation{1};

  // Returns "" on success, else the error.
  std::string reload() {
    std::lock_guard lock(reload_mu);
    try {
      auto snap = build_snapshot(sh, generation + 1);
      sh.snapshot.store(snap);
      ++generation;
      sh.metrics.set_config_generation(generation);
      sh.metrics.set_rules(snap->rules->size());
      sh.metrics.config_reload(true);
      std::cerr << "promptgate: reloaded " << snap->config->source << " (generation " << generation
                << ", " << snap->rules->size() << " rules)" << std::endl;
      return {};
    } catch (const std::exception& e) {
      sh.metrics.config_reload(false);
      std::cerr << "promptgate: reload refused, still serving generation " << generation << ": "
                << e.what() << std::endl;
      return e.what();
    }
  }
};

// The admin listener: /healthz (alive), /readyz (serving and not draining), /metrics,
// POST /-/reload. Separate port, plain HTTP, meant for probes and Prometheus on a private network.
net::awaitable<void> serve_admin(Shared& sh, Reloader& reloader, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    co_await http::async_read(stream, buf, parser, tok(ec));
    if (ec) co_return;
    req = parser.release();
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    if (path == "/healthz") {
      res.body() = "ok\n";
    } else if (path == "/readyz") {
      bool ready = !sh.draining && sh.current() != nullptr;
      res.result(ready ? http::status::ok : http::status::service_unavailable);
      res.body() = ready ? "ready\n" : "draining\n";
    } else if (path == "/metrics") {
      sh.metrics.set_leaf_cache(sh.setup.ca->leaf_cache_hits(), sh.setup.ca->leaf_cache_misses());
      sh.metrics.set_buffered_bytes(sh.body_budget.in_use());
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = sh.metrics.serialize();
    } else if (path == "/-/reload") {
      if (req.method() != http::verb::post) {
        res.result(http::status::method_not_allowed);
        res.body() = "use POST\n";
      } else {
        // Compile on a thread of its own, so this io thread keeps serving proxy traffic.
        auto home = co_await net::this_coro::executor;
        std::string error;
        co_await net::post(sh.auth_pool, net::use_awaitable);
        error = reloader.reload();
        co_await net::post(home, net::use_awaitable);
        nlohmann::ordered_json body = {{"result", error.empty() ? "ok" : "error"},
                                       {"generation", reloader.generation.load()}};
        if (!error.empty()) body["error"] = error;
        res.result(error.empty() ? http::status::ok : http::status::bad_request);
        res.set(http::field::content_type, "application/json");
        res.body() = body.dump() + "\n";
      }
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: /healthz /readyz /metrics POST /-/reload\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await http::async_write(stream, res, tok(ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

bool listen_on(tcp::acceptor& acceptor, const HostPort& where, const char* what) {
  beast::error_code ec;
  auto address = net::ip::make_address(where.host, ec);
  if (ec) {
    std::cerr << "promptgate: " << what << " address '" << where.host << "' is not an IP address\n";
    return false;
  }
  tcp::endpoint endpoint(address, where.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "promptgate: cannot listen on " << where.host << ":" << where.port << " (" << what
              << "): " << ec.message() << "\n";
    return false;
  }
  return true;
}

}  // namespace

int run_server(ServerSetup setup) {
  Shared sh(std::move(setup));
  Reloader reloader(sh);
  try {
    sh.snapshot.store(build_snapshot(sh, 1));
  } catch (const std::exception& e) {
    std::cerr << "promptgate run: " << e.what() << "\n";
    return 2;
  }
  const ProxyConfig& cfg = *sh.current()->config;  // listen, threads: fixed for the process
  sh.vault = std::make_unique<TokenVault>(VaultLimits{
      cfg.tokenize.max_conversations, cfg.tokenize.max_entries_per_conversation,
      cfg.tokenize.max_total_bytes, std::chrono::seconds(cfg.tokenize.idle_ttl_seconds)});
  sh.metrics.set_config_generation(1);
  sh.metrics.set_rules(sh.current()->rules->size());
  {
    std::random_device rd;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "pg-%08x-", rd());
    sh.request_id_prefix = prefix;
  }
  unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (unsigned i = 0; i < threads; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
  // Declared after the contexts, so destroyed first: pooled sockets close while their
  // io_context still exists.
  std::vector<std::unique_ptr<UpstreamPool>> pools;
  for (unsigned i = 0; i < threads; ++i) pools.push_back(std::make_unique<UpstreamPool>());
  net::io_context& main_ctx = *contexts[0];

  tcp::acceptor acceptor(main_ctx), admin(main_ctx);
  if (!listen_on(acceptor, cfg.listen, "listen")) return 2;
  if (!listen_on(admin, cfg.admin_listen, "admin_listen")) return 2;
  auto bound = acceptor.local_endpoint();
  auto admin_bound = admin.local_endpoint();
  std::cerr << "promptgate admin on " << admin_bound.address().to_string() << ":"
            << admin_bound.port() << " (/metrics /healthz /readyz, POST /-/reload)" << std::endl;
  std::cerr << "promptgate listening on " << bound.address().to_string() << ":" << bound.port()
            << " (" << threads << " threads, " << sh.current()->rules->size() << " rules, mode "
            << to_string(cfg.mode) << ")" << std::endl;
  sh.metrics.set_ready(true);

  net::co_spawn(
      main_ctx,
      [&]() -> net::awaitable<void> {
        size_t next = 0;
        for (;;) {
          beast::error_code aec;
          const size_t thread_index = next++ % contexts.size();
          net::io_context& target = *contexts[thread_index];
          tcp::socket socket = co_await acceptor.async_accept(target, tok(aec));
          if (aec == net::error::operation_aborted || sh.draining) co_return;
          if (aec) continue;  // e.g. EMFILE: keep serving the connections we have
          const ProxyConfig& now = *sh.current()->config;
          beast::error_code rec;
          std::string ip = socket.remote_endpoint(rec).address().to_string();
          auto state = std::make_shared<ConnState>();
          state->executor = socket.get_executor();
          state->client_ip = ip;
          uint64_t id = 0;
          const char* refused = nullptr;
          {
            std::lock_guard lock(sh.registry_mu);
            if (sh.connections.size() >= now.max_connections)
              refused = "max_connections";
            else if (sh.per_client[ip] >= now.max_connections_per_client)
              refused = "per_client";
            if (!refused) {
              id = sh.next_connection_id++;
              sh.connections.emplace(id, state);
              ++sh.per_client[ip];
            } else if (sh.per_client[ip] == 0) {
              sh.per_client.erase(ip);
            }
          }
          if (refused) {
            sh.metrics.connection_refused(refused);
            socket.close(rec);
            continue;
          }
          sh.metrics.connection_opened();
          ++sh.active_connections;
          net::co_spawn(target, serve_client(sh, std::move(socket), state, *pools[thread_index]),
                        [&sh, id, ip](std::exception_ptr e) {
                          log_exception(e);
                          {
                            std::lock_guard lock(sh.registry_mu);
                            sh.connections.erase(id);
                            if (--sh.per_client[ip] == 0) sh.per_client.erase(ip);
                          }
                          sh.metrics.connection_closed();
                          --sh.active_connections;
                        });
        }
      },
      log_exception);

  net::co_spawn(
      main_ctx,
      [&]() -> net::awaitable<void> {
        for (;;) {
          beast::error_code aec;
          tcp::socket socket = co_await admin.async_accept(tok(aec));
          if (aec == net::error::operation_aborted) co_return;
          if (aec) continue;
          net::co_spawn(main_ctx, serve_admin(sh, reloader, std::move(socket)), log_exception);
        }
      },
      log_exception);

  // SIGHUP: reload off the io threads. SIGTERM / SIGINT: drain, then exit 0.
  net::signal_set reload_signal(main_ctx, SIGHUP);
  std::function<void()> wait_hup = [&] {
    reload_signal.async_wait([&](beast::error_code ec, int) {
      if (ec) return;
      std::thread([&] { reloader.reload(); }).detach();
      wait_hup();
    });
  };
  wait_hup();

  net::steady_timer drain_timer(main_ctx);
  Clock::time_point drain_deadline;
  std::function<void()> check_drained = [&] {
    if (sh.active_connections == 0 || Clock::now() >= drain_deadline) {
      if (sh.active_connections)
        std::cerr << "promptgate: drain deadline reached, closing " << sh.active_connections
                  << " connection(s)" << std::endl;
      else
        std::cerr << "promptgate: drained" << std::endl;
      for (auto& c : contexts) c->stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([&](beast::error_code) { check_drained(); });
  };
  net::signal_set stop_signals(main_ctx, SIGINT, SIGTERM);
  stop_signals.async_wait([&](beast::error_code ec, int sig) {
    if (ec) return;
    std::cerr << "promptgate: signal " << sig << ", draining (up to "
              << sh.current()->config->drain_timeout_ms << " ms)" << std::endl;
    sh.draining = true;
    sh.metrics.set_ready(false);
    beast::error_code ignored;
    acceptor.close(ignored);
    reload_signal.cancel();
    // Idle keep-alive connections hold no request: close them now. Busy ones finish their
    // request and then close (read_request_header sees `draining`).
    std::vector<std::shared_ptr<ConnState>> open;
    {
      std::lock_guard lock(sh.registry_mu);
      for (auto& [id, st] : sh.connections) open.push_back(st);
    }
    for (auto& st : open)
      net::post(st->executor, [st] {
        if (st->idle && st->socket) {
          beast::error_code e;
          st->socket->close(e);
        }
      });
    drain_deadline = Clock::now() + ms(sh.current()->config->drain_timeout_ms);
    check_drained();
  });

  std::vector<std::thread> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(net::make_work_guard(*c));
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&, i] { contexts[i]->run(); });
  main_ctx.run();
  for (auto& c : contexts) c->stop();
  for (auto& w : workers) w.join();
  sh.auth_pool.join();
  return 0;
}

}  // namespace promptgate::proxy

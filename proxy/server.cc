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
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "content_decoding.h"
#include "policy.h"
#include "redactor.h"

namespace promptgate::proxy {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Clock = std::chrono::steady_clock;
using namespace net::experimental::awaitable_operators;

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

// Everything the connections share; immutable after start apart from counters.
struct Shared {
  ServerSetup setup;
  ssl::context client_tls;
  ssl::context upstream_tls;
  std::string request_id_prefix;
  std::atomic<uint64_t> next_request_id{1};

  const ProxyConfig& config() const { return *setup.config; }
};

ssl::context make_client_tls(CertificateAuthority& ca) {
  SSL_CTX* ctx = ca.client_facing_context();
  SSL_CTX_up_ref(ctx);  // asio's context frees what it wraps; the CA keeps its own reference
  return ssl::context(ctx);
}

ssl::context make_upstream_tls(const ProxyConfig& config) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
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
  return ctx;
}

// The engine's scanner for this thread, rebuilt if the rule set changed.
Scanner& thread_scanner(const Shared& sh) {
  thread_local std::unique_ptr<Scanner> scanner;
  if (!scanner || scanner->rules() != sh.setup.rules)
    scanner = std::make_unique<Scanner>(sh.setup.rules, sh.setup.key);
  return *scanner;
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
  beast::tcp_stream& lowest() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain; }
  void close() {
    if (tls_stream || plain) {
      beast::error_code ec;
      lowest().socket().close(ec);
    }
    tls_stream.reset();
    plain.reset();
    buffer.clear();
  }
};

struct UpstreamFailure {
  unsigned status = 0;  // 502 or 504
  std::string message;
};

net::awaitable<std::optional<UpstreamFailure>> connect_upstream(Shared& sh, Upstream& up,
                                                                const Target& t) {
  up.close();
  const ProxyConfig& cfg = sh.config();
  HostPort where = cfg.tcp_target({t.host, t.port});
  auto ex = co_await net::this_coro::executor;
  beast::error_code ec;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
  if (ec)
    co_return UpstreamFailure{
        502, "promptgate could not resolve upstream host " + t.host + ": " + ec.message()};
  auto stream = std::make_unique<beast::tcp_stream>(ex);
  stream->expires_after(ms(cfg.upstream_connect_timeout_ms));
  co_await stream->async_connect(endpoints, tok(ec));
  if (ec == beast::error::timeout)
    co_return UpstreamFailure{504, "promptgate timed out connecting to " + t.host};
  if (ec)
    co_return UpstreamFailure{502, "promptgate could not connect to " + t.host + ":" +
                                       std::to_string(t.port) + ": " + ec.message()};
  stream->socket().set_option(tcp::no_delay(true), ec);
  up.host = t.host;
  up.port = t.port;
  up.tls = t.tls;
  if (!t.tls) {
    up.plain = std::move(stream);
    co_return std::nullopt;
  }
  auto tls = std::make_unique<TlsStream>(std::move(*stream), sh.upstream_tls);
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
};

template <class Client, class Up>
net::awaitable<void> exchange(Shared& sh, Client& client, Up& up, beast::tcp_stream& up_lowest,
                              beast::flat_buffer& ubuf, http::request<http::string_body>& req,
                              bool client_wants_keep_alive, Exchange& x) {
  const ProxyConfig& cfg = sh.config();
  beast::error_code ec;
  auto t0 = Clock::now();
  up_lowest.expires_after(ms(cfg.upstream_response_timeout_ms));
  co_await http::async_write(up, req, tok(ec));
  if (ec) {
    x.failure =
        UpstreamFailure{502, "promptgate could not send the request upstream: " + ec.message()};
    co_return;
  }
  x.sent = true;
  http::response_parser<http::buffer_body> rp;
  rp.body_limit(boost::none);
  if (req.method() == http::verb::head) rp.skip(true);
  co_await http::async_read_header(up, ubuf, rp, tok(ec));
  if (ec) {
    x.failure = ec == beast::error::timeout
                    ? UpstreamFailure{504, "promptgate timed out waiting for the upstream"}
                    : UpstreamFailure{502, "promptgate got no valid response from the upstream: " +
                                               ec.message()};
    co_return;
  }
  x.response_started = true;
  x.upstream_ms = micros_since(t0) / 1000;
  auto& res = rp.get();
  x.upstream_status = res.result_int();
  bool upstream_keep = res.keep_alive();
  for (auto name : {"keep-alive", "proxy-connection"}) res.erase(name);
  res.keep_alive(client_wants_keep_alive);
  // The header goes out at once; then each piece of body is written as soon as it is read, with
  // our own chunk framing when the response is chunked (so an SSE event is never held back).
  Client& out = client;
  {
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
    beast::get_lowest_layer(out).expires_after(ms(cfg.upstream_response_timeout_ms));
    if (chunked)
      co_await net::async_write(out, http::make_chunk(net::buffer(piece.data(), got)), tok(ec));
    else
      co_await net::async_write(out, net::buffer(piece.data(), got), tok(ec));
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  if (chunked) {
    co_await net::async_write(out, http::make_chunk_last(), tok(ec));
    if (ec) {
      x.client_failed = true;
      co_return;
    }
  }
  x.client_keep_alive = client_wants_keep_alive && !res.need_eof();
  x.upstream_reusable = upstream_keep && rp.is_done();
}

struct Connection {
  Shared& sh;
  std::string client;  // address:port
  Upstream upstream;
};

template <class Client>
net::awaitable<void> send_response(Client& client, http::response<http::string_body> res) {
  beast::error_code ec;
  beast::get_lowest_layer(client).expires_after(std::chrono::seconds(30));
  co_await http::async_write(client, res, tok(ec));
}

template <class Client>
net::awaitable<void> forward_request(Connection& conn, Client& client, const Target& target,
                                     http::request<http::string_body>& out, bool keep_alive,
                                     AuditEvent& ev, bool& keep) {
  Exchange x;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = conn.upstream.connected_to(target);
    if (!reused) {
      if (auto failure = co_await connect_upstream(conn.sh, conn.upstream, target)) {
        x.failure = failure;
        break;
      }
    }
    x = Exchange{};
    if (conn.upstream.tls_stream)
      co_await exchange(conn.sh, client, *conn.upstream.tls_stream, conn.upstream.lowest(),
                        conn.upstream.buffer, out, keep_alive, x);
    else
      co_await exchange(conn.sh, client, *conn.upstream.plain, conn.upstream.lowest(),
                        conn.upstream.buffer, out, keep_alive, x);
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
  if (x.failure) {
    conn.upstream.close();
    ev.status = x.failure->status;
    ev.error = x.failure->message;
    co_await send_response(
        client, error_response(x.failure->status, "api_error", x.failure->message, keep_alive));
    keep = keep_alive;
    co_return;
  }
  ev.status = x.upstream_status;
  if (!x.upstream_reusable) conn.upstream.close();
  keep = !x.client_failed && x.client_keep_alive;
}

// One request whose header has been read: read and scan the body, decide, then answer or
// forward. Sets `keep` when the client connection can carry another request.
template <class Client>
net::awaitable<void> handle_request(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser,
                                    const Target& target, std::string path, bool& keep) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = sh.config();
  auto& req = parser.get();
  keep = false;
  AuditEvent ev;
  ev.request_id = sh.request_id_prefix + std::to_string(sh.next_request_id++);
  ev.client = conn.client;
  ev.method = std::string(req.method_string());
  ev.host = target.host;
  ev.port = target.port;
  ev.path = path.substr(0, path.find('?'));
  ev.destination = to_string(target.destination);
  ev.mode = to_string(cfg.mode);
  bool wants_keep_alive = req.keep_alive();
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

  if (beast::iequals(req[http::field::expect], "100-continue")) {
    beast::error_code ec;
    http::response<http::empty_body> cont{http::status::continue_, 11};
    co_await http::async_write(client, cont, tok(ec));
    if (ec) co_return;
  }

  // --- the body, scanned as it arrives -------------------------------------------------------
  std::string raw_body;
  std::string decoded_body;  // only when a Content-Encoding applies
  std::unique_ptr<ContentDecoder> decoder;
  std::string content_encoding(req[http::field::content_encoding]);
  if (inspect && !content_encoding.empty() && !beast::iequals(content_encoding, "identity")) {
    std::string err;
    decoder = ContentDecoder::create(content_encoding, cfg.max_decoded_body_bytes, err);
    if (!decoder) {
      co_await respond(415, "invalid_request_error",
                       "promptgate cannot inspect this request: " + err +
                           ". It was not forwarded; send it uncompressed or with gzip, deflate, "
                           "br or zstd.",
                       false, "error");
      conn.sh.setup.audit->write(ev);
      co_return;
    }
  }
  std::string_view content_type = req[http::field::content_type];
  InputFormat format = content_type.find("json") != std::string_view::npos ? InputFormat::json
                                                                           : InputFormat::automatic;
  Scanner& scanner = thread_scanner(sh);
  std::unique_ptr<ScanStream> scan;
  uint64_t scan_us = 0;
  bool decode_failed = false, decoded_too_large = false;
  std::string decode_error;
  auto scan_piece = [&](std::string_view piece) {
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
      scan_piece(out);
      decoded_body += out;
    }
  };

  std::vector<char> piece(64 * 1024);
  beast::error_code ec;
  while (!parser.is_done()) {
    req.body().data = piece.data();
    req.body().size = piece.size();
    beast::get_lowest_layer(client).expires_after(ms(cfg.body_timeout_ms));
    co_await http::async_read(client, buf, parser, tok(ec));
    if (ec == http::error::need_buffer) ec = {};
    size_t got = piece.size() - req.body().size;
    if (got) {
      std::string_view data(piece.data(), got);
      raw_body.append(data);
      if (inspect) {
        if (decoder)
          decode_piece(data, false);
        else
          scan_piece(data);
      }
    }
    if (ec) break;
  }
  ev.body_bytes = raw_body.size();
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
    sh.setup.audit->write(ev);
    co_return;
  }
  if (decoder) decode_piece({}, true);
  if (inspect) ev.model = model_of(decoder ? std::string_view(decoded_body) : raw_body);

  // --- findings: body, query string, configured headers --------------------------------------
  std::vector<Finding> findings;
  bool scan_failed = false;
  std::string scan_error;
  if (inspect) {
    auto t0 = Clock::now();
    try {
      if (scan) {
        ScanResult r = scan->finish();
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
    sh.setup.audit->write(ev);
    co_return;
  }
  if (scan_failed && !fail_open) {
    co_await respond(400, "invalid_request_error",
                     "promptgate could not parse the request body as JSON (" + scan_error +
                         "), so it was not forwarded.",
                     wants_keep_alive, "error");
    sh.setup.audit->write(ev);
    co_return;
  }

  // --- decision ------------------------------------------------------------------------------
  std::string_view authorization = req[http::field::authorization];
  bool body_signed =
      authorization.substr(0, 16) == "AWS4-HMAC-SHA256" || cfg.signed_body_host(target.host);
  RequestDecision decision = decide(cfg, target.host, findings, body_signed);
  // A finding outside the body (query, header) cannot be redacted in place: block instead.
  for (size_t i = 0; i < findings.size(); ++i)
    if (decision.actions[i] == Action::redact && !findings[i].location.empty() &&
        (findings[i].location == "query" || findings[i].location.rfind("header:", 0) == 0)) {
      decision.actions[i] = Action::block;
      decision.verdict = Verdict::block;
    }
  ev.findings = findings;
  ev.actions = decision.actions;
  ev.decision = to_string(decision.verdict);
  bool enforce = cfg.mode == Mode::enforce;
  if (decision.verdict == Verdict::block && enforce) {
    std::string msg = block_message(findings, decision.actions, decision.redaction_refused_signed);
    co_await respond(cfg.block_status, "invalid_request_error", msg, wants_keep_alive, "block");
    ev.error.clear();
    sh.setup.audit->write(ev);
    co_return;
  }
  if ((decision.verdict == Verdict::block || decision.verdict == Verdict::redact) && !enforce)
    ev.enforced = false;

  // --- forward -------------------------------------------------------------------------------
  http::request<http::string_body> out{req.method(), path, 11};
  if (req.method() == http::verb::unknown) out.method_string(req.method_string());
  for (const auto& field : req)
    if (!is_hop_by_hop(field.name_string())) out.insert(field.name_string(), field.value());
  if (decision.verdict == Verdict::redact && enforce) {
    std::vector<Finding> body_findings;
    for (size_t i = 0; i < findings.size(); ++i)
      if (decision.actions[i] == Action::redact && findings[i].location != "query")
        body_findings.push_back(findings[i]);
    out.body() = redact(decoder ? std::string_view(decoded_body) : raw_body, body_findings);
    out.erase(http::field::content_encoding);
  } else {
    out.body() = std::move(raw_body);
  }
  if (!out.body().empty() || parser.content_length() || parser.chunked())
    out.content_length(out.body().size());
  out.keep_alive(true);
  co_await forward_request(conn, client, target, out, wants_keep_alive, ev, keep);
  sh.setup.audit->write(ev);
}

// Reads requests on an established client stream (plain after CONNECT-less proxying, or TLS
// after interception) until the client closes or an answer requires closing.
template <class Client>
net::awaitable<void> serve_requests(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    const Target& target) {
  const ProxyConfig& cfg = conn.sh.config();
  for (bool first = true;; first = false) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(cfg.max_header_bytes);
    parser.body_limit(cfg.max_body_bytes);
    beast::error_code ec;
    beast::get_lowest_layer(client).expires_after(
        ms(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
    co_await http::async_read_header(client, buf, parser, tok(ec));
    if (ec) {
      if (ec == http::error::header_limit)
        co_await send_response(client,
                               error_response(431, "invalid_request_error",
                                              "promptgate: request header too large", false));
      else if (ec == http::error::body_limit)
        co_await send_response(
            client, error_response(413, "request_too_large",
                                   "promptgate refused this request: the body is larger than the " +
                                       std::to_string(cfg.max_body_bytes) + "-byte limit.",
                                   false));
      else if (ec != net::error::eof && ec != beast::error::timeout &&
               ec != net::error::connection_reset && ec != ssl::error::stream_truncated &&
               ec != net::error::operation_aborted && ec != http::error::end_of_stream)
        co_await send_response(
            client, error_response(400, "invalid_request_error",
                                   "promptgate: malformed request: " + ec.message(), false));
      co_return;
    }
    bool keep = false;
    co_await handle_request(conn, client, buf, parser, target, std::string(parser.get().target()),
                            keep);
    if (!keep) co_return;
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
  const ProxyConfig& cfg = sh.config();
  AuditEvent ev;
  ev.request_id = sh.request_id_prefix + std::to_string(sh.next_request_id++);
  ev.client = conn.client;
  ev.method = "CONNECT";
  ev.mode = to_string(cfg.mode);
  HostPort hp;
  std::string bad_target;
  try {
    hp = parse_host_port(parser.get().target(), "CONNECT target");
  } catch (const std::exception& e) {
    bad_target = e.what();
  }
  if (!bad_target.empty()) {
    co_await send_response(
        stream, error_response(400, "invalid_request_error", "promptgate: " + bad_target, false));
    co_return;
  }
  ev.host = hp.host;
  ev.port = hp.port;
  Destination dest = cfg.destination_for(hp.host);
  ev.destination = to_string(dest);
  if (dest == Destination::deny) {
    ev.decision = "deny";
    ev.status = 403;
    sh.setup.audit->write(ev);
    co_await send_response(
        stream, error_response(403, "permission_error",
                               "promptgate: connections to " + hp.host +
                                   " are not allowed by policy. Ask your security team if you "
                                   "need this destination.",
                               false));
    co_return;
  }
  beast::error_code ec;
  if (dest == Destination::tunnel) {
    HostPort where = cfg.tcp_target(hp);
    auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver(ex);
    auto endpoints =
        co_await resolver.async_resolve(where.host, std::to_string(where.port), tok(ec));
    beast::tcp_stream upstream(ex);
    if (!ec) {
      upstream.expires_after(ms(cfg.upstream_connect_timeout_ms));
      co_await upstream.async_connect(endpoints, tok(ec));
    }
    if (ec) {
      ev.decision = "error";
      ev.status = 502;
      ev.error = "tunnel connect failed: " + ec.message();
      sh.setup.audit->write(ev);
      co_await send_response(
          stream, error_response(502, "api_error",
                                 "promptgate could not connect to " + hp.host + ": " + ec.message(),
                                 false));
      co_return;
    }
    static constexpr std::string_view kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
    stream.expires_never();
    co_await net::async_write(stream, net::buffer(kOk), tok(ec));
    if (ec) co_return;
    tcp::socket client_sock = stream.release_socket();
    tcp::socket upstream_sock = upstream.release_socket();
    if (buf.size()) {  // bytes the client sent right after the CONNECT header
      co_await net::async_write(upstream_sock, buf.data(), tok(ec));
      ev.tunnel_bytes_up += buf.size();
      buf.consume(buf.size());
    }
    co_await (relay_bytes(client_sock, upstream_sock, ev.tunnel_bytes_up) &&
              relay_bytes(upstream_sock, client_sock, ev.tunnel_bytes_down));
    ev.decision = "tunnel";
    ev.status = 200;
    sh.setup.audit->write(ev);
    co_return;
  }

  // Intercept: answer 200, then be the TLS server for hp.host with a minted leaf.
  static constexpr std::string_view kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
  co_await net::async_write(stream, net::buffer(kOk), tok(ec));
  if (ec) co_return;
  TlsStream tls(std::move(stream), sh.client_tls);
  CertificateAuthority::set_fallback_host(tls.native_handle(), hp.host);
  beast::get_lowest_layer(tls).expires_after(ms(cfg.header_timeout_ms));
  size_t used = co_await tls.async_handshake(ssl::stream_base::server, buf.data(), tok(ec));
  if (ec) co_return;  // a client that does not trust our CA, or that sent something else
  buf.consume(used);
  // The Host a client sends inside the tunnel must be the host it asked to CONNECT to; the
  // upstream and policy are chosen by the CONNECT target.
  Target target{hp.host, hp.port, true, Destination::intercept};
  co_await serve_requests(conn, tls, buf, target);
  beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
  co_await tls.async_shutdown(tok(ec));
}

// A new client connection: CONNECT (then intercept / tunnel / deny) or plain-HTTP proxying of
// absolute-form requests.
net::awaitable<void> serve_client(Shared& sh, tcp::socket socket) {
  beast::error_code ec;
  Connection conn{sh, {}, {}};
  auto remote = socket.remote_endpoint(ec);
  if (!ec) conn.client = remote.address().to_string() + ":" + std::to_string(remote.port());
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  const ProxyConfig& cfg = sh.config();
  for (bool first = true;; first = false) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(cfg.max_header_bytes);
    parser.body_limit(cfg.max_body_bytes);
    stream.expires_after(ms(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
    co_await http::async_read_header(stream, buf, parser, tok(ec));
    if (ec) {
      if (ec == http::error::header_limit)
        co_await send_response(stream,
                               error_response(431, "invalid_request_error",
                                              "promptgate: request header too large", false));
      else if (ec == http::error::body_limit)
        co_await send_response(
            stream, error_response(413, "request_too_large",
                                   "promptgate refused this request: the body is larger than the " +
                                       std::to_string(cfg.max_body_bytes) + "-byte limit.",
                                   false));
      else if (ec != net::error::eof && ec != beast::error::timeout &&
               ec != net::error::connection_reset && ec != http::error::end_of_stream)
        co_await send_response(
            stream, error_response(400, "invalid_request_error",
                                   "promptgate: malformed request: " + ec.message(), false));
      co_return;
    }
    auto& req = parser.get();
    if (req.method() == http::verb::connect) {
      co_await handle_connect(conn, stream, buf, parser);
      co_return;
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
      co_return;
    }
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
      co_return;
    }
    target.destination = cfg.destination_for(target.host);
    if (target.destination == Destination::deny) {
      co_await send_response(stream, error_response(403, "permission_error",
                                                    "promptgate: requests to " + target.host +
                                                        " are not allowed by policy.",
                                                    false));
      co_return;
    }
    bool keep = false;
    co_await handle_request(conn, stream, buf, parser, target, path, keep);
    if (!keep) co_return;
  }
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "promptgate: connection error: " << x.what() << "\n";
  }
}

}  // namespace

int run_server(ServerSetup setup) {
  const ProxyConfig& cfg = *setup.config;
  Shared sh{setup, make_client_tls(*setup.ca), make_upstream_tls(cfg), {}, {}};
  {
    std::random_device rd;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "pg-%08x-", rd());
    sh.request_id_prefix = prefix;
  }
  unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (unsigned i = 0; i < threads; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
  net::io_context& main_ctx = *contexts[0];

  beast::error_code ec;
  auto address = net::ip::make_address(cfg.listen.host, ec);
  if (ec) {
    std::cerr << "promptgate: listen address '" << cfg.listen.host << "' is not an IP address\n";
    return 2;
  }
  tcp::acceptor acceptor(main_ctx);
  tcp::endpoint endpoint(address, cfg.listen.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "promptgate: cannot listen on " << cfg.listen.host << ":" << cfg.listen.port
              << ": " << ec.message() << "\n";
    return 2;
  }
  auto bound = acceptor.local_endpoint();
  std::cerr << "promptgate listening on " << bound.address().to_string() << ":" << bound.port()
            << " (" << threads << " threads, " << setup.rules->size() << " rules, mode "
            << to_string(cfg.mode) << ")" << std::endl;

  net::co_spawn(
      main_ctx,
      [&]() -> net::awaitable<void> {
        size_t next = 0;
        for (;;) {
          beast::error_code aec;
          net::io_context& target = *contexts[next++ % contexts.size()];
          tcp::socket socket = co_await acceptor.async_accept(target, tok(aec));
          if (aec == net::error::operation_aborted) co_return;
          if (aec) continue;  // e.g. EMFILE: keep serving the connections we have
          net::co_spawn(target, serve_client(sh, std::move(socket)), log_exception);
        }
      },
      log_exception);

  net::signal_set signals(main_ctx, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int sig) {
    std::cerr << "promptgate: signal " << sig << ", stopping" << std::endl;
    beast::error_code ignored;
    acceptor.close(ignored);
    for (auto& c : contexts) c->stop();
  });

  std::vector<std::thread> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(net::make_work_guard(*c));
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&, i] { contexts[i]->run(); });
  main_ctx.run();
  for (auto& c : contexts) c->stop();
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace promptgate::proxy

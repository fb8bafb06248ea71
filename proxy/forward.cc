#include "proxy/forward.h"

#include <array>

#include "proxy/client_answer.h"
#include "proxy/upstream.h"

namespace promptgate::proxy {
namespace {

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

// Writes the request and reads the answer's header into `rp`; false (x.failure set) on error.
template <class Up>
net::awaitable<bool> send_and_read_header(const ProxyConfig& cfg, Up& up, beast::flat_buffer& ubuf,
                                          ForwardRequest& req,
                                          http::response_parser<http::buffer_body>& rp,
                                          Exchange& x) {
  beast::error_code ec;
  beast::get_lowest_layer(up).expires_after(ms(cfg.upstream_response_timeout_ms));
  co_await http::async_write(up, req, tok(ec));
  if (ec) {
    x.failure = UpstreamFailure{
        502, "promptgate could not send the request upstream: " + ec.message(), "protocol"};
    co_return false;
  }
  x.sent = true;
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
    co_return false;
  }
  x.response_started = true;
  co_return true;
}

// A JSON answer collected whole: stand-ins put back, then written with a Content-Length.
template <class Client>
net::awaitable<void> write_restored_json(Client& out, const ProxyConfig& cfg,
                                         http::response<http::buffer_body>& res,
                                         const std::string& whole, const Substitutions& restore,
                                         Exchange& x, beast::error_code& ec) {
  std::string restored = restore_json_body(whole, restore, &x.restored);
  res.chunked(false);
  res.content_length(restored.size());
  res.body().data = restored.data();
  res.body().size = restored.size();
  res.body().more = false;
  http::response_serializer<http::buffer_body> sr{res};
  beast::get_lowest_layer(out).expires_after(ms(cfg.upstream_response_timeout_ms));
  co_await http::async_write(out, sr, tok(ec));
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
  http::response_parser<http::buffer_body> rp;
  if (!co_await send_and_read_header(cfg, up, ubuf, req, rp, x)) co_return;
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
  }
  if (!ec && whole) co_await write_restored_json(out, cfg, res, *whole, *restore, x, ec);
  // A collected answer went out with a Content-Length instead of chunks.
  if (!ec && chunked && !whole) co_await net::async_write(out, http::make_chunk_last(), tok(ec));
  if (ec) {
    x.client_failed = true;
    co_return;
  }
  x.client_keep_alive = client_wants_keep_alive && !res.need_eof();
  // An interim (1xx) answer is not the end of the exchange: never reuse after one.
  x.upstream_reusable = upstream_keep && rp.is_done() && x.upstream_status >= 200;
}

}  // namespace

template <class Client>
net::awaitable<void> forward_request(Connection& conn, Client& client, const Target& target,
                                     ForwardRequest& out, bool keep_alive, AuditEvent& ev,
                                     bool& keep, BodyBudget::Hold* held,
                                     std::shared_ptr<const Substitutions> restore) {
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
  if (x.upstream_reusable) {
    conn.upstream.buffer.shrink_to_fit();
    conn.pool.give(std::move(conn.upstream), target, generation);
  }
  conn.upstream.close();  // a moved-from Upstream is empty; this resets it for the next request
  keep = !x.client_failed && x.client_keep_alive;
}

template net::awaitable<void> forward_request<beast::tcp_stream>(
    Connection&, beast::tcp_stream&, const Target&, ForwardRequest&, bool, AuditEvent&, bool&,
    BodyBudget::Hold*, std::shared_ptr<const Substitutions>);
template net::awaitable<void> forward_request<TlsStream>(Connection&, TlsStream&, const Target&,
                                                         ForwardRequest&, bool, AuditEvent&, bool&,
                                                         BodyBudget::Hold*,
                                                         std::shared_ptr<const Substitutions>);

}  // namespace promptgate::proxy

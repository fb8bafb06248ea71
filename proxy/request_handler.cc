#include "proxy/request_handler.h"

#include <array>

#include "proxy/client_answer.h"
#include "proxy/forward.h"
#include "proxy/http_fields.h"
#include "proxy/pipeline/body_intake.h"
#include "proxy/pipeline/decide_stage.h"
#include "proxy/pipeline/head_stage.h"
#include "proxy/pipeline/read_stage.h"
#include "proxy/pipeline/rewrite_stage.h"
#include "proxy/pipeline/scan_stage.h"
#include "proxy/read_deadline.h"

namespace promptgate::proxy {

bool client_went_away(const beast::error_code& ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == ssl::error::stream_truncated ||
         ec == net::error::operation_aborted || ec == net::error::bad_descriptor ||
         ec == http::error::end_of_stream || ec == http::error::partial_message;
}

namespace {

// The engine's scanner for this thread, rebuilt if the rule set changed.
// Shared: a request holds its scanner across its reads, while a reload may replace the thread's.
std::shared_ptr<Scanner> thread_scanner(const Snapshot& snap, const FingerprintKey& key) {
  thread_local std::shared_ptr<Scanner> scanner;
  thread_local const KnownSecrets* known = nullptr;
  if (!scanner || scanner->rules() != snap.rules) {
    scanner = std::make_shared<Scanner>(snap.rules, key);
    known = nullptr;
  }
  if (known != snap.known_secrets.get()) {
    scanner->set_known_secrets(snap.known_secrets);
    known = snap.known_secrets.get();
  }
  return scanner;
}

HeadFacts head_facts(const http::request_parser<http::buffer_body>& parser) {
  HeadFacts facts;
  const auto& req = parser.get();
  facts.version = req.version();
  facts.chunked = parser.chunked();
  for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it)
    facts.transfer_encoding.push_back(it->value());
  return facts;
}

// Repeated Content-Encoding lines are one list (RFC 9110 5.3), as the upstream will read them.
std::string content_encoding_of(const http::request<http::buffer_body>& req) {
  std::string list;
  for (auto [it, end] = req.equal_range(http::field::content_encoding); it != end; ++it) {
    if (!list.empty()) list += ", ";
    list += it->value();
  }
  return list;
}

// The body is read straight into its final buffer and each new piece is scanned in place: no
// intermediate copy. With a Content-Length (the parser has already refused one over the
// limit), what the header read buffered is taken first and the rest comes from the stream
// directly, past the parser, whose buffer copy and layers of composed operations cost more
// than the read itself; a chunked body goes through the parser. Stops early when the budget
// refuses (body.over_budget()).
template <class Client>
net::awaitable<beast::error_code> read_body(Client& client, beast::flat_buffer& buf,
                                            http::request_parser<http::buffer_body>& parser,
                                            BodyIntake& body, uint64_t max_body_bytes) {
  beast::error_code ec;
  auto& req = parser.get();
  if (!parser.content_length() || parser.chunked()) {
    while (!parser.is_done() && !body.over_budget()) {
      if (!body.grow_for_chunk(max_body_bytes)) break;
      req.body().data = body.free_space();
      req.body().size = body.free_size();
      co_await http::async_read(client, buf, parser, tok(ec));
      if (ec == http::error::need_buffer) ec = {};
      size_t got = body.free_size() - req.body().size;
      if (got) body.take(got);
      if (ec) break;
    }
    co_return ec;
  }
  const uint64_t length = *parser.content_length();
  // The budget is taken as bytes arrive, a step ahead of them, not for the declared length:
  // headers that only announce large bodies must not fill it. The buffer's pages are not
  // touched (no zero-fill), so memory follows the bytes received too. Whole steps, so what a
  // request holds is easy to reason about (and to watch).
  constexpr uint64_t kReserveStep = 1 << 20;
  auto step_after = [&](uint64_t bytes) {
    return std::min<uint64_t>(length, (bytes / kReserveStep + 1) * kReserveStep);
  };
  body.size_for(length);
  size_t buffered = std::min<size_t>(buf.size(), static_cast<size_t>(length));
  if (buffered && body.fits(step_after(buffered))) {
    net::buffer_copy(net::buffer(body.free_space(), buffered), buf.data());
    buf.consume(buffered);
    body.take(buffered);
  }
  while (body.used() < length && !body.over_budget()) {
    const uint64_t reserved = step_after(body.used());
    if (!body.fits(reserved)) break;
    size_t got = co_await client.async_read_some(
        net::buffer(body.free_space(), static_cast<size_t>(reserved) - body.used()), tok(ec));
    if (got) body.take(got);
    if (ec) break;
  }
  if (ec && body.used() == length) ec = {};  // complete; the error belongs to the next read
  co_return ec;
}

// Over the budget: the memory is given back first, then the rest of the body is read into a
// small buffer and dropped, since answering mid-upload and closing would reset the connection
// under the client before it reads the answer. The body deadline still applies. Returns the
// bytes the body had in all, and sets `ec` on a read error.
template <class Client>
net::awaitable<uint64_t> drain_body(Client& client, beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser,
                                    BodyIntake& body, beast::error_code& ec) {
  auto& req = parser.get();
  const bool direct = parser.content_length() && !parser.chunked();
  const uint64_t length = direct ? *parser.content_length() : 0;
  uint64_t received = direct ? length : body.used();
  const uint64_t used = body.used();
  body.drop();
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
  co_return received;
}

// `Expect: 100-continue`: a body that could never be taken is refused before the client sends
// it (RFC 9110 10.1.1), not after a whole upload: over max_body_bytes (413), or more than the
// memory budget has room for now (503, Retry-After). The connection then closes: the client may
// send the body anyway.
std::optional<Refusal> continue_or_refuse(const http::request_parser<http::buffer_body>& parser,
                                          BodyIntake& body, const ProxyConfig& cfg) {
  const auto length = parser.content_length();
  if (!length || parser.chunked()) return std::nullopt;
  if (*length > cfg.max_body_bytes)
    return refuse(413, "request_too_large",
                  "promptgate refused this request: the body is larger than the " +
                      std::to_string(cfg.max_body_bytes) + "-byte limit.",
                  false);
  if (!body.fits(*length)) return body.over_budget_refusal(false);
  return std::nullopt;
}

// Writes the 100 Continue; false (with the audit fields set) when the client has gone.
template <class Client>
net::awaitable<bool> send_continue(Client& client, AuditEvent& ev) {
  beast::error_code ec;
  http::response<http::empty_body> cont{http::status::continue_, 11};
  co_await http::async_write(client, cont, tok(ec));
  if (!ec) co_return true;
  ev.decision = "error";
  ev.error = "client closed the connection before the body was sent";
  co_return false;
}

// What a failed body read is answered with; nullopt when the client went away (nobody to
// answer; the audit line says so).
std::optional<Refusal> body_read_refusal(const beast::error_code& ec, const ProxyConfig& cfg) {
  if (ec == http::error::body_limit)
    return refuse(413, "request_too_large",
                  "promptgate refused this request: the body is larger than the " +
                      std::to_string(cfg.max_body_bytes) + "-byte limit.",
                  false);
  if (ec == beast::error::timeout)
    return refuse(408, "invalid_request_error", "promptgate timed out reading the request body.",
                  false);
  if (client_went_away(ec)) return std::nullopt;
  return refuse(400, "invalid_request_error",
                "promptgate could not read the request body: " + ec.message(), false);
}

// The request promptgate sends upstream: the client's fields but hop-by-hop ones and the
// override header, the Host the destination policy judged, and the body (rewritten or not).
ForwardRequest upstream_request(const http::request<http::buffer_body>& req,
                                const std::string& path, const Target& target) {
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
  return out;
}

// The readers run on the reader pool, one request's attachments in turn, and the request comes
// back to its own thread (its scanner's) with what they read.
net::awaitable<std::vector<ReadOutcome>> read_attachments(
    Shared& sh, const std::vector<Attachment>& attachments, const std::vector<size_t>& todo,
    const ReadLimits& limits) {
  std::vector<ReadOutcome> outcomes;
  auto home = co_await net::this_coro::executor;
  co_await net::post(*sh.reader_pool, net::use_awaitable);
  try {
    for (size_t i : todo) outcomes.push_back(read_attachment(attachments[i], limits));
  } catch (const std::exception& e) {
    ReadOutcome failed;
    failed.status = ReadStatus::unreadable;
    failed.reason = std::string("reader error: ") + e.what();
    outcomes.resize(todo.size(), failed);
  }
  co_await net::post(home, net::use_awaitable);
  co_return outcomes;
}

// The read stage's driver: the readers run on the reader pool, then their text is scanned
// here; findings join the scan's. Returns the refusal for an attachment that was not read.
net::awaitable<std::optional<Refusal>> read_stage(Shared& sh, const RequestContext& ctx,
                                                  Scanner& scanner, ScanOutcome& scanned) {
  auto t0 = Clock::now();
  std::vector<size_t> todo = attachments_to_read(scanned.attachments, ctx.cfg.attachments);
  std::vector<ReadOutcome> outcomes;
  if (!todo.empty())
    outcomes = co_await read_attachments(sh, scanned.attachments, todo,
                                         read_limits_for(ctx.cfg.attachments));
  ReadStageResult read = finish_reads(scanner, ctx, scanned, todo, outcomes);
  ctx.ev.read_ms = micros_since(t0) / 1000;
  for (auto& f : read.findings) scanned.findings.push_back(std::move(f));
  co_return std::move(read.refusal);
}

}  // namespace

template <class Client>
net::awaitable<void> handle_request(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser,
                                    const Target& target, std::string path, bool& keep) {
  Shared& sh = conn.sh;
  const ProxyConfig& cfg = conn.cfg();
  auto& req = parser.get();
  keep = false;
  AuditScope audit(sh.audit_sinks(), new_event(conn));
  AuditEvent& ev = audit.event();
  ev.method = std::string(req.method_string());
  ev.host = target.host;
  ev.port = target.port;
  ev.path = path.substr(0, path.find('?'));
  ev.destination = to_string(target.destination);
  const PolicyBlock* policy = cfg.policy_for(conn.identity, target.host);
  if (policy) ev.policy = policy->name;
  RequestContext ctx{*conn.snap, cfg, target, path, conn.identity, conn.conversation_owner(),
                     policy, policy && policy->mode ? *policy->mode : cfg.mode,
                     target.destination == Destination::intercept,
                     // While draining, answer this request and then close: the client
                     // reconnects elsewhere.
                     req.keep_alive() && !sh.draining, ev};
  ev.mode = to_string(ctx.mode);

  // --- head ----------------------------------------------------------------------------------
  std::optional<Refusal> refusal = check_framing(head_facts(parser));
  if (refusal) {
    co_await send_refusal(client, std::move(*refusal), ev, keep);
    co_return;
  }
  // A chunked body may end in trailer fields, which Beast adds to the header: counted now, so a
  // trailer can be refused once the body is in.
  const auto header_fields = std::distance(req.begin(), req.end());
  // --- body: read under limits and budget, decoded and scanned as it arrives ------------------
  std::string_view content_type = req[http::field::content_type];
  InputFormat format = content_type.find("json") != std::string_view::npos ? InputFormat::json
                                                                           : InputFormat::automatic;
  const std::shared_ptr<Scanner> scanner = thread_scanner(*conn.snap, sh.setup.key);
  BodyIntake body(cfg, sh.body_budget, *scanner, format, ctx.inspect, conn.snap->seen_blocks.get());
  refusal = body.open_decoder(content_encoding_of(req));
  if (!refusal && beast::iequals(req[http::field::expect], "100-continue")) {
    refusal = continue_or_refuse(parser, body, cfg);
    if (!refusal && !co_await send_continue(client, ev)) co_return;
  }
  if (refusal) {
    co_await send_refusal(client, std::move(*refusal), ev, keep);
    co_return;
  }
  // One deadline for the whole body, not per read: a client dripping a byte at a time is cut
  // off at body_ms like one that stops. It leaves the socket open, so the 408 reaches the client.
  beast::error_code ec;
  {
    ReadDeadline deadline(beast::get_lowest_layer(client), ms(cfg.body_timeout_ms));
    ec = co_await read_body(client, buf, parser, body, cfg.max_body_bytes);
    if (body.over_budget() && !ec) {
      ev.body_bytes = co_await drain_body(client, buf, parser, body, ec);
      // A read error while dropping (a body over max_body_bytes, a timeout) is answered below.
      if (!ec) refusal = body.over_budget_refusal(ctx.wants_keep_alive);
    } else {
      ev.body_bytes = body.used();
    }
    deadline.classify(ec);
  }
  if (ec) {
    ev.decision = "error";
    ev.error = "client closed the connection before the body was complete";
    refusal = body_read_refusal(ec, cfg);
  } else if (!refusal && std::distance(req.begin(), req.end()) != header_fields) {
    refusal = trailer_refusal();
  } else if (!refusal) {
    body.end_of_body();
    if (body.over_budget()) {  // the decompressed body's tail did not fit
      body.drop();
      refusal = body.over_budget_refusal(ctx.wants_keep_alive);
    }
  }
  if (refusal && refusal->status == 503) sh.metrics.request_shed();
  if (refusal || ec) {
    if (refusal) co_await send_refusal(client, std::move(*refusal), ev, keep);
    co_return;
  }
  if (ctx.inspect) ev.model = model_of(body.text());

  // --- scan: findings in the body, the query string and the configured headers ---------------
  ScanOutcome scanned;
  if (ctx.inspect) {
    ScannedHeaders headers;
    for (const auto& name : cfg.scan_headers)
      if (auto it = req.find(name); it != req.end()) headers.emplace_back(name, it->value());
    scanned = scan_request(*scanner, body, ctx, headers, content_type);
    ev.scan_skipped_bytes = scanned.skipped_bytes;
    ev.scan_us = body.scan_us() + scanned.scan_us;
    sh.metrics.scanned(body.text().size() + path.size() - ev.scan_skipped_bytes,
                       static_cast<double>(ev.scan_us) / 1e6, ev.scan_skipped_bytes);
  }
  refusal = unreadable_body_refusal(body, scanned, ctx);
  if (refusal) {
    co_await send_refusal(client, std::move(*refusal), ev, keep);
    co_return;
  }

  // --- read: the text inside attachments (PDF pages, pictures by OCR, office files) -----------
  // An attachment not read is refused unless a finding blocks the request anyway.
  std::optional<Refusal> unread;
  if (!scanned.attachments.empty()) unread = co_await read_stage(sh, ctx, *scanner, scanned);

  // --- decide --------------------------------------------------------------------------------
  DecideInputs inputs{req[http::field::authorization], req[kOverrideHeader], body.text(),
                      &sh.blocked_values};
  Decided decided = decide_request(ctx, scanned.findings, inputs, sh.overrides);
  if (decided.block) {
    co_await send_refusal(client, std::move(*decided.block), ev, keep);
    co_return;
  }
  if (unread && decided.enforce) {
    ev.decision = "block";
    co_await send_refusal(client, std::move(*unread), ev, keep);
    co_return;
  }

  // --- rewrite, then forward and stream the answer back ---------------------------------------
  ForwardRequest out = upstream_request(req, path, target);
  if (decided.rewrite) {
    std::string rewritten = rewrite_body(ctx, body.text(), format, scanned.findings,
                                         decided.decision.actions, *sh.vault);
    out.body().assign(rewritten.begin(), rewritten.end());
    out.erase(http::field::content_encoding);
  } else {
    out.body() = std::move(body.raw());
  }
  // From here only the body going upstream is held, and only until the response header
  // arrives (the forwarder lets it go then): an answer may stream for minutes.
  body.release();
  body.hold().set(out.body().size());
  if (!out.body().empty() || parser.content_length() || parser.chunked())
    out.content_length(out.body().size());
  out.keep_alive(true);
  // Stand-ins go back to their originals in the answer; the restorer reads plain bytes, so the
  // answer is asked for uncompressed.
  std::shared_ptr<const Substitutions> restore = restorations_for(ctx, *sh.vault);
  if (restore) out.set(http::field::accept_encoding, "identity");
  co_await forward_request(conn, client, target, out, ctx.wants_keep_alive, ev, keep, &body.hold(),
                           restore);
}

template net::awaitable<void> handle_request<beast::tcp_stream>(
    Connection&, beast::tcp_stream&, beast::flat_buffer&, http::request_parser<http::buffer_body>&,
    const Target&, std::string, bool&);
template net::awaitable<void> handle_request<TlsStream>(Connection&, TlsStream&,
                                                        beast::flat_buffer&,
                                                        http::request_parser<http::buffer_body>&,
                                                        const Target&, std::string, bool&);

}  // namespace promptgate::proxy

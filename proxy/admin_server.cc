#include "proxy/admin_server.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "proxy/upstream.h"

namespace promptgate::proxy {

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

std::string Reloader::reload() {
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

namespace {

// POST /-/reload: compiled on a thread of its own, so this io thread keeps serving traffic.
net::awaitable<void> answer_reload(Shared& sh, Reloader& reloader,
                                   const http::request<http::string_body>& req,
                                   http::response<http::string_body>& res) {
  if (req.method() != http::verb::post) {
    res.result(http::status::method_not_allowed);
    res.body() = "use POST\n";
    co_return;
  }
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

}  // namespace

net::awaitable<void> serve_admin(Shared& sh, Reloader& reloader, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buf;
  for (;;) {
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    co_await http::async_read(stream, buf, parser, tok(ec));
    if (ec) co_return;
    http::request<http::string_body> req = parser.release();
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
      co_await answer_reload(sh, reloader, req, res);
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

}  // namespace promptgate::proxy

// The proxy server's process side: listeners, the accept loops that hand each connection to
// an io thread (one io_context per thread, so a connection and its scanner never move between
// threads and the scan path takes no lock), connection limits, reload and drain signals.
// What one connection does is in connection.cc; one request, in request_handler.cc.
#include "proxy/server.h"

#include <algorithm>
#include <functional>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "proxy/admin_server.h"
#include "proxy/connection.h"
#include "proxy/descriptors.h"
#include "proxy/shared_state.h"

namespace promptgate::proxy {
namespace {

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "promptgate: connection error: " << x.what() << "\n";
  }
}

// `what` is the config setting; its flag is the same name with dashes.
bool listen_on(tcp::acceptor& acceptor, const HostPort& where, const char* what) {
  std::string flag = "--" + std::string(what);
  std::replace(flag.begin(), flag.end(), '_', '-');
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
              << "): " << ec.message();
    if (ec == net::error::address_in_use)
      std::cerr << "; another process holds the port (a promptgate already running?). Stop it, "
                   "or pick another address with "
                << flag << " ADDR:PORT or `" << what << ":` in the config";
    std::cerr << "\n";
    return false;
  }
  return true;
}

// The io threads: one io_context each, and each thread's idle upstream connections.
struct IoThreads {
  explicit IoThreads(unsigned n) {
    for (unsigned i = 0; i < n; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
    for (unsigned i = 0; i < n; ++i) pools.push_back(std::make_unique<UpstreamPool>());
  }
  std::vector<std::unique_ptr<net::io_context>> contexts;
  // Declared after the contexts, so destroyed first: pooled sockets close while their
  // io_context still exists.
  std::vector<std::unique_ptr<UpstreamPool>> pools;
};

// Registers a new connection under the connection limits; 0 when it is refused.
uint64_t admit(Shared& sh, const std::shared_ptr<ConnState>& state) {
  const ProxyConfig& now = *sh.current()->config;
  const std::string& ip = state->client_ip;
  const char* refused = nullptr;
  uint64_t id = 0;
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
  if (refused) sh.metrics.connection_refused(refused);
  return id;
}

void forget(Shared& sh, uint64_t id, const std::string& ip) {
  {
    std::lock_guard lock(sh.registry_mu);
    sh.connections.erase(id);
    if (--sh.per_client[ip] == 0) sh.per_client.erase(ip);
  }
  sh.metrics.connection_closed();
  --sh.active_connections;
}

// Accepts client connections round-robin onto the io threads.
net::awaitable<void> accept_clients(Shared& sh, tcp::acceptor& acceptor, IoThreads& io) {
  size_t next = 0;
  Clock::time_point last_accept_warning{};
  for (;;) {
    beast::error_code aec;
    const size_t thread_index = next++ % io.contexts.size();
    net::io_context& target = *io.contexts[thread_index];
    tcp::socket socket = co_await acceptor.async_accept(target, tok(aec));
    if (aec == net::error::operation_aborted || sh.draining) co_return;
    if (aec) {
      // Out of descriptors (EMFILE), the pending connection stays queued and the next accept
      // fails at once: wait a little instead of spinning, keep serving the connections we have,
      // and say why new ones wait (once a minute at most).
      const bool emfile = aec == boost::system::errc::too_many_files_open ||
                          aec == boost::system::errc::too_many_files_open_in_system;
      const auto now = Clock::now();
      if (now - last_accept_warning > std::chrono::minutes(1)) {
        last_accept_warning = now;
        std::string why = emfile ? *descriptor_exhaustion_note(true) : aec.message();
        std::cerr << "promptgate: cannot accept new connections: " << why << std::endl;
      }
      sh.metrics.connection_refused(emfile ? "out_of_descriptors" : "accept_error");
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(tok(aec));
      continue;
    }
    beast::error_code rec;
    auto state = std::make_shared<ConnState>();
    state->executor = socket.get_executor();
    state->client_ip = socket.remote_endpoint(rec).address().to_string();
    uint64_t id = admit(sh, state);
    if (id == 0) {
      socket.close(rec);
      continue;
    }
    sh.metrics.connection_opened();
    ++sh.active_connections;
    net::co_spawn(target, serve_client(sh, std::move(socket), state, *io.pools[thread_index]),
                  [&sh, id, ip = state->client_ip](std::exception_ptr e) {
                    log_exception(e);
                    forget(sh, id, ip);
                  });
  }
}

net::awaitable<void> accept_admin(Shared& sh, Reloader& reloader, tcp::acceptor& admin) {
  auto ex = co_await net::this_coro::executor;
  for (;;) {
    beast::error_code aec;
    tcp::socket socket = co_await admin.async_accept(tok(aec));
    if (aec == net::error::operation_aborted) co_return;
    if (aec) continue;
    net::co_spawn(ex, serve_admin(sh, reloader, std::move(socket)), log_exception);
  }
}

// SIGTERM / SIGINT: readiness off, no new connections, idle connections closed, busy ones
// finish their request; the io threads stop when all are gone or drain_timeout has passed.
class Drain {
 public:
  Drain(Shared& sh, IoThreads& io, tcp::acceptor& acceptor, net::signal_set& reload_signal)
      : sh_(sh),
        io_(io),
        acceptor_(acceptor),
        reload_signal_(reload_signal),
        timer_(*io.contexts[0]) {}

  void start(int sig) {
    std::cerr << "promptgate: signal " << sig << ", draining (up to "
              << sh_.current()->config->drain_timeout_ms << " ms)" << std::endl;
    sh_.draining = true;
    sh_.metrics.set_ready(false);
    beast::error_code ignored;
    acceptor_.close(ignored);
    reload_signal_.cancel();
    // Idle keep-alive connections hold no request: close them now. Busy ones finish their
    // request and then close (read_request_header sees `draining`).
    std::vector<std::shared_ptr<ConnState>> open;
    {
      std::lock_guard lock(sh_.registry_mu);
      for (auto& [id, st] : sh_.connections) open.push_back(st);
    }
    for (auto& st : open)
      net::post(st->executor, [st] {
        if (st->idle && st->socket) {
          beast::error_code e;
          st->socket->close(e);
        }
      });
    deadline_ = Clock::now() + ms(sh_.current()->config->drain_timeout_ms);
    check();
  }

 private:
  void check() {
    if (sh_.active_connections == 0 || Clock::now() >= deadline_) {
      if (sh_.active_connections)
        std::cerr << "promptgate: drain deadline reached, closing " << sh_.active_connections
                  << " connection(s)" << std::endl;
      else
        std::cerr << "promptgate: drained" << std::endl;
      for (auto& c : io_.contexts) c->stop();
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(50));
    timer_.async_wait([this](beast::error_code) { check(); });
  }

  Shared& sh_;
  IoThreads& io_;
  tcp::acceptor& acceptor_;
  net::signal_set& reload_signal_;
  net::steady_timer timer_;
  Clock::time_point deadline_;
};

void announce(Shared& sh, const tcp::acceptor& acceptor, const tcp::acceptor& admin,
              unsigned threads) {
  const ProxyConfig& cfg = *sh.current()->config;
  auto bound = acceptor.local_endpoint();
  auto admin_bound = admin.local_endpoint();
  std::cerr << "promptgate admin on " << admin_bound.address().to_string() << ":"
            << admin_bound.port() << " (/metrics /healthz /readyz, POST /-/reload)" << std::endl;
  std::cerr << "promptgate listening on " << bound.address().to_string() << ":" << bound.port()
            << " (" << threads << " threads, " << sh.current()->rules->size() << " rules, mode "
            << to_string(cfg.mode) << ")" << std::endl;
}

// Process-wide state that the first snapshot decides: the stand-in vault, metrics, request ids.
void prepare(Shared& sh) {
  const ProxyConfig& cfg = *sh.current()->config;
  sh.vault = std::make_unique<TokenVault>(
      VaultLimits{cfg.tokenize.max_conversations, cfg.tokenize.max_entries_per_conversation,
                  cfg.tokenize.max_total_bytes,
                  std::chrono::seconds(cfg.tokenize.idle_ttl_seconds)},
      sh.setup.standin_key);
  sh.reader_pool = std::make_unique<net::thread_pool>(cfg.attachments.reader_threads);
  sh.metrics.set_config_generation(1);
  sh.metrics.set_rules(sh.current()->rules->size());
  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "pg-%08x-", rd());
  sh.request_id_prefix = prefix;
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
  prepare(sh);
  const ProxyConfig& cfg = *sh.current()->config;  // listen, threads: fixed for the process
  unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  IoThreads io(threads);
  net::io_context& main_ctx = *io.contexts[0];
  tcp::acceptor acceptor(main_ctx), admin(main_ctx);
  if (!listen_on(acceptor, cfg.listen, "listen")) return 2;
  if (!listen_on(admin, cfg.admin_listen, "admin_listen")) return 2;
  announce(sh, acceptor, admin, threads);
  if (sh.setup.on_listening) {
    auto bound = acceptor.local_endpoint();
    sh.setup.on_listening(bound.address().to_string(), bound.port());
  }
  sh.metrics.set_ready(true);
  net::co_spawn(main_ctx, accept_clients(sh, acceptor, io), log_exception);
  net::co_spawn(main_ctx, accept_admin(sh, reloader, admin), log_exception);

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
  Drain drain(sh, io, acceptor, reload_signal);
  net::signal_set stop_signals(main_ctx, SIGINT, SIGTERM);
  stop_signals.async_wait([&](beast::error_code ec, int sig) {
    if (!ec) drain.start(sig);
  });

  std::vector<std::thread> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : io.contexts) guards.push_back(net::make_work_guard(*c));
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&, i] { io.contexts[i]->run(); });
  main_ctx.run();
  for (auto& c : io.contexts) c->stop();
  for (auto& w : workers) w.join();
  sh.auth_pool.join();
  sh.reader_pool->join();
  return 0;
}

}  // namespace promptgate::proxy

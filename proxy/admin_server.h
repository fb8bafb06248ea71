// The proxy's control side: building a Snapshot from the setup's loader, reloading it (SIGHUP
// or POST /-/reload: compiled off the io threads, swapped atomically, a broken config refused
// while the old one keeps serving), and the admin listener (/healthz, /readyz, /metrics,
// POST /-/reload; plain HTTP, meant for probes and Prometheus on a private network).
// Internal (Asio).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "proxy/shared_state.h"

namespace promptgate::proxy {

// Builds a snapshot from the setup's loader; throws on a bad config or rule set.
std::shared_ptr<const Snapshot> build_snapshot(Shared& sh, uint64_t generation);

// Serialises reloads; reload() returns "" on success, else the error (and keeps the old set).
struct Reloader {
  explicit Reloader(Shared& s) : sh(s) {}
  Shared& sh;
  std::mutex reload_mu;
  std::atomic<uint64_t> generation{1};
  std::string reload();
};

net::awaitable<void> serve_admin(Shared& sh, Reloader& reloader, tcp::socket socket);

}  // namespace promptgate::proxy

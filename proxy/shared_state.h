// What the proxy's connections share (Shared: the current snapshot, metrics, budgets, the
// stand-in vault, override book, connection registry) and what one client connection carries
// (Connection: its snapshot, identity, upstream connection and its thread's idle pool).
// Internal to the networking files (it includes Asio); the pipeline stages see only
// RequestContext.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "proxy/asio_aliases.h"
#include "proxy/audit_log.h"
#include "proxy/audit_scope.h"
#include "proxy/blocked_values.h"
#include "proxy/body_budget.h"
#include "proxy/handshake_failure.h"
#include "proxy/idle_pool.h"
#include "proxy/metrics.h"
#include "proxy/override.h"
#include "proxy/proxy_auth.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"
#include "proxy/target.h"
#include "proxy/token_vault.h"

namespace promptgate::proxy {

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
  explicit Shared(ServerSetup s);
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
  BlockedValues blocked_values;       // after_block: values shown blocked, per conversation
  net::thread_pool auth_pool{2};      // password hashing and reload compiles, off the io threads
  // Attachment readers (PDF text, OCR): slow and CPU-bound, so never on the io threads; its
  // size (pictures.concurrency, read at start) bounds how many are read at once.
  std::unique_ptr<net::thread_pool> reader_pool;

  std::mutex registry_mu;
  std::mutex handshake_log_mu;  // guards handshake_log
  HandshakeLogLimiter handshake_log;
  std::unordered_map<uint64_t, std::shared_ptr<ConnState>> connections;
  std::unordered_map<std::string, uint32_t> per_client;
  uint64_t next_connection_id = 1;

  std::shared_ptr<const Snapshot> current() const { return snapshot.load(); }
  AuditSinks audit_sinks() { return {*setup.audit, metrics, vault.get()}; }
};

// One upstream connection, kept open across requests (and in its thread's idle pool between
// them).
struct Upstream {
  std::string host;
  std::string address;  // Target::address
  uint16_t port = 0;
  bool tls = false;
  std::unique_ptr<TlsStream> tls_stream;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;

  bool connected_to(const Target& t) const {
    return (tls_stream || plain) && host == t.host && address == t.address && port == t.port &&
           tls == t.tls;
  }
  size_t unread_bytes() const { return buffer.size(); }
  void close() {
    beast::error_code ec;
    if (tls_stream) tls_stream->socket().close(ec);
    if (plain) plain->socket().close(ec);
    tls_stream.reset();
    plain.reset();
    buffer.clear();
  }
};

using UpstreamPool = IdlePool<Upstream>;

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

// A fresh audit event for a request or CONNECT on this connection (id, client, user, mode).
AuditEvent new_event(Connection& conn);

}  // namespace promptgate::proxy

// The intercepting forward proxy: a Boost.Beast HTTP/1.1 server that handles CONNECT (intercept
// with a minted leaf certificate, tunnel, or deny), scans every request body with the engine as
// it arrives, blocks / redacts / logs by policy, forwards over verified TLS, and streams the
// response back unbuffered. This header is Boost-free; Beast and Asio stay inside the
// networking files (connection.cc, request_handler.cc, forward.cc, upstream.cc, admin_server.cc,
// server.cc); the request's stages are in pipeline/.
//
//   ServerSetup setup{load, key, ca, audit, on_listening, override_key, standin_key, replica};   //
//   load() builds config + rules + users; reloads
//                                              // call it again
//   return run_server(setup);                  // blocks until SIGTERM (drains) or SIGINT;
//                                              // returns the exit status
#pragma once

#include <array>
#include <functional>
#include <memory>

#include "detectors/engine.h"
#include "detectors/fingerprint.h"
#include "detectors/known_secrets.h"
#include "proxy/audit_log.h"
#include "proxy/certificate_authority.h"
#include "proxy/client_certificates.h"
#include "proxy/config.h"
#include "proxy/proxy_auth.h"

namespace promptgate::proxy {

// What a (re)load produces; everything in it is replaced together.
struct Loaded {
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const Credentials> credentials;  // null when authentication is off
  std::shared_ptr<const ClientCertificateTrust> client_certificates;  // null: no mTLS
  std::shared_ptr<const KnownSecrets> known_secrets;  // null when none are configured
};

struct ServerSetup {
  // Reads the config file (plus command-line overrides), compiles the rules and loads the users
  // file; throws with a clear message. Called at start, and again on SIGHUP or POST /-/reload,
  // on a thread that is not serving traffic. listen, admin_listen, threads and audit_log are
  // read at start only.
  std::function<Loaded()> load;
  FingerprintKey key;
  std::shared_ptr<CertificateAuthority> ca;
  std::shared_ptr<AuditLog> audit;
  // Called once both listeners are bound, with the proxy's bound address and port (the port
  // the system chose when listen asked for 0): where to tell users to point their clients, so
  // that a busy port shows only the error.
  std::function<void(const std::string& host, unsigned short port)> on_listening = {};
  // Keys derived from the cluster key (detectors/cluster_key.h), so every replica sharing it
  // issues and accepts the same override codes and gives a value the same stand-in.
  std::array<unsigned char, 32> override_key{};
  std::array<unsigned char, 32> standin_key{};
  std::string replica;  // this replica's name in the audit log (pod or host name)
};

// Binds listen and admin_listen (a failure names the address, the setting and the flag, and
// returns 2), prints "promptgate listening on ADDR:PORT" to stderr, calls on_listening, and
// serves with one io_context per thread. SIGHUP reloads; SIGTERM / SIGINT drain (readiness off,
// no new connections, in-flight requests finish within drain_timeout) and return 0.
int run_server(ServerSetup setup);

}  // namespace promptgate::proxy

// The intercepting forward proxy: a Boost.Beast HTTP/1.1 server that handles CONNECT (intercept
// with a minted leaf certificate, tunnel, or deny), scans every request body with the engine as
// it arrives, blocks / redacts / logs by policy, forwards over verified TLS, and streams the
// response back unbuffered. Beast and Asio stay inside server.cc.
//
//   ServerSetup setup{config, rules, key, ca, audit};
//   return run_server(setup);   // blocks until SIGINT / SIGTERM; returns the exit status
#pragma once

#include <memory>

#include "audit_log.h"
#include "certificate_authority.h"
#include "config.h"
#include "engine.h"
#include "fingerprint.h"

namespace promptgate::proxy {

struct ServerSetup {
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const RuleSet> rules;
  FingerprintKey key;
  std::shared_ptr<CertificateAuthority> ca;
  std::shared_ptr<AuditLog> audit;
};

// Binds config->listen, prints "promptgate listening on ADDR:PORT" to stderr, and serves with
// one io_context per thread until SIGINT or SIGTERM.
int run_server(ServerSetup setup);

}  // namespace promptgate::proxy

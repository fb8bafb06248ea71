// What a reload replaces as a whole: config, compiled rules, users, client-certificate trust,
// known secrets and upstream TLS trust. A request takes the snapshot current when it starts and
// finishes on it, whatever reloads happen meanwhile. Built once per (re)load, then read-only.
//
//   std::shared_ptr<const Snapshot> snap = shared.current();
//   const ProxyConfig& cfg = *snap->config;
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "detectors/engine.h"
#include "detectors/known_secrets.h"
#include "detectors/rules.h"
#include "detectors/transcript.h"
#include "proxy/client_certificates.h"
#include "proxy/config.h"
#include "proxy/proxy_auth.h"

namespace boost::asio::ssl {
class context;
}

namespace promptgate::proxy {

struct Snapshot {
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const Credentials> credentials;  // null: no proxy authentication
  std::shared_ptr<const ClientCertificateTrust> client_certificates;  // null: no mTLS
  std::shared_ptr<const KnownSecrets> known_secrets;
  std::shared_ptr<boost::asio::ssl::context> upstream_tls;
  // Transcript blocks already scanned clean under these rules; null when incremental scanning
  // is off. A reload starts from nothing.
  std::shared_ptr<SeenBlocks> seen_blocks;
  std::unordered_map<std::string_view, const Rule*> rule_by_id;  // stand-ins take the rule's shape
  uint64_t generation = 0;
};

}  // namespace promptgate::proxy

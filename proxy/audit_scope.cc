#include "proxy/audit_scope.h"

#include <iostream>

#include "proxy/token_vault.h"

namespace promptgate::proxy {

uint64_t micros_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

AuditScope::~AuditScope() {
  // A destructor must not throw: a failing write is reported by the log itself.
  try {
    write();
  } catch (const std::exception& e) {
    std::cerr << "promptgate: audit record failed: " << e.what() << "\n";
  }
}

void AuditScope::write() {
  if (done_) return;
  done_ = true;
  AuditEvent& ev = event_;
  ev.duration_ms = micros_since(ev.started) / 1000;
  sinks_.log.write(ev);
  Metrics& m = sinks_.metrics;
  m.request(ev.host, ev.decision, static_cast<double>(micros_since(ev.started)) / 1e6);
  for (size_t i = 0; i < ev.findings.size(); ++i)
    m.finding(ev.findings[i].rule_id, to_string(ev.findings[i].category),
              to_string(i < ev.actions.size() ? ev.actions[i] : ev.findings[i].action));
  if (ev.upstream_status) m.upstream_time(static_cast<double>(ev.upstream_ms) / 1e3);
  if (ev.tunnel_bytes_up || ev.tunnel_bytes_down)
    m.tunnel_bytes(ev.tunnel_bytes_up, ev.tunnel_bytes_down);
  if ((ev.tokenized || ev.restored || ev.unrestorable) && sinks_.vault) {
    m.tokenize(ev.tokenized, ev.restored, ev.unrestorable);
    VaultStats vs = sinks_.vault->stats();
    m.set_tokenize_map(vs.conversations, vs.entries);
  }
}

}  // namespace promptgate::proxy

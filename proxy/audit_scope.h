// One audit line per request or CONNECT, written in one place. A request opens an AuditScope
// when its head has been read; every stage fills in the event; the line (and the request's
// metrics) is written once when the scope ends, whatever path the request took: answered,
// refused, blocked, forwarded, or cut off by the client. A CONNECT that turns into intercepted
// requests cancels its own scope, since each request inside it writes its own line.
//
//   AuditScope audit(sinks, new_event);
//   audit->decision = "block"; audit->status = 400;
//   // ~AuditScope writes the line
#pragma once

#include <chrono>
#include <cstdint>

#include "proxy/audit_log.h"
#include "proxy/metrics.h"

namespace promptgate::proxy {

class TokenVault;

// Where a finished request's record goes.
struct AuditSinks {
  AuditLog& log;
  Metrics& metrics;
  const TokenVault* vault = nullptr;  // tokenize map sizes, when the request used stand-ins
};

// Microseconds since `t0` on the steady clock.
uint64_t micros_since(std::chrono::steady_clock::time_point t0);

class AuditScope {
 public:
  AuditScope(AuditSinks sinks, AuditEvent event) : sinks_(sinks), event_(std::move(event)) {}
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;
  ~AuditScope();

  AuditEvent& event() { return event_; }
  AuditEvent* operator->() { return &event_; }
  // Writes the line now (at most once); the destructor then writes nothing.
  void write();
  // Nothing to record for this scope (its requests record themselves).
  void cancel() { done_ = true; }

 private:
  AuditSinks sinks_;
  AuditEvent event_;
  bool done_ = false;
};

}  // namespace promptgate::proxy

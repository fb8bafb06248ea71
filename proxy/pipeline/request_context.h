// The request pipeline's shared vocabulary. A request whose head has been read runs through
// stages in order (see docs/architecture.md): head -> body (limits, budget, content decoding,
// scanning as it arrives) -> scan (finish, query, headers) -> decide (actions, policies,
// overrides) -> rewrite (redact, tokenize) -> forward and answer. Each stage reads the
// RequestContext (fixed once the head is read) and returns what the next one needs; a stage
// that stops the request returns a Refusal, which the driver (request_handler.cc) sends.
// Nothing here includes Boost: the stages are plain functions over plain data, unit-tested
// without sockets.
#pragma once

#include <string>

#include "proxy/audit_log.h"
#include "proxy/config.h"
#include "proxy/snapshot.h"
#include "proxy/target.h"

namespace promptgate::proxy {

// Everything a stage may read about the request it is working on; filled in by the driver
// from the head and the connection, then read-only apart from the audit event.
struct RequestContext {
  const Snapshot& snap;
  const ProxyConfig& cfg;
  const Target& target;
  const std::string& path;    // the request target as sent upstream (path and query)
  const Identity& identity;   // the authenticated user, if any
  std::string owner;          // whose conversation: the user, else the client's address
  const PolicyBlock* policy;  // the policy block for (identity, host), if any
  Mode mode;                  // the policy's mode, else the config's
  bool inspect;               // an intercepted destination: the body is read and scanned
  bool wants_keep_alive;      // the client asked to keep the connection (and we are not draining)
  AuditEvent& ev;             // the request's audit line, written once by its AuditScope
};

// An answer a stage gives instead of passing the request on. Shaped like the model API's own
// errors ({"type":"error","error":{"type":..,"message":..}}) so clients print it as such.
struct Refusal {
  unsigned status = 400;
  std::string type = "invalid_request_error";
  std::string message;      // what the client reads
  std::string audit_error;  // what the audit line says: never a value or an override code
  std::string decision = "error";
  bool keep_alive = false;  // the connection may carry another request afterwards
  unsigned retry_after_seconds = 0;
};

// A refusal whose audit line repeats the client's message.
inline Refusal refuse(unsigned status, std::string type, std::string message, bool keep_alive) {
  Refusal r;
  r.status = status;
  r.type = std::move(type);
  r.audit_error = message;
  r.message = std::move(message);
  r.keep_alive = keep_alive;
  return r;
}

}  // namespace promptgate::proxy

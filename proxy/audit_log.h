// The audit log: one JSON line per request (time, request id, client, method, host, path, model,
// body bytes, decision, findings with rule / category / location / length / fingerprint, scan
// time, upstream status and time). Never a value: findings carry only what Finding carries.
//
//   AuditLog log("/var/log/promptgate/audit.jsonl");   // "-" = stdout, "" = disabled
//   log.write(event);                                   // thread-safe, one write per line
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "engine.h"

namespace promptgate::proxy {

struct AuditEvent {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string request_id;
  std::string user;  // proxy authentication; empty when off
  std::vector<std::string> groups;
  std::string policy;  // the policy block that applied, if any
  std::string client;  // address:port
  std::string method, host, path, model;
  uint16_t port = 0;
  std::string destination;  // intercept | tunnel | deny
  uint64_t body_bytes = 0;
  std::string decision;  // allow | log | redact | block | error
  std::string mode;      // enforce | monitor
  bool enforced = true;  // false in monitor mode when the decision was not applied
  std::string error;     // why the request failed (never a value)
  std::vector<Finding> findings;
  std::vector<Action> actions;
  uint64_t scan_us = 0;
  unsigned status = 0;           // what the client got
  unsigned upstream_status = 0;  // 0 when not forwarded
  uint64_t upstream_ms = 0;
  uint64_t duration_ms = 0;
  uint64_t tunnel_bytes_up = 0, tunnel_bytes_down = 0;
};

class AuditLog {
 public:
  explicit AuditLog(const std::string& path);  // throws std::runtime_error naming the path
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  bool enabled() const { return file_ != nullptr; }
  void write(const AuditEvent& event);
  static std::string to_json_line(const AuditEvent& event);

 private:
  std::mutex mu_;
  FILE* file_ = nullptr;
  bool owned_ = false;
};

}  // namespace promptgate::proxy

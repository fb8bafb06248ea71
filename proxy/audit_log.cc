// JSON-lines audit log; see audit_log.h.
#include "audit_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace promptgate::proxy {

AuditLog::AuditLog(const std::string& path) {
  if (path.empty()) return;
  if (path == "-") {
    file_ = stdout;
    return;
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error("audit log " + path + ": " + std::strerror(errno));
  owned_ = true;
}

AuditLog::~AuditLog() {
  if (owned_) std::fclose(file_);
}

namespace {
std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}
}  // namespace

std::string AuditLog::to_json_line(const AuditEvent& e) {
  nlohmann::ordered_json j = {{"time", now_iso8601()},
                              {"request_id", e.request_id},
                              {"client", e.client},
                              {"user", e.user},
                              {"groups", e.groups},
                              {"method", e.method},
                              {"host", e.host},
                              {"port", e.port},
                              {"path", e.path},
                              {"destination", e.destination},
                              {"model", e.model},
                              {"body_bytes", e.body_bytes},
                              {"decision", e.decision},
                              {"mode", e.mode},
                              {"enforced", e.enforced},
                              {"status", e.status},
                              {"scan_us", e.scan_us},
                              {"upstream_status", e.upstream_status},
                              {"upstream_ms", e.upstream_ms},
                              {"duration_ms", e.duration_ms}};
  if (!e.policy.empty()) j["policy"] = e.policy;
  if (!e.error.empty()) j["error"] = e.error;
  if (e.destination == "tunnel") {
    j["tunnel_bytes_up"] = e.tunnel_bytes_up;
    j["tunnel_bytes_down"] = e.tunnel_bytes_down;
  }
  nlohmann::ordered_json findings = nlohmann::ordered_json::array();
  for (size_t i = 0; i < e.findings.size(); ++i) {
    const Finding& f = e.findings[i];
    findings.push_back({{"rule", f.rule_id},
                        {"category", to_string(f.category)},
                        {"severity", to_string(f.severity)},
                        {"action", to_string(i < e.actions.size() ? e.actions[i] : f.action)},
                        {"location", f.location},
                        {"length", f.length},
                        {"fingerprint", f.fingerprint}});
  }
  j["findings"] = std::move(findings);
  // Paths and models come from the client; replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void AuditLog::write(const AuditEvent& event) {
  if (!file_) return;
  std::string line = to_json_line(event);
  line.push_back('\n');
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace promptgate::proxy

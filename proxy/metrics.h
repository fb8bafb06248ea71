// Prometheus metrics for the proxy, served on the admin listener's /metrics. A narrow interface
// over prometheus-cpp so the server never includes it; every call is cheap and thread-safe, and
// the per-request calls take no lock after the first use of a label set on a thread.
//
//   Metrics m;
//   m.request("api.anthropic.com", "block", 0.012);
//   std::string text = m.serialize();   // Prometheus text exposition format
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace promptgate::proxy {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // promptgate_requests_total{host,decision} and promptgate_request_duration_seconds histogram.
  // decision: allow | log | redact | block | error | deny | tunnel
  void request(std::string_view host, std::string_view decision, double seconds);
  // promptgate_findings_total{rule,category,action}
  void finding(std::string_view rule, std::string_view category, std::string_view action);
  // promptgate_scanned_bytes_total, promptgate_scan_duration_seconds histogram, and
  // promptgate_scan_skipped_bytes_total (transcript blocks passed over as scanned clean before).
  void scanned(uint64_t bytes, double seconds, uint64_t skipped_bytes = 0);
  // promptgate_upstream_duration_seconds histogram (time to response header).
  void upstream_time(double seconds);
  // promptgate_upstream_errors_total{kind}: connect | tls | timeout | protocol
  void upstream_error(std::string_view kind);
  // promptgate_connections_active gauge and promptgate_connections_total counter.
  void connection_opened();
  void connection_closed();
  // promptgate_connections_refused_total{reason}: max_connections | per_client | ...
  void connection_refused(std::string_view reason);
  // promptgate_requests_shed_total: requests answered 503 because the request bodies held in
  // memory reached max_buffered_body_bytes; promptgate_buffered_request_bytes gauge: held now.
  void request_shed();
  void set_buffered_bytes(uint64_t bytes);
  // promptgate_model_host_tunnelled_total{host}: tunnels (and plain-HTTP requests) to a host of
  // the built-in model-host catalogue that the config does not intercept: prompts going out
  // unread. Hosts are capped like promptgate_requests_total's.
  void model_host_tunnelled(std::string_view host);
  // promptgate_tunnel_bytes_total{direction="up"|"down"}
  void tunnel_bytes(uint64_t up, uint64_t down);
  // promptgate_tls_handshake_failures_total{side="client"|"upstream"}
  void tls_handshake_failure(std::string_view side);
  // promptgate_auth_failures_total{reason}: missing | invalid | throttled | certificate
  void auth_failure(std::string_view reason);
  // promptgate_leaf_cert_cache_hits_total / _misses_total, set from the CA's own counters.
  void set_leaf_cache(uint64_t hits, uint64_t misses);
  // promptgate_config_generation gauge, promptgate_config_reloads_total{result="ok"|"error"}.
  void set_config_generation(uint64_t generation);
  void config_reload(bool ok);
  // promptgate_rules gauge (rules in the active set), promptgate_ready gauge (0/1).
  void set_rules(uint64_t count);
  void set_ready(bool ready);
  // Action tokenize: promptgate_tokenized_values_total, promptgate_restored_values_total,
  // promptgate_unrestorable_values_total; the stand-in map's size as
  // promptgate_tokenize_conversations and promptgate_tokenize_entries gauges.
  void tokenize(uint64_t tokenized, uint64_t restored, uint64_t unrestorable);
  void set_tokenize_map(uint64_t conversations, uint64_t entries);

  std::string serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptgate::proxy

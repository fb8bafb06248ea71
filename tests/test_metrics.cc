// The proxy's Prometheus metrics: exact exposition lines after known calls, histogram counts, the
// active-connection gauge, the host cardinality cap, label sanitizing, exact totals under
// concurrent updates, and that every metric the Grafana dashboard queries exists.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics.h"

using promptgate::proxy::Metrics;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

void touch_everything(Metrics& m) {
  m.request("api.anthropic.com", "allow", 0.2);
  m.finding("github-pat-classic", "credential", "block");
  m.scanned(1000, 0.0002);
  m.upstream_time(0.3);
  m.upstream_error("connect");
  m.connection_opened();
  m.connection_refused("max_connections");
  m.tunnel_bytes(10, 20);
  m.tls_handshake_failure("client");
  m.auth_failure("missing");
  m.set_leaf_cache(3, 1);
  m.set_config_generation(2);
  m.config_reload(true);
  m.set_rules(270);
  m.set_ready(true);
}

void collect_exprs(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "expr" && it.value().is_string()) out.push_back(it.value());
      if (it.key() == "query" && it.value().is_string()) out.push_back(it.value());
      collect_exprs(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) collect_exprs(e, out);
  }
}

}  // namespace

TEST_CASE("metrics: requests and findings as exact exposition lines", "[metrics]") {
  Metrics m;
  m.request("api.anthropic.com", "block", 0.012);
  m.request("api.anthropic.com", "block", 0.02);
  m.request("api.anthropic.com", "allow", 1.5);
  m.request("API.Anthropic.COM", "allow", 1.5);  // host names are case-insensitive
  m.finding("github-pat-classic", "credential", "block");
  m.finding("github-pat-classic", "credential", "block");
  m.finding("us-ssn", "pii", "redact");
  const std::string text = m.serialize();
  INFO(text);
  CHECK(has_line(text, "# TYPE promptgate_requests_total counter"));
  CHECK(
      has_line(text, R"(promptgate_requests_total{decision="block",host="api.anthropic.com"} 2)"));
  CHECK(
      has_line(text, R"(promptgate_requests_total{decision="allow",host="api.anthropic.com"} 2)"));
  CHECK(has_line(
      text,
      R"(promptgate_findings_total{action="block",category="credential",rule="github-pat-classic"} 2)"));
  CHECK(has_line(text,
                 R"(promptgate_findings_total{action="redact",category="pii",rule="us-ssn"} 1)"));
  CHECK(has_line(text, "# TYPE promptgate_request_duration_seconds histogram"));
  CHECK(has_line(text, "promptgate_request_duration_seconds_count 4"));
  CHECK(has_line(text, "promptgate_request_duration_seconds_sum 3.032"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="0.01"} 0)"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="0.025"} 2)"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="2.5"} 4)"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="300"} 4)"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="+Inf"} 4)"));
}

TEST_CASE("metrics: histogram buckets are upper-inclusive and counts add up", "[metrics]") {
  Metrics m;
  m.scanned(100, 1e-5);   // exactly on the first bound: le="1e-05"
  m.scanned(200, 0.003);  // le="0.005"
  m.scanned(300, 5.0);    // above 1 s: only +Inf
  m.upstream_time(0.1);
  m.upstream_time(400);
  m.upstream_time(-1);  // a caller bug counts as zero
  const std::string text = m.serialize();
  INFO(text);
  CHECK(has_line(text, "promptgate_scanned_bytes_total 600"));
  CHECK(has_line(text, "promptgate_scan_duration_seconds_count 3"));
  CHECK(has_line(text, R"(promptgate_scan_duration_seconds_bucket{le="1e-05"} 1)"));
  CHECK(has_line(text, R"(promptgate_scan_duration_seconds_bucket{le="0.0025"} 1)"));
  CHECK(has_line(text, R"(promptgate_scan_duration_seconds_bucket{le="0.005"} 2)"));
  CHECK(has_line(text, R"(promptgate_scan_duration_seconds_bucket{le="1"} 2)"));
  CHECK(has_line(text, R"(promptgate_scan_duration_seconds_bucket{le="+Inf"} 3)"));
  CHECK(has_line(text, "promptgate_upstream_duration_seconds_count 3"));
  CHECK(has_line(text, R"(promptgate_upstream_duration_seconds_bucket{le="0.005"} 1)"));
  CHECK(has_line(text, R"(promptgate_upstream_duration_seconds_bucket{le="0.1"} 2)"));
  CHECK(has_line(text, R"(promptgate_upstream_duration_seconds_bucket{le="300"} 2)"));
  CHECK(has_line(text, R"(promptgate_upstream_duration_seconds_bucket{le="+Inf"} 3)"));
}

TEST_CASE("metrics: connections, gauges and the small counters", "[metrics]") {
  Metrics m;
  m.connection_opened();
  m.connection_opened();
  m.connection_closed();
  m.connection_refused("per_client");
  m.tunnel_bytes(100, 2000);
  m.tunnel_bytes(1, 0);
  m.model_host_tunnelled("ChatGPT.com");
  m.model_host_tunnelled("chatgpt.com");
  m.tls_handshake_failure("upstream");
  m.auth_failure("invalid");
  m.auth_failure("invalid");
  m.upstream_error("timeout");
  m.set_config_generation(7);
  m.config_reload(true);
  m.config_reload(false);
  m.config_reload(true);
  m.set_rules(273);
  m.set_ready(true);
  m.set_leaf_cache(10, 2);
  m.set_leaf_cache(15, 3);
  const std::string text = m.serialize();
  INFO(text);
  CHECK(has_line(text, "# TYPE promptgate_connections_active gauge"));
  CHECK(has_line(text, "promptgate_connections_active 1"));
  CHECK(has_line(text, "promptgate_connections_total 2"));
  CHECK(has_line(text, R"(promptgate_connections_refused_total{reason="per_client"} 1)"));
  CHECK(has_line(text, R"(promptgate_connections_refused_total{reason="max_connections"} 0)"));
  CHECK(has_line(text, R"(promptgate_tunnel_bytes_total{direction="up"} 101)"));
  CHECK(has_line(text, R"(promptgate_tunnel_bytes_total{direction="down"} 2000)"));
  CHECK(has_line(text, R"(promptgate_model_host_tunnelled_total{host="chatgpt.com"} 2)"));
  CHECK(has_line(text, R"(promptgate_tls_handshake_failures_total{side="upstream"} 1)"));
  CHECK(has_line(text, R"(promptgate_tls_handshake_failures_total{side="client"} 0)"));
  CHECK(has_line(text, R"(promptgate_auth_failures_total{reason="invalid"} 2)"));
  CHECK(has_line(text, R"(promptgate_upstream_errors_total{kind="timeout"} 1)"));
  CHECK(has_line(text, R"(promptgate_upstream_errors_total{kind="connect"} 0)"));
  CHECK(has_line(text, "promptgate_config_generation 7"));
  CHECK(has_line(text, R"(promptgate_config_reloads_total{result="ok"} 2)"));
  CHECK(has_line(text, R"(promptgate_config_reloads_total{result="error"} 1)"));
  CHECK(has_line(text, "promptgate_rules 273"));
  CHECK(has_line(text, "promptgate_ready 1"));
  CHECK(has_line(text, "promptgate_leaf_cert_cache_hits_total 15"));
  CHECK(has_line(text, "promptgate_leaf_cert_cache_misses_total 3"));

  // A CA replaced on reload restarts its totals: the counter keeps going up.
  m.set_leaf_cache(4, 0);
  m.set_ready(false);
  const std::string after = m.serialize();
  CHECK(has_line(after, "promptgate_leaf_cert_cache_hits_total 19"));
  CHECK(has_line(after, "promptgate_leaf_cert_cache_misses_total 3"));
  CHECK(has_line(after, "promptgate_ready 0"));
}

TEST_CASE("metrics: distinct hosts are capped and fold to other", "[metrics]") {
  Metrics m;
  for (int i = 0; i < 250; ++i) m.request("h" + std::to_string(i) + ".example.com", "tunnel", 0.01);
  m.request("h0.example.com", "tunnel", 0.01);    // known before the cap: keeps its series
  m.request("h249.example.com", "tunnel", 0.01);  // past the cap, again (from the cache)
  m.request("h0.example.com", "block", 0.01);     // a new decision for a known host
  // The same folding from another thread (its own cache, the shared cap).
  std::thread([&] { m.request("late.example.com", "allow", 0.01); }).join();
  const std::string text = m.serialize();
  CHECK(has_line(text, R"(promptgate_requests_total{decision="tunnel",host="h0.example.com"} 2)"));
  CHECK(has_line(text, R"(promptgate_requests_total{decision="block",host="h0.example.com"} 1)"));
  CHECK(
      has_line(text, R"(promptgate_requests_total{decision="tunnel",host="h199.example.com"} 1)"));
  CHECK_FALSE(
      has_line(text, R"(promptgate_requests_total{decision="tunnel",host="h200.example.com"} 1)"));
  CHECK(has_line(text, R"(promptgate_requests_total{decision="tunnel",host="other"} 51)"));
  CHECK(has_line(text, R"(promptgate_requests_total{decision="allow",host="other"} 1)"));
  size_t series = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind("promptgate_requests_total{", 0) == 0) ++series;
  CHECK(series == 203);  // 200 hosts with "tunnel", h0 with "block", other x2
}

TEST_CASE("metrics: label values from the network are sanitized", "[metrics]") {
  Metrics m;
  m.request("evil\"host\n\xff{}", "allow", 0.01);
  m.request("", "allow", 0.01);
  m.request(std::string(1000, 'a'), "allow", 0.01);
  const std::string text = m.serialize();
  INFO(text);
  CHECK(has_line(text, R"(promptgate_requests_total{decision="allow",host="evil_host__{}"} 1)"));
  CHECK(has_line(text, R"(promptgate_requests_total{decision="allow",host="unknown"} 1)"));
  CHECK(has_line(text, R"(promptgate_requests_total{decision="allow",host=")" +
                           std::string(253, 'a') + R"("} 1)"));
}

TEST_CASE("metrics: concurrent updates from 4 threads add up exactly", "[metrics]") {
  Metrics m;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      const std::string own = "t" + std::to_string(t) + ".example.com";
      for (int i = 0; i < kPerThread; ++i) {
        m.request("api.anthropic.com", i % 2 ? "allow" : "block", 0.05);
        m.request(own, "allow", 0.05);
        m.finding("aws-access-key", "credential", "block");
        m.scanned(3, 0.0001);
        m.connection_opened();
        m.connection_closed();
        m.tunnel_bytes(1, 2);
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::string text = m.serialize();
  INFO(text.substr(0, 4000));
  CHECK(has_line(text,
                 R"(promptgate_requests_total{decision="allow",host="api.anthropic.com"} 40000)"));
  CHECK(has_line(text,
                 R"(promptgate_requests_total{decision="block",host="api.anthropic.com"} 40000)"));
  for (int t = 0; t < 4; ++t)
    CHECK(has_line(text, R"(promptgate_requests_total{decision="allow",host="t)" +
                             std::to_string(t) + R"(.example.com"} 20000)"));
  CHECK(has_line(
      text,
      R"(promptgate_findings_total{action="block",category="credential",rule="aws-access-key"} 80000)"));
  CHECK(has_line(text, "promptgate_request_duration_seconds_count 160000"));
  CHECK(has_line(text, R"(promptgate_request_duration_seconds_bucket{le="0.05"} 160000)"));
  CHECK(has_line(text, "promptgate_scan_duration_seconds_count 80000"));
  CHECK(has_line(text, "promptgate_scanned_bytes_total 240000"));
  CHECK(has_line(text, "promptgate_connections_total 80000"));
  CHECK(has_line(text, "promptgate_connections_active 0"));
  CHECK(has_line(text, R"(promptgate_tunnel_bytes_total{direction="up"} 80000)"));
  CHECK(has_line(text, R"(promptgate_tunnel_bytes_total{direction="down"} 160000)"));
}

TEST_CASE("metrics: instances are independent", "[metrics]") {
  // The thread-local cache is per instance: a second Metrics (possibly at the same address as a
  // destroyed one) never sees the first one's series.
  for (int i = 0; i < 3; ++i) {
    Metrics m;
    m.request("api.openai.com", "allow", 0.1);
    CHECK(has_line(m.serialize(),
                   R"(promptgate_requests_total{decision="allow",host="api.openai.com"} 1)"));
  }
}

TEST_CASE("metrics: every metric the Grafana dashboard queries exists", "[metrics]") {
  std::ifstream in(std::string(PROMPTGATE_SOURCE_DIR) + "/deploy/grafana-dashboard.json");
  REQUIRE(in);
  const nlohmann::json dashboard = nlohmann::json::parse(in);
  std::vector<std::string> exprs;
  collect_exprs(dashboard, exprs);
  REQUIRE(exprs.size() >= 12);

  Metrics m;
  touch_everything(m);
  const std::string text = m.serialize();
  const std::regex name_re("promptgate_[a-z_]+");
  std::set<std::string> names;
  for (const auto& e : exprs)
    for (auto it = std::sregex_iterator(e.begin(), e.end(), name_re); it != std::sregex_iterator();
         ++it)
      names.insert(it->str());
  REQUIRE(names.size() >= 10);
  for (const auto& name : names) {
    INFO(name);
    bool found = text.find("# TYPE " + name + " ") != std::string::npos;
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      const std::string s = suffix;
      if (!found && name.size() > s.size() && name.ends_with(s)) {
        const std::string base = name.substr(0, name.size() - s.size());
        found = text.find("# TYPE " + base + " histogram") != std::string::npos;
      }
    }
    CHECK(found);
  }
}

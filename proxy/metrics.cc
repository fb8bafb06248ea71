// Prometheus metrics over prometheus-cpp core; see metrics.h and docs/metrics.md.
//
// Hot path: labelled counters are looked up in a thread_local cache keyed by this instance's id,
// so after a thread's first use of a label set there is no lock (prometheus-cpp counters and
// gauges are atomics). prometheus::Histogram takes a mutex on every Observe, so the three
// histograms here are our own atomic buckets, handed to prometheus-cpp's TextSerializer as
// MetricFamily values at scrape time.
//
// Label values come from the network (host names): they are sanitized to printable ASCII, capped
// in length, and each family caps its number of series (hosts at 200); past the cap a value
// folds to "other". Labels never carry request content.
#include "proxy/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace promptgate::proxy {

namespace {

constexpr size_t kMaxHosts = 200;             // distinct host values in promptgate_requests_total
constexpr size_t kMaxSeriesPerFamily = 2000;  // backstop for every other labelled family
constexpr size_t kMaxCachedPerThread = 4096;  // thread-local cache entries per instance
constexpr size_t kMaxHostLength = 253;        // a DNS name
constexpr size_t kMaxLabelLength = 128;
const std::string kOther = "other";

// Request and upstream durations: LLM calls run from milliseconds (a block) to minutes (a long
// streamed answer). Scans: 10 us to 1 s.
const std::vector<double> kRequestBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                             2.5,   5,    10,    30,   60,  120,  300};
const std::vector<double> kScanBuckets = {1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
                                          2.5e-3, 5e-3,   0.01, 0.05, 0.1,    0.5,  1};

std::atomic<uint64_t> next_instance_id{1};

void atomic_add(std::atomic<double>& target, double v) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

// A histogram with one atomic counter per bucket: Observe takes no lock. _count is derived from
// the buckets, so a scrape always sees count == the +Inf bucket; _sum may trail by an
// observation in flight.
class AtomicHistogram {
 public:
  AtomicHistogram(std::string name, std::string help, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        bounds_(std::move(bounds)),
        counts_(bounds_.size() + 1) {}

  void observe(double v) {
    // A negative, NaN or infinite duration is a caller bug: count it, as zero.
    if (!std::isfinite(v) || v < 0) v = 0;
    // Buckets are upper-inclusive (le): the first bound >= v.
    size_t i =
        static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    atomic_add(sum_, v);
  }

  prometheus::MetricFamily collect() const {
    prometheus::ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      cumulative += counts_[i].load(std::memory_order_relaxed);
      prometheus::ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(b);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = sum_.load(std::memory_order_relaxed);
    return prometheus::MetricFamily{name_, help_, prometheus::MetricType::Histogram, {m}};
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;
  std::atomic<double> sum_{0};
};

// Printable ASCII without quotes, backslashes or spaces (the exposition format needs valid UTF-8,
// and a header value can hold anything); hosts are lower-cased. Empty becomes "unknown".
std::string sanitize(std::string_view v, bool host) {
  size_t limit = host ? kMaxHostLength : kMaxLabelLength;
  std::string out;
  out.reserve(std::min(v.size(), limit));
  for (char c : v.substr(0, limit)) {
    if (c > ' ' && c < 0x7f && c != '"' && c != '\\') {
      if (host && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.push_back(c);
    } else {
      out.push_back('_');
    }
  }
  if (out.empty()) out = "unknown";
  return out;
}

// The labelled counter families, in the order of Impl::families.
enum Fam : size_t {
  kRequests,
  kFindings,
  kUpstreamErrors,
  kRefused,
  kTlsFailures,
  kAuthFailures,
  kModelHostTunnelled,
  kFamilyCount
};

struct ThreadCache {
  std::unordered_map<std::string, prometheus::Counter*> counters;
  std::string key;  // scratch, reused so a lookup does not allocate
};

}  // namespace

struct Metrics::Impl {
  struct LabelledFamily {
    prometheus::Family<prometheus::Counter>* family;
    std::vector<std::string> label_names;
    size_t max_series;
    std::unordered_set<std::string> seen;  // joined sanitized values; guarded by labels_mutex
  };

  const uint64_t id = next_instance_id.fetch_add(1);
  prometheus::Registry registry;
  std::array<LabelledFamily, kFamilyCount> families;
  std::mutex labels_mutex;

  prometheus::Counter* connections_total;
  prometheus::Counter* requests_shed;
  prometheus::Gauge* buffered_bytes;
  prometheus::Counter* scanned_bytes;
  prometheus::Counter* scan_skipped_bytes;
  prometheus::Counter* tunnel_up;
  prometheus::Counter* tunnel_down;
  prometheus::Counter* reload_ok;
  prometheus::Counter* reload_error;
  prometheus::Counter* leaf_hits;
  prometheus::Counter* leaf_misses;
  prometheus::Gauge* connections_active;
  prometheus::Gauge* config_generation;
  prometheus::Gauge* rules;
  prometheus::Gauge* ready;
  prometheus::Counter* tokenized;
  prometheus::Counter* restored;
  prometheus::Counter* unrestorable;
  prometheus::Gauge* tokenize_conversations;
  prometheus::Gauge* tokenize_entries;

  AtomicHistogram request_duration{"promptgate_request_duration_seconds",
                                   "Time from request headers to the end of the proxy's answer.",
                                   kRequestBuckets};
  AtomicHistogram upstream_duration{"promptgate_upstream_duration_seconds",
                                    "Time from sending a request upstream to its response headers.",
                                    kRequestBuckets};
  AtomicHistogram scan_duration{"promptgate_scan_duration_seconds",
                                "Time spent scanning one request body.", kScanBuckets};

  std::mutex leaf_mutex;
  uint64_t last_leaf_hits = 0;
  uint64_t last_leaf_misses = 0;

  Impl() {
    auto family = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(registry);
    };
    auto counter = [&](const char* name, const char* help) { return &family(name, help)->Add({}); };
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
    };
    families[kRequests] = {
        family("promptgate_requests_total", "Requests handled, by host and decision."),
        {"host", "decision"},
        kMaxHosts,
        {}};
    families[kFindings] = {
        family("promptgate_findings_total", "Findings in request bodies, by rule and action."),
        {"rule", "category", "action"},
        kMaxSeriesPerFamily,
        {}};
    families[kUpstreamErrors] = {
        family("promptgate_upstream_errors_total", "Failed upstream requests, by kind."),
        {"kind"},
        kMaxSeriesPerFamily,
        {}};
    families[kRefused] = {
        family("promptgate_connections_refused_total", "Client connections refused, by reason."),
        {"reason"},
        kMaxSeriesPerFamily,
        {}};
    families[kTlsFailures] = {
        family("promptgate_tls_handshake_failures_total", "Failed TLS handshakes, by side."),
        {"side"},
        kMaxSeriesPerFamily,
        {}};
    families[kAuthFailures] = {
        family("promptgate_auth_failures_total", "Rejected proxy authentication, by reason."),
        {"reason"},
        kMaxSeriesPerFamily,
        {}};

    families[kModelHostTunnelled] = {
        family("promptgate_model_host_tunnelled_total",
               "Tunnels and plain requests to a catalogued model API host that the config does "
               "not intercept (prompts going out unread), by host."),
        {"host"},
        kMaxHosts,
        {}};

    connections_total = counter("promptgate_connections_total", "Client connections accepted.");
    requests_shed = counter("promptgate_requests_shed_total",
                            "Requests answered 503 because the request bodies held in memory "
                            "reached max_buffered_body_bytes.");
    buffered_bytes = gauge("promptgate_buffered_request_bytes",
                           "Request body bytes held in memory now, all connections together.");
    scanned_bytes = counter("promptgate_scanned_bytes_total", "Request body bytes scanned.");
    scan_skipped_bytes =
        counter("promptgate_scan_skipped_bytes_total",
                "Request body bytes passed over: transcript blocks scanned clean before.");
    auto& tunnel = *family("promptgate_tunnel_bytes_total",
                           "Bytes relayed through CONNECT tunnels that are not intercepted.");
    tunnel_up = &tunnel.Add({{"direction", "up"}});
    tunnel_down = &tunnel.Add({{"direction", "down"}});
    auto& reloads = *family("promptgate_config_reloads_total", "Config reloads, by result.");
    reload_ok = &reloads.Add({{"result", "ok"}});
    reload_error = &reloads.Add({{"result", "error"}});
    leaf_hits = counter("promptgate_leaf_cert_cache_hits_total",
                        "Leaf certificates served from the local CA's cache.");
    leaf_misses = counter("promptgate_leaf_cert_cache_misses_total",
                          "Leaf certificates minted by the local CA.");
    connections_active = gauge("promptgate_connections_active", "Open client connections.");
    config_generation =
        gauge("promptgate_config_generation", "Generation of the active config (1 at start).");
    rules = gauge("promptgate_rules", "Rules in the active rule set.");
    ready = gauge("promptgate_ready", "1 when the proxy is serving, 0 otherwise.");
    tokenized = counter("promptgate_tokenized_values_total",
                        "Values replaced by a stand-in in requests (action tokenize).");
    restored = counter("promptgate_restored_values_total",
                       "Stand-ins put back to their original values in answers.");
    unrestorable = counter("promptgate_unrestorable_values_total",
                           "Stand-ins left as they were because the answer ended inside one.");
    tokenize_conversations =
        gauge("promptgate_tokenize_conversations", "Conversations holding stand-ins in memory.");
    tokenize_entries =
        gauge("promptgate_tokenize_entries", "Stand-in to value entries held in memory.");

    // The bounded label values exist at zero from the start, so rate() and alerts see them.
    for (const char* kind : {"connect", "tls", "timeout", "protocol"})
      slow_counter(kUpstreamErrors, {kind});
    for (const char* reason : {"max_connections", "per_client"}) slow_counter(kRefused, {reason});
    for (const char* side : {"client", "upstream"}) slow_counter(kTlsFailures, {side});
    for (const char* reason : {"missing", "invalid", "throttled"})
      slow_counter(kAuthFailures, {reason});
  }

  // First use of a label set (per thread): sanitize, apply the cardinality cap, Family::Add.
  prometheus::Counter* slow_counter(Fam f, std::initializer_list<std::string_view> values) {
    LabelledFamily& lf = families[f];
    std::vector<std::string> clean;
    size_t i = 0;
    for (std::string_view v : values) clean.push_back(sanitize(v, lf.label_names[i++] == "host"));
    std::lock_guard lock(labels_mutex);
    if (f == kRequests) {
      // Hosts are capped; the decision is bounded by the server's code.
      if (!lf.seen.contains(clean[0])) {
        if (lf.seen.size() < lf.max_series) {
          lf.seen.insert(clean[0]);
        } else {
          clean[0] = kOther;
        }
      }
    } else {
      std::string joined;
      for (const auto& v : clean) joined.append(v).push_back('\x1f');
      if (!lf.seen.contains(joined)) {
        if (lf.seen.size() < lf.max_series) {
          lf.seen.insert(std::move(joined));
        } else {
          for (auto& v : clean) v = kOther;
        }
      }
    }
    prometheus::Labels labels;
    for (size_t j = 0; j < clean.size(); ++j) labels.emplace(lf.label_names[j], clean[j]);
    return &lf.family->Add(labels);
  }

  ThreadCache& thread_cache() {
    // Keyed by instance id, not address: a new Metrics at a freed address starts empty. Entries
    // of destroyed instances stay until the thread exits (one per instance a thread touched).
    thread_local std::unordered_map<uint64_t, ThreadCache> caches;
    thread_local uint64_t last_id = 0;
    thread_local ThreadCache* last = nullptr;
    if (last_id != id) {
      last = &caches[id];
      last_id = id;
    }
    return *last;
  }

  prometheus::Counter& counter(Fam f, std::initializer_list<std::string_view> values) {
    ThreadCache& tc = thread_cache();
    std::string& key = tc.key;
    key.clear();
    key.push_back(static_cast<char>('a' + f));
    for (std::string_view v : values) {
      // Length-prefixed, so no two value lists share a key whatever bytes they hold.
      uint32_t n = static_cast<uint32_t>(v.size());
      key.append(reinterpret_cast<const char*>(&n), sizeof n).append(v);
    }
    auto it = tc.counters.find(key);
    if (it != tc.counters.end()) return *it->second;
    prometheus::Counter* c = slow_counter(f, values);
    // Raw values are the key, so many distinct hosts folded to "other" could grow the cache:
    // it is only a cache, start over.
    if (tc.counters.size() >= kMaxCachedPerThread) tc.counters.clear();
    tc.counters.emplace(key, c);
    return *c;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::request(std::string_view host, std::string_view decision, double seconds) {
  impl_->counter(kRequests, {host, decision}).Increment();
  impl_->request_duration.observe(seconds);
}

void Metrics::finding(std::string_view rule, std::string_view category, std::string_view action) {
  impl_->counter(kFindings, {rule, category, action}).Increment();
}

void Metrics::scanned(uint64_t bytes, double seconds, uint64_t skipped_bytes) {
  impl_->scanned_bytes->Increment(static_cast<double>(bytes));
  if (skipped_bytes) impl_->scan_skipped_bytes->Increment(static_cast<double>(skipped_bytes));
  impl_->scan_duration.observe(seconds);
}

void Metrics::upstream_time(double seconds) {
  impl_->upstream_duration.observe(seconds);
}

void Metrics::upstream_error(std::string_view kind) {
  impl_->counter(kUpstreamErrors, {kind}).Increment();
}

void Metrics::connection_opened() {
  impl_->connections_total->Increment();
  impl_->connections_active->Increment();
}

void Metrics::connection_closed() {
  impl_->connections_active->Decrement();
}

void Metrics::connection_refused(std::string_view reason) {
  impl_->counter(kRefused, {reason}).Increment();
}

void Metrics::request_shed() {
  impl_->requests_shed->Increment();
}

void Metrics::set_buffered_bytes(uint64_t bytes) {
  impl_->buffered_bytes->Set(static_cast<double>(bytes));
}

void Metrics::tunnel_bytes(uint64_t up, uint64_t down) {
  if (up) impl_->tunnel_up->Increment(static_cast<double>(up));
  if (down) impl_->tunnel_down->Increment(static_cast<double>(down));
}

void Metrics::model_host_tunnelled(std::string_view host) {
  impl_->counter(kModelHostTunnelled, {host}).Increment();
}

void Metrics::tls_handshake_failure(std::string_view side) {
  impl_->counter(kTlsFailures, {side}).Increment();
}

void Metrics::auth_failure(std::string_view reason) {
  impl_->counter(kAuthFailures, {reason}).Increment();
}

void Metrics::set_leaf_cache(uint64_t hits, uint64_t misses) {
  // The CA keeps running totals; a counter only goes up, so add the difference. A total below the
  // last one means the CA was replaced (its totals restarted): all of it is new.
  std::lock_guard lock(impl_->leaf_mutex);
  auto advance = [](prometheus::Counter* c, uint64_t& last, uint64_t now) {
    uint64_t delta = now >= last ? now - last : now;
    if (delta) c->Increment(static_cast<double>(delta));
    last = now;
  };
  advance(impl_->leaf_hits, impl_->last_leaf_hits, hits);
  advance(impl_->leaf_misses, impl_->last_leaf_misses, misses);
}

void Metrics::set_config_generation(uint64_t generation) {
  impl_->config_generation->Set(static_cast<double>(generation));
}

void Metrics::config_reload(bool ok) {
  (ok ? impl_->reload_ok : impl_->reload_error)->Increment();
}

void Metrics::set_rules(uint64_t count) {
  impl_->rules->Set(static_cast<double>(count));
}

void Metrics::set_ready(bool ready) {
  impl_->ready->Set(ready ? 1 : 0);
}

std::string Metrics::serialize() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry.Collect();
  families.push_back(impl_->request_duration.collect());
  families.push_back(impl_->upstream_duration.collect());
  families.push_back(impl_->scan_duration.collect());
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  return prometheus::TextSerializer().Serialize(families);
}

void Metrics::tokenize(uint64_t tokenized, uint64_t restored, uint64_t unrestorable) {
  if (tokenized) impl_->tokenized->Increment(static_cast<double>(tokenized));
  if (restored) impl_->restored->Increment(static_cast<double>(restored));
  if (unrestorable) impl_->unrestorable->Increment(static_cast<double>(unrestorable));
}

void Metrics::set_tokenize_map(uint64_t conversations, uint64_t entries) {
  impl_->tokenize_conversations->Set(static_cast<double>(conversations));
  impl_->tokenize_entries->Set(static_cast<double>(entries));
}

}  // namespace promptgate::proxy

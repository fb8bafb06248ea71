// The effective destination table and the tunnelled-model-host warnings; see
// destination_table.h.
#include "proxy/destination_table.h"

#include <algorithm>

#include "proxy/model_hosts.h"

namespace promptgate::proxy {
namespace {

using By = ProxyConfig::DestinationMatch::By;

// Why a catalogued name is not intercepted by the catalogue itself.
std::string reason(const ProxyConfig& cfg, const ProxyConfig::DestinationMatch& m) {
  switch (m.by) {
    case By::deny:
      return "deny entry '" + std::string(m.pattern) + "' comes first";
    case By::intercept:
      return "intercept entry '" + std::string(m.pattern) + "' comes first";
    case By::tunnel:
      return "tunnel entry '" + std::string(m.pattern) + "' comes first";
    case By::fallback:
      return std::string("intercept_builtin is false and the default is ") +
             to_string(cfg.default_destination);
    case By::catalogue:
      break;
  }
  return {};
}

// What the examples of `pattern` get: the first that is not decided by the catalogue itself,
// else the first one (all alike then).
ProxyConfig::DestinationMatch judge(const ProxyConfig& cfg, const ModelHost& entry,
                                    const std::string& pattern, std::string* example = nullptr) {
  ProxyConfig::DestinationMatch first;
  bool have = false;
  for (const auto& x : entry.examples) {
    if (!host_matches(pattern, x)) continue;
    auto m = cfg.match_destination(x);
    if (!have || (first.by == By::catalogue && m.by != By::catalogue)) {
      first = m;
      have = true;
      if (example) *example = x;
    }
  }
  return first;
}

void add_rows(std::vector<DestinationRow>& rows, const std::vector<std::string>& patterns,
              Destination d, const char* source) {
  for (const auto& p : patterns) rows.push_back({p, d, source, {}});
}

}  // namespace

std::vector<DestinationRow> destination_table(const ProxyConfig& cfg) {
  std::vector<DestinationRow> rows;
  add_rows(rows, cfg.deny_hosts, Destination::deny, "deny");
  add_rows(rows, cfg.intercept_hosts, Destination::intercept, "intercept");
  add_rows(rows, cfg.tunnel_hosts, Destination::tunnel, "tunnel");
  for (const auto& entry : builtin_model_hosts().entries())
    for (const auto& pattern : entry.hosts) {
      auto m = judge(cfg, entry, pattern);
      rows.push_back({pattern, m.is, "built-in: " + entry.vendor, reason(cfg, m)});
    }
  rows.push_back({"*", cfg.default_destination, "default", {}});
  return rows;
}

std::vector<std::string> tunnelled_model_host_warnings(const ProxyConfig& cfg) {
  std::vector<std::string> out;
  auto add = [&](std::string text) {
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(std::move(text));
  };
  auto sentence = [&](const std::string& what, const std::string& example, const ModelHost& entry,
                      const ProxyConfig::DestinationMatch& m) {
    std::string also = example == what ? "" : ", e.g. " + example;
    return what + " (" + entry.vendor + also +
           ") is a model API, tunnelled unread: " + reason(cfg, m);
  };
  for (const auto& entry : builtin_model_hosts().entries())
    for (const auto& pattern : entry.hosts) {
      std::string example;
      auto m = judge(cfg, entry, pattern, &example);
      if (m.is != Destination::tunnel) continue;
      add(sentence(pattern, example, entry, m));
    }
  // A literal tunnel entry inside a wildcard pattern, which the examples do not show.
  for (const auto& t : cfg.tunnel_hosts) {
    if (t.find('*') != std::string::npos) continue;
    const ModelHost* entry = builtin_model_hosts().find(t);
    auto m = cfg.match_destination(t);
    if (entry && m.is == Destination::tunnel) add(sentence(t, t, *entry, m));
  }
  return out;
}

std::string format_destination_table(const ProxyConfig& cfg) {
  auto rows = destination_table(cfg);
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.pattern.size());
  std::string out =
      "destinations (the first match wins: deny, intercept, tunnel, built-in catalogue, "
      "default):\n";
  for (const auto& r : rows) {
    std::string d = to_string(r.destination);
    std::string line = "  " + d + std::string(11 - d.size(), ' ') + r.pattern +
                       std::string(width + 2 - r.pattern.size(), ' ') + r.source;
    if (!r.note.empty()) line += " (" + r.note + ")";
    out += line + "\n";
  }
  return out;
}

bool is_model_host(std::string_view host) {
  return builtin_model_hosts().find(host) != nullptr;
}

}  // namespace promptgate::proxy

// What a config does with each destination, as `promptgate run --check-config` prints it: the
// config's deny / intercept / tunnel entries, every pattern of the built-in catalogue of model
// hosts with what it actually gets, and the default; plus a warning for each catalogued model
// host the config would tunnel unread (the start-up log prints them too). Boost-free.
//
//   for (const auto& w : tunnelled_model_host_warnings(cfg)) std::cerr << "warning: " << w;
//   std::cout << format_destination_table(cfg);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/config.h"

namespace promptgate::proxy {

struct DestinationRow {
  std::string pattern;  // a host pattern; "*" for the default row
  Destination destination = Destination::tunnel;
  std::string source;  // "deny", "intercept", "tunnel", "built-in: VENDOR", "default"
  std::string note;    // why a catalogue pattern is not intercepted; empty otherwise
};

// In the order the policy applies them (config.h: ProxyConfig::match_destination).
std::vector<DestinationRow> destination_table(const ProxyConfig& cfg);

// One sentence per catalogued model host (pattern) that `cfg` tunnels unread, naming the entry
// that does it ("chatgpt.com (OpenAI ...) is a model API, tunnelled unread: tunnel entry
// 'chatgpt.com' comes first"). Empty when every catalogued host is intercepted or denied.
std::vector<std::string> tunnelled_model_host_warnings(const ProxyConfig& cfg);

// The table as text, one row per line, with a heading.
std::string format_destination_table(const ProxyConfig& cfg);

// True when `host` is in the built-in catalogue: a tunnel to it is counted
// (promptgate_model_host_tunnelled_total).
bool is_model_host(std::string_view host);

}  // namespace promptgate::proxy

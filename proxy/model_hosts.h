// The catalogue of model API hosts shipped with promptgate (proxy/model_hosts.yaml, embedded at
// build time): who runs each API, its host patterns, example names, the clients that call it and
// the request formats it takes. The config intercepts every catalogued host unless it says
// otherwise (destinations.intercept_builtin: false, or an explicit tunnel entry), and warns
// when it would tunnel one (destination_table.h).
//
//   const ModelHostCatalogue& cat = builtin_model_hosts();   // parsed once, immutable
//   if (const ModelHost* h = cat.find("bedrock-runtime.us-east-1.amazonaws.com"))
//     std::cout << h->vendor;                                  // "Amazon Bedrock"
//
// parse_model_hosts() reads another file of the same form (for the tests); it checks that every
// example matches one of its entry's patterns and every pattern has an example, so each pattern
// can be judged on a real-looking name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace promptgate::proxy {

struct ModelHost {
  std::string vendor;
  std::vector<std::string> hosts;     // host patterns (config.h: host_matches)
  std::vector<std::string> examples;  // names that match them, at least one per pattern
  std::vector<std::string> clients;
  std::vector<std::string> formats;
  bool signed_body = false;  // clients sign the body (AWS SigV4): no redaction, block instead
  std::string note;
};

class ModelHostCatalogue {
 public:
  explicit ModelHostCatalogue(std::vector<ModelHost> entries) : entries_(std::move(entries)) {}

  const std::vector<ModelHost>& entries() const { return entries_; }
  // The first entry with a pattern matching `host`, or nullptr.
  const ModelHost* find(std::string_view host) const;
  // The pattern of `entry` that matches `host` (empty when none does).
  static std::string_view pattern_for(const ModelHost& entry, std::string_view host);
  // True when an entry with signed_body matches `host`.
  bool signed_body(std::string_view host) const;

 private:
  std::vector<ModelHost> entries_;
};

// Parses a catalogue file; throws ConfigError ("FILE:LINE: ...") on a malformed one.
ModelHostCatalogue parse_model_hosts(const std::string& yaml_text, const std::string& source_name);

// The embedded catalogue (proxy/model_hosts.yaml), parsed on first use.
const ModelHostCatalogue& builtin_model_hosts();
extern const char* const kModelHostsYaml;  // its text

}  // namespace promptgate::proxy

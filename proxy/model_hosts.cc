// Reading the catalogue of model API hosts; see model_hosts.h.
#include "proxy/model_hosts.h"

#include <algorithm>

#include "detectors/yaml_reader.h"
#include "proxy/config.h"

namespace promptgate::proxy {

const ModelHost* ModelHostCatalogue::find(std::string_view host) const {
  for (const auto& e : entries_)
    if (!pattern_for(e, host).empty()) return &e;
  return nullptr;
}

std::string_view ModelHostCatalogue::pattern_for(const ModelHost& entry, std::string_view host) {
  for (const auto& p : entry.hosts)
    if (host_matches(p, host)) return p;
  return {};
}

bool ModelHostCatalogue::signed_body(std::string_view host) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const ModelHost& e) {
    return e.signed_body && !pattern_for(e, host).empty();
  });
}

namespace {

ModelHost entry_of(const YamlReader& file, const YAML::Node& n) {
  file.check_keys(n, {"vendor", "hosts", "examples", "clients", "formats", "signed_body", "note"},
                  "a catalogue entry");
  ModelHost h;
  if (!n["vendor"]) file.fail(n, "a catalogue entry needs 'vendor'");
  h.vendor = file.string(n["vendor"], "vendor");
  YamlReader in = file.about(h.vendor);
  if (n["hosts"]) h.hosts = in.strings(n["hosts"], "hosts");
  if (n["examples"]) h.examples = in.strings(n["examples"], "examples");
  if (n["clients"]) h.clients = in.strings(n["clients"], "clients");
  if (n["formats"]) h.formats = in.strings(n["formats"], "formats");
  if (n["signed_body"]) h.signed_body = in.boolean(n["signed_body"], "signed_body");
  if (n["note"]) h.note = in.string(n["note"], "note");
  if (h.hosts.empty()) in.fail(n, "no 'hosts'");
  // Each pattern is judged on its examples (tests, --check-config warnings): none may go untested.
  for (const auto& p : h.hosts)
    if (std::none_of(h.examples.begin(), h.examples.end(),
                     [&](const std::string& x) { return host_matches(p, x); }))
      in.fail(n, "pattern '" + p + "' has no example that it matches");
  for (const auto& x : h.examples)
    if (ModelHostCatalogue::pattern_for(h, x).empty())
      in.fail(n, "example '" + x + "' matches none of the entry's hosts");
  return h;
}

}  // namespace

ModelHostCatalogue parse_model_hosts(const std::string& yaml_text, const std::string& source_name) {
  try {
    YamlReader in(source_name);
    YAML::Node root = in.load(yaml_text);
    in.check_keys(root, {"hosts"}, "the catalogue");
    if (!root["hosts"] || !root["hosts"].IsSequence()) in.fail(root, "'hosts' must be a list");
    std::vector<ModelHost> entries;
    for (const auto& n : root["hosts"]) entries.push_back(entry_of(in, n));
    return ModelHostCatalogue(std::move(entries));
  } catch (const YamlError& e) {
    throw ConfigError(e.what());
  }
}

const ModelHostCatalogue& builtin_model_hosts() {
  // The embedded file is tested; a mistake in it fails every test and the first start.
  static const ModelHostCatalogue catalogue =
      parse_model_hosts(kModelHostsYaml, "built-in model_hosts.yaml");
  return catalogue;
}

}  // namespace promptgate::proxy

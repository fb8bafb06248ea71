// Parsing and validation of the proxy's YAML configuration; see config.h.
#include "config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace promptgate::proxy {

const char* const kDefaultConfigYaml = R"(# promptgate's embedded default configuration.
listen: 127.0.0.1:8080
mode: enforce
audit_log: "-"
rules: [builtin]
destinations:
  # Hosts not listed below are tunnelled untouched. A gateway usually sets `default: deny`.
  default: tunnel
  intercept:
    - api.anthropic.com
    - api.openai.com
    - generativelanguage.googleapis.com
    - "*-aiplatform.googleapis.com"
    - "bedrock-runtime.*.amazonaws.com"
signed_body_hosts:
  - "bedrock-runtime.*.amazonaws.com"
max_body_bytes: 33554432
block_status: 400
)";

const char* to_string(Destination d) {
  switch (d) {
    case Destination::intercept:
      return "intercept";
    case Destination::tunnel:
      return "tunnel";
    case Destination::deny:
      return "deny";
  }
  return "?";
}

const char* to_string(Mode m) {
  return m == Mode::enforce ? "enforce" : "monitor";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One label of a pattern against one label of a host; '*' matches any run of characters.
bool label_matches(std::string_view pat, std::string_view label) {
  size_t star = pat.find('*');
  if (star == std::string_view::npos) return pat == label;
  std::string_view head = pat.substr(0, star), tail = pat.substr(star + 1);
  return !label.empty() && label.size() >= head.size() + tail.size() &&
         label.substr(0, head.size()) == head && label.substr(label.size() - tail.size()) == tail;
}

std::vector<std::string_view> split_labels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t dot = s.find('.', pos);
    out.push_back(
        s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return out;
}

}  // namespace

bool host_matches(std::string_view pattern_in, std::string_view host_in) {
  std::string pattern = lower(pattern_in), host = lower(host_in);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (pattern.rfind("*.", 0) == 0) {
    std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  auto pl = split_labels(pattern), hl = split_labels(host);
  if (pl.size() != hl.size()) return false;
  for (size_t i = 0; i < pl.size(); ++i)
    if (!label_matches(pl[i], hl[i])) return false;
  return true;
}

namespace {
bool any_matches(const std::vector<std::string>& patterns, std::string_view host) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return host_matches(p, host); });
}
}  // namespace

Destination ProxyConfig::destination_for(std::string_view host) const {
  // Deny first, so a broad intercept pattern cannot open a hole a deny entry closed.
  if (any_matches(deny_hosts, host)) return Destination::deny;
  if (any_matches(intercept_hosts, host)) return Destination::intercept;
  if (any_matches(tunnel_hosts, host)) return Destination::tunnel;
  return default_destination;
}

HostPort ProxyConfig::tcp_target(const HostPort& wanted) const {
  for (const auto& c : connect_to)
    if (lower(c.from.host) == lower(wanted.host) && c.from.port == wanted.port) return c.to;
  return wanted;
}

bool ProxyConfig::is_connect_to_target(std::string_view host) const {
  return std::any_of(connect_to.begin(), connect_to.end(),
                     [&](const ConnectTo& c) { return lower(c.from.host) == lower(host); });
}

bool ProxyConfig::fail_open(std::string_view host) const {
  return any_matches(fail_open_hosts, host);
}

bool ProxyConfig::signed_body_host(std::string_view host) const {
  return any_matches(signed_body_hosts, host);
}

std::vector<std::string> ProxyConfig::groups_of(std::string_view user) const {
  std::vector<std::string> out;
  for (const auto& [group, members] : groups)
    if (std::find(members.begin(), members.end(), user) != members.end()) out.push_back(group);
  return out;
}

const PolicyBlock* ProxyConfig::policy_for(const Identity& who, std::string_view host) const {
  for (const auto& p : policies) {
    if (!p.users.empty() && std::find(p.users.begin(), p.users.end(), who.user) == p.users.end())
      continue;
    if (!p.groups.empty() &&
        std::none_of(p.groups.begin(), p.groups.end(), [&](const std::string& g) {
          return std::find(who.groups.begin(), who.groups.end(), g) != who.groups.end();
        }))
      continue;
    if (!p.hosts.empty() && !any_matches(p.hosts, host)) continue;
    return &p;
  }
  return nullptr;
}

bool ProxyConfig::private_destination_allowed(std::string_view host) const {
  return allow_private_destinations || is_connect_to_target(host) ||
         any_matches(allowed_private_hosts, host);
}

HostPort parse_host_port(std::string_view text, std::string_view what) {
  HostPort hp;
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw ConfigError(std::string(what) + ": expected [IPv6]:PORT, got '" + std::string(text) +
                        "'");
    hp.host = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      throw ConfigError(std::string(what) + ": expected HOST:PORT, got '" + std::string(text) +
                        "'");
    hp.host = std::string(text.substr(0, colon));
  }
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw ConfigError(std::string(what) + ": bad port in '" + std::string(text) + "'");
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

ConnectTo parse_connect_to(const std::string& s) {
  // HOST:PORT:TARGET_HOST:TARGET_PORT (no IPv6 literals on the left, as curl).
  size_t first = s.find(':');
  size_t second = first == std::string::npos ? first : s.find(':', first + 1);
  if (second == std::string::npos)
    throw ConfigError("connect_to: expected HOST:PORT:TARGET_HOST:TARGET_PORT, got '" + s + "'");
  ConnectTo c;
  c.from = parse_host_port(std::string_view(s).substr(0, second), "connect_to");
  c.to = parse_host_port(std::string_view(s).substr(second + 1), "connect_to");
  return c;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& msg) const {
    std::string where = source_;
    if (n.IsDefined() && n.Mark().line >= 0) where += ":" + std::to_string(n.Mark().line + 1);
    throw ConfigError(where + ": " + msg);
  }

  std::string str(const YAML::Node& n, const char* key) const {
    if (!n.IsScalar()) fail(n, std::string("'") + key + "' must be a string");
    return n.as<std::string>();
  }

  uint64_t number(const YAML::Node& n, const char* key, uint64_t min, uint64_t max) const {
    uint64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<uint64_t>::decode(n, v))
      fail(n, std::string("'") + key + "' must be a whole number");
    if (v < min || v > max)
      fail(n, std::string("'") + key + "' must be between " + std::to_string(min) + " and " +
                  std::to_string(max));
    return v;
  }

  std::vector<std::string> list(const YAML::Node& n, const char* key) const {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) fail(n, std::string("'") + key + "' must be a list");
    for (const auto& item : n) out.push_back(str(item, key));
    return out;
  }

  void check_keys(const YAML::Node& map, const std::set<std::string>& known,
                  const char* what) const {
    if (!map.IsMap()) fail(map, std::string(what) + " must be a mapping");
    for (const auto& kv : map) {
      std::string k = kv.first.as<std::string>();
      if (!known.count(k)) {
        std::string names;
        for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
        fail(kv.first, "unknown key '" + k + "' in " + what + " (known: " + names + ")");
      }
    }
  }

  Destination destination(const YAML::Node& n) const {
    std::string v = str(n, "default");
    if (v == "intercept") return Destination::intercept;
    if (v == "tunnel") return Destination::tunnel;
    if (v == "deny") return Destination::deny;
    fail(n, "destination must be intercept, tunnel or deny, not '" + v + "'");
  }

  ProxyConfig parse(const std::string& text) const {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw ConfigError(source_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    ProxyConfig c;
    c.source = source_;
    if (root.IsNull()) return c;
    check_keys(root,
               {"listen",
                "mode",
                "audit_log",
                "upstream_ca",
                "connect_to",
                "rules",
                "threads",
                "destinations",
                "fail_open_hosts",
                "signed_body_hosts",
                "actions",
                "block_status",
                "scan_headers",
                "max_body_bytes",
                "max_decoded_body_bytes",
                "max_buffered_body_bytes",
                "max_header_bytes",
                "timeouts",
                "admin_listen",
                "allowed_connect_ports",
                "allowed_private_hosts",
                "allow_private_destinations",
                "max_connections",
                "max_connections_per_client",
                "auth",
                "policies",
                "upstream_proxy",
                "overrides",
                "incremental_scan",
                "tokenize",
                "known_secrets"},
               "the configuration");
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      try {
        if (key == "listen") {
          c.listen = parse_host_port(str(v, "listen"), "listen");
        } else if (key == "mode") {
          std::string m = str(v, "mode");
          if (m == "enforce")
            c.mode = Mode::enforce;
          else if (m == "monitor")
            c.mode = Mode::monitor;
          else
            fail(v, "mode must be enforce or monitor, not '" + m + "'");
        } else if (key == "audit_log") {
          c.audit_log = v.IsNull() ? "" : str(v, "audit_log");
        } else if (key == "upstream_ca") {
          c.upstream_ca = str(v, "upstream_ca");
        } else if (key == "connect_to") {
          for (const auto& s : list(v, "connect_to")) c.connect_to.push_back(parse_connect_to(s));
        } else if (key == "rules") {
          c.rules = list(v, "rules");
          if (c.rules.empty()) fail(v, "'rules' needs at least one source (e.g. builtin)");
        } else if (key == "threads") {
          c.threads = static_cast<unsigned>(number(v, "threads", 0, 256));
        } else if (key == "destinations") {
          check_keys(v, {"default", "intercept", "tunnel", "deny"}, "destinations");
          if (v["default"]) c.default_destination = destination(v["default"]);
          if (v["intercept"]) c.intercept_hosts = list(v["intercept"], "intercept");
          if (v["tunnel"]) c.tunnel_hosts = list(v["tunnel"], "tunnel");
          if (v["deny"]) c.deny_hosts = list(v["deny"], "deny");
        } else if (key == "fail_open_hosts") {
          c.fail_open_hosts = list(v, "fail_open_hosts");
        } else if (key == "signed_body_hosts") {
          c.signed_body_hosts = list(v, "signed_body_hosts");
        } else if (key == "actions") {
          if (!v.IsSequence()) fail(v, "'actions' must be a list");
          for (const auto& a : v) c.actions.push_back(action_override(a));
        } else if (key == "block_status") {
          c.block_status = static_cast<unsigned>(number(v, "block_status", 400, 499));
        } else if (key == "scan_headers") {
          for (auto h : list(v, "scan_headers")) c.scan_headers.push_back(lower(h));
        } else if (key == "max_body_bytes") {
          c.max_body_bytes = number(v, "max_body_bytes", 1024, 1ull << 32);
        } else if (key == "max_decoded_body_bytes") {
          c.max_decoded_body_bytes = number(v, "max_decoded_body_bytes", 1024, 1ull << 34);
        } else if (key == "max_buffered_body_bytes") {
          c.max_buffered_body_bytes = number(v, "max_buffered_body_bytes", 1024, 1ull << 40);
        } else if (key == "max_header_bytes") {
          c.max_header_bytes = static_cast<uint32_t>(number(v, "max_header_bytes", 1024, 1 << 20));
        } else if (key == "timeouts") {
          check_keys(v,
                     {"header_ms", "body_ms", "idle_ms", "upstream_connect_ms",
                      "upstream_response_ms", "drain_ms"},
                     "timeouts");
          auto ms = [&](const char* k, uint32_t& out) {
            if (v[k]) out = static_cast<uint32_t>(number(v[k], k, 1, 86'400'000));
          };
          ms("header_ms", c.header_timeout_ms);
          ms("body_ms", c.body_timeout_ms);
          ms("idle_ms", c.idle_timeout_ms);
          ms("upstream_connect_ms", c.upstream_connect_timeout_ms);
          ms("upstream_response_ms", c.upstream_response_timeout_ms);
          ms("drain_ms", c.drain_timeout_ms);
        } else if (key == "admin_listen") {
          c.admin_listen = parse_host_port(str(v, "admin_listen"), "admin_listen");
        } else if (key == "allowed_connect_ports") {
          c.allowed_connect_ports.clear();
          if (!v.IsSequence()) fail(v, "'allowed_connect_ports' must be a list of ports");
          for (const auto& port : v)
            c.allowed_connect_ports.push_back(
                static_cast<uint16_t>(number(port, "allowed_connect_ports", 1, 65535)));
        } else if (key == "allowed_private_hosts") {
          c.allowed_private_hosts = list(v, "allowed_private_hosts");
        } else if (key == "allow_private_destinations") {
          bool b = false;
          if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
            fail(v, "'allow_private_destinations' must be true or false");
          c.allow_private_destinations = b;
        } else if (key == "max_connections") {
          c.max_connections = static_cast<uint32_t>(number(v, "max_connections", 1, 10'000'000));
        } else if (key == "max_connections_per_client") {
          c.max_connections_per_client =
              static_cast<uint32_t>(number(v, "max_connections_per_client", 1, 10'000'000));
        } else if (key == "upstream_proxy") {
          std::string url = str(v, "upstream_proxy");
          if (url.rfind("http://", 0) == 0) url = url.substr(7);
          while (!url.empty() && url.back() == '/') url.pop_back();
          c.upstream_proxy = parse_host_port(url, "upstream_proxy");
        } else if (key == "auth") {
          check_keys(v, {"users_file", "client_ca", "groups"}, "auth");
          if (v["users_file"]) c.users_file = str(v["users_file"], "users_file");
          if (v["client_ca"]) c.client_ca = str(v["client_ca"], "client_ca");
          if (v["groups"]) {
            if (!v["groups"].IsMap()) fail(v["groups"], "'groups' must map a group to its users");
            for (const auto& g : v["groups"])
              c.groups.push_back({g.first.as<std::string>(), list(g.second, "groups")});
          }
        } else if (key == "policies") {
          if (!v.IsSequence()) fail(v, "'policies' must be a list");
          for (const auto& p : v) c.policies.push_back(policy_block(p));
        } else if (key == "overrides") {
          c.overrides = overrides(v);
        } else if (key == "known_secrets") {
          c.known_secrets = v.IsNull() ? "" : str(v, "known_secrets");
        } else if (key == "tokenize") {
          check_keys(v,
                     {"max_conversations", "max_entries_per_conversation", "max_total_bytes",
                      "idle_ttl_seconds"},
                     "tokenize");
          auto& t = c.tokenize;
          if (v["max_conversations"])
            t.max_conversations = static_cast<uint32_t>(
                number(v["max_conversations"], "max_conversations", 1, 1'000'000));
          if (v["max_entries_per_conversation"])
            t.max_entries_per_conversation = static_cast<uint32_t>(number(
                v["max_entries_per_conversation"], "max_entries_per_conversation", 1, 1'000'000));
          if (v["max_total_bytes"])
            t.max_total_bytes = number(v["max_total_bytes"], "max_total_bytes", 4096, 1ull << 36);
          if (v["idle_ttl_seconds"])
            t.idle_ttl_seconds = static_cast<uint32_t>(
                number(v["idle_ttl_seconds"], "idle_ttl_seconds", 1, 30 * 86'400));
        } else if (key == "incremental_scan") {
          check_keys(v, {"enabled", "max_identities", "max_blocks_per_identity"},
                     "incremental_scan");
          auto& inc = c.incremental_scan;
          if (v["enabled"] &&
              (!v["enabled"].IsScalar() || !YAML::convert<bool>::decode(v["enabled"], inc.enabled)))
            fail(v["enabled"], "'enabled' must be true or false");
          if (v["max_identities"])
            inc.max_identities =
                static_cast<uint32_t>(number(v["max_identities"], "max_identities", 1, 1'000'000));
          if (v["max_blocks_per_identity"])
            inc.max_blocks_per_identity = static_cast<uint32_t>(
                number(v["max_blocks_per_identity"], "max_blocks_per_identity", 1, 10'000'000));
        }
      } catch (const ConfigError& e) {
        std::string msg = e.what();
        if (msg.rfind(source_, 0) == 0) throw;
        fail(v, msg);
      }
    }
    if (c.max_decoded_body_bytes < c.max_body_bytes) c.max_decoded_body_bytes = c.max_body_bytes;
    if (c.max_buffered_body_bytes < c.max_body_bytes) c.max_buffered_body_bytes = c.max_body_bytes;
    return c;
  }

  PolicyBlock policy_block(const YAML::Node& n) const {
    check_keys(n, {"name", "users", "groups", "hosts", "mode", "actions"}, "a policy");
    PolicyBlock p;
    if (n["name"]) p.name = str(n["name"], "name");
    if (n["users"]) p.users = list(n["users"], "users");
    if (n["groups"]) p.groups = list(n["groups"], "groups");
    if (n["hosts"]) p.hosts = list(n["hosts"], "hosts");
    if (n["mode"]) {
      std::string m = str(n["mode"], "mode");
      if (m == "enforce")
        p.mode = Mode::enforce;
      else if (m == "monitor")
        p.mode = Mode::monitor;
      else
        fail(n["mode"], "mode must be enforce or monitor, not '" + m + "'");
    }
    if (n["actions"]) {
      if (!n["actions"].IsSequence()) fail(n["actions"], "'actions' must be a list");
      for (const auto& a : n["actions"]) p.actions.push_back(action_override(a));
    }
    if (p.name.empty()) p.name = "policy at line " + std::to_string(n.Mark().line + 1);
    return p;
  }

  OverridesConfig overrides(const YAML::Node& n) const {
    check_keys(n,
               {"enabled", "rules", "categories", "groups", "ttl_seconds", "grant_seconds",
                "min_justification"},
               "overrides");
    OverridesConfig o;
    if (n["enabled"]) {
      if (!n["enabled"].IsScalar() || !YAML::convert<bool>::decode(n["enabled"], o.enabled))
        fail(n["enabled"], "'enabled' must be true or false");
    }
    if (n["rules"]) o.rules = list(n["rules"], "rules");
    if (n["categories"]) {
      if (!n["categories"].IsSequence()) fail(n["categories"], "'categories' must be a list");
      for (const auto& item : n["categories"]) {
        std::string cat = str(item, "categories");
        auto parsed = parse_category(cat);
        if (!parsed) fail(item, "category must be credential, pii, phi or pci, not '" + cat + "'");
        o.categories.push_back(*parsed);
      }
    }
    if (n["groups"]) o.groups = list(n["groups"], "groups");
    if (n["ttl_seconds"])
      o.ttl_seconds = static_cast<uint32_t>(number(n["ttl_seconds"], "ttl_seconds", 10, 86'400));
    if (n["grant_seconds"])
      o.grant_seconds =
          static_cast<uint32_t>(number(n["grant_seconds"], "grant_seconds", 0, 7 * 86'400));
    if (n["min_justification"])
      o.min_justification =
          static_cast<uint32_t>(number(n["min_justification"], "min_justification", 1, 200));
    if (o.enabled && o.rules.empty() && o.categories.empty())
      fail(n, "overrides are enabled but no 'rules' or 'categories' are listed");
    return o;
  }

  ActionOverride action_override(const YAML::Node& n) const {
    check_keys(n, {"rule", "category", "host", "action"}, "an action override");
    ActionOverride o;
    if (n["rule"]) o.rule = str(n["rule"], "rule");
    if (n["category"]) {
      std::string cat = str(n["category"], "category");
      o.category = parse_category(cat);
      if (!o.category)
        fail(n["category"], "category must be credential, pii, phi or pci, not '" + cat + "'");
    }
    if (n["host"]) o.host = str(n["host"], "host");
    if (!n["action"]) fail(n, "an action override needs 'action: block|redact|tokenize|log'");
    std::string a = str(n["action"], "action");
    auto act = parse_action(a);
    if (!act) fail(n["action"], "action must be block, redact, tokenize or log, not '" + a + "'");
    o.action = *act;
    return o;
  }

 private:
  std::string source_;
};

}  // namespace

ProxyConfig parse_config(const std::string& yaml_text, const std::string& source_name) {
  return Parser(source_name).parse(yaml_text);
}

ProxyConfig load_config(const std::string& path) {
  if (path.empty()) return parse_config(kDefaultConfigYaml, "embedded default config");
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace promptgate::proxy

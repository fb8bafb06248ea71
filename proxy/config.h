// The proxy's configuration: parsed once from YAML (or the embedded default) into an immutable
// ProxyConfig, then shared read-only by every connection. Command-line flags override fields
// after parsing (see run_command.cc).
//
//   ProxyConfig cfg = load_config(path);          // "" = the embedded default; throws ConfigError
//   Destination d = cfg.destination_for("api.anthropic.com");   // intercept | tunnel | deny
//
// Errors name the file and line: "promptgate.yaml:12: unknown key 'listn'".
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/rules.h"

namespace promptgate::proxy {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Destination { intercept, tunnel, deny };
enum class Mode { enforce, monitor };
const char* to_string(Destination d);
const char* to_string(Mode m);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT" (IPv6 as "[::1]:8080"); throws ConfigError.
HostPort parse_host_port(std::string_view text, std::string_view what);

// As curl's --connect-to: a request for host:port opens its TCP connection to target instead,
// while SNI, certificate verification and Host stay `host`.
struct ConnectTo {
  HostPort from, to;
};
// "HOST:PORT:TARGET_HOST:TARGET_PORT"; throws ConfigError.
ConnectTo parse_connect_to(const std::string& text);

// A rule-action override; empty fields match anything. The first matching override wins.
struct ActionOverride {
  std::string rule;
  std::optional<Category> category;
  std::string host;  // a host pattern, as in destinations
  Action action = Action::block;
};

// A policy block for the gateway: who (users, groups), where (hosts) and what then applies
// (mode, action overrides checked before the global ones). The first matching block wins.
struct PolicyBlock {
  std::string name;
  std::vector<std::string> users, groups, hosts;  // empty: any
  std::optional<Mode> mode;
  std::vector<ActionOverride> actions;
};

// Justified overrides (docs/overrides.md): a blocked request may be repeated with a code (a MAC
// any replica checks) and a reason. A blocking finding is eligible when enabled, its rule or
// category is listed, and the identity is in one of `groups` (any identity when empty).
struct OverridesConfig {
  bool enabled = false;
  std::vector<std::string> rules;
  std::vector<Category> categories;
  std::vector<std::string> groups;
  // A code is valid for max(ttl_seconds, grant_seconds) from its issue.
  uint32_t ttl_seconds = 600;       // how long an offered code is valid at least
  uint32_t grant_seconds = 3600;    // how long, from the issue, it covers the same values
  uint32_t min_justification = 10;  // characters
};

// Incremental transcript scanning (docs/incremental-scanning.md): transcript blocks scanned clean
// before, for the same identity under the same rules, are passed over.
struct IncrementalScanConfig {
  bool enabled = true;
  uint32_t max_identities = 4096;
  uint32_t max_blocks_per_identity = 8192;
};

// Attachments the model reads (docs/attachments.md): PDFs, pictures and office files in a body
// are read (text, OCR) on a pool of their own and their text scanned. What cannot be read
// (encrypted, corrupt, over a limit) or not in time is blocked unless these say allow.
struct AttachmentsConfig {
  bool read = true;              // false: attachments are scanned as their base64 text only
  bool block_unreadable = true;  // documents.on_unreadable: block | allow
  bool block_on_timeout = true;  // pictures.on_timeout: block | allow
  uint32_t reader_threads = 2;   // pictures.concurrency: attachments read at once, per process
  uint32_t max_pages = 600;      // documents.max_pages
  uint32_t max_ocr_pages = 20;   // documents.max_ocr_pages: pages without text read by OCR
  uint32_t document_budget_ms = 10'000;  // documents.time_budget_ms, per document
  uint64_t max_pixels = 40'000'000;      // pictures.max_pixels: larger pictures are refused
  uint32_t picture_budget_ms = 5'000;    // pictures.time_budget_ms, per picture (OCR)
};

// Action `tokenize` (docs/tokenize.md): the in-memory map of stand-ins, per conversation owner.
// Read at start only (the map outlives reloads).
struct TokenizeConfig {
  uint32_t max_conversations = 1000;
  uint32_t max_entries_per_conversation = 1000;
  uint64_t max_total_bytes = 32ull << 20;
  uint32_t idle_ttl_seconds = 3600;
};

// Who sent a request (proxy authentication); empty user when authentication is off.
struct Identity {
  std::string user;
  std::vector<std::string> groups;
};

struct ProxyConfig {
  std::string source = "embedded default";
  HostPort listen{"127.0.0.1", 8080};
  Mode mode = Mode::enforce;
  std::string audit_log;    // path; "-" is stdout; empty: no audit log
  std::string upstream_ca;  // extra CA file trusted for upstream, on top of the system store
  std::vector<ConnectTo> connect_to;
  // Rule files and directories, added to the built-in packs unless rules_builtin is false
  // (`rules: {files: [...], builtin: replace}`); see rule_sources() in rules.h.
  std::vector<std::string> rules;
  bool rules_builtin = true;
  // Every rule id the file names (actions, overrides.rules, policies' actions) and where, for
  // check_rule_references once the rules are loaded.
  struct RuleReference {
    std::string id;
    int line = 0;
    std::string where;  // "actions", "overrides.rules", "policy 'dev' actions"
  };
  std::vector<RuleReference> rule_references;
  // The organisation's known secrets as keyed digests (docs/known-secrets.md); empty: none.
  std::string known_secrets;
  unsigned threads = 0;  // io_context threads; 0 = one per core

  // Destination policy for CONNECT and absolute-form requests: deny, then intercept, then
  // tunnel entries, then the built-in catalogue of model hosts (model_hosts.h), then the
  // default. The config's lists add to the catalogue: a file that lists its own gateway under
  // `intercept` still reads every model API; only intercept_builtin: false drops the catalogue.
  Destination default_destination = Destination::tunnel;
  bool intercept_builtin = true;
  std::vector<std::string> intercept_hosts, tunnel_hosts, deny_hosts;
  std::vector<std::string> fail_open_hosts;  // forward bodies that cannot be decoded or scanned
  // Bodies signed by the client (AWS SigV4): redaction would break the signature, so it blocks.
  // The catalogue's signed hosts (Bedrock) count whatever this list says.
  std::vector<std::string> signed_body_hosts;

  // Decisions.
  std::vector<ActionOverride> actions;
  unsigned block_status = 400;
  // A value already blocked (and shown) in a conversation, when a later turn resends it:
  // redact (or tokenize) it and forward the turn, or block again (docs/blocked.md).
  Action after_block = Action::redact;
  std::string block_help_url;             // added to every block message, e.g. the team's wiki page
  std::vector<std::string> scan_headers;  // extra request headers to scan (lower case)

  // Limits and timeouts.
  uint64_t max_body_bytes = 32ull << 20;
  uint64_t max_decoded_body_bytes = 128ull << 20;  // after Content-Encoding: zip-bomb guard
  // All requests together: bodies being read, their decoded copies, bodies awaiting the
  // upstream's response header. Beyond it a request gets 503 (BodyBudget); never below
  // max_body_bytes, so one request of the largest size always fits.
  uint64_t max_buffered_body_bytes = 512ull << 20;
  uint32_t max_header_bytes = 64 * 1024;
  uint32_t header_timeout_ms = 30'000;
  uint32_t body_timeout_ms = 60'000;
  uint32_t idle_timeout_ms = 120'000;
  uint32_t upstream_connect_timeout_ms = 10'000;
  uint32_t upstream_response_timeout_ms = 600'000;  // model answers can think for minutes
  uint32_t drain_timeout_ms = 30'000;  // SIGTERM: in-flight requests get this long to finish
  // A tunnel (CONNECT to a host that is not intercepted) that moved no byte either way for this
  // long is closed, so abandoned tunnels do not hold descriptors forever.
  uint32_t tunnel_idle_timeout_ms = 3'600'000;
  uint32_t max_connections = 10'000;
  uint32_t max_connections_per_client = 512;

  // Gateway operation.
  HostPort admin_listen{"127.0.0.1", 9090};  // /metrics, /healthz, /readyz, POST /-/reload
  std::vector<uint16_t> allowed_connect_ports{443};
  // Destinations that resolve to loopback, link-local or private addresses are refused unless
  // allowed here (or named by connect_to): the gateway must not reach internal services.
  std::vector<std::string> allowed_private_hosts;
  bool allow_private_destinations = false;
  std::string users_file;  // proxy authentication (Basic); empty: off
  // CA bundle for client TLS certificates on intercepted connections (mTLS); empty: off.
  std::string client_ca;
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // group -> users
  std::vector<PolicyBlock> policies;
  std::optional<HostPort> upstream_proxy;  // parent proxy (HTTP CONNECT) for all upstream traffic
  OverridesConfig overrides;
  IncrementalScanConfig incremental_scan;
  AttachmentsConfig attachments;
  TokenizeConfig tokenize;

  Destination destination_for(std::string_view host) const { return match_destination(host).is; }
  // Which entry decided, for the destination table and the tunnelled-model-host warning.
  struct DestinationMatch {
    Destination is = Destination::tunnel;
    enum class By { deny, intercept, tunnel, catalogue, fallback } by = By::fallback;
    std::string_view pattern;  // the entry's pattern; empty for the default
  };
  DestinationMatch match_destination(std::string_view host) const;
  // The TCP target for host:port after --connect-to (itself when no mapping applies).
  HostPort tcp_target(const HostPort& wanted) const;
  bool is_connect_to_target(std::string_view host) const;
  bool fail_open(std::string_view host) const;
  bool signed_body_host(std::string_view host) const;
  std::vector<std::string> groups_of(std::string_view user) const;
  // The first policy block matching the identity and host, or nullptr.
  const PolicyBlock* policy_for(const Identity& who, std::string_view host) const;
  bool private_destination_allowed(std::string_view host) const;
};

// "api.anthropic.com" matches itself; a leading "*." matches one label or more, so
// "*.example.com" matches any subdomain (not the apex); any other "*" matches within one label
// ("bedrock-runtime.*.amazonaws.com", "*-aiplatform.googleapis.com"), and the labels after a
// leading "*." may hold one too ("*.bedrock-runtime.*.vpce.amazonaws.com"). Case-insensitive; a
// trailing dot on the host is ignored.
bool host_matches(std::string_view pattern, std::string_view host);

extern const char* const kDefaultConfigYaml;

// Parse and load report every mistake of a file, not only the first: the collecting forms add
// one "FILE:LINE: message" per mistake to `errors` (in line order) and return what did parse;
// the others throw one ConfigError whose message has them all, one per line.
ProxyConfig parse_config(const std::string& yaml_text, const std::string& source_name);
ProxyConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                         std::vector<std::string>& errors);
// Reads and parses `path`; the embedded default when `path` is empty.
ProxyConfig load_config(const std::string& path);
ProxyConfig load_config(const std::string& path, std::vector<std::string>& errors);

// "FILE:LINE: unknown rule 'x' in actions (did you mean 'y'?)" for every rule id the config
// names that `packs` does not define; empty when all are known.
std::vector<std::string> check_rule_references(const ProxyConfig& cfg, const RulePacks& packs);

// Why a host pattern (destinations, actions' host, policies' hosts, ...) can never match a host
// name: a scheme, a path, a port, a blank, an empty label, a character no host has. Empty when
// it can match.
std::string host_pattern_problem(std::string_view pattern);

}  // namespace promptgate::proxy

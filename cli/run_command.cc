// promptgate run: load the config (embedded default or --config), apply flags, compile the rules,
// load or create the CA, and serve. --check-config validates everything and exits.
// Every flag --foo-bar may also come from the environment as PROMPTGATE_FOO_BAR (containers and
// systemd units configure by environment); a flag on the command line wins over its variable.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "detectors/cluster_key.h"
#include "proxy/certificate_authority.h"
#include "proxy/config.h"
#include "proxy/destination_table.h"
#include "proxy/server.h"

namespace promptgate {

extern const char kRunUsage[] =
    R"(usage: promptgate run [--config FILE] [--listen ADDR:PORT] [--mode enforce|monitor]
                      [--upstream-ca FILE] [--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT]...
                      [--audit-log FILE|-] [--console auto|on|off] [--admin-listen ADDR:PORT]
                      [--threads N] [--key-file FILE] [--check-config]
Starts the intercepting proxy (default 127.0.0.1:8080, embedded default config). On first run
it creates a local CA in $PROMPTGATE_HOME (default ~/.config/promptgate) and prints how to use it.
SIGHUP (or POST /-/reload on the admin port) reloads the config, rules and users; SIGTERM drains.

--console on prints one short line per request on stderr (time, host and path, decision, rules);
auto (the default) does so when stderr is a terminal. With the console on and no audit log
chosen (no --config, --audit-log or PROMPTGATE_AUDIT_LOG), the JSON audit log goes to
$PROMPTGATE_HOME/audit.jsonl instead of stdout; otherwise (containers, services) it stays on stdout.

Each flag can also be set in the environment; a flag given on the command line wins:
  PROMPTGATE_CONFIG        --config
  PROMPTGATE_LISTEN        --listen
  PROMPTGATE_ADMIN_LISTEN  --admin-listen
  PROMPTGATE_MODE          --mode
  PROMPTGATE_UPSTREAM_CA   --upstream-ca
  PROMPTGATE_CONNECT_TO    --connect-to (several entries separated by commas)
  PROMPTGATE_AUDIT_LOG     --audit-log
  PROMPTGATE_CONSOLE       --console
  PROMPTGATE_THREADS       --threads
  PROMPTGATE_KEY_FILE      --key-file: the cluster key (default $PROMPTGATE_HOME/cluster.key;
                           replicas and teams share it, see docs/keys.md)
  PROMPTGATE_HOME          where the CA, cluster key and rule cache live
  POD_NAME                 this replica's name in the audit log (default: the host name)
)";

namespace {

// Each proxied connection holds two descriptors (client and upstream). The usual soft limit of
// 1024 would refuse connections long before max_connections, so raise it to the hard limit, and
// say so when even that is short.
void raise_open_file_limit(uint32_t max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const rlim_t wanted = 2 * static_cast<rlim_t>(max_connections) + 256;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted)
    std::cerr << "promptgate: warning: the open-file limit (" << lim.rlim_cur
              << ") is below what max_connections " << max_connections << " needs (" << wanted
              << "); raise it (ulimit -n, LimitNOFILE=) or lower max_connections\n";
}

// The flags that take a value; each has an environment variable PROMPTGATE_<NAME>.
constexpr const char* kValueFlags[] = {
    "--config",     "--listen",    "--admin-listen", "--mode",    "--upstream-ca",
    "--connect-to", "--audit-log", "--threads",      "--console", "--key-file"};

const cli::ArgumentSpec kArgs = [] {
  cli::ArgumentSpec spec{.equals_form = true};
  for (const char* flag : kValueFlags) {
    spec.options.push_back({flag, cli::OptionKind::value});
    if (std::string_view(flag) == "--console") spec.options.back().choices = {"auto", "on", "off"};
  }
  spec.options.push_back({"--check-config"});
  return spec;
}();

// "--admin-listen" -> "PROMPTGATE_ADMIN_LISTEN"
std::string env_name_of(std::string_view flag) {
  std::string name = "PROMPTGATE_";
  for (char c : flag.substr(2))
    name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

// PROMPTGATE_CONNECT_TO holds several mappings separated by commas (blanks around them ignored).
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    size_t first = item.find_first_not_of(" \t"), last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    start = end + 1;
  }
  return out;
}

struct Flag {
  std::string name, value;
};

// What the command line and the environment ask of the config.
struct RunOptions {
  std::string config_path;  // empty: the embedded default
  std::string key_file;     // --key-file / PROMPTGATE_KEY_FILE; empty: the home's key
  bool check_only = false;
  std::vector<Flag> flags;  // applied in this order on top of the config file
};

RunOptions options_from(const cli::Arguments& parsed) {
  RunOptions o;
  o.config_path = parsed.last("--config").value_or("");
  o.check_only = parsed.has("--check-config");
  for (const auto& option : parsed.options)
    if (option.name != "--config" && option.name != "--check-config")
      o.flags.push_back({option.name, option.value});
  return o;
}

// The environment fills in the flags the command line did not give (an empty variable is
// unset). Applied before the command-line flags, which therefore win even on repeatable ones.
void add_environment(RunOptions& o) {
  std::vector<Flag> from_env;
  for (std::string_view flag : kValueFlags) {
    bool on_command_line = flag == "--config"
                               ? !o.config_path.empty()
                               : std::any_of(o.flags.begin(), o.flags.end(),
                                             [&](const Flag& f) { return f.name == flag; });
    const char* value = std::getenv(env_name_of(flag).c_str());
    if (on_command_line || !value || !*value) continue;
    if (flag == "--config")
      o.config_path = value;
    else if (flag == "--connect-to")
      for (auto& item : split_list(value)) from_env.push_back({std::string(flag), item});
    else
      from_env.push_back({std::string(flag), value});
  }
  o.flags.insert(o.flags.begin(), from_env.begin(), from_env.end());
  // The key file is not part of the config: taken out here, the command line's (last) winning.
  for (auto it = o.flags.begin(); it != o.flags.end();) {
    if (it->name != "--key-file") {
      ++it;
      continue;
    }
    o.key_file = it->value;
    it = o.flags.erase(it);
  }
}

void apply_flag(proxy::ProxyConfig& cfg, const Flag& f) {
  if (f.name == "--listen") {
    cfg.listen = proxy::parse_host_port(f.value, "--listen");
  } else if (f.name == "--admin-listen") {
    cfg.admin_listen = proxy::parse_host_port(f.value, "--admin-listen");
  } else if (f.name == "--mode") {
    if (f.value == "enforce")
      cfg.mode = proxy::Mode::enforce;
    else if (f.value == "monitor")
      cfg.mode = proxy::Mode::monitor;
    else
      throw proxy::ConfigError("--mode must be enforce or monitor");
  } else if (f.name == "--upstream-ca") {
    cfg.upstream_ca = f.value;
  } else if (f.name == "--connect-to") {
    cfg.connect_to.push_back(proxy::parse_connect_to(f.value));
  } else if (f.name == "--audit-log") {
    cfg.audit_log = f.value;
  } else if (f.name == "--threads") {
    unsigned n = 0;
    auto [end, err] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
    if (err != std::errc() || end != f.value.data() + f.value.size() || n > 256)
      throw proxy::ConfigError("--threads must be a number from 0 (one per core) to 256, not '" +
                               f.value + "'");
    cfg.threads = n;
  } else if (f.name == "--console") {
    if (f.value != "auto" && f.value != "on" && f.value != "off")  // from the environment
      throw proxy::ConfigError("PROMPTGATE_CONSOLE must be auto, on or off, not '" + f.value + "'");
  } else {
    throw proxy::ConfigError("unknown option " + f.name);
  }
}

// Everything a reload rebuilds: the file is read again and the flags applied again on top.
// Every mistake of the file, the flags and the rules it names is reported in one go, one per line.
proxy::Loaded load(const RunOptions& o, const std::string& home, const FingerprintKey& key) {
  std::vector<std::string> errors;
  proxy::ProxyConfig cfg = proxy::load_config(o.config_path, errors);
  for (const auto& f : o.flags) {
    try {
      apply_flag(cfg, f);
    } catch (const proxy::ConfigError& e) {
      errors.push_back(e.what());
    }
  }
  if (!cfg.upstream_ca.empty() && !std::filesystem::exists(cfg.upstream_ca))
    errors.push_back("upstream_ca " + cfg.upstream_ca + ": no such file");
  RulePacks packs;
  try {
    packs = load_rule_packs(rule_sources(cfg.rules, cfg.rules_builtin));
    for (auto& e : proxy::check_rule_references(cfg, packs)) errors.push_back(std::move(e));
  } catch (const RuleError& e) {
    errors.push_back(e.what());
  }
  if (!errors.empty()) {
    // In the file's line order; what is not about a line of the file (flags, rule files) last.
    auto line_of = [&](const std::string& e) {
      std::string prefix = cfg.source + ":";
      unsigned line = ~0u;
      if (e.starts_with(prefix))
        std::from_chars(e.data() + prefix.size(), e.data() + e.size(), line);
      return line;
    };
    std::stable_sort(errors.begin(), errors.end(),
                     [&](const auto& a, const auto& b) { return line_of(a) < line_of(b); });
    std::string message = errors.size() == 1 ? "" : std::to_string(errors.size()) + " errors:";
    for (const auto& e : errors) message += (message.empty() ? "" : "\n  ") + e;
    throw proxy::ConfigError(message);
  }
  proxy::Loaded loaded;
  loaded.rules = RuleSet::compile(std::move(packs), home + "/cache");
  if (!cfg.users_file.empty()) loaded.credentials = proxy::Credentials::load(cfg.users_file);
  if (!cfg.client_ca.empty())
    loaded.client_certificates = proxy::ClientCertificateTrust::load(cfg.client_ca);
  if (!cfg.known_secrets.empty()) loaded.known_secrets = KnownSecrets::load(cfg.known_secrets, key);
  loaded.config = std::make_shared<const proxy::ProxyConfig>(std::move(cfg));
  return loaded;
}

// A config that would tunnel a catalogued model host says so, at every check, start and reload.
void warn_tunnelled_model_hosts(const proxy::ProxyConfig& cfg) {
  auto warnings = proxy::tunnelled_model_host_warnings(cfg);
  for (const auto& w : warnings)
    std::cerr << "promptgate: warning: " << cfg.source << ": " << w << "\n";
  if (!warnings.empty())
    std::cerr << "promptgate: warning: requests to these hosts are not scanned (they are counted "
                 "in promptgate_model_host_tunnelled_total); intercept or deny them unless that "
                 "is intended (docs/model-hosts.md)\n";
}

// --check-config: what was loaded, on one line, then the effective destination table.
void print_check(const proxy::Loaded& loaded) {
  const proxy::ProxyConfig& cfg = *loaded.config;
  size_t files = cfg.rules.size() - std::count(cfg.rules.begin(), cfg.rules.end(), "builtin");
  std::cout << cfg.source << ": OK (" << loaded.rules->size() << " rules"
            << (cfg.rules_builtin ? ": built-in packs" : ": built-in packs replaced by")
            << (cfg.rules_builtin && files ? " +" : "");
  if (files) std::cout << " " << files << (files == 1 ? " file" : " files");
  std::cout << ", listen " << cfg.listen.host << ":" << cfg.listen.port << ", mode "
            << proxy::to_string(cfg.mode);
  if (loaded.credentials) std::cout << ", " << loaded.credentials->users() << " users";
  if (loaded.client_certificates)
    std::cout << ", " << loaded.client_certificates->certificates() << " client CA certificates";
  if (loaded.known_secrets) std::cout << ", " << loaded.known_secrets->size() << " known secrets";
  std::cout << ")\n" << proxy::format_destination_table(cfg);
  warn_tunnelled_model_hosts(cfg);
}

// A container (Docker's /.dockerenv, Podman's /run/.containerenv, or the `container` variable
// systemd-nspawn and others set).
bool in_container() {
  std::error_code ec;
  return std::filesystem::exists("/.dockerenv", ec) ||
         std::filesystem::exists("/run/.containerenv", ec) || std::getenv("container") != nullptr;
}

// The start-up hint: the address a client uses. On all interfaces 127.0.0.1 is right only for
// clients on this machine; in a container they are outside it, so the host is left to fill in.
// Printed once the port is bound (the port is then the real one, also for port 0).
void print_client_hint(const std::string& host, unsigned short bound_port,
                       const std::string& ca_path) {
  const std::string port = std::to_string(bound_port);
  const bool wildcard = host == "0.0.0.0" || host == "::" || host == "[::]" || host.empty();
  std::string where = wildcard ? "127.0.0.1" : host;
  if (where.find(':') != std::string::npos && where.front() != '[') where = "[" + where + "]";
  std::cerr << "promptgate: to send Claude Code through promptgate, run in your shell:\n";
  if (wildcard && in_container()) {
    std::cerr << "  export HTTPS_PROXY=http://<this host>:" << port << "\n"
              << "  export NODE_EXTRA_CA_CERTS=<a copy of " << ca_path
              << " (promptgate ca export prints it)>\n"
              << "  (<this host>: the address clients reach this container at; " << port
              << " is the port inside it)\n";
    return;
  }
  std::cerr << "  export HTTPS_PROXY=http://" << where << ":" << port << "\n"
            << "  export NODE_EXTRA_CA_CERTS=" << ca_path << "\n";
  if (wildcard) std::cerr << "  (from other machines: http://<this host>:" << port << ")\n";
  std::cerr.flush();
}

std::string last_flag(const RunOptions& o, std::string_view name, std::string fallback) {
  for (auto it = o.flags.rbegin(); it != o.flags.rend(); ++it)
    if (it->name == name) return it->value;
  return fallback;
}

// The console (one line per request on stderr) and where the JSON audit goes: a person at a
// terminal reads the short lines and finds the JSON in a file; a container keeps it on stdout.
std::shared_ptr<proxy::AuditLog> open_audit(const proxy::ProxyConfig& cfg, const RunOptions& o,
                                            const std::string& home) {
  std::string console = last_flag(o, "--console", "auto");
  bool on = console == "on" || (console == "auto" && isatty(STDERR_FILENO));
  bool audit_chosen = !o.config_path.empty() || !last_flag(o, "--audit-log", "").empty();
  std::string path = cfg.audit_log;
  if (on && !audit_chosen && path == "-") path = home + "/audit.jsonl";
  auto audit = std::make_shared<proxy::AuditLog>(path);
  if (on) {
    audit->set_console(stderr);
    std::cerr << "promptgate: one line per request below; the JSON audit log is "
              << (path.empty()  ? "off"
                  : path == "-" ? "on stdout"
                                : "in " + path)
              << "\n";
  }
  return audit;
}

// Who this replica is in the audit log: the pod (POD_NAME, set from the downward API), else
// HOSTNAME (a pod's name in Kubernetes), else the host name.
std::string replica_name() {
  for (const char* var : {"POD_NAME", "HOSTNAME"})
    if (const char* v = std::getenv(var); v && *v) return v;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0]) return host;
  return "promptgate";
}

// Sets up the CA, key and audit log, says how to point Claude Code here, and serves until
// stopped. `first` is the load already made; reloads call load() again.
int serve(proxy::Loaded first, const RunOptions& o, const std::string& home,
          const ClusterKey& keys) {
  const proxy::ProxyConfig& cfg = *first.config;
  raise_open_file_limit(cfg.max_connections);
  auto ca = proxy::CertificateAuthority::load_or_create(home);
  FingerprintKey key = keys.fingerprint_key();
  std::string replica = replica_name();
  if (keys.created()) std::cerr << "promptgate: created a cluster key " << keys.path() << "\n";
  std::cerr << "promptgate: replica " << replica << ", cluster key " << keys.id()
            << (keys.legacy() ? " (legacy fingerprint.key)" : "") << " from " << keys.path()
            << "\n";
  auto audit = open_audit(cfg, o, home);
  if (ca->created())
    std::cerr << "promptgate: created a local CA in " << home << " (" << ca->info().cert_path
              << ")\n";
  // Only once the port is ours: a busy port shows the error alone.
  auto say_how_to_use = [cert = ca->info().cert_path](const std::string& host,
                                                      unsigned short port) {
    print_client_hint(host, port, cert);
  };
  // The first load is reused for the start; reloads load afresh. Held by a shared_ptr so that
  // every copy of the function sees the first load taken.
  auto unused_first = std::make_shared<std::optional<proxy::Loaded>>(std::move(first));
  auto load_once_then_fresh = [unused_first, o, home, key]() -> proxy::Loaded {
    if (*unused_first) {
      proxy::Loaded loaded = std::move(**unused_first);
      unused_first->reset();
      warn_tunnelled_model_hosts(*loaded.config);
      return loaded;
    }
    proxy::Loaded loaded = load(o, home, key);
    warn_tunnelled_model_hosts(*loaded.config);
    return loaded;
  };
  return proxy::run_server({load_once_then_fresh, key, ca, audit, say_how_to_use,
                            keys.derive(KeyPurpose::override_codes),
                            keys.derive(KeyPurpose::standins), replica});
}

}  // namespace

int run_command(const Args& args) {
  RunOptions options;
  try {
    cli::Arguments parsed = cli::parse_arguments(args, kArgs);
    options = options_from(parsed);
  } catch (const cli::ArgumentError& e) {
    std::cerr << "promptgate run: " << e.what() << "\n" << kRunUsage;
    return 2;
  }
  add_environment(options);
  std::string home = default_home_dir();
  try {
    // --check-config never writes a key: it uses the one there is, else a throwaway one (a
    // known-secrets file then reports that it was made under another key).
    std::optional<ClusterKey> keys;
    try {
      keys = ClusterKey::resolve(home, options.key_file, /*create=*/!options.check_only);
    } catch (const std::exception&) {
      if (!options.check_only || !options.key_file.empty()) throw;
    }
    FingerprintKey fp = keys ? keys->fingerprint_key() : FingerprintKey::from_passphrase("check");
    proxy::Loaded first = load(options, home, fp);
    if (options.check_only) {
      print_check(first);
      return 0;
    }
    return serve(std::move(first), options, home, *keys);
  } catch (const std::exception& e) {
    std::cerr << "promptgate run: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace promptgate

// promptgate run: load the config (embedded default or --config), apply flags, compile the rules,
// load or create the CA, and serve. --check-config validates everything and exits.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "certificate_authority.h"
#include "commands.h"
#include "config.h"
#include "server.h"

namespace promptgate {

namespace {
constexpr const char* kRunUsage =
    R"(usage: promptgate run [--config FILE] [--listen ADDR:PORT] [--mode enforce|monitor]
                      [--upstream-ca FILE] [--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT]...
                      [--audit-log FILE|-] [--admin-listen ADDR:PORT] [--threads N]
                      [--check-config]
Starts the intercepting proxy (default 127.0.0.1:8080, embedded default config). On first run
it creates a local CA in $PROMPTGATE_HOME (default ~/.config/promptgate) and prints how to use it.
SIGHUP (or POST /-/reload on the admin port) reloads the config, rules and users; SIGTERM drains.
)";
}  // namespace

int run_command(const Args& args) {
  std::string config_path;
  bool check_only = false;
  struct Flag {
    std::string name, value;
  };
  std::vector<Flag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kRunUsage;
      return 0;
    }
    if (a == "--check-config") {
      check_only = true;
      continue;
    }
    std::string name = a, value;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      std::cerr << "promptgate run: " << a << " needs a value\n" << kRunUsage;
      return 2;
    }
    if (name == "--config")
      config_path = value;
    else if (name == "--listen" || name == "--admin-listen" || name == "--mode" ||
             name == "--upstream-ca" || name == "--connect-to" || name == "--audit-log" ||
             name == "--threads")
      flags.push_back({name, value});
    else {
      std::cerr << "promptgate run: unknown option " << name << "\n" << kRunUsage;
      return 2;
    }
  }
  // Everything a reload rebuilds: the file is read again and the flags applied again on top.
  std::string home = default_home_dir();
  auto load = [config_path, flags, home]() -> proxy::Loaded {
    proxy::ProxyConfig cfg = proxy::load_config(config_path);
    for (const auto& f : flags) {
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
        cfg.threads = static_cast<unsigned>(std::stoul(f.value));
      } else {
        throw proxy::ConfigError("unknown option " + f.name);
      }
    }
    if (!cfg.upstream_ca.empty() && !std::filesystem::exists(cfg.upstream_ca))
      throw proxy::ConfigError("upstream_ca " + cfg.upstream_ca + ": no such file");
    std::vector<RuleSource> sources;
    for (const auto& r : cfg.rules) sources.push_back({r});
    proxy::Loaded loaded;
    loaded.rules = RuleSet::compile(load_rule_packs(sources), home + "/cache");
    if (!cfg.users_file.empty()) loaded.credentials = proxy::Credentials::load(cfg.users_file);
    loaded.config = std::make_shared<const proxy::ProxyConfig>(std::move(cfg));
    return loaded;
  };
  try {
    proxy::Loaded first = load();
    const proxy::ProxyConfig& cfg = *first.config;
    if (check_only) {
      std::cout << cfg.source << ": OK (" << first.rules->size() << " rules, listen "
                << cfg.listen.host << ":" << cfg.listen.port << ", mode "
                << proxy::to_string(cfg.mode);
      if (first.credentials) std::cout << ", " << first.credentials->users() << " users";
      std::cout << ")\n";
      return 0;
    }
    auto ca = proxy::CertificateAuthority::load_or_create(home);
    auto key = FingerprintKey::load_or_create(home);
    auto audit = std::make_shared<proxy::AuditLog>(cfg.audit_log);
    if (ca->created())
      std::cerr << "promptgate: created a local CA in " << home << " (" << ca->info().cert_path
                << ")\n";
    std::string proxy_url =
        "http://" + (cfg.listen.host == "0.0.0.0" ? std::string("127.0.0.1") : cfg.listen.host) +
        ":" + std::to_string(cfg.listen.port);
    std::cerr << "promptgate: to send Claude Code through promptgate, run in your shell:\n"
              << "  export HTTPS_PROXY=" << proxy_url << "\n"
              << "  export NODE_EXTRA_CA_CERTS=" << ca->info().cert_path << "\n";
    // The first load is reused for the start; reloads call `load` again.
    bool used_first = false;
    auto load_once_then_fresh = [&first, &used_first, load]() -> proxy::Loaded {
      if (!used_first) {
        used_first = true;
        return first;
      }
      return load();
    };
    return proxy::run_server({load_once_then_fresh, key, ca, audit});
  } catch (const std::exception& e) {
    std::cerr << "promptgate run: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace promptgate

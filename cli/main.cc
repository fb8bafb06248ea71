// promptgate: one binary, subcommands. See README.md and docs/.
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "cli/commands.h"
#include "cli/version.h"

namespace promptgate {
namespace {

int version_command(const Args&) {
  std::cout << "promptgate " << cli::kVersion << "\n";
  return 0;
}

int help_command(const Args&);

struct Command {
  std::string_view name;
  std::string_view usage;  // its lines in `promptgate help`; empty: not listed
  int (*run)(const Args&);
};

// In the order `promptgate help` lists them.
constexpr Command kCommands[] = {
    {"run",
     R"(  promptgate run [--config FILE] [--listen ADDR:PORT] [--mode enforce|monitor]
                 [--upstream-ca FILE] [--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT]...
                 [--audit-log FILE|-] [--key-file FILE] [--check-config]
      Start the intercepting proxy (default 127.0.0.1:8080). Creates a local CA on first run.
)",
     run_command},
    {"ca",
     R"(  promptgate ca init [--force] | show | export
      Manage the local CA (export prints the CA certificate for NODE_EXTRA_CA_CERTS).
)",
     ca_command},
    {"keys",
     R"(  promptgate keys init [--force] | show-id [--key-file FILE] | rotate
      Manage the cluster key: fingerprints, stand-ins and override codes derive from it, so
      machines and replicas that share it agree (docs/keys.md).
)",
     keys_command},
    {"passwd",
     R"(  promptgate passwd USER
      Hash a secret read from stdin into a line for the gateway's users file (auth.users_file).
)",
     passwd_command},
    {"secrets",
     R"(  promptgate secrets digest [--key-file FILE] [--format auto|env|lines|json] FILE... | -
      Print a known-secrets digest file (keyed digests, no values) for .env files, vault
      exports or one value per line. `promptgate secrets check FILE` verifies one.
)",
     secrets_command},
    {"scan",
     R"(  promptgate scan [--rules PATH]... [--format jsonl|text|sarif] [--json auto|on|off]
                  [--known-secrets FILE] [--key-file FILE] PATH... | -
      Scan files, directories (recursively) or stdin with the detection engine.
      Exit status: 0 nothing found, 1 findings, 2 error.
)",
     scan_command},
    {"audit",
     R"(  promptgate audit verify [--strict] FILE...
      Check the hash chain of audit logs (rotated files oldest first). Exit status: 0 intact,
      1 broken (the first broken line is named), 2 error.
)",
     audit_command},
    {"rules",
     R"(  promptgate rules test [PATH...]   Run every rule's examples (default: the built-in packs).
  promptgate rules list [PATH...]   Print id, category, action and description of every rule.
)",
     rules_command},
    {"demo",
     R"(  promptgate demo [--proxy URL] [--ca FILE] [--config FILE] [--format text|json] [--seed N]
      Print synthetic values in every category (credential, PII, PHI, PCI) that the proxy
      blocks, made now and checked against the config, each with a curl line to try it.
)",
     demo_command},
    {"version", "  promptgate version\n", version_command},
    {"help", "", help_command},
};

// Other spellings of a command.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"--version", "version"}, {"--help", "help"}, {"-h", "help"}};

std::string usage() {
  std::string text = "promptgate - data-loss prevention for LLM traffic\n\nusage:\n";
  for (const auto& c : kCommands) text += c.usage;
  text += R"(
Rule sources (--rules, rules PATH): a YAML file, a directory of them, or "builtin".
The CA and the cluster key live in $PROMPTGATE_HOME (default ~/.config/promptgate);
--key-file or PROMPTGATE_KEY_FILE names a shared cluster key instead.
)";
  return text;
}

int help_command(const Args&) {
  std::cout << usage();
  return 0;
}

const Command* find_command(std::string_view name) {
  for (const auto& [alias, target] : kAliases)
    if (name == alias) name = target;
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace
}  // namespace promptgate

int main(int argc, char** argv) {
  using namespace promptgate;
  if (argc < 2) {
    std::cerr << usage();
    return 2;
  }
  std::string name = argv[1];
  const Command* command = find_command(name);
  if (!command) {
    std::cerr << "promptgate: unknown command '" << name << "'\n\n" << usage();
    return 2;
  }
  try {
    return command->run(Args(argv + 2, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
}

// promptgate: one binary, subcommands. See README.md and docs/.
#include <cstring>
#include <iostream>

#include "commands.h"

namespace {

constexpr const char* kUsage = R"(promptgate - data-loss prevention for LLM traffic

usage:
  promptgate run [--config FILE] [--listen ADDR:PORT] [--mode enforce|monitor]
                 [--upstream-ca FILE] [--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT]...
                 [--audit-log FILE|-] [--check-config]
      Start the intercepting proxy (default 127.0.0.1:8080). Creates a local CA on first run.
  promptgate ca init [--force] | show | export
      Manage the local CA (export prints the CA certificate for NODE_EXTRA_CA_CERTS).
  promptgate passwd USER
      Hash a secret read from stdin into a line for the gateway's users file (auth.users_file).
  promptgate secrets digest [--key-file FILE] [--format auto|env|lines|json] FILE... | -
      Print a known-secrets digest file (keyed digests, no values) for .env files, vault
      exports or one value per line. `promptgate secrets check FILE` verifies one.
  promptgate scan [--rules PATH]... [--format jsonl|text|sarif] [--json auto|on|off]
                  [--known-secrets FILE] PATH... | -
      Scan files, directories (recursively) or stdin with the detection engine.
      Exit status: 0 nothing found, 1 findings, 2 error.
  promptgate audit verify [--strict] FILE...
      Check the hash chain of audit logs (rotated files oldest first). Exit status: 0 intact,
      1 broken (the first broken line is named), 2 error.
  promptgate rules test [PATH...]   Run every rule's examples (default: the built-in packs).
  promptgate rules list [PATH...]   Print id, category, action and description of every rule.
  promptgate version

Rule sources (--rules, rules PATH): a YAML file, a directory of them, or "builtin".
The CA and the fingerprint key live in $PROMPTGATE_HOME (default ~/.config/promptgate).
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = argv[1];
  promptgate::Args rest(argv + 2, argv + argc);
  try {
    if (cmd == "run") return promptgate::run_command(rest);
    if (cmd == "ca") return promptgate::ca_command(rest);
    if (cmd == "passwd") return promptgate::passwd_command(rest);
    if (cmd == "secrets") return promptgate::secrets_command(rest);
    if (cmd == "scan") return promptgate::scan_command(rest);
    if (cmd == "rules") return promptgate::rules_command(rest);
    if (cmd == "audit") return promptgate::audit_command(rest);
    if (cmd == "version" || cmd == "--version") {
      std::cout << "promptgate 0.1.0\n";
      return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::cout << kUsage;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "promptgate: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}

// promptgate: one binary, subcommands. See README.md and docs/.
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "detectors/hyperscan_util.h"

namespace promptgate {
namespace {

int version_command(const Args&) {
  // The engine too: a bug report then says which regex engine (and version) found what.
  std::cout << "promptgate " << cli::kVersion << " (" << engine_version() << ")\n";
  return 0;
}

int help_command(const Args&);

struct Command {
  std::string_view name;
  std::string_view usage;  // its lines in `promptgate help`; empty: not listed
  int (*run)(const Args&);
  const char* help;  // `promptgate NAME --help`; null: the lines above
};

// In the order `promptgate help` lists them.
constexpr Command kCommands[] = {
    {"run",
     R"(  promptgate run [--config FILE] [--listen ADDR:PORT] [--mode enforce|monitor]
                 [--upstream-ca FILE] [--connect-to HOST:PORT:TARGET_HOST:TARGET_PORT]...
                 [--audit-log FILE|-] [--console auto|on|off] [--key-file FILE]
                 [--admin-listen ADDR:PORT] [--threads N] [--check-config]
      Start the intercepting proxy (default 127.0.0.1:8080). Creates a local CA on first run.
)",
     run_command, kRunUsage},
    {"ca",
     R"(  promptgate ca init [--force] | show | export
      Manage the local CA (export prints the CA certificate for NODE_EXTRA_CA_CERTS).
)",
     ca_command, kCaUsage},
    {"keys",
     R"(  promptgate keys init [--force] | show-id [--key-file FILE] | rotate
      Manage the cluster key: fingerprints, stand-ins and override codes derive from it, so
      machines and replicas that share it agree (docs/keys.md).
)",
     keys_command, kKeysUsage},
    {"passwd",
     R"(  promptgate passwd USER
      Hash a secret read from stdin into a line for the gateway's users file (auth.users_file).
)",
     passwd_command, kPasswdUsage},
    {"secrets",
     R"(  promptgate secrets digest [--key-file FILE] [--format auto|env|lines|json] [--keep-plain]
                            FILE... | -
      Print a known-secrets digest file (keyed digests, no values) for .env files, vault
      exports or one value per line. `promptgate secrets check FILE` verifies one.
)",
     secrets_command, kSecretsUsage},
    {"scan",
     R"(  promptgate scan [--rules PATH]... [--rules-only] [--format jsonl|text|sarif]
                  [--json auto|on|off] [--known-secrets FILE] [--key-file FILE]
                  [--attachments read|skip] [--unreadable error|warn]
                  [--baseline FILE] [--ignore-file FILE]
                  PATH... | - | --staged | --git RANGE
      Scan files, directories (recursively) or stdin with the detection engine; --staged:
      the files staged in git (pre-commit); --git RANGE: the lines its commits added. PDFs,
      pictures (OCR) and office files, alone or as attachments in a JSON body, are read
      as the proxy reads them; one that cannot be read is an error unless --unreadable warn.
      Findings in the --baseline (an earlier jsonl output), on a line marked
      promptgate:allow or under a .promptgateignore glob are left out.
      Exit status: 0 nothing found, 1 findings, 2 error.
)",
     scan_command, kScanUsage},
    {"audit",
     R"(  promptgate audit verify [--strict] FILE...
      Check the hash chain of audit logs (rotated files oldest first). Exit status: 0 intact,
      1 broken (the first broken line is named), 2 error.
)",
     audit_command, kAuditUsage},
    {"rules",
     R"(  promptgate rules test [PATH...]   Run every rule's examples (default: the built-in packs).
  promptgate rules list [PATH...]   Print id, category, action and description of every rule.
)",
     rules_command, kRulesUsage},
    {"demo",
     R"(  promptgate demo [--proxy URL] [--ca FILE] [--config FILE] [--format text|json] [--seed N]
      Print synthetic values in every category (credential, PII, PHI, PCI) that the proxy
      blocks, made now and checked against the config, each with a curl line to try it.
)",
     demo_command, kDemoUsage},
    {"version",
     "  promptgate version\n      Print the version and the regex engine (Hyperscan or "
     "Vectorscan).\n",
     version_command, nullptr},
    {"help", "  promptgate help [COMMAND]   (or promptgate COMMAND --help)\n", help_command,
     nullptr},
};

// Other spellings of a command.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"--version", "version"}, {"--help", "help"}, {"-h", "help"}};

std::string usage() {
  std::string text = "promptgate - data-loss prevention for LLM traffic\n\nusage:\n";
  for (const auto& c : kCommands) text += c.usage;
  text += R"(
Every command answers --help (or -h) with its own usage and options.
Rule sources (--rules, rules PATH): a YAML file, a directory of them, or "builtin".
The CA and the cluster key live in $PROMPTGATE_HOME (default ~/.config/promptgate);
--key-file or PROMPTGATE_KEY_FILE names a shared cluster key instead.
)";
  return text;
}

const Command* find_command(std::string_view name) {
  for (const auto& [alias, target] : kAliases)
    if (name == alias) name = target;
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

void print_help(const Command& c) {
  std::cout << (c.help ? std::string_view(c.help) : c.usage);
}

// `promptgate help` or `promptgate help COMMAND`.
int help_command(const Args& args) {
  if (args.empty()) {
    std::cout << usage();
    return 0;
  }
  const Command* c = find_command(args[0]);
  if (!c) {
    std::cerr << "promptgate: unknown command '" << args[0] << "'\n\n" << usage();
    return 2;
  }
  print_help(*c);
  return 0;
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
  Args args(argv + 2, argv + argc);
  // "promptgate rules --help": a command with subcommands reads no options before the subcommand.
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    print_help(*command);
    return 0;
  }
  try {
    return command->run(args);
  } catch (const cli::HelpRequested&) {
    // Any command's parser met --help or -h (arguments.h): its usage, and success.
    print_help(*command);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
}

// The subcommands of the `promptgate` binary. Each takes the arguments after its own name and
// returns the process exit status; main.cc dispatches to them from its table of commands, and
// each reads its arguments with cli::parse_arguments (arguments.h).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace promptgate {

using Args = std::vector<std::string>;

// promptgate scan [--rules PATH]... [--format jsonl|text|sarif] [--json auto|on|off]
//                 [--known-secrets FILE] [--key-file FILE] PATH... | -
// Exit 0: nothing found, 1: findings, 2: error.
int scan_command(const Args& args);
// promptgate rules test [PATH...] | promptgate rules list [PATH...]
int rules_command(const Args& args);
// promptgate run [--config FILE] [flags]: the intercepting proxy (see run_command.cc).
int run_command(const Args& args);
// promptgate ca init [--force] | show | export
int ca_command(const Args& args);
// promptgate keys init [--force] | show-id [--key-file FILE] | rotate: the cluster key.
int keys_command(const Args& args);
// The home's cluster key (or legacy fingerprint.key), created when it has none; one line to
// `out` saying which (ca init calls it).
void ensure_home_key(const std::string& home, std::ostream& out);
// promptgate passwd USER: hash a secret (stdin) into a line for the gateway's users file.
int passwd_command(const Args& args);
// promptgate secrets digest [--key-file FILE] [--format auto|env|lines|json] FILE... | -
// promptgate secrets check [--key-file FILE] DIGEST_FILE. Exit 0: done, 2: error.
int secrets_command(const Args& args);
// promptgate demo [--proxy URL] [--ca FILE] [--config FILE] [--format text|json] [--seed N]:
// synthetic values the proxy blocks, each with a curl line to try it. Exit 0, or 2 on an error.
int demo_command(const Args& args);
// promptgate audit verify [--strict] FILE...: check the audit log's hash chain.
// Exit 0: intact, 1: broken (first broken line named) or warnings with --strict, 2: I/O error.
int audit_command(const Args& args);

// Each command's usage, printed for `promptgate COMMAND --help` (exit 0) and after a usage error.
extern const char kScanUsage[];
extern const char kRulesUsage[];
extern const char kRunUsage[];
extern const char kCaUsage[];
extern const char kPasswdUsage[];
extern const char kSecretsUsage[];
extern const char kDemoUsage[];
extern const char kAuditUsage[];
extern const char kKeysUsage[];

}  // namespace promptgate

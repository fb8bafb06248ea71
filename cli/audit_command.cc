// promptgate audit verify [--strict] FILE...: checks the hash chain of audit logs (rotated files
// oldest first, checked as one chain). Exit 0: intact (warnings on stderr), 1: broken (the first
// broken line is named), 2: usage or I/O error. --strict also fails on warnings (chain starts
// and restarts, torn or unchained lines). See docs/audit.md.
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "proxy/audit_log.h"

namespace promptgate {

extern const char kAuditUsage[] =
    R"(usage: promptgate audit verify [--strict] FILE...
Checks the hash chain of audit logs; give rotated files oldest first, they are one chain.
  --strict  also fail on warnings (chain starts and restarts, torn or unchained lines)
Exit status: 0 intact, 1 broken (the first broken line is named), 2 error.
)";

namespace {
const cli::ArgumentSpec kAuditArgs{.options = {{"--strict"}}, .positionals = true};
}  // namespace

int audit_command(const Args& args) {
  if (args.empty() || args[0] != "verify") {
    std::cerr << kAuditUsage;
    return 2;
  }
  cli::Arguments parsed;
  try {
    parsed = cli::parse_arguments(std::span(args).subspan(1), kAuditArgs);
  } catch (const cli::ArgumentError& e) {
    std::cerr << "promptgate audit: unknown option '" << e.option() << "'\n" << kAuditUsage;
    return 2;
  }
  const bool strict = parsed.has("--strict");
  const std::vector<std::string>& files = parsed.positionals;
  if (files.empty()) {
    std::cerr << kAuditUsage;
    return 2;
  }

  proxy::AuditChainVerifier verifier;
  bool warned = false;
  for (const auto& name : files) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (name != "-") {
      file.open(name, std::ios::binary);
      if (!file) {
        std::cerr << "promptgate audit: " << name << ": cannot open\n";
        return 2;
      }
      in = &file;
    }
    auto r = verifier.check(*in);
    if (in->bad()) {
      std::cerr << "promptgate audit: " << name << ": read error\n";
      return 2;
    }
    for (const auto& w : r.warnings)
      std::cerr << name << ":" << w.line << ": warning: " << w.message << "\n";
    warned = warned || !r.warnings.empty();
    if (r.error) {
      std::cout << name << ":" << r.error->line << ": chain broken: " << r.error->message << "\n";
      return 1;
    }
    std::cout << name << ": " << r.events << " events, chain intact";
    if (r.last_seq) std::cout << " (seq " << r.first_seq << ".." << r.last_seq << ")";
    std::cout << "\n";
    if (!r.last_hash.empty())
      std::cout << "  last line sha256 " << r.last_hash
                << " (keep it elsewhere to detect a later truncation)\n";
  }
  if (strict && warned) {
    std::cout << "warnings found and --strict given\n";
    return 1;
  }
  return 0;
}

}  // namespace promptgate

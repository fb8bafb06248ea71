// promptgate audit verify [--strict] FILE...: checks the hash chain of audit logs (rotated files
// oldest first, checked as one chain; the lines of each replica, by their "replica" field, as a
// chain of their own, so the files of several replicas or a merged log can be given together). Exit
// 0: intact (warnings on stderr), 1: broken (the first broken line is named), 2: usage or I/O
// error. --strict also fails on warnings (chain starts and restarts, torn or unchained lines). See
// docs/audit.md.
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
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

// The lines of one replica in a file, in file order, with their line numbers in the file.
struct ReplicaLines {
  std::string replica;  // the lines' "replica" field; empty for logs written without one
  std::string text;
  std::vector<uint64_t> lines;
};

// Splits a file by its lines' "replica" field (first seen first). A line without one (torn,
// not JSON, or from before replicas were named) goes with the line before it.
std::vector<ReplicaLines> split_by_replica(std::istream& in) {
  std::vector<ReplicaLines> groups;
  std::map<std::string, size_t> index;
  size_t current = 0;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    bool had_newline = !in.eof();
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object())
      if (auto it = j.find("replica"); it != j.end() && it->is_string()) {
        auto [pos, added] = index.emplace(it->get<std::string>(), groups.size());
        if (added) groups.push_back({pos->first, {}, {}});
        current = pos->second;
      }
    if (groups.empty()) {
      index.emplace("", 0);
      groups.push_back({});
    }
    ReplicaLines& g = groups[current];
    g.text += line;
    if (had_newline) g.text += '\n';
    g.lines.push_back(n);
  }
  return groups;
}
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

  // One chain per replica: files of several replicas, and a merged log, check each replica's
  // lines on their own (rotated files of one replica, given oldest first, as one chain).
  std::map<std::string, proxy::AuditChainVerifier> verifiers;
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
    std::vector<ReplicaLines> groups = split_by_replica(*in);
    if (in->bad()) {
      std::cerr << "promptgate audit: " << name << ": read error\n";
      return 2;
    }
    for (const auto& g : groups) {
      std::istringstream lines(g.text);
      auto r = verifiers[g.replica].check(lines);
      auto line_of = [&](uint64_t n) { return n == 0 || n > g.lines.size() ? n : g.lines[n - 1]; };
      std::string label = name + (g.replica.empty() ? "" : " [" + g.replica + "]");
      for (const auto& w : r.warnings)
        std::cerr << name << ":" << line_of(w.line) << ": warning: " << w.message << "\n";
      warned = warned || !r.warnings.empty();
      if (r.error) {
        std::cout << name << ":" << line_of(r.error->line) << ": chain broken"
                  << (g.replica.empty() ? "" : " (replica " + g.replica + ")") << ": "
                  << r.error->message << "\n";
        return 1;
      }
      std::cout << label << ": " << r.events << " events, chain intact";
      if (r.last_seq) std::cout << " (seq " << r.first_seq << ".." << r.last_seq << ")";
      std::cout << "\n";
      if (!r.last_hash.empty())
        std::cout << "  last line sha256 " << r.last_hash
                  << " (keep it elsewhere to detect a later truncation)\n";
    }
  }
  if (strict && warned) {
    std::cout << "warnings found and --strict given\n";
    return 1;
  }
  return 0;
}

}  // namespace promptgate

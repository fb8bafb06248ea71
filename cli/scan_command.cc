// `promptgate scan`: the engine over files, directories or stdin, for CI, pre-commit hooks and
// evaluation. Small files are scanned in block mode; large ones are streamed in 1 MiB chunks so
// memory stays bounded whatever the file size.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "detectors/engine.h"
#include "detectors/known_secrets.h"
#include "detectors/same_value.h"

namespace promptgate {
namespace {

constexpr size_t kBlockLimit = 64u << 20;  // files up to this size are read whole
constexpr size_t kChunk = 1u << 20;

enum class OutputFormat { jsonl, text, sarif };

struct ScanOptions {
  std::vector<RuleSource> rules;
  OutputFormat format = OutputFormat::jsonl;
  InputFormat json = InputFormat::automatic;
  std::vector<std::string> paths;
  std::string known_secrets;  // digest file (docs/known-secrets.md)
};

struct FileFindings {
  std::string path;
  std::vector<Finding> findings;
  std::string content;  // kept for line numbers when the file was read whole
  bool have_content = false;
};

const cli::ArgumentSpec kArgs{
    .options = {{"--rules", cli::OptionKind::value},
                {"--known-secrets", cli::OptionKind::value},
                {"--format", cli::OptionKind::value, {"jsonl", "text", "sarif"}},
                {"--json", cli::OptionKind::value, {"auto", "on", "off"}}},
    .positionals = true};

// Throws std::invalid_argument (cli::ArgumentError among them) with the message to print.
ScanOptions parse(const Args& args) {
  cli::Arguments parsed = cli::parse_arguments(args, kArgs);
  ScanOptions o;
  for (auto& path : parsed.all("--rules")) o.rules.push_back({std::move(path)});
  o.known_secrets = parsed.last("--known-secrets").value_or("");
  std::string format = parsed.last("--format").value_or("jsonl");
  o.format = format == "text"    ? OutputFormat::text
             : format == "sarif" ? OutputFormat::sarif
                                 : OutputFormat::jsonl;
  std::string json = parsed.last("--json").value_or("auto");
  o.json = json == "on"    ? InputFormat::json
           : json == "off" ? InputFormat::text
                           : InputFormat::automatic;
  o.paths = std::move(parsed.positionals);
  if (o.rules.empty()) o.rules.push_back(RuleSource::builtin());
  if (o.paths.empty()) throw std::invalid_argument("scan needs a PATH or - for stdin");
  return o;
}

// Streams `in` through the engine in 1 MiB chunks.
ScanResult scan_stream(Scanner& scanner, std::istream& in, InputFormat format) {
  auto stream = scanner.open_stream(format);
  std::vector<char> buf(kChunk);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (!stream->write(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
  }
  return stream->finish();
}

bool scan_file(Scanner& scanner, const std::string& path, InputFormat format, FileFindings& out,
               std::string& error) {
  out.path = path;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    error = path + ": " + ec.message();
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return false;
  }
  if (size <= kBlockLimit) {
    out.content.resize(size);
    in.read(out.content.data(), static_cast<std::streamsize>(size));
    out.content.resize(static_cast<size_t>(in.gcount()));
    out.have_content = true;
    ScanResult r = scanner.scan(out.content, format);
    if (!r.ok()) {
      error = path + ": " + r.error;
      return false;
    }
    out.findings = std::move(r.findings);
    return true;
  }
  ScanResult r = scan_stream(scanner, in, format);
  if (!r.ok() && format == InputFormat::automatic) {
    // Looked like JSON but was not: scan it again as text.
    std::ifstream again(path, std::ios::binary);
    r = scan_stream(scanner, again, InputFormat::text);
  }
  if (!r.ok()) {
    error = path + ": " + r.error;
    return false;
  }
  out.findings = std::move(r.findings);
  return true;
}

std::pair<uint64_t, uint64_t> line_col(const std::string& content, uint64_t offset) {
  uint64_t line = 1, col = 1;
  for (uint64_t i = 0; i < offset && i < content.size(); ++i) {
    if (content[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

nlohmann::json finding_json(const std::string& path, const Finding& f) {
  nlohmann::json j = {{"path", path},
                      {"rule", f.rule_id},
                      {"category", to_string(f.category)},
                      {"severity", to_string(f.severity)},
                      {"action", to_string(strongest_action(f))},
                      {"start", f.start},
                      {"end", f.end},
                      {"length", f.length},
                      {"location", f.location},
                      {"fingerprint", f.fingerprint}};
  // The other rules that matched the same value (one finding per value: same_value.h).
  for (const auto& m : f.also_matched) j["also_matched"].push_back(m.rule_id);
  return j;
}

void print_sarif(const std::vector<FileFindings>& files, const RuleSet& rules) {
  nlohmann::json rule_list = nlohmann::json::array();
  std::set<std::string> used;
  for (const auto& file : files)
    for (const auto& f : file.findings) used.insert(f.rule_id);
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules.rule(i);
    if (!used.count(r.id)) continue;
    rule_list.push_back(
        {{"id", r.id},
         {"shortDescription", {{"text", r.description}}},
         {"properties",
          {{"category", to_string(r.category)}, {"severity", to_string(r.severity)}}}});
  }
  nlohmann::json results = nlohmann::json::array();
  for (const auto& file : files) {
    for (const auto& f : file.findings) {
      nlohmann::json region = {{"byteOffset", f.start}, {"byteLength", f.end - f.start}};
      if (file.have_content) {
        auto [line, col] = line_col(file.content, f.start);
        region["startLine"] = line;
        region["startColumn"] = col;
      }
      std::string level = f.severity >= Severity::high ? "error" : "warning";
      std::string msg = "Possible " + std::string(to_string(f.category)) + " (" + f.rule_id +
                        ", fingerprint " + f.fingerprint + ")";
      if (!f.location.empty()) msg += " at " + f.location;
      results.push_back({{"ruleId", f.rule_id},
                         {"level", level},
                         {"message", {{"text", msg}}},
                         {"partialFingerprints", {{"promptgate/v1", f.fingerprint}}},
                         {"locations",
                          {{{"physicalLocation",
                             {{"artifactLocation", {{"uri", file.path}}}, {"region", region}}}}}}});
    }
  }
  nlohmann::json sarif = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                          {"version", "2.1.0"},
                          {"runs",
                           {{{"tool",
                              {{"driver",
                                {{"name", "promptgate"},
                                 {"version", std::string(cli::kVersion)},
                                 {"rules", rule_list}}}}},
                             {"results", results}}}}};
  std::cout << sarif.dump(2) << "\n";
}

void collect_paths(const std::string& root, std::vector<std::string>& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (root == "-" || !fs::is_directory(root, ec)) {
    out.push_back(root);
    return;
  }
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory() && it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) found.push_back(it->path().string());
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

}  // namespace

int scan_command(const Args& args) {
  ScanOptions opts;
  try {
    opts = parse(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "promptgate scan: " << e.what() << "\n";
    return 2;
  }
  std::shared_ptr<const RuleSet> rules;
  try {
    rules = RuleSet::compile(load_rule_packs(opts.rules), default_home_dir() + "/cache");
  } catch (const RuleError& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
  FingerprintKey key = FingerprintKey::load_or_create(default_home_dir());
  Scanner scanner(rules, key);
  if (!opts.known_secrets.empty()) {
    try {
      scanner.set_known_secrets(KnownSecrets::load(opts.known_secrets, key));
    } catch (const std::exception& e) {
      std::cerr << "promptgate: " << e.what() << "\n";
      return 2;
    }
  }

  std::vector<std::string> paths;
  for (const auto& p : opts.paths) collect_paths(p, paths);

  bool any_error = false, any_finding = false;
  std::vector<FileFindings> all;
  for (const auto& path : paths) {
    FileFindings ff;
    std::string error;
    bool ok;
    if (path == "-") {
      ff.path = "-";
      ScanResult r = scan_stream(scanner, std::cin, opts.json);
      ok = r.ok();
      if (!ok) error = "stdin: " + r.error;
      ff.findings = std::move(r.findings);
    } else {
      ok = scan_file(scanner, path, opts.json, ff, error);
    }
    if (!ok) {
      std::cerr << "promptgate: " << error << "\n";
      any_error = true;
    }
    any_finding = any_finding || !ff.findings.empty();
    if (opts.format == OutputFormat::jsonl) {
      for (const auto& f : ff.findings) std::cout << finding_json(ff.path, f).dump() << "\n";
    } else if (opts.format == OutputFormat::text) {
      for (const auto& f : ff.findings) {
        std::cout << ff.path << ":";
        if (ff.have_content) {
          auto [line, col] = line_col(ff.content, f.start);
          std::cout << line << ":" << col << ":";
        } else {
          std::cout << "@" << f.start << ":";
        }
        std::cout << " " << f.rule_id << " (" << to_string(f.category) << ", "
                  << to_string(f.severity) << ")";
        if (!f.location.empty()) std::cout << " at " << f.location;
        std::cout << ", " << f.length << " bytes, " << f.fingerprint << "\n";
      }
    }
    if (opts.format == OutputFormat::sarif) {
      all.push_back(std::move(ff));
    }
  }
  if (opts.format == OutputFormat::sarif) print_sarif(all, *rules);
  std::cout.flush();
  if (any_error) return 2;
  return any_finding ? 1 : 0;
}

}  // namespace promptgate

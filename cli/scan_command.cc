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
#include <numeric>
#include <optional>
#include <set>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "detectors/cluster_key.h"
#include "detectors/engine.h"
#include "detectors/known_secrets.h"
#include "detectors/readers/read_files.h"
#include "detectors/same_value.h"

namespace promptgate {

extern const char kScanUsage[] =
    R"(usage: promptgate scan [--rules PATH]... [--rules-only] [--format jsonl|text|sarif]
                       [--json auto|on|off] [--known-secrets FILE] [--key-file FILE]
                       [--attachments read|skip] [--unreadable error|warn] PATH... | -
Scans files, directories (recursively, .git skipped) or stdin (-) with the detection engine.
  --rules PATH          a rule pack (YAML file or directory of them) added to the built-in
                        packs; may repeat. "builtin" names the built-in packs.
  --rules-only          use only the --rules packs, not the built-in ones
  --format              jsonl (default): one JSON object per finding; text: path:line:col: rule;
                        sarif: SARIF 2.1.0 for code-scanning tools
  --json                auto (default): JSON bodies are read as JSON; on / off force it
  --known-secrets FILE  a digest file of the organisation's own secrets (docs/known-secrets.md)
  --key-file FILE       the cluster key fingerprints derive from (default: PROMPTGATE_KEY_FILE,
                        else $PROMPTGATE_HOME/cluster.key); share it for equal fingerprints
  --attachments         read (default): PDFs, pictures (OCR) and office files, alone or as
                        attachments in a JSON body, are read as the proxy reads them; skip
  --unreadable          error (default): an attachment that cannot be read exits 2; warn
Exit status: 0 nothing found, 1 findings, 2 error.
)";

namespace {

constexpr size_t kBlockLimit = 64u << 20;  // files up to this size are read whole
constexpr size_t kChunk = 1u << 20;

enum class OutputFormat { jsonl, text, sarif };

struct ScanOptions {
  std::vector<RuleSource> rules;
  OutputFormat format = OutputFormat::jsonl;
  InputFormat json = InputFormat::automatic;
  std::vector<std::string> paths;
  std::string known_secrets;        // digest file (docs/known-secrets.md)
  std::string key_file;             // --key-file: a shared cluster key (docs/keys.md)
  bool read_attachments = true;     // PDFs, pictures, office files: read and their text scanned
  bool unreadable_is_error = true;  // an attachment that cannot be read makes the exit code 2
};

// Where the lines of a streamed input (stdin, files over the block limit) start, kept as the
// distances between newlines in LEB128 (about a byte per line), so that findings reported at
// the end of the stream still get a line and a column in bounded memory.
class LineIndex {
 public:
  void feed(std::string_view chunk) {
    for (size_t i = chunk.find('\n'); i != std::string_view::npos; i = chunk.find('\n', i + 1)) {
      uint64_t at = seen_ + i, delta = at - last_;
      last_ = at;
      do {
        uint8_t byte = delta & 0x7f;
        delta >>= 7;
        deltas_.push_back(byte | (delta ? 0x80 : 0));
      } while (delta);
    }
    seen_ += chunk.size();
  }

  // 1-based line and byte column of each offset, in one walk over the index.
  std::vector<std::pair<uint64_t, uint64_t>> positions(const std::vector<uint64_t>& offsets) const {
    std::vector<size_t> order(offsets.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
    std::vector<std::pair<uint64_t, uint64_t>> out(offsets.size());
    size_t pos = 0;
    uint64_t line = 1, line_start = 0, newline = 0;
    auto next_newline = [&]() -> std::optional<uint64_t> {
      if (pos >= deltas_.size()) return std::nullopt;
      uint64_t delta = 0;
      for (int shift = 0;; shift += 7) {
        uint8_t byte = deltas_[pos++];
        delta |= uint64_t(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
      }
      newline += delta;  // the first delta counts from offset 0
      return newline;
    };
    std::optional<uint64_t> ahead = next_newline();
    for (size_t i : order) {
      while (ahead && *ahead < offsets[i]) {
        ++line;
        line_start = *ahead + 1;
        ahead = next_newline();
      }
      out[i] = {line, offsets[i] - line_start + 1};
    }
    return out;
  }

 private:
  std::vector<uint8_t> deltas_;
  uint64_t seen_ = 0, last_ = 0;
};

struct FileFindings {
  std::string path;
  std::vector<Finding> findings;
  std::string content;  // when the file was read whole
  bool have_content = false;
  LineIndex lines;
  std::vector<std::pair<uint64_t, uint64_t>> positions;  // line and column of each finding
  std::vector<std::string> problems;                     // attachments that could not be read
};

const cli::ArgumentSpec kArgs{
    .options = {{"--rules", cli::OptionKind::value},
                {"--rules-only"},
                {"--known-secrets", cli::OptionKind::value},
                {"--key-file", cli::OptionKind::value},
                {"--format", cli::OptionKind::value, {"jsonl", "text", "sarif"}},
                {"--json", cli::OptionKind::value, {"auto", "on", "off"}},
                {"--attachments", cli::OptionKind::value, {"read", "skip"}},
                {"--unreadable", cli::OptionKind::value, {"error", "warn"}}},
    .positionals = true};

// Throws std::invalid_argument (cli::ArgumentError among them) with the message to print.
ScanOptions parse(const Args& args) {
  cli::Arguments parsed = cli::parse_arguments(args, kArgs);
  ScanOptions o;
  if (parsed.has("--rules-only") && !parsed.has("--rules"))
    throw std::invalid_argument("--rules-only needs rule packs given with --rules");
  o.rules = rule_sources(parsed.all("--rules"), !parsed.has("--rules-only"));
  o.known_secrets = parsed.last("--known-secrets").value_or("");
  o.key_file = parsed.last("--key-file").value_or("");
  std::string format = parsed.last("--format").value_or("jsonl");
  o.format = format == "text"    ? OutputFormat::text
             : format == "sarif" ? OutputFormat::sarif
                                 : OutputFormat::jsonl;
  std::string json = parsed.last("--json").value_or("auto");
  o.json = json == "on"    ? InputFormat::json
           : json == "off" ? InputFormat::text
                           : InputFormat::automatic;
  o.read_attachments = parsed.last("--attachments").value_or("read") == "read";
  o.unreadable_is_error = parsed.last("--unreadable").value_or("error") == "error";
  o.paths = std::move(parsed.positionals);
  if (o.paths.empty()) throw std::invalid_argument("scan needs a PATH or - for stdin");
  return o;
}

// Streams `in` through the engine in 1 MiB chunks, noting where lines start in `lines`.
ScanResult scan_stream(Scanner& scanner, std::istream& in, InputFormat format, LineIndex& lines) {
  lines = LineIndex();
  auto stream = scanner.open_stream(format);
  std::vector<char> buf(kChunk);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    lines.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!stream->write(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
  }
  return stream->finish();
}

// What the model would read inside attachments: the JSON body's (document / image blocks and
// the other vendors' fields) and, when `whole` is given, the file itself if it is a PDF, a
// picture or an office file.
void read_attachments(Scanner& scanner, std::vector<Attachment> attachments,
                      std::optional<std::string_view> whole, FileFindings& out) {
  if (whole)
    if (auto a = whole_file_attachment(*whole, scanner.attachment_limits()))
      attachments.push_back(std::move(*a));
  if (attachments.empty()) return;
  AttachmentReport r = read_and_scan(scanner, attachments, ReadLimits{});
  for (auto& f : r.findings) out.findings.push_back(std::move(f));
  for (auto& p : r.problems) out.problems.push_back(std::move(p));
}

bool scan_file(Scanner& scanner, const std::string& path, const ScanOptions& opts,
               FileFindings& out, std::string& error) {
  const InputFormat format = opts.json;
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
    if (opts.read_attachments)
      read_attachments(scanner, std::move(r.attachments), out.content, out);
    return true;
  }
  ScanResult r = scan_stream(scanner, in, format, out.lines);
  if (!r.ok() && format == InputFormat::automatic) {
    // Looked like JSON but was not: scan it again as text.
    std::ifstream again(path, std::ios::binary);
    r = scan_stream(scanner, again, InputFormat::text, out.lines);
  }
  if (!r.ok()) {
    error = path + ": " + r.error;
    return false;
  }
  out.findings = std::move(r.findings);
  if (opts.read_attachments) read_attachments(scanner, std::move(r.attachments), {}, out);
  return true;
}

// Line and column (1-based, the column in bytes) of every finding of `ff`.
void locate(FileFindings& ff) {
  if (ff.have_content) ff.lines.feed(ff.content);
  std::vector<uint64_t> offsets;
  for (const auto& f : ff.findings) offsets.push_back(f.start);
  ff.positions = ff.lines.positions(offsets);
}

nlohmann::json finding_json(const std::string& path, const Finding& f,
                            std::pair<uint64_t, uint64_t> position) {
  nlohmann::json j = {{"path", path},
                      {"line", position.first},
                      {"column", position.second},
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
    for (size_t i = 0; i < file.findings.size(); ++i) {
      const Finding& f = file.findings[i];
      nlohmann::json region = {{"byteOffset", f.start},
                               {"byteLength", f.end - f.start},
                               {"startLine", file.positions[i].first},
                               {"startColumn", file.positions[i].second}};
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
    std::cerr << "promptgate scan: " << e.what() << "\n" << kScanUsage;
    return 2;
  }
  std::shared_ptr<const RuleSet> rules;
  try {
    rules = RuleSet::compile(load_rule_packs(opts.rules), default_home_dir() + "/cache");
  } catch (const RuleError& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
  // --key-file, else PROMPTGATE_KEY_FILE, else the home's key (created on first use): the same
  // key gives the same fingerprints on every machine that shares it.
  std::optional<FingerprintKey> loaded;
  try {
    loaded =
        ClusterKey::resolve(default_home_dir(), opts.key_file, /*create=*/true).fingerprint_key();
  } catch (const std::exception& e) {
    std::cerr << "promptgate scan: " << e.what() << "\n";
    return 2;
  }
  const FingerprintKey& key = *loaded;
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
      ScanResult r = scan_stream(scanner, std::cin, opts.json, ff.lines);
      ok = r.ok();
      if (!ok) error = "stdin: " + r.error;
      ff.findings = std::move(r.findings);
      if (opts.read_attachments) read_attachments(scanner, std::move(r.attachments), {}, ff);
    } else {
      ok = scan_file(scanner, path, opts, ff, error);
    }
    if (!ok) {
      std::cerr << "promptgate: " << error << "\n";
      any_error = true;
    }
    for (const auto& problem : ff.problems)
      std::cerr << "promptgate: " << ff.path << ": " << problem
                << (opts.unreadable_is_error ? "" : " (not read: --unreadable warn)") << "\n";
    if (!ff.problems.empty() && opts.unreadable_is_error) any_error = true;
    any_finding = any_finding || !ff.findings.empty();
    locate(ff);
    if (opts.format == OutputFormat::jsonl) {
      for (size_t i = 0; i < ff.findings.size(); ++i)
        std::cout << finding_json(ff.path, ff.findings[i], ff.positions[i]).dump() << "\n";
    } else if (opts.format == OutputFormat::text) {
      for (size_t i = 0; i < ff.findings.size(); ++i) {
        const Finding& f = ff.findings[i];
        std::cout << ff.path << ":" << ff.positions[i].first << ":" << ff.positions[i].second
                  << ":";
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

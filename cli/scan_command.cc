// `promptgate scan`: the engine over files, directories, stdin, the staged files of a git index
// or the lines a range of commits added, for CI, pre-commit hooks and evaluation. Text files up
// to 8 MiB (PDFs, pictures and office files up to 64 MiB) are scanned in block mode; larger ones
// are streamed in 1 MiB chunks so memory stays bounded whatever the file size. Findings on a line
// marked `promptgate:allow`, in a path of .promptgateignore or in the --baseline are left out
// (scan_filters.h).
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "cli/scan_filters.h"
#include "cli/scan_git.h"
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
                       [--attachments read|skip] [--unreadable error|warn]
                       [--baseline FILE] [--ignore-file FILE]
                       PATH... | - | --staged | --git RANGE
Scans files, directories (recursively, .git skipped) or stdin (-) with the detection engine.
  --staged              scan the files staged in the git index (their staged content), from
                        anywhere in the work tree: for pre-commit hooks
  --git RANGE           scan the lines each commit of RANGE added (main..HEAD; HEAD for all
                        history); findings name the commit, the path and the line in it
  --baseline FILE       leave out findings whose fingerprint is in FILE: the jsonl output of
                        an earlier scan (fingerprints depend on the key: share it)
  --ignore-file FILE    path globs not to read, as in .promptgateignore (read at the top of
                        each directory scanned, of the current directory for files, of the
                        repository for --staged and --git); adds to it
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
A line holding "promptgate:allow" (in a comment) has its findings left out.
Exit status: 0 nothing found, 1 findings, 2 error.
)";

namespace {

using scan::Baseline;
using scan::IgnoreRules;
using scan::LineIndex;

// Inputs up to kTextBlockLimit are read whole and scanned in block mode; larger ones are
// streamed, so their buffers are reused rather than a fresh 64 MiB taken from the kernel per
// file (page faults and zeroing were 25 % of the CPU on big text files). A file whose first bytes
// say a reader opens it (PDF, picture, office) is read whole up to kBlockLimit, since readers
// need all of it; so is anything that cannot be opened twice (scan_input).
constexpr size_t kTextBlockLimit = 8u << 20;
constexpr size_t kBlockLimit = 64u << 20;
constexpr size_t kChunk = 1u << 20;
constexpr const char* kIgnoreFileName = ".promptgateignore";

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
  std::string baseline;             // --baseline FILE
  std::string ignore_file;          // --ignore-file FILE
  bool staged = false;              // --staged
  std::optional<std::string> git_range;  // --git RANGE
};

struct FileFindings {
  std::string path;
  std::string commit;  // --git: the commit whose added lines these are
  std::vector<Finding> findings;
  LineIndex lines;                 // of the text scanned
  std::vector<uint64_t> line_map;  // --git: line i + 1 of the text is line_map[i] of the file
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
                {"--unreadable", cli::OptionKind::value, {"error", "warn"}},
                {"--baseline", cli::OptionKind::value},
                {"--ignore-file", cli::OptionKind::value},
                {"--staged"},
                {"--git", cli::OptionKind::value}},
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
  o.baseline = parsed.last("--baseline").value_or("");
  o.ignore_file = parsed.last("--ignore-file").value_or("");
  o.staged = parsed.has("--staged");
  o.git_range = parsed.last("--git");
  o.paths = std::move(parsed.positionals);
  if (o.staged && o.git_range) throw std::invalid_argument("--staged and --git exclude each other");
  if ((o.staged || o.git_range) && !o.paths.empty())
    throw std::invalid_argument(std::string(o.staged ? "--staged" : "--git") +
                                " reads the repository of the current directory: no PATH");
  if (o.paths.empty() && !o.staged && !o.git_range)
    throw std::invalid_argument("scan needs a PATH, - for stdin, --staged or --git RANGE");
  return o;
}

// Opens an input, hands it to the reader, closes it; throws std::runtime_error when it cannot.
// May be called twice (a large input that looked like JSON is streamed again as text).
using Opener = std::function<void(const std::function<void(std::istream&)>&)>;

// Streams `head` and then the rest of `in` through the engine in 1 MiB chunks, noting where
// lines start in `lines`.
ScanResult scan_stream(Scanner& scanner, std::string_view head, std::istream& in,
                       InputFormat format, LineIndex& lines) {
  lines = LineIndex();
  auto stream = scanner.open_stream(format);
  lines.feed(head);
  if (!stream->write(head)) return stream->finish();
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
// the other vendors' fields) and, when `whole` is given, the input itself if it is a PDF, a
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

// Scans one input: read whole when it holds up to kBlockLimit bytes (its line index built in
// the same pass), streamed past that. Throws std::runtime_error with the reason it failed.
void scan_input(Scanner& scanner, const Opener& open, const ScanOptions& opts, size_t size_hint,
                FileFindings& out) {
  std::string content;
  std::optional<ScanResult> streamed;
  open([&](std::istream& in) {
    // Only a regular file (its size known) can be opened again to rescan as text a body that
    // looked like JSON and was not; stdin, pipes and git blobs keep the larger whole read.
    size_t limit = size_hint > 0 ? kTextBlockLimit : kBlockLimit;
    content.reserve(std::min(size_hint, limit) + 1);
    std::vector<char> buf(kChunk);
    bool sniffed = false;
    while (content.size() <= limit && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      content.append(buf.data(), static_cast<size_t>(in.gcount()));
      if (!sniffed && opts.read_attachments &&
          sniff_media(std::string_view(content).substr(0, 1024)) != MediaKind::unknown)
        limit = kBlockLimit;
      sniffed = true;
    }
    if (content.size() <= limit) return;
    streamed = scan_stream(scanner, content, in, opts.json, out.lines);
    content = std::string();
  });
  if (!streamed) {
    out.lines.feed(content);
    ScanResult r = scanner.scan(content, opts.json);
    if (!r.ok()) throw std::runtime_error(r.error);
    out.findings = std::move(r.findings);
    if (opts.read_attachments) read_attachments(scanner, std::move(r.attachments), content, out);
    return;
  }
  if (!streamed->ok() && opts.json == InputFormat::automatic) {
    // Looked like JSON but was not: scan it again as text.
    open([&](std::istream& in) {
      streamed = scan_stream(scanner, {}, in, InputFormat::text, out.lines);
    });
  }
  if (!streamed->ok()) throw std::runtime_error(streamed->error);
  out.findings = std::move(streamed->findings);
  if (opts.read_attachments) read_attachments(scanner, std::move(streamed->attachments), {}, out);
}

// Line and column of each finding; those on a line marked promptgate:allow or in the baseline
// are dropped. An allow comment covers the lines the finding's raw bytes span, not the text
// inside attachments (PDFs, pictures, office files, base64 documents): it cannot be there.
void settle(FileFindings& ff, const Baseline* baseline) {
  std::vector<uint64_t> offsets;
  for (const auto& f : ff.findings) {
    offsets.push_back(f.start);
    offsets.push_back(f.end > f.start ? f.end - 1 : f.start);
  }
  auto pos = ff.lines.positions(offsets);
  std::vector<Finding> kept;
  for (size_t i = 0; i < ff.findings.size(); ++i) {
    Finding& f = ff.findings[i];
    auto [first, column] = pos[2 * i];
    bool inline_allowed =
        !f.in_attachment && !f.in_base64 && ff.lines.allowed(first, pos[2 * i + 1].first);
    if (inline_allowed || (baseline && baseline->contains(f.fingerprint))) continue;
    if (!ff.line_map.empty()) first = first <= ff.line_map.size() ? ff.line_map[first - 1] : 0;
    ff.positions.emplace_back(first, column);
    kept.push_back(std::move(f));
  }
  ff.findings = std::move(kept);
  ff.lines = LineIndex();
  ff.line_map.clear();
}

nlohmann::json finding_json(const FileFindings& ff, size_t i) {
  const Finding& f = ff.findings[i];
  nlohmann::json j;
  if (!ff.commit.empty()) j["commit"] = ff.commit;
  j.update({{"path", ff.path},
            {"line", ff.positions[i].first},
            {"column", ff.positions[i].second},
            {"rule", f.rule_id},
            {"category", to_string(f.category)},
            {"severity", to_string(f.severity)},
            {"action", to_string(strongest_action(f))},
            {"start", f.start},
            {"end", f.end},
            {"length", f.length},
            {"location", f.location},
            {"fingerprint", f.fingerprint}});
  // --git scans a commit's added lines, not the file: byte offsets in it are not known.
  if (!ff.commit.empty()) {
    j.erase("start");
    j.erase("end");
  }
  // The other rules that matched the same value (one finding per value: same_value.h).
  for (const auto& m : f.also_matched) j["also_matched"].push_back(m.rule_id);
  return j;
}

void print_text(const FileFindings& ff) {
  for (size_t i = 0; i < ff.findings.size(); ++i) {
    const Finding& f = ff.findings[i];
    // A commit first, as `git grep` names a file in a revision: sha:path:line:col.
    if (!ff.commit.empty()) std::cout << ff.commit << ":";
    std::cout << ff.path << ":" << ff.positions[i].first << ":" << ff.positions[i].second << ":";
    std::cout << " " << f.rule_id << " (" << to_string(f.category) << ", " << to_string(f.severity)
              << ")";
    if (!f.location.empty()) std::cout << " at " << f.location;
    std::cout << ", " << f.length << " bytes, " << f.fingerprint << "\n";
  }
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
      if (!file.commit.empty()) region.erase("byteOffset");  // offsets in the added lines only
      std::string level = f.severity >= Severity::high ? "error" : "warning";
      std::string msg = "Possible " + std::string(to_string(f.category)) + " (" + f.rule_id +
                        ", fingerprint " + f.fingerprint + ")";
      if (!f.location.empty()) msg += " at " + f.location;
      if (!file.commit.empty()) msg += " added in commit " + file.commit;
      nlohmann::json result = {
          {"ruleId", f.rule_id},
          {"level", level},
          {"message", {{"text", msg}}},
          {"partialFingerprints", {{"promptgate/v1", f.fingerprint}}},
          {"locations",
           {{{"physicalLocation",
              {{"artifactLocation", {{"uri", file.path}}}, {"region", region}}}}}}};
      if (!file.commit.empty()) result["properties"] = {{"commit", file.commit}};
      results.push_back(std::move(result));
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

// Settles each input's findings and prints them as they come (SARIF: all at the end).
class Reporter {
 public:
  Reporter(const ScanOptions& opts, const Baseline* baseline) : opts_(opts), baseline_(baseline) {}

  void add(FileFindings ff) {
    settle(ff, baseline_);
    any_finding_ = any_finding_ || !ff.findings.empty();
    if (opts_.format == OutputFormat::jsonl) {
      for (size_t i = 0; i < ff.findings.size(); ++i)
        std::cout << finding_json(ff, i).dump() << "\n";
    } else if (opts_.format == OutputFormat::text) {
      print_text(ff);
    } else if (!ff.findings.empty()) {
      sarif_.push_back(std::move(ff));
    }
  }
  void finish(const RuleSet& rules) {
    if (opts_.format == OutputFormat::sarif) print_sarif(sarif_, rules);
    std::cout.flush();
  }
  bool any_finding() const { return any_finding_; }

 private:
  const ScanOptions& opts_;
  const Baseline* baseline_;
  bool any_finding_ = false;
  std::vector<FileFindings> sarif_;
};

// The patterns of `dir`'s .promptgateignore followed by --ignore-file's.
IgnoreRules ignore_rules_at(const std::string& dir, const IgnoreRules& extra) {
  IgnoreRules rules;
  rules.add_file((std::filesystem::path(dir) / kIgnoreFileName).string(), /*required=*/false);
  rules.append(extra);
  return rules;
}

// The files to scan under each PATH: a directory walked (.git and ignored paths not entered, the
// directory's own .promptgateignore applying), a file or "-" as given unless the current
// directory's ignore rules name it.
void collect_paths(const std::string& root, const IgnoreRules& extra,
                   std::vector<std::string>& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (root == "-") {
    out.push_back(root);
    return;
  }
  if (!fs::is_directory(root, ec)) {
    fs::path rel =
        fs::absolute(root, ec).lexically_normal().lexically_relative(fs::current_path(ec));
    std::string r = rel.generic_string();
    bool inside = !r.empty() && r != "." && r.rfind("..", 0) != 0;
    if (!inside || !ignore_rules_at(".", extra).ignored_path(r)) out.push_back(root);
    return;
  }
  IgnoreRules rules = ignore_rules_at(root, extra);
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    bool dir = it->is_directory();
    if (dir && it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (!rules.empty() &&
        rules.ignored(it->path().lexically_relative(root).generic_string(), dir)) {
      if (dir) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) found.push_back(it->path().string());
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

// Prints an input's unreadable attachments; whether they make the scan fail.
bool report_problems(const FileFindings& ff, const ScanOptions& opts) {
  for (const auto& problem : ff.problems)
    std::cerr << "promptgate: " << ff.path << ": " << problem
              << (opts.unreadable_is_error ? "" : " (not read: --unreadable warn)") << "\n";
  return !ff.problems.empty() && opts.unreadable_is_error;
}

// Files and stdin. Returns whether every input was read.
bool scan_paths(Scanner& scanner, const ScanOptions& opts, const IgnoreRules& extra,
                Reporter& reporter) {
  std::vector<std::string> paths;
  for (const auto& p : opts.paths) collect_paths(p, extra, paths);
  bool all_ok = true;
  for (const auto& path : paths) {
    FileFindings ff;
    ff.path = path;
    try {
      if (path == "-") {
        // Always streamed: stdin cannot be read twice.
        ScanResult r = scan_stream(scanner, {}, std::cin, opts.json, ff.lines);
        ff.findings = std::move(r.findings);  // those found before an error too
        if (!r.ok()) throw std::runtime_error(r.error);
        if (opts.read_attachments) read_attachments(scanner, std::move(r.attachments), {}, ff);
      } else {
        // Not only regular files: a named pipe or <(command) is read as it comes.
        std::error_code ec;
        auto status = std::filesystem::status(path, ec);
        if (ec) throw std::runtime_error(ec.message());
        if (std::filesystem::is_directory(status)) throw std::runtime_error("a directory");
        size_t size = std::filesystem::is_regular_file(status)
                          ? static_cast<size_t>(std::filesystem::file_size(path, ec))
                          : 0;
        scan_input(
            scanner,
            [&](const auto& read) {
              std::ifstream in(path, std::ios::binary);
              if (!in) throw std::runtime_error("cannot open");
              read(in);
            },
            opts, size, ff);
      }
    } catch (const std::runtime_error& e) {
      std::cerr << "promptgate: " << (path == "-" ? "stdin" : path) << ": " << e.what() << "\n";
      all_ok = false;
    }
    if (report_problems(ff, opts)) all_ok = false;
    reporter.add(std::move(ff));
  }
  return all_ok;
}

// --staged: the staged content of each added or modified file. Throws scan::GitError.
bool scan_staged(Scanner& scanner, const ScanOptions& opts, const IgnoreRules& extra,
                 Reporter& reporter) {
  std::string top = scan::git_toplevel();
  IgnoreRules rules = ignore_rules_at(top, extra);
  bool all_ok = true;
  for (const scan::StagedFile& file : scan::staged_files(top)) {
    if (rules.ignored_path(file.path)) continue;
    FileFindings ff;
    ff.path = file.path;
    try {
      scan_input(
          scanner,
          [&](const auto& read) {
            scan::GitProcess blob({"git", "-C", top, "cat-file", "blob", file.blob});
            read(blob.out());
            blob.out().ignore(std::numeric_limits<std::streamsize>::max());
            blob.finish();
          },
          opts, 0, ff);
    } catch (const scan::GitError&) {
      throw;
    } catch (const std::runtime_error& e) {
      std::cerr << "promptgate: " << file.path << ": " << e.what() << "\n";
      all_ok = false;
    }
    if (report_problems(ff, opts)) all_ok = false;
    reporter.add(std::move(ff));
  }
  return all_ok;
}

// --git RANGE: the lines each commit added, file by file, scanned as text. Throws
// scan::GitError.
void scan_git_range(Scanner& scanner, const std::string& range, const IgnoreRules& extra,
                    Reporter& reporter) {
  std::string top = scan::git_toplevel();
  IgnoreRules rules = ignore_rules_at(top, extra);
  scan::GitProcess log(scan::git_log_argv(top, range));
  scan::AddedLinesReader reader([&](const std::string& path) { return rules.ignored_path(path); },
                                [&](scan::AddedText& added) {
                                  FileFindings ff;
                                  ff.path = added.path;
                                  ff.commit = added.commit;
                                  ff.lines.feed(added.text);
                                  ScanResult r = scanner.scan(added.text, InputFormat::text);
                                  ff.findings = std::move(r.findings);
                                  ff.line_map = std::move(added.lines);
                                  reporter.add(std::move(ff));
                                });
  for (std::string line; std::getline(log.out(), line);) reader.line(line);
  reader.finish();
  log.finish();
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
  std::optional<Baseline> baseline;
  IgnoreRules extra;
  try {
    if (!opts.baseline.empty()) baseline = Baseline::load(opts.baseline);
    if (!opts.ignore_file.empty()) extra.add_file(opts.ignore_file, /*required=*/true);
  } catch (const std::runtime_error& e) {
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

  Reporter reporter(opts, baseline ? &*baseline : nullptr);
  bool all_ok = true;
  try {
    if (opts.staged)
      all_ok = scan_staged(scanner, opts, extra, reporter);
    else if (opts.git_range)
      scan_git_range(scanner, *opts.git_range, extra, reporter);
    else
      all_ok = scan_paths(scanner, opts, extra, reporter);
  } catch (const scan::GitError& e) {
    std::cout.flush();
    std::cerr << "promptgate scan: " << e.what() << "\n";
    return 2;
  }
  reporter.finish(*rules);
  if (!all_ok) return 2;
  return reporter.any_finding() ? 1 : 0;
}

}  // namespace promptgate

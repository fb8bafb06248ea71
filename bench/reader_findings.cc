// What the text readers (detectors/text_readers.h) add on real text: every file given (or every
// file under a directory; .gz files are read decompressed) is scanned with the built-in rules as
// plain text and as the text of a Messages API user message, and the findings that come from
// derived text are counted per reader. A finding a reader adds where no direct finding of the
// same rule overlaps it is "new": on text without secrets, each new one is a false positive the
// reader costs. Prints the locations of new wrapped findings, never values.
//
// usage: reader_findings [--rules PATH]... [--show N] PATH...
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "detectors/engine.h"

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::string out;
  if (p.extension() == ".gz") {
    gzFile f = gzopen(p.c_str(), "rb");
    if (!f) return out;
    char buf[65536];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    gzclose(f);
    return out;
  }
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool looks_binary(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

// The reader a derived finding's location names: "(wrapped)", "(base64, base64)", "..".
std::string reader_of(const promptgate::Finding& f) {
  auto open = f.location.rfind(" (");
  if (open != std::string::npos) return f.location.substr(open + 1);
  if (f.location.find("..") != std::string::npos) return "(joined)";
  return f.location.empty() ? "(derived)" : f.location;
}

struct Tally {
  size_t files = 0, bytes = 0, derived_bytes = 0, direct = 0;
  std::map<std::string, size_t> added, added_new;
};

void count(const promptgate::ScanResult& r, const std::string& what, size_t raw_bytes, Tally& t,
           size_t& shown, size_t show) {
  t.bytes += raw_bytes;
  t.derived_bytes += r.decoded_bytes > raw_bytes ? r.decoded_bytes - raw_bytes : 0;
  for (const auto& f : r.findings) {
    if (!f.derived) {
      ++t.direct;
      continue;
    }
    std::string reader = reader_of(f);
    ++t.added[reader];
    bool overlaps = false;
    for (const auto& g : r.findings)
      overlaps |= !g.derived && g.rule_id == f.rule_id && g.start < f.end && f.start < g.end;
    if (overlaps) continue;
    ++t.added_new[reader];
    if (shown < show) {
      ++shown;
      std::cout << "  new " << reader << " " << f.rule_id << " in " << what << " @" << f.start
                << "-" << f.end << "\n";
    }
  }
}

void print(const char* name, const Tally& t) {
  std::printf(
      "%s: %zu files, %.1f MiB, derived text %.2f %% of it, %zu direct findings\n", name, t.files,
      static_cast<double>(t.bytes) / (1 << 20),
      t.bytes ? 100.0 * static_cast<double>(t.derived_bytes) / static_cast<double>(t.bytes) : 0.0,
      t.direct);
  for (const auto& [reader, n] : t.added) {
    auto it = t.added_new.find(reader);
    size_t fresh = it == t.added_new.end() ? 0 : it->second;
    std::printf(
        "  %-24s %6zu findings, %6zu where no direct finding of the rule overlaps"
        " (%.2f per MiB)\n",
        reader.c_str(), n, fresh,
        t.bytes ? static_cast<double>(fresh) / (static_cast<double>(t.bytes) / (1 << 20)) : 0.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<promptgate::RuleSource> sources;
  std::vector<std::filesystem::path> paths;
  size_t show = 20;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rules") && i + 1 < argc) {
      sources.push_back({argv[++i]});
    } else if (!std::strcmp(argv[i], "--show") && i + 1 < argc) {
      show = std::stoul(argv[++i]);
    } else {
      paths.emplace_back(argv[i]);
    }
  }
  if (sources.empty()) sources.push_back(promptgate::RuleSource::builtin());
  promptgate::Scanner scanner(promptgate::RuleSet::compile(promptgate::load_rule_packs(sources)),
                              promptgate::FingerprintKey::from_passphrase("reader_findings"));
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(
               p, std::filesystem::directory_options::skip_permission_denied, ec))
        if (e.is_regular_file(ec) && !e.is_symlink(ec)) files.push_back(e.path());
    } else {
      files.push_back(p);
    }
  }
  Tally as_text, as_json;
  size_t shown = 0;
  for (const auto& f : files) {
    std::string content = read_file(f);
    if (content.empty() || looks_binary(content) || content.size() > (8u << 20)) continue;
    ++as_text.files;
    count(scanner.scan(content, promptgate::InputFormat::text), f.string(), content.size(), as_text,
          shown, show);
    std::string body =
        nlohmann::json{{"messages", {{{"role", "user"}, {"content", content}}}}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    ++as_json.files;
    count(scanner.scan(body, promptgate::InputFormat::json), f.string() + " (json)", body.size(),
          as_json, shown, show);
  }
  print("as text", as_text);
  print("as JSON", as_json);
  return 0;
}

// What `promptgate scan` leaves out of its report, and where its findings are: the line index of
// a scanned text (with the lines that carry a `promptgate:allow` comment), the path globs of
// .promptgateignore / --ignore-file, and a baseline of fingerprints already known.
//
//   LineIndex lines; lines.feed(chunk)...;             // every byte scanned, in order
//   auto pos = lines.positions({f.start, f.end - 1});   // 1-based line and byte column
//   bool allowed = lines.allowed(first_line, last_line);
//
//   IgnoreRules ignore; ignore.add_file(".promptgateignore", /*required=*/false);
//   if (ignore.ignored("build/out.log", /*is_dir=*/false)) ...
//
//   Baseline known = Baseline::load("baseline.jsonl");  // throws "baseline.jsonl:3: ..."
//   if (known.contains(f.fingerprint)) ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace promptgate::scan {

// The comment that suppresses the findings of its own line.
inline constexpr std::string_view kAllowMarker = "promptgate:allow";

// Where the lines of a scanned text start, kept as the distances between newlines in LEB128
// (about a byte per line), so that a streamed input's findings reported at its end still get a
// line and a column in bounded memory; and the lines holding kAllowMarker (a marker split
// between two chunks is found too).
class LineIndex {
 public:
  void feed(std::string_view chunk);

  // 1-based line and byte column of each offset, in one walk over the index.
  std::vector<std::pair<uint64_t, uint64_t>> positions(const std::vector<uint64_t>& offsets) const;

  // Whether a line in [first, last] (1-based) holds kAllowMarker.
  bool allowed(uint64_t first, uint64_t last) const;

 private:
  std::vector<uint8_t> deltas_;
  uint64_t seen_ = 0, last_ = 0, newlines_ = 0;
  std::string tail_;                   // the last bytes of the previous chunk, for a split marker
  std::vector<uint64_t> allow_lines_;  // ascending
};

// gitignore-style path globs, matched against paths relative to the scan root with '/' between
// components: `#` comments, blank lines, `!` to re-include, a trailing `/` for directories only,
// a `/` at the start or in the middle anchors the pattern to the root (else it matches a name at
// any depth), `*` `?` `[a-z]` `[!a-z]` within a component, `**` across components, `\` escapes.
// The last matching pattern wins. No nested ignore files.
class IgnoreRules {
 public:
  // Adds the patterns of `path`. Throws std::runtime_error naming the file when it cannot be
  // read (a missing file only when `required`).
  void add_file(const std::string& path, bool required);
  void add_pattern(std::string_view line);
  // Appends `other`'s patterns after these (they win over them).
  void append(const IgnoreRules& other);

  bool empty() const { return patterns_.empty(); }
  // Whether `rel` is ignored, itself (is_dir tells whether it is a directory).
  bool ignored(std::string_view rel, bool is_dir) const;
  // Whether the file `rel` or one of the directories it lies in is ignored (for paths that come
  // from a list rather than a walk that stops at ignored directories).
  bool ignored_path(std::string_view rel) const;

 private:
  struct Pattern {
    std::string glob;
    bool negate = false, dir_only = false, anchored = false;
  };
  std::vector<Pattern> patterns_;
};

// `*`, `?`, `[...]` within a component, `**` across them; exposed for the unit tests.
bool glob_match(std::string_view pattern, std::string_view path);

// The fingerprints of a baseline: `promptgate scan --format jsonl` output (one JSON object per
// line with a "fingerprint"), blank lines allowed.
class Baseline {
 public:
  // Throws std::runtime_error "FILE: cannot read" or "FILE:LINE: <what is wrong>".
  static Baseline load(const std::string& path);
  bool contains(const std::string& fingerprint) const { return fingerprints_.count(fingerprint); }
  size_t size() const { return fingerprints_.size(); }

 private:
  std::unordered_set<std::string> fingerprints_;
};

}  // namespace promptgate::scan

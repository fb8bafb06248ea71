// Line index, ignore globs and baseline of `promptgate scan`; see scan_filters.h.
#include "cli/scan_filters.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace promptgate::scan {
namespace {

// Calls note(i) for the offset of each '\n' in `chunk`, in order. Source text has a line every
// ~40 bytes, and a memchr call per line was most of this index's cost: 16 bytes are compared at
// a time instead.
template <class Note>
void for_each_newline(std::string_view chunk, Note&& note) {
  const char* p = chunk.data();
  const size_t n = chunk.size();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    auto m = static_cast<unsigned>(_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), newline)));
    for (; m; m &= m - 1) note(i + static_cast<size_t>(std::countr_zero(m)));
  }
#endif
  for (; i < n; ++i)
    if (p[i] == '\n') note(i);
}

// Calls note(i) for each offset where kAllowMarker starts in `chunk`, in order. The marker is
// rare and its first byte ('p') is not, so 16 starts are tested at a time on the marker's first
// and last bytes together, and only starts with both are compared whole (string_view::find
// called memchr for every 'p').
template <class Note>
void for_each_marker(std::string_view chunk, Note&& note) {
  constexpr size_t k = kAllowMarker.size();
  const char* p = chunk.data();
  const size_t n = chunk.size();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i first = _mm_set1_epi8(kAllowMarker.front()),
                last = _mm_set1_epi8(kAllowMarker.back());
  for (; i + 16 + k - 1 <= n; i += 16) {
    auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), first),
        _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + k - 1)), last))));
    for (; m; m &= m - 1) {
      size_t at = i + static_cast<size_t>(std::countr_zero(m));
      if (std::memcmp(p + at, kAllowMarker.data(), k) == 0) note(at);
    }
  }
#endif
  for (; i + k <= n; ++i)
    if (std::memcmp(p + i, kAllowMarker.data(), k) == 0) note(i);
}

}  // namespace

void LineIndex::feed(std::string_view chunk) {
  constexpr size_t kKeep = kAllowMarker.size() - 1;
  // Lines holding the marker: its line is 1 + the newlines before it, counted from the start
  // of the chunk up to each match in turn (matches come in order).
  size_t counted_to = 0;
  uint64_t line = newlines_ + 1;
  auto note_allow = [&](size_t at_in_chunk) {
    line += static_cast<uint64_t>(
        std::count(chunk.begin() + counted_to, chunk.begin() + at_in_chunk, '\n'));
    counted_to = at_in_chunk;
    if (allow_lines_.empty() || allow_lines_.back() != line) allow_lines_.push_back(line);
  };
  // One split between the previous chunk and this one starts in tail_ and ends here.
  if (!tail_.empty()) {
    std::string joined = tail_ + std::string(chunk.substr(0, kKeep));
    size_t at = joined.find(kAllowMarker);
    if (at != std::string::npos) note_allow(0);
  }
  for_each_marker(chunk, note_allow);
  if (chunk.size() >= kKeep) {
    tail_.assign(chunk.substr(chunk.size() - kKeep));
  } else {
    tail_.append(chunk);
    if (tail_.size() > kKeep) tail_.erase(0, tail_.size() - kKeep);
  }
  for_each_newline(chunk, [this](size_t i) {
    uint64_t at = seen_ + i, delta = at - last_;
    last_ = at;
    ++newlines_;
    do {
      uint8_t byte = delta & 0x7f;
      delta >>= 7;
      deltas_.push_back(byte | (delta ? 0x80 : 0));
    } while (delta);
  });
  seen_ += chunk.size();
}

std::vector<std::pair<uint64_t, uint64_t>> LineIndex::positions(
    const std::vector<uint64_t>& offsets) const {
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

bool LineIndex::allowed(uint64_t first, uint64_t last) const {
  auto it = std::lower_bound(allow_lines_.begin(), allow_lines_.end(), first);
  return it != allow_lines_.end() && *it <= last;
}

namespace {

// One `[...]` class at the start of `p` against `c`; sets `used` to its length, 0 when `p` does
// not hold a closed class (the '[' is then a literal).
bool class_match(std::string_view p, char c, size_t& used) {
  size_t i = 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool hit = false;
  for (bool first = true; i < p.size() && (first || p[i] != ']'); first = false) {
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) hi = p[++i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) hit = true;
    ++i;
  }
  if (i >= p.size()) {
    used = 0;
    return false;
  }
  used = i + 1;
  return hit != negate && c != '/';
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**" && (p.size() == 2 || p[2] == '/')) {
      if (p.size() == 2) return true;  // a trailing `**`: everything below
      std::string_view rest = p.substr(3);
      if (glob_match(rest, s)) return true;  // `**/` as no directory at all
      for (size_t i = 0; i < s.size(); ++i)
        if (s[i] == '/' && glob_match(rest, s.substr(i + 1))) return true;
      return false;
    }
    char c = p[0];
    if (c == '*') {
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      for (size_t i = 0;; ++i) {
        if (glob_match(p, s.substr(i))) return true;
        if (i >= s.size() || s[i] == '/') return false;
      }
    }
    if (s.empty()) return false;
    if (c == '?') {
      if (s[0] == '/') return false;
      p.remove_prefix(1);
    } else if (c == '[') {
      size_t used = 0;
      bool hit = class_match(p, s[0], used);
      if (used == 0) {
        if (s[0] != '[') return false;
        p.remove_prefix(1);
      } else {
        if (!hit) return false;
        p.remove_prefix(used);
      }
    } else {
      if (c == '\\' && p.size() > 1) p.remove_prefix(1);
      if (p[0] != s[0]) return false;
      p.remove_prefix(1);
    }
    s.remove_prefix(1);
  }
  return s.empty();
}

void IgnoreRules::add_file(const std::string& path, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (!required) return;
    throw std::runtime_error(path + ": cannot read the ignore file");
  }
  for (std::string line; std::getline(in, line);) add_pattern(line);
  if (in.bad()) throw std::runtime_error(path + ": cannot read the ignore file");
}

void IgnoreRules::add_pattern(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Trailing spaces are dropped unless escaped.
  while (!line.empty() && line.back() == ' ' && !(line.size() > 1 && line[line.size() - 2] == '\\'))
    line.remove_suffix(1);
  if (line.empty() || line[0] == '#') return;
  Pattern p;
  if (line[0] == '!') {
    p.negate = true;
    line.remove_prefix(1);
  } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    p.dir_only = true;
    line.remove_suffix(1);
  }
  if (line.empty()) return;
  p.anchored = line.find('/') != std::string_view::npos;
  if (line[0] == '/') line.remove_prefix(1);
  if (line.empty()) return;
  p.glob = std::string(line);
  patterns_.push_back(std::move(p));
}

void IgnoreRules::append(const IgnoreRules& other) {
  patterns_.insert(patterns_.end(), other.patterns_.begin(), other.patterns_.end());
}

bool IgnoreRules::ignored(std::string_view rel, bool is_dir) const {
  while (rel.substr(0, 2) == "./") rel.remove_prefix(2);
  std::string_view name =
      rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
  bool out = false;
  for (const Pattern& p : patterns_) {
    if (p.dir_only && !is_dir) continue;
    if (p.negate == out && glob_match(p.glob, p.anchored ? rel : name)) out = !p.negate;
  }
  return out;
}

bool IgnoreRules::ignored_path(std::string_view rel) const {
  if (patterns_.empty()) return false;
  while (rel.substr(0, 2) == "./") rel.remove_prefix(2);
  for (size_t i = rel.find('/'); i != std::string_view::npos; i = rel.find('/', i + 1))
    if (ignored(rel.substr(0, i), true)) return true;
  return ignored(rel, false);
}

Baseline Baseline::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read the baseline");
  Baseline b;
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(number) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      throw std::runtime_error(where +
                               "not a JSON object (a baseline is `promptgate scan "
                               "--format jsonl` output, one finding per line)");
    auto fp = j.find("fingerprint");
    if (fp == j.end() || !fp->is_string() || fp->get_ref<const std::string&>().rfind("fp_", 0))
      throw std::runtime_error(where + "no \"fingerprint\": \"fp_...\" in this finding");
    b.fingerprints_.insert(fp->get<std::string>());
  }
  if (in.bad()) throw std::runtime_error(path + ": cannot read the baseline");
  return b;
}

}  // namespace promptgate::scan

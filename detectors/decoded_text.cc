#include "decoded_text.h"

#include <algorithm>
#include <unordered_map>

namespace promptgate {

void DecodedText::reset() {
  len_ = 0;
  if (buf_.size() < kScanReadSlack) buf_.resize(kScanReadSlack);
  base_ = 0;
  segments_.clear();
  escapes_.clear();
  nodes_.clear();
  keys_.clear();
  nodes_.push_back({0, -2, 0, 0});  // the document root
  nodes_at_last_compaction_ = 1;
}

void DecodedText::begin_segment(SegmentKind kind, uint64_t raw_start, uint32_t node) {
  Segment s;
  s.dec_start = end();
  s.raw_start = raw_start;
  s.raw_end = raw_start;
  s.node = node;
  s.kind = kind;
  // An empty previous segment carries nothing: reuse its slot to keep the table small.
  if (!segments_.empty() && segments_.back().dec_start == s.dec_start) {
    segments_.back() = s;
  } else {
    segments_.push_back(s);
  }
}

void DecodedText::append_escape(const char* p, size_t n, uint64_t raw_start, uint32_t raw_len) {
  escapes_.push_back({end(), raw_start, static_cast<uint32_t>(n), raw_len});
  append_identity(p, n);
}

uint32_t DecodedText::add_node(uint32_t parent, int32_t index, std::string_view key) {
  PathNode n{parent, index, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size())};
  keys_.append(key);
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

std::string_view DecodedText::node_key(uint32_t node) const {
  const auto& n = nodes_[node];
  return std::string_view(keys_).substr(n.key_off, n.key_len);
}

size_t DecodedText::segment_at(uint64_t d) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), d,
                             [](uint64_t v, const Segment& s) { return v < s.dec_start; });
  return it == segments_.begin() ? 0 : static_cast<size_t>(it - segments_.begin() - 1);
}

uint64_t DecodedText::map_offset(size_t seg, uint64_t d, bool is_end) const {
  const Segment& s = segments_[seg];
  if (s.kind == SegmentKind::separator) return s.raw_start;
  if (d >= content_end(seg)) return s.raw_end;
  if (s.kind == SegmentKind::base64_document) {
    uint64_t rel = d - s.dec_start;
    uint64_t raw = s.raw_start + (is_end ? (rel + 2) / 3 * 4 : rel / 3 * 4);
    return s.raw_end > s.raw_start ? std::min(raw, s.raw_end) : raw;
  }
  // The last escape that starts at or before d (for an end offset: strictly before d).
  auto it = std::upper_bound(
      escapes_.begin(), escapes_.end(), d,
      [&](uint64_t v, const EscapeRun& e) { return is_end ? v <= e.dec_start : v < e.dec_start; });
  if (it != escapes_.begin()) {
    const EscapeRun& e = *(it - 1);
    if (e.dec_start >= s.dec_start) {
      uint64_t e_end = e.dec_start + e.dec_len;
      if (d < e_end || (is_end && d == e_end))
        return is_end ? e.raw_start + e.raw_len : e.raw_start;
      return e.raw_start + e.raw_len + (d - e_end);
    }
  }
  return s.raw_start + (d - s.dec_start);
}

std::pair<uint64_t, uint64_t> DecodedText::raw_span(size_t seg, uint64_t from, uint64_t to) const {
  return {map_offset(seg, from, false), map_offset(seg, to, true)};
}

std::string DecodedText::location(uint32_t node) const {
  std::vector<uint32_t> chain;
  for (uint32_t n = node; n != 0 && n < nodes_.size(); n = nodes_[n].parent) chain.push_back(n);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const PathNode& n = nodes_[*it];
    if (n.index >= 0) {
      out += "[" + std::to_string(n.index) + "]";
      continue;
    }
    std::string_view key = node_key(*it);
    bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    });
    if (plain) {
      if (!out.empty()) out += ".";
      out += key;
    } else {
      out += "[\"";
      for (char c : key) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) c = '?';
        out += c;
      }
      out += "\"]";
    }
  }
  return out;
}

void DecodedText::trim_before(uint64_t keep_from) {
  if (keep_from <= base_) return;
  keep_from = std::min(keep_from, end());
  size_t drop = keep_from - base_;
  std::memmove(buf_.data(), buf_.data() + drop, len_ - drop);
  len_ -= drop;
  base_ = keep_from;
  // Keep the segment containing keep_from and everything after it.
  size_t first = segment_at(keep_from);
  if (first > 0) {
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<long>(first));
  }
  auto esc = std::find_if(escapes_.begin(), escapes_.end(),
                          [&](const EscapeRun& e) { return e.dec_start + e.dec_len > keep_from; });
  escapes_.erase(escapes_.begin(), esc);
  if (nodes_.size() > 4096 && nodes_.size() > 2 * nodes_at_last_compaction_) compact_nodes();
}

void DecodedText::compact_nodes() {
  // Keep the nodes that retained segments or open containers still name, with their ancestors.
  std::vector<char> keep(nodes_.size(), 0);
  auto mark = [&](uint32_t n) {
    while (n < nodes_.size() && !keep[n]) {
      keep[n] = 1;
      if (n == 0) break;
      n = nodes_[n].parent;
    }
  };
  mark(0);
  for (const auto& s : segments_) mark(s.node);
  if (live_nodes_)
    for (uint32_t n : *live_nodes_) mark(n);
  std::vector<uint32_t> remap(nodes_.size(), 0);
  std::vector<PathNode> nodes;
  std::string keys;
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    if (!keep[i]) continue;
    PathNode n = nodes_[i];
    n.parent = remap[n.parent];
    uint32_t off = static_cast<uint32_t>(keys.size());
    keys.append(keys_, n.key_off, n.key_len);
    n.key_off = off;
    remap[i] = static_cast<uint32_t>(nodes.size());
    nodes.push_back(n);
  }
  for (auto& s : segments_) s.node = remap[s.node];
  if (live_nodes_)
    for (auto& n : *live_nodes_) n = remap[n];
  nodes_ = std::move(nodes);
  keys_ = std::move(keys);
  nodes_at_last_compaction_ = nodes_.size();
}

size_t DecodedText::memory_bytes() const {
  return buf_.capacity() + segments_.capacity() * sizeof(Segment) +
         escapes_.capacity() * sizeof(EscapeRun) + nodes_.capacity() * sizeof(PathNode) +
         keys_.capacity();
}

}  // namespace promptgate

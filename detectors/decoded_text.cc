#include "detectors/decoded_text.h"

#include <algorithm>
#include <iterator>
#include <tuple>
#include <unordered_map>

namespace promptgate {

void DecodedText::reset() {
  len_ = 0;
  if (buf_.size() < kScanReadSlack) buf_.resize(kScanReadSlack);
  base_ = 0;
  segments_.clear();
  segments_dropped_ = 0;
  escapes_.clear();
  derived_.clear();
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

namespace {

// A run of `dec_len` derived bytes standing for raw [raw_start, raw_start + raw_len) as a whole;
// one derived byte standing for a short raw span is also a byte-for-byte run (and can merge).
DerivedRun whole_run(uint64_t at, uint32_t dec_len, uint64_t raw_start, uint64_t raw_len,
                     uint32_t node, uint8_t edits) {
  uint8_t unit = dec_len == 1 && raw_len > 0 && raw_len < 256 ? static_cast<uint8_t>(raw_len) : 0;
  if (dec_len == raw_len && dec_len > 0 && edits == kEditNone) unit = 1;
  return {at, raw_start, dec_len, static_cast<uint32_t>(raw_len), node, unit, edits};
}

uint64_t run_start_raw(const DerivedRun& r, uint64_t d) {
  return r.unit ? r.raw_start + (d - r.dec_start) * r.unit : r.raw_start;
}

uint64_t run_end_raw(const DerivedRun& r, uint64_t d) {
  return r.unit ? r.raw_start + (d - r.dec_start) * r.unit : r.raw_start + r.raw_len;
}

}  // namespace

void DecodedText::append_derived(std::string_view bytes, const std::vector<DerivedRun>& runs,
                                 uint32_t node, uint16_t via) {
  uint64_t raw = runs.empty() ? 0 : runs.front().raw_start;
  append_separator("\n", raw);
  begin_segment(SegmentKind::derived, raw, node);
  segments_.back().via = via;
  const uint64_t at = end();
  for (const DerivedRun& r : runs) {
    DerivedRun moved = r;
    moved.dec_start += at;
    derived_.push_back(moved);
  }
  append_identity(bytes.data(), bytes.size());
  end_segment(runs.empty() ? raw : runs.back().raw_start + runs.back().raw_len);
}

const DerivedRun& DecodedText::derived_run_at(uint64_t d) const {
  auto it = std::upper_bound(derived_.begin(), derived_.end(), d,
                             [](uint64_t v, const DerivedRun& r) { return v < r.dec_start; });
  return it == derived_.begin() ? derived_.front() : *(it - 1);
}

void DecodedText::map_range(size_t seg, uint64_t from, uint64_t to, uint64_t at,
                            std::vector<DerivedRun>& out) const {
  if (from >= to) return;
  const Segment& s = segments_[seg];
  if (s.kind == SegmentKind::derived) {
    auto it = std::upper_bound(derived_.begin(), derived_.end(), from,
                               [](uint64_t v, const DerivedRun& r) { return v < r.dec_start; });
    if (it != derived_.begin()) --it;
    for (; it != derived_.end() && it->dec_start < to; ++it) {
      const DerivedRun& r = *it;
      uint64_t a = std::max(from, r.dec_start), b = std::min(to, r.dec_start + r.dec_len);
      if (a >= b) continue;
      uint64_t rs = run_start_raw(r, a), re = run_end_raw(r, b);
      append_run(out, {at + (a - from), rs, static_cast<uint32_t>(b - a),
                       static_cast<uint32_t>(re - rs), r.node, r.unit, r.edits});
    }
    return;
  }
  if (s.kind == SegmentKind::base64_document || s.kind == SegmentKind::separator) {
    append_run(out, map_whole(seg, from, to, at, static_cast<uint32_t>(to - from), kEditNone));
    return;
  }
  // Escapes are whole runs; the bytes between them are the raw bytes themselves.
  auto e = std::upper_bound(escapes_.begin(), escapes_.end(), from,
                            [](uint64_t v, const EscapeRun& x) { return v < x.dec_start; });
  if (e != escapes_.begin() && (e - 1)->dec_start + (e - 1)->dec_len > from) --e;
  uint64_t d = from;
  uint64_t raw = map_offset(seg, from, false);
  while (d < to) {
    if (e != escapes_.end() && e->dec_start < to && e->dec_start <= d) {
      uint64_t e_end = e->dec_start + e->dec_len;
      uint64_t b = std::min(to, e_end);
      append_run(out, whole_run(at + (d - from), static_cast<uint32_t>(b - d), e->raw_start,
                                e->raw_len, s.node, kEditNone));
      raw = e->raw_start + e->raw_len;
      d = b;
      ++e;
      continue;
    }
    uint64_t b = (e != escapes_.end() && e->dec_start < to) ? e->dec_start : to;
    append_run(out, {at + (d - from), raw, static_cast<uint32_t>(b - d),
                     static_cast<uint32_t>(b - d), s.node, 1, kEditNone});
    raw += b - d;
    d = b;
  }
}

DerivedRun DecodedText::map_whole(size_t seg, uint64_t from, uint64_t to, uint64_t at, uint32_t len,
                                  uint8_t edits) const {
  const Segment& s = segments_[seg];
  uint64_t rs, re;
  uint32_t node = s.node;
  uint8_t inherited = kEditNone;
  if (s.kind == SegmentKind::derived) {
    DerivedSpan span = derived_span(seg, from, to);
    rs = span.parts.front().begin;
    re = span.parts.back().end;
    node = span.first_node;
    inherited = span.edits;
  } else {
    std::tie(rs, re) = raw_span(seg, from, to);
  }
  DerivedRun r = whole_run(at, len, rs, re - rs, node, edits | inherited);
  if (r.unit == 1 && edits != kEditNone) r.unit = 0;
  return r;
}

bool DecodedText::edited(uint64_t from, uint64_t to, uint8_t edits) const {
  if (derived_.empty() || from >= to) return false;
  auto it = std::upper_bound(derived_.begin(), derived_.end(), from,
                             [](uint64_t v, const DerivedRun& r) { return v < r.dec_start; });
  if (it != derived_.begin()) --it;
  for (; it != derived_.end() && it->dec_start < to; ++it)
    if (it->dec_start + it->dec_len > from && (it->edits & edits)) return true;
  return false;
}

DerivedSpan DecodedText::derived_span(size_t seg, uint64_t from, uint64_t to) const {
  (void)seg;
  DerivedSpan out;
  auto it = std::upper_bound(derived_.begin(), derived_.end(), from,
                             [](uint64_t v, const DerivedRun& r) { return v < r.dec_start; });
  if (it != derived_.begin()) --it;
  bool first = true;
  for (; it != derived_.end() && it->dec_start < to; ++it) {
    const DerivedRun& r = *it;
    uint64_t a = std::max(from, r.dec_start), b = std::min(to, r.dec_start + r.dec_len);
    if (a >= b) continue;
    uint64_t rs = run_start_raw(r, a), re = run_end_raw(r, b);
    out.edits |= r.edits;
    if (first || r.node != out.last_node) {
      if (first) out.first_node = r.node;
      out.parts.push_back({rs, re});
      first = false;
    } else {
      out.parts.back().begin = std::min(out.parts.back().begin, rs);
      out.parts.back().end = std::max(out.parts.back().end, re);
    }
    out.last_node = r.node;
  }
  if (out.parts.empty()) out.parts.push_back({segments_[seg].raw_start, segments_[seg].raw_start});
  return out;
}

std::string DecodedText::via_suffix(uint16_t via) {
  static constexpr const char* kNames[] = {"",           "base64",  "percent",
                                           "normalised", "wrapped", "normalised, wrapped"};
  std::string out;
  for (; via; via >>= 4) {
    unsigned code = via & 0xF;
    if (code == 0 || code >= std::size(kNames)) continue;  // joined text: named by its range
    out += out.empty() ? " (" : ", ";
    out += kNames[code];
  }
  return out.empty() ? out : out + ")";
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
  if (s.kind == SegmentKind::derived && !derived_.empty()) {
    if (is_end && d == s.dec_start) return s.raw_start;
    const DerivedRun& r = derived_run_at(is_end ? d - 1 : d);
    return is_end ? run_end_raw(r, d) : run_start_raw(r, d);
  }
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
    segments_dropped_ += first;
  }
  auto esc = std::find_if(escapes_.begin(), escapes_.end(),
                          [&](const EscapeRun& e) { return e.dec_start + e.dec_len > keep_from; });
  escapes_.erase(escapes_.begin(), esc);
  auto der = std::find_if(derived_.begin(), derived_.end(),
                          [&](const DerivedRun& r) { return r.dec_start + r.dec_len > keep_from; });
  derived_.erase(derived_.begin(), der);
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
  for (const auto& r : derived_) mark(r.node);
  for (auto* held : {live_nodes_, held_nodes_})
    if (held)
      for (uint32_t n : *held) mark(n);
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
  for (auto& r : derived_) r.node = remap[r.node];
  for (auto* held : {live_nodes_, held_nodes_})
    if (held)
      for (auto& n : *held) n = remap[n];
  nodes_ = std::move(nodes);
  keys_ = std::move(keys);
  nodes_at_last_compaction_ = nodes_.size();
}

size_t DecodedText::memory_bytes() const {
  return buf_.capacity() + segments_.capacity() * sizeof(Segment) +
         escapes_.capacity() * sizeof(EscapeRun) + derived_.capacity() * sizeof(DerivedRun) +
         nodes_.capacity() * sizeof(PathNode) + keys_.capacity();
}

}  // namespace promptgate

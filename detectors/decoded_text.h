// The text the detectors actually scan, with the way back to the raw input.
//
// Decoders (JSON string unescaping, base64 documents) append decoded bytes here, one segment
// per JSON string / number / raw text, and record how each decoded byte maps to raw input
// bytes. Between JSON values a few synthetic bytes keep the shape readable to rules
// (`key: value\n`), so a rule written for `password: hunter2` also sees JSON members.
// Rules see `view()`; findings are mapped back with `raw_span()` and `location()`.
// Stream mode keeps only a bounded tail: `trim_before()` drops what no candidate can reach.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

enum class SegmentKind : uint8_t {
  text,
  json_string,
  json_key,
  json_number,
  base64_document,
  separator
};

struct Segment {
  uint64_t dec_start = 0;
  uint64_t content_end = UINT64_MAX;  // decoded end of the content; separator bytes follow it
  uint64_t raw_start = 0;             // raw offset of the first content byte
  uint64_t raw_end = 0;  // raw offset just past the content (set when the segment closes)
  uint32_t node = 0;     // path node (JSON)
  SegmentKind kind = SegmentKind::text;
};

// Decoded bytes [dec_start, dec_start + dec_len) came from raw [raw_start, raw_start + raw_len).
struct EscapeRun {
  uint64_t dec_start;
  uint64_t raw_start;
  uint32_t dec_len;
  uint32_t raw_len;
};

struct PathNode {
  uint32_t parent;
  int32_t index;  // >= 0: array element; -1: object member named by key
  uint32_t key_off;
  uint32_t key_len;
};

class DecodedText {
 public:
  DecodedText() { reset(); }
  void reset();

  // --- written by decoders ---
  void begin_segment(SegmentKind kind, uint64_t raw_start, uint32_t node);
  void end_segment(uint64_t raw_end) {
    segments_.back().raw_end = raw_end;
    segments_.back().content_end = end();
  }
  void append_identity(const char* p, size_t n) {
    reserve_more(n);
    std::memcpy(buf_.data() + len_, p, n);
    len_ += n;
  }
  // Hyperscan 5.4's AVX-512 VBMI Teddy reads up to 32 bytes past the end of the buffer it scans
  // (intel/hyperscan 5.4.0 as Debian 12 ships it; fixed later in Vectorscan, issue #322). A
  // buffer ending just before an unmapped page then crashes the process, so the decoded text
  // always keeps this many readable bytes after its end.
  static constexpr size_t kScanReadSlack = 64;
  // Direct writes for the decoders' fast paths: make room, write at tail(), then advance().
  void reserve_more(size_t n) {
    if (buf_.size() - len_ < n + kScanReadSlack)
      buf_.resize(std::max(2 * buf_.size(), len_ + n + kScanReadSlack));
  }
  size_t spare() const { return buf_.size() - len_; }
  char* tail() { return buf_.data() + len_; }
  void advance(size_t n) { len_ += n; }
  void record_escape(uint64_t dec_start, uint64_t raw_start, uint32_t dec_len, uint32_t raw_len) {
    escapes_.push_back({dec_start, raw_start, dec_len, raw_len});
  }
  void append_escape(const char* p, size_t n, uint64_t raw_start, uint32_t raw_len);
  // Synthetic bytes between values; they belong to no value and are never part of a secret.
  void append_separator(std::string_view s, uint64_t raw_pos) {
    if (segments_.empty() || segments_.back().content_end == UINT64_MAX) {
      begin_segment(SegmentKind::separator, raw_pos, 0);
      end_segment(raw_pos);
    }
    append_identity(s.data(), s.size());
  }
  uint32_t add_node(uint32_t parent, int32_t index, std::string_view key);
  std::string_view node_key(uint32_t node) const;

  // --- read by the confirm stage ---
  uint64_t begin() const { return base_; }
  uint64_t end() const { return base_ + len_; }
  // Bytes [from, to) in decoded coordinates; must be retained.
  std::string_view slice(uint64_t from, uint64_t to) const {
    return std::string_view(buf_.data() + (from - base_), to - from);
  }
  std::string_view view() const { return std::string_view(buf_.data(), len_); }
  // Index of the segment holding decoded offset d.
  size_t segment_at(uint64_t d) const;
  const Segment& segment(size_t i) const { return segments_[i]; }
  // End of the segment's content (separator bytes excluded).
  uint64_t content_end(size_t i) const {
    uint64_t next = i + 1 < segments_.size() ? segments_[i + 1].dec_start : end();
    return std::min(next, segments_[i].content_end);
  }
  // Raw byte span for decoded [from, to), both inside segment `seg`; escapes are kept whole.
  std::pair<uint64_t, uint64_t> raw_span(size_t seg, uint64_t from, uint64_t to) const;
  // "messages[2].content[0].text"; "" for plain text.
  std::string location(uint32_t node) const;

  // --- stream mode ---
  void trim_before(uint64_t keep_from);
  size_t memory_bytes() const;

 private:
  uint64_t map_offset(size_t seg, uint64_t d, bool is_end) const;
  void compact_nodes();

  std::string buf_;  // [0, len_) holds text; the rest is room for fast-path writes
  size_t len_ = 0;
  uint64_t base_ = 0;
  std::vector<Segment> segments_;
  std::vector<EscapeRun> escapes_;
  std::vector<PathNode> nodes_;
  std::string keys_;
  size_t nodes_at_last_compaction_ = 0;
  friend class JsonTextExtractor;
  std::vector<uint32_t>* live_nodes_ = nullptr;  // the extractor's open containers
};

}  // namespace promptgate

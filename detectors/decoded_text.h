// The text the detectors actually scan, with the way back to the raw input.
//
// Decoders (JSON string unescaping, base64 documents) append decoded bytes here, one segment
// per JSON string / number / raw text, and record how each decoded byte maps to raw input
// bytes. Between JSON values a few synthetic bytes keep the shape readable to rules
// (`key: value\n`), so a rule written for `password: hunter2` also sees JSON members.
// The text readers (text_readers.h) add derived segments after a string: its text decoded from
// base64 or percent-encoding, normalised, unwrapped, or joined with its neighbours; each derived
// byte maps back to raw bytes through DerivedRuns. Rules see `view()`; findings are mapped back
// with `raw_span()` / `derived_span()` and `location()`.
// Stream mode keeps only a bounded tail: `trim_before()` drops what no candidate can reach.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

// The raw extent [begin, end) of one JSON value (or any span) in an input.
struct RawRange {
  uint64_t begin = 0, end = 0;
  bool operator==(const RawRange&) const = default;
};

enum class SegmentKind : uint8_t {
  text,
  json_string,
  json_key,
  json_number,
  base64_document,
  separator,
  derived  // written by a text reader; mapped by DerivedRuns, named by Segment::via
};

// What a text reader did to the bytes of a derived run (bits).
enum DerivedEdit : uint8_t {
  kEditNone = 0,
  kEditNormalised = 1,  // default-ignorable code points dropped, NFKC
  kEditUnwrapped = 2,   // a line break (and indentation) inside a value dropped
  kEditPercent = 4,     // %XX decoded
  kEditDecoded = 8,     // decoded as a whole (base64): the run maps to all of its raw bytes
};

// Which readers made a derived segment, outermost first, 4 bits each (Segment::via).
enum DerivedVia : uint8_t {
  kViaBase64 = 1,
  kViaPercent = 2,
  kViaNormalised = 3,
  kViaWrapped = 4,
  kViaNormalisedWrapped = 5,
  kViaJoined = 6,
};

// Derived bytes [dec_start, dec_start + dec_len) came from raw [raw_start, raw_start + raw_len)
// of the value `node`: byte by byte, `unit` raw bytes each (1: unchanged), or as a whole
// (`unit` 0: any derived byte in it maps to the whole raw span).
struct DerivedRun {
  uint64_t dec_start = 0;
  uint64_t raw_start = 0;
  uint32_t dec_len = 0;
  uint32_t raw_len = 0;
  uint32_t node = 0;
  uint8_t unit = 0;
  uint8_t edits = kEditNone;
};

struct Segment {
  uint64_t dec_start = 0;
  uint64_t content_end = UINT64_MAX;  // decoded end of the content; separator bytes follow it
  uint64_t raw_start = 0;             // raw offset of the first content byte
  uint64_t raw_end = 0;  // raw offset just past the content (set when the segment closes)
  uint32_t node = 0;     // path node (JSON)
  SegmentKind kind = SegmentKind::text;
  uint16_t via = 0;  // derived segments: the readers that made it (DerivedVia, 4 bits each)
};

// Appends a run to a derived segment's map, merged into the previous one when both map byte for
// byte at the same rate.
inline void append_run(std::vector<DerivedRun>& runs, const DerivedRun& r) {
  if (r.dec_len == 0) return;
  if (!runs.empty()) {
    DerivedRun& p = runs.back();
    if (p.unit && p.unit == r.unit && p.node == r.node && p.edits == r.edits &&
        p.dec_start + p.dec_len == r.dec_start && p.raw_start + p.raw_len == r.raw_start &&
        uint64_t{p.raw_len} + r.raw_len < (1ull << 31)) {
      p.dec_len += r.dec_len;
      p.raw_len += r.raw_len;
      return;
    }
  }
  runs.push_back(r);
}

// Where derived bytes [from, to) sit in the raw input: one raw span per value they came from.
struct DerivedSpan {
  std::vector<RawRange> parts;  // in order; more than one only for joined text
  uint32_t first_node = 0, last_node = 0;
  uint8_t edits = kEditNone;  // what the readers changed inside the span
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
  // A derived segment (after a separator): `bytes`, mapped by `runs` (dec_start relative to
  // the first byte; together they cover every byte), named by `via`.
  void append_derived(std::string_view bytes, const std::vector<DerivedRun>& runs, uint32_t node,
                      uint16_t via);
  // Runs that map decoded bytes [from, to) of segment `seg` byte for byte (split where the
  // segment's own map is not one to one), appended to `out` at derived offset `at`.
  void map_range(size_t seg, uint64_t from, uint64_t to, uint64_t at,
                 std::vector<DerivedRun>& out) const;
  // One run that maps derived bytes [at, at + len) to all of decoded [from, to) of `seg`.
  DerivedRun map_whole(size_t seg, uint64_t from, uint64_t to, uint64_t at, uint32_t len,
                       uint8_t edits) const;
  // Whether a reader made any of the `edits` to derived bytes [from, to) (of a derived segment).
  bool edited(uint64_t from, uint64_t to, uint8_t edits) const;
  // Node ids held outside the text (the text readers' joined blocks): kept and renumbered
  // together with the text's own when the node table is compacted.
  void hold_nodes(std::vector<uint32_t>* held) { held_nodes_ = held; }
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
  size_t last_segment() const { return segments_.size() - 1; }
  // A segment's index changes as stream mode drops segments in front of it; its id does not.
  uint64_t segment_id(size_t index) const { return segments_dropped_ + index; }
  size_t segment_index(uint64_t id) const { return static_cast<size_t>(id - segments_dropped_); }
  const Segment& segment(size_t i) const { return segments_[i]; }
  // End of the segment's content (separator bytes excluded).
  uint64_t content_end(size_t i) const {
    uint64_t next = i + 1 < segments_.size() ? segments_[i + 1].dec_start : end();
    return std::min(next, segments_[i].content_end);
  }
  // Raw byte span for decoded [from, to), both inside segment `seg`; escapes are kept whole.
  std::pair<uint64_t, uint64_t> raw_span(size_t seg, uint64_t from, uint64_t to) const;
  // For a derived segment: the raw spans, values and edits behind derived bytes [from, to).
  DerivedSpan derived_span(size_t seg, uint64_t from, uint64_t to) const;
  // "messages[2].content[0].text"; "" for plain text.
  std::string location(uint32_t node) const;
  // " (base64, normalised)" for a derived segment's `via`; "" for none (and for joined text).
  static std::string via_suffix(uint16_t via);

  // --- stream mode ---
  void trim_before(uint64_t keep_from);
  size_t memory_bytes() const;

 private:
  uint64_t map_offset(size_t seg, uint64_t d, bool is_end) const;
  // The derived run holding derived byte d.
  const DerivedRun& derived_run_at(uint64_t d) const;
  void compact_nodes();

  std::string buf_;  // [0, len_) holds text; the rest is room for fast-path writes
  size_t len_ = 0;
  uint64_t base_ = 0;
  std::vector<Segment> segments_;
  uint64_t segments_dropped_ = 0;  // by trim_before(), since reset()
  std::vector<EscapeRun> escapes_;
  std::vector<DerivedRun> derived_;  // of all derived segments, in decoded order
  std::vector<PathNode> nodes_;
  std::string keys_;
  size_t nodes_at_last_compaction_ = 0;
  friend class JsonTextExtractor;
  std::vector<uint32_t>* live_nodes_ = nullptr;  // the extractor's open containers
  std::vector<uint32_t>* held_nodes_ = nullptr;  // see hold_nodes()
};

}  // namespace promptgate

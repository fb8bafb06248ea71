#include "detectors/text_reader_parts.h"

#include <algorithm>
#include <array>

#include "detectors/text_readers.h"

namespace promptgate::readers {
namespace {

constexpr uint64_t kWindow = TextReaders::kWindow;

bool continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

// --- WindowBuilder ------------------------------------------------------------------------------

void WindowBuilder::copy(const Source& src, uint64_t to, ReaderBudget& budget) {
  if (to <= cursor_ || !on_) return;
  if (!budget.take(code_, to - cursor_, src.raw_at(to))) {
    on_ = false;
    return;
  }
  src.text->map_range(src.seg, cursor_, to, cur_.bytes.size(), cur_.runs);
  cur_.bytes.append(src.text->slice(cursor_, to));
  cursor_ = to;
}

void WindowBuilder::close(std::vector<DerivedText>& done) {
  if (!cur_.bytes.empty()) done.push_back(std::move(cur_));
  cur_ = DerivedText{};
  open_ = false;
}

void WindowBuilder::edit(const Source& src, uint64_t from, uint64_t to, std::string_view bytes,
                         ReaderBudget& budget, std::vector<DerivedText>& done) {
  if (!on_) return;
  if (open_ && from > window_end_) advance(src, from, budget, done);
  if (!open_) {
    uint64_t start = std::max(src.begin, std::max(from, kWindow) - kWindow);
    start = std::max(start, src.text->begin());
    while (start < from && continuation(src.text->slice(start, start + 1)[0])) ++start;
    cur_.clear();
    cur_.code = code_;
    cur_.depth = src.depth;
    cur_.order = start;
    cursor_ = start;
    open_ = true;
  }
  copy(src, from, budget);
  if (!bytes.empty() && on_) {
    if (!budget.take(code_, bytes.size(), src.raw_at(to))) {
      on_ = false;
    } else {
      append_run(cur_.runs, src.text->map_whole(src.seg, from, to, cur_.bytes.size(),
                                                static_cast<uint32_t>(bytes.size()), edit_));
      cur_.bytes.append(bytes);
    }
  }
  if (!on_) {
    close(done);
    return;
  }
  cursor_ = to;
  window_end_ = to + kWindow;
}

void WindowBuilder::advance(const Source& src, uint64_t upto, ReaderBudget& budget,
                            std::vector<DerivedText>& done) {
  if (!open_) return;
  copy(src, std::min(upto, window_end_), budget);
  if (window_end_ <= upto || !on_) close(done);
}

// --- Joiner -------------------------------------------------------------------------------------

Joiner::Joiner(DecodedText& text) : text_(text) {
  text_.hold_nodes(&tail_nodes_);
}

Joiner::~Joiner() {
  text_.hold_nodes(nullptr);
}

void Joiner::reset() {
  depth_ = -1;
  in_block_ = false;
  tail_.clear();
  tail_ref_.set = false;
  tail_nodes_.clear();
}

void Joiner::begin(int depth, uint64_t text_begin, uint64_t segment) {
  in_block_ = depth >= 0;
  if (!in_block_) return;  // another member: the list goes on
  if (depth != depth_) reset();
  depth_ = depth;
  in_block_ = true;
  head_kept_ = false;
  block_begin_ = text_begin;
  block_segment_ = segment;
  head_.clear();
}

void Joiner::copy(const Ref& ref, DerivedText& into) const {
  size_t seg = text_.segment_index(ref.segment);
  text_.map_range(seg, ref.from, ref.to, into.bytes.size(), into.runs);
  into.bytes.append(text_.slice(ref.from, ref.to));
  // The text's own node: it may have been renumbered since the runs' segment was read.
  for (auto& r : into.runs)
    if (r.dec_start >= into.bytes.size() - (ref.to - ref.from)) r.node = text_.segment(seg).node;
}

void Joiner::keep_tail() {
  if (!tail_ref_.set) return;
  tail_.clear();
  copy(tail_ref_, tail_);
  tail_ref_.set = false;
  tail_nodes_.resize(tail_.runs.size());
  for (size_t i = 0; i < tail_.runs.size(); ++i) tail_nodes_[i] = tail_.runs[i].node;
}

void Joiner::keep(uint64_t text_end) {
  // Stream mode keeps at least 4 KiB behind the newest byte: copy at half that.
  constexpr uint64_t kFar = 2048;
  if (tail_ref_.set && text_end - tail_ref_.from > kFar) keep_tail();
  if (active() && has_tail() && !head_kept_ && text_end - block_begin_ > kFar) {
    copy({true, block_segment_, block_begin_, block_begin_ + kWindow}, head_);
    head_kept_ = true;
  }
}

void Joiner::end(const Source& src, uint64_t end, ReaderBudget& budget,
                 std::vector<DerivedText>& done) {
  if (!active()) return;
  in_block_ = false;
  // The DecodedText may have renumbered the nodes the tail holds.
  for (size_t i = 0; i < tail_.runs.size() && i < tail_nodes_.size(); ++i)
    tail_.runs[i].node = tail_nodes_[i];
  const bool seam = has_tail() && end > block_begin_;
  if (seam) {
    keep_tail();
    if (!head_kept_)
      copy({true, block_segment_, block_begin_, std::min(end, block_begin_ + kWindow)}, head_);
    head_kept_ = true;
    DerivedText joined;
    joined.code = kViaJoined;
    joined.depth = src.depth;
    joined.order = block_begin_;
    if (budget.take(kViaJoined, tail_.bytes.size() + head_.bytes.size(), src.raw_at(end))) {
      joined.bytes = tail_.bytes + head_.bytes;
      joined.runs = tail_.runs;
      for (DerivedRun r : head_.runs) {
        r.dec_start += tail_.bytes.size();
        joined.runs.push_back(r);
      }
      done.push_back(std::move(joined));
    }
  }
  // The new tail: the last kWindow bytes of the blocks so far.
  if (end - block_begin_ >= kWindow || !has_tail()) {
    uint64_t from = end - std::min<uint64_t>(end - block_begin_, kWindow);
    while (from < end && continuation(text_.slice(from, from + 1)[0])) ++from;
    tail_.clear();
    tail_nodes_.clear();
    tail_ref_ = {true, block_segment_, from, end};
    return;
  }
  // A short block after others: keep the end of the old tail, cut where a run can be cut
  // (never inside a whole one), then the block (all of it is the head).
  keep_tail();
  if (!head_kept_) copy({true, block_segment_, block_begin_, end}, head_);
  size_t keep = kWindow - head_.bytes.size();
  size_t cut = tail_.bytes.size() > keep ? tail_.bytes.size() - keep : 0;
  DerivedText kept;
  for (const DerivedRun& r : tail_.runs) {
    uint64_t r_end = r.dec_start + r.dec_len;
    if (r_end <= cut) continue;
    DerivedRun k = r;
    if (r.dec_start < cut) {
      if (!r.unit) {
        cut = r_end;
        continue;
      }
      uint64_t skip = cut - r.dec_start;
      k.raw_start += skip * r.unit;
      k.raw_len -= static_cast<uint32_t>(skip * r.unit);
      k.dec_len -= static_cast<uint32_t>(skip);
      k.dec_start = cut;
    }
    k.dec_start -= cut;
    kept.runs.push_back(k);
  }
  kept.bytes.assign(tail_.bytes, std::min<size_t>(cut, tail_.bytes.size()));
  for (DerivedRun r : head_.runs) {
    r.dec_start += kept.bytes.size();
    kept.runs.push_back(r);
  }
  kept.bytes += head_.bytes;
  tail_ = std::move(kept);
  tail_nodes_.resize(tail_.runs.size());
  for (size_t i = 0; i < tail_.runs.size(); ++i) tail_nodes_[i] = tail_.runs[i].node;
}

// --- base64 runs --------------------------------------------------------------------------------

namespace {

constexpr std::array<int8_t, 256> kBase64Value = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  t['-'] = 62;
  t['_'] = 63;
  return t;
}();

// Length of the well-formed UTF-8 sequence at s[i] (2-4), or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if (!continuation(s[i + k])) return 0;
  return n;
}

}  // namespace

size_t decode_base64_prefix(std::string_view run, size_t chars, char* out) {
  chars = std::min(chars, run.size()) / 4 * 4;
  for (size_t i = 0; i < chars; i += 4, out += 3) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k)
      v = v << 6 | static_cast<uint32_t>(kBase64Value[static_cast<unsigned char>(run[i + k])] & 63);
    out[0] = static_cast<char>(v >> 16);
    out[1] = static_cast<char>(v >> 8);
    out[2] = static_cast<char>(v);
  }
  return chars / 4 * 3;
}

bool looks_like_text(std::string_view bytes) {
  if (bytes.empty()) return false;
  const size_t allowed = bytes.size() / 10;  // bytes that are not text
  size_t bad = 0;
  for (size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if ((c >= 0x20 && c < 0x7F) || c == '\n' || c == '\r' || c == '\t') {
      ++i;
    } else if (size_t n = c >= 0x80 ? utf8_sequence(bytes, i) : 0) {
      i += n;
    } else {
      if (++bad > allowed) return false;
      ++i;
    }
  }
  return true;
}

}  // namespace promptgate::readers

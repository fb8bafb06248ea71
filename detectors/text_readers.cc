#include "detectors/text_readers.h"

#include <algorithm>
#include <array>
#include <climits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "detectors/cpu_features.h"
#include "detectors/lenient_base64.h"
#include "detectors/text_reader_parts.h"
#include "detectors/text_scan.h"
#include "detectors/unicode_text.h"

namespace promptgate {

using readers::DerivedText;
using readers::Source;

namespace {

constexpr uint8_t kReadNormalise = 1, kReadWrap = 2, kReadPercent = 4, kReadBase64 = 8;
constexpr uint64_t kLookAhead = 64;  // bytes a reader may look past what it reads
constexpr uint64_t kNone = UINT64_MAX;
constexpr size_t kMaxNormaliseCall = 64 * 1024;  // bytes per ICU call
constexpr uint8_t kEditsOfRewrites = kEditNormalised | kEditUnwrapped;

bool alphabet(char c) {
  return readers::kBase64RunAlphabet[static_cast<unsigned char>(c)];
}
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using readers::Masks;
using readers::runs_of_16;

// The exact pass's state at `pos`: the base64-alphabet run open there (run_start == pos: none)
// and whether it has been decided; the alphabet bits of the 32 bytes before `pos`, 0 for bytes
// before the text.
struct ScanPos {
  uint64_t pos = 0;
  uint64_t run_start = 0;
  bool decided = false;
  uint32_t prev_alpha = 0;
};

// Line ends right after 16 bytes of the alphabet: where a wrapped value may break.
inline uint32_t wrap_candidates(const Masks& m, uint32_t prev_alpha) {
  static_assert(TextReaders::kWrapRun == readers::kScanWrapRun);
  uint64_t w = (uint64_t{m.alpha} << 32) | prev_alpha;
  return static_cast<uint32_t>(runs_of_16(w) >> 16) & m.eol;
}

// Whether the base64 reader needs this block: a run of kMinBase64Run open at its start ends in
// it, or kMinBase64Run alphabet bytes in a row reach into it (unless they are a decided run's).
inline bool base64_event(uint32_t alpha, const ScanPos& s) {
  static_assert(TextReaders::kMinBase64Run == readers::kScanMinRun);
  uint64_t w = (uint64_t{alpha} << 32) | s.prev_alpha;
  uint64_t y = runs_of_16(w);
  y &= y >> 4;  // bit j: bits j..j+19 set
  bool reaches = (y >> 13) != 0;
  bool long_open = s.pos - s.run_start >= TextReaders::kMinBase64Run;
  return (long_open & (alpha != ~0u)) | (!s.decided & reaches);
}

// Moves past `n` bytes of a block whose run ends need no closer look (alpha: valid bits).
inline void step(uint32_t alpha, unsigned n, ScanPos& s) {
  const uint32_t non = ~alpha & (n == 32 ? ~0u : (1u << n) - 1);
  if (non) {
    s.run_start = s.pos + 32 - static_cast<unsigned>(__builtin_clz(non));
    s.decided = false;
  }
  s.prev_alpha = alpha;
  s.pos += n;
}

}  // namespace

// One text being read: a string value, a text input, or a derived segment.
struct TextState {
  Source src;
  uint64_t cursor = 0;       // next byte to classify
  uint8_t readers = 0;       // kRead*
  bool edited_only = false;  // encodings only where a rewrite changed something
  uint16_t via = 0;          // of the text itself
  // The base64-alphabet run open at the cursor.
  uint64_t run_start = 0;
  bool run_decided = false, run_accepted = false;
  uint64_t b64_fed = 0, b64_raw_start = 0;
  DerivedText b64;
  std::unique_ptr<LenientBase64> b64_decoder;
  // Normalisation: non-ASCII bytes before n_done are read; n_resume: a stretch to go on with.
  uint64_t n_done = 0, n_resume = kNone;
  std::string n_out;
  std::vector<TextNormaliser::Change> n_changes;
  readers::WindowBuilder normalised{kEditNormalised, kViaNormalised};
  readers::WindowBuilder wrapped{kEditUnwrapped, kViaWrapped};
  readers::WindowBuilder percent{kEditPercent, kViaPercent};
  std::vector<DerivedText> done;

  void start(uint64_t begin, uint8_t which) {
    src.begin = cursor = run_start = n_done = begin;
    readers = which;
    run_decided = run_accepted = false;
    n_resume = kNone;
    normalised.begin();
    wrapped.begin();
    percent.begin();
    done.clear();
  }
};

struct TextReaders::Impl {
  explicit Impl(DecodedText& t) : out(t), budget(kBudgetSlack), joiner(t) {}
  DecodedText& out;
  readers::ReaderBudget budget;
  readers::Joiner joiner;
  TextState top;

  char byte(uint64_t at) const { return out.slice(at, at + 1)[0]; }
  uint64_t top_segment = 0;  // id of the top text's segment
  void refresh_segment(TextState& st) { st.src.seg = out.segment_index(top_segment); }

  // True when no reader has anything to do in [from, to) of a text starting at `from`; else
  // how far it is quiet (whole chunks), and the state there.
  bool quiet(uint64_t from, uint64_t to, size_t& skipped, readers::RunCarry& carry) const;
  void read(TextState& st, uint64_t limit, uint64_t data_end, bool final);
  void exact(TextState& st, uint64_t to, uint64_t limit, uint64_t data_end, bool final,
             bool wrap_here);
  void block(TextState& st, uint32_t events, uint64_t limit, uint64_t data_end, bool final);
  void base64_runs(TextState& st, uint32_t alpha, size_t n, uint64_t data_end);
  void decide_base64(TextState& st, uint64_t start, uint64_t end);
  void feed_base64(TextState& st, uint64_t upto);
  void end_base64(TextState& st, uint64_t end, uint64_t data_end);
  void normalise(TextState& st, uint64_t from, uint64_t limit, bool final);
  void wrap_at(TextState& st, uint64_t at, uint64_t data_end);
  void percent_at(TextState& st, uint64_t at, uint64_t data_end);
  void finish(TextState& st, uint64_t end);
  void flush(TextState& st);
  void read_derived(size_t seg, const DerivedText& d, uint16_t via, uint64_t raw_end);
};

bool TextReaders::Impl::quiet(uint64_t from, uint64_t to, size_t& skipped,
                              readers::RunCarry& carry) const {
  const char* p = out.slice(from, from).data();
  const size_t n = to - from;
  if (readers::quiet_text(p, n, true, skipped, carry)) return true;
  if (n >= kBase64Sample) return false;
  // A short text (an id, a name): quiet too if all it has is base64-shaped runs that do not
  // decode to text, as read() would decide (on the whole run: it is shorter than the sample).
  size_t run = 0;
  for (size_t i = 0; i <= n; ++i) {
    if (i < n && alphabet(p[i])) {
      ++run;
      continue;
    }
    if (i < n && (static_cast<unsigned char>(p[i]) >= 0x80 || p[i] == '%' || p[i] == '\n'))
      return false;
    if (run >= kMinBase64Run) {
      char decoded[kBase64Sample / 4 * 3];
      size_t len = readers::decode_base64_prefix(std::string_view(p + i - run, run), run, decoded);
      if (readers::looks_like_text(std::string_view(decoded, len))) return false;
    }
    run = 0;
  }
  return true;
}

void TextReaders::Impl::read(TextState& st, uint64_t limit, uint64_t data_end, bool final) {
  if (st.n_resume != kNone && st.n_resume < limit) normalise(st, st.n_resume, limit, final);
  if (st.cursor >= limit) return;
  const bool b64 = st.readers & kReadBase64;
  const bool wrap_here = st.readers & kReadWrap;
  while (st.cursor < limit) {
    if (limit - st.cursor >= 64) {
      readers::RunCarry c{st.cursor - st.run_start, st.run_decided};
      size_t skipped = readers::skip_chunks(out.slice(st.cursor, st.cursor).data(),
                                            limit - st.cursor, c, b64, wrap_here);
      if (skipped) {
        st.cursor += skipped;
        st.run_start = st.cursor - c.run;
        st.run_decided = c.decided;
      }
      if (st.cursor >= limit) break;
    }
    exact(st, std::min(limit, st.cursor + 64), limit, data_end, final, wrap_here);
  }
}

// Block by block from st.cursor to `to`, every candidate looked at.
void TextReaders::Impl::exact(TextState& st, uint64_t to, uint64_t limit, uint64_t data_end,
                              bool final, bool wrap_here) {
  ScanPos s;
  s.pos = st.cursor;
  s.run_start = st.run_start;
  s.decided = st.run_decided;
  {  // the 32 bytes before the cursor, those of the text only
    uint64_t first = std::max<uint64_t>(std::max(st.src.begin, out.begin()),
                                        st.cursor > 32 ? st.cursor - 32 : 0);
    if (first < st.cursor) {
      Masks before = readers::classify(out.slice(first, first).data());
      unsigned n = static_cast<unsigned>(st.cursor - first);
      uint32_t valid = n == 32 ? ~0u : (1u << n) - 1;
      s.prev_alpha = (before.alpha & valid) << (32 - n);
    }
  }
  const bool b64 = st.readers & kReadBase64;
  while (s.pos < to) {
    Masks m = readers::classify(out.slice(s.pos, s.pos).data());
    unsigned n = static_cast<unsigned>(std::min<uint64_t>(to - s.pos, 32));
    uint32_t valid = n == 32 ? ~0u : (1u << n) - 1;
    m.alpha &= valid;
    m.eol &= valid;
    uint32_t events = (m.stop | (wrap_here ? wrap_candidates(m, s.prev_alpha) : 0)) & valid;
    st.cursor = s.pos;
    if (b64 && base64_event(m.alpha, s)) {
      st.run_start = s.run_start;
      st.run_decided = s.decided;
      base64_runs(st, m.alpha, n, data_end);
      s.run_start = st.run_start;
      s.decided = st.run_decided;
      s.prev_alpha = m.alpha;
      s.pos += n;
    } else {
      step(m.alpha, n, s);
    }
    if (events) block(st, events, limit, data_end, final);
  }
  st.cursor = s.pos;
  st.run_start = s.run_start;
  st.run_decided = s.decided;
}

// The bytes of the block at st.cursor that a reader stops at.
void TextReaders::Impl::block(TextState& st, uint32_t events, uint64_t limit, uint64_t data_end,
                              bool final) {
  const uint64_t pos = st.cursor;
  for (; events; events &= events - 1) {
    uint64_t at = pos + static_cast<unsigned>(__builtin_ctz(events));
    char c = byte(at);
    if (static_cast<unsigned char>(c) >= 0x80) {
      if ((st.readers & kReadNormalise) && at >= st.n_done) normalise(st, at, limit, final);
    } else if (c == '%') {
      if (st.readers & kReadPercent) percent_at(st, at, data_end);
    } else if (c == '\n') {
      wrap_at(st, at, data_end);
    } else if (c == '\r' && at + 1 < data_end && byte(at + 1) == '\n') {
      wrap_at(st, at + 1, data_end);  // CR LF: wrap_at() looks back past the CR
    }
  }
}

void TextReaders::Impl::base64_runs(TextState& st, uint32_t alpha, size_t n, uint64_t data_end) {
  const uint64_t pos = st.cursor;
  const uint32_t valid = n == 32 ? ~0u : (1u << n) - 1;
  const uint32_t non = ~alpha & valid;
  const bool open_before = st.run_start < pos;
  // Runs that end in this block: a non-alphabet byte after an alphabet one.
  for (uint32_t ends = non & ((alpha << 1) | (open_before ? 1u : 0u)); ends; ends &= ends - 1) {
    unsigned k = static_cast<unsigned>(__builtin_ctz(ends));
    uint32_t before = non & ((1u << k) - 1);
    uint64_t start =
        before ? pos + 32 - static_cast<unsigned>(__builtin_clz(before)) : st.run_start;
    if (start != st.run_start) {
      st.run_start = start;
      st.run_decided = st.run_accepted = false;
    }
    if (pos + k - start >= kMinBase64Run) end_base64(st, pos + k, data_end);
    st.run_decided = st.run_accepted = false;
  }
  // The run open at the block's end.
  if (n > 0 && (alpha >> (n - 1)) & 1) {
    uint64_t start = non ? pos + 32 - static_cast<unsigned>(__builtin_clz(non)) : st.run_start;
    if (start != st.run_start) st.run_decided = st.run_accepted = false;
    st.run_start = start;
    if (!st.run_decided && !st.edited_only && pos + n - start >= kBase64Sample)
      decide_base64(st, start, start + kBase64Sample);
  } else {
    st.run_start = pos + n;
    st.run_decided = st.run_accepted = false;
  }
}

void TextReaders::Impl::decide_base64(TextState& st, uint64_t start, uint64_t end) {
  st.run_decided = true;
  st.run_accepted = false;
  uint64_t sample = std::min<uint64_t>(end - start, kBase64Sample) / 4 * 4;
  std::string_view run = out.slice(start, start + sample);
  char decoded[kBase64Sample / 4 * 3];
  size_t n = readers::decode_base64_prefix(run, sample, decoded);
  if (!readers::looks_like_text(std::string_view(decoded, n))) return;
  if (st.edited_only && !out.edited(start, end, kEditsOfRewrites)) return;
  st.run_accepted = true;
  st.b64.clear();
  st.b64.code = kViaBase64;
  st.b64.depth = static_cast<uint8_t>(st.src.depth + 1);
  st.b64.order = start;
  st.b64_fed = start;
  st.b64_raw_start = out.raw_span(st.src.seg, start, start + 1).first;
  if (!st.b64_decoder) st.b64_decoder = std::make_unique<LenientBase64>();
  st.b64_decoder->reset();
}

void TextReaders::Impl::feed_base64(TextState& st, uint64_t upto) {
  if (!st.run_accepted || upto <= st.b64_fed) return;
  size_t before = st.b64.bytes.size();
  st.b64_decoder->feed(out.slice(st.b64_fed, upto), st.b64.bytes);
  st.b64_fed = upto;
  if (!budget.take(kViaBase64, st.b64.bytes.size() - before, st.src.raw_at(upto))) {
    st.run_accepted = false;  // the decoded text so far is dropped: the scan fails anyway
    st.b64.clear();
  }
}

void TextReaders::Impl::end_base64(TextState& st, uint64_t end, uint64_t data_end) {
  uint64_t start = st.run_start;
  if (!st.run_decided) decide_base64(st, start, end);
  if (!st.run_accepted) return;
  feed_base64(st, end);
  if (!st.run_accepted) return;
  size_t before = st.b64.bytes.size();
  st.b64_decoder->finish(st.b64.bytes);
  if (!budget.take(kViaBase64, st.b64.bytes.size() - before, st.src.raw_at(end))) return;
  // Padding belongs to the run: redaction replaces it too.
  uint64_t stop = end;
  while (stop < data_end && stop < end + 2 && byte(stop) == '=') ++stop;
  uint64_t raw_end = out.raw_span(st.src.seg, stop - 1, stop).second;
  if (st.b64.bytes.empty()) return;
  uint64_t raw_len = raw_end - st.b64_raw_start;
  st.b64.runs.push_back(
      {0, st.b64_raw_start, static_cast<uint32_t>(st.b64.bytes.size()),
       static_cast<uint32_t>(std::min<uint64_t>(raw_len, UINT32_MAX)), 0,
       static_cast<uint8_t>(st.b64.bytes.size() == 1 && raw_len < 256 ? raw_len : 0),
       kEditDecoded});
  st.done.push_back(std::move(st.b64));
  st.b64 = DerivedText{};
}

void TextReaders::Impl::normalise(TextState& st, uint64_t from, uint64_t limit, bool final) {
  const TextNormaliser& norm = TextNormaliser::instance();
  st.n_resume = kNone;
  while (from < limit) {
    // A stretch ends after its last non-ASCII byte once 16 ASCII bytes follow it.
    uint64_t last = from, i = from;
    bool closed = false;
    for (; i < limit && i - from < kMaxNormaliseCall; ++i) {
      if (static_cast<unsigned char>(byte(i)) >= 0x80) {
        last = i;
      } else if (i - last > 16) {
        closed = true;
        break;
      }
    }
    const bool at_end = !closed && i == limit;
    uint64_t cut;
    if (closed || (at_end && final)) {
      cut = std::min(limit, last + 1);
    } else {
      // More may follow: normalise up to the last point that cannot change with it.
      cut = from + norm.stable_prefix(out.slice(from, i));
      if (cut == from) {
        if (at_end && i - from < 2048) {
          st.n_resume = from;  // wait for the rest of this sequence
          st.n_done = limit;
          return;
        }
        cut = i;  // thousands of bytes with no boundary: cut where we are
        while (cut < limit && (static_cast<unsigned char>(byte(cut)) & 0xC0) == 0x80) ++cut;
      }
    }
    std::string_view text = out.slice(from, cut);
    // Whether a run of letters and digits goes on right before and after it (look-alikes count
    // only in one that holds ASCII ones).
    auto member = [&](uint64_t at) {
      char c = byte(at);
      return static_cast<unsigned char>(c) < 0x80 && norm.run_member(c);
    };
    const bool before = from > st.src.begin && member(from - 1);
    const bool after = cut < limit && member(cut);
    if (!norm.is_normalised(text, before, after)) {
      st.n_out.clear();
      st.n_changes.clear();
      norm.normalise(text, before, after, st.n_out, st.n_changes);
      for (const auto& c : st.n_changes)
        st.normalised.edit(st.src, from + c.from, from + c.from + c.len,
                           std::string_view(st.n_out).substr(c.out_from, c.out_len), budget,
                           st.done);
    }
    st.n_done = cut;
    if (closed || (at_end && final)) return;
    if (at_end) {  // the rest waits for more text; its non-ASCII bytes are read from n_resume
      if (cut < limit) st.n_resume = cut;
      st.n_done = limit;
      return;
    }
    from = cut;  // a long stretch: on with its next part
  }
}

void TextReaders::Impl::wrap_at(TextState& st, uint64_t at, uint64_t data_end) {
  uint64_t cut = at;
  if (cut > st.src.begin && byte(cut - 1) == '\r') --cut;
  if (cut - st.src.begin < kWrapRun || !alphabet(byte(cut - 1))) return;
  bool digit = false, letter = false;
  for (uint64_t k = cut - kWrapRun; k < cut; ++k) {
    char c = byte(k);
    if (!alphabet(c)) return;
    digit |= c >= '0' && c <= '9';
    letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  if (!digit || !letter) return;
  // A wrapped line is a full one: kWrapLine bytes or more since the last line break.
  uint64_t line = cut - kWrapRun;
  while (line > st.src.begin && cut - line < kWrapLine && byte(line - 1) != '\n') --line;
  if (cut - line < kWrapLine) return;
  uint64_t next = at + 1;
  while (next < data_end && next - at <= 32 && (byte(next) == ' ' || byte(next) == '\t')) ++next;
  if (next >= data_end || !alphabet(byte(next))) return;
  st.wrapped.edit(st.src, cut, next, {}, budget, st.done);
}

void TextReaders::Impl::percent_at(TextState& st, uint64_t at, uint64_t data_end) {
  if (at + 2 >= data_end) return;
  int hi = hex_digit(byte(at + 1)), lo = hex_digit(byte(at + 2));
  if (hi < 0 || lo < 0) return;
  char decoded = static_cast<char>(hi * 16 + lo);
  st.percent.edit(st.src, at, at + 3, std::string_view(&decoded, 1), budget, st.done);
}

void TextReaders::Impl::finish(TextState& st, uint64_t end) {
  if ((st.readers & kReadBase64) && st.run_start < end && end - st.run_start >= kMinBase64Run)
    end_base64(st, end, end);
  st.normalised.finish(st.src, end, budget, st.done);
  st.wrapped.finish(st.src, end, budget, st.done);
  st.percent.finish(st.src, end, budget, st.done);
}

// Appends the derived segments of a text, each followed by what the readers find in it.
void TextReaders::Impl::flush(TextState& st) {
  if (st.done.empty()) return;
  std::vector<DerivedText> done = std::move(st.done);
  st.done.clear();
  std::stable_sort(done.begin(), done.end(), [](const DerivedText& a, const DerivedText& b) {
    return std::tie(a.order, a.code) < std::tie(b.order, b.code);
  });
  uint32_t node = out.segment(st.src.seg).node;
  unsigned used = 0;
  for (uint16_t v = st.via; v; v >>= 4) ++used;
  for (DerivedText& d : done) {
    if (used >= 4) break;  // four readers deep at most (the decoders stop at two anyway)
    uint16_t via = static_cast<uint16_t>(st.via | (d.code << (4 * used)));
    if (d.code != kViaJoined)
      for (auto& r : d.runs) r.node = node;  // renumbered nodes: the text's own is current
    out.append_derived(d.bytes, d.runs, d.runs.empty() ? node : d.runs.front().node, via);
    if (d.code == kViaJoined) continue;
    size_t seg = out.segment_at(out.end() - 1);
    uint64_t raw_end = st.src.fixed_raw ? st.src.fixed_raw : out.segment(st.src.seg).raw_end;
    read_derived(seg, d, via, raw_end);
  }
}

void TextReaders::Impl::read_derived(size_t seg, const DerivedText& d, uint16_t via,
                                     uint64_t raw_end) {
  auto st = std::make_unique<TextState>();
  const bool decoded = d.code == kViaBase64 || d.code == kViaPercent;
  uint8_t which = decoded ? kReadNormalise | kReadWrap : 0;
  if (d.depth < kMaxDecodeDepth) which |= kReadPercent | kReadBase64;
  if (!which) return;
  const Segment& s = out.segment(seg);
  st->src = Source{&out, seg, s.dec_start, s.raw_start, raw_end, d.depth};
  st->start(s.dec_start, which);
  st->edited_only = !decoded;
  st->via = via;
  uint64_t end = out.content_end(seg);
  read(*st, end, end, true);
  finish(*st, end);
  flush(*st);
}

// ---------------------------------------------------------------------------------------------

TextReaders::TextReaders(DecodedText& out) : out_(out), impl_(std::make_unique<Impl>(out)) {}
TextReaders::~TextReaders() = default;

void TextReaders::start(int join_depth) {
  started_ = true;
  Impl& m = *impl_;
  TextState& st = m.top;
  st.src.text = &m.out;
  st.src.seg = m.out.segment_at(begin_);
  m.top_segment = m.out.segment_id(st.src.seg);
  st.src.raw_begin = m.out.segment(st.src.seg).raw_start;
  st.src.fixed_raw = 0;
  st.src.depth = 0;
  st.via = 0;
  st.edited_only = false;
  st.start(begin_, kReadNormalise | kReadWrap | kReadPercent | kReadBase64);
  m.joiner.begin(join_depth, begin_, m.top_segment);
}

void TextReaders::note_budget() {
  holding_ = impl_->joiner.holding();
  if (impl_->budget.exceeded() && error_.empty())
    error_ = "the text readers' derived text outgrew the input by more than " +
             std::to_string(kBudgetSlack >> 20) + " MiB";
}

void TextReaders::consume_slow() {
  Impl& m = *impl_;
  uint64_t end = m.out.end();
  m.joiner.keep(end);
  if (reading_ && end - begin_ >= kConsumeAfter) {
    if (!started_) start(-1);
    TextState& st = m.top;
    if (end >= st.cursor + kLookAhead + 64) {  // else little new: wait for more or the end
      uint64_t limit = end - kLookAhead;
      m.refresh_segment(st);
      m.read(st, limit, end, false);
      // Not past a stretch the normaliser has yet to finish.
      st.normalised.advance(st.src, std::min(limit, st.n_resume), m.budget, st.done);
      st.wrapped.advance(st.src, limit, m.budget, st.done);
      st.percent.advance(st.src, limit, m.budget, st.done);
      m.feed_base64(st, std::min(limit, st.cursor));
    }
  }
  note_budget();
}

void TextReaders::end_slow() {
  Impl& m = *impl_;
  if (!started_) {
    // Most texts: a quick look finds nothing for any reader and nothing is kept.
    size_t seg = m.out.last_segment();
    if (m.out.segment(seg).dec_start != begin_) seg = m.out.segment_at(begin_);
    size_t skipped = 0;
    readers::RunCarry carry;
    if (m.quiet(begin_, m.out.content_end(seg), skipped, carry)) return;
    start(-1);
    m.top.cursor += skipped;  // read from where the quick look stopped, as read() would
    m.top.run_start = m.top.cursor - carry.run;
  }
  TextState& st = m.top;
  m.refresh_segment(st);
  uint64_t end = m.out.content_end(st.src.seg);
  m.read(st, end, end, true);
  m.finish(st, end);
  m.joiner.end(st.src, end, m.budget, st.done);
  m.flush(st);
  note_budget();
}

void TextReaders::container_closed(size_t depth) {
  impl_->joiner.container_closed(depth);
  holding_ = impl_->joiner.holding();
}

void TextReaders::break_join() {
  impl_->joiner.reset();
  holding_ = false;
}

}  // namespace promptgate

// The pieces the text readers (text_readers.h) build derived segments with; internal to them.
//
//   ReaderBudget   derived bytes allowed per input (its raw size so far + a slack)
//   DerivedText    one derived segment being built: bytes, runs back to raw bytes, reader names
//   WindowBuilder  edits of one reader (normalise, unwrap, percent) applied to windows of the
//                  text around them, kWindow bytes each side, copied from the DecodedText
//   Joiner         the seams between the text blocks of one content list
//
// Offsets are decoded offsets of the DecodedText; a builder reads the text through it, so the
// bytes it reads must still be retained (stream mode keeps thousands of bytes behind the newest,
// more than any window).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/decoded_text.h"

namespace promptgate::readers {

// Each reader (DerivedVia code) may add as many derived bytes as the input has raw bytes up to
// where it reads, plus a slack. Counted per reader, a reader's verdict does not depend on how
// the input was split into chunks: its count only jumps at its own edits, which are checked
// wherever they fall.
class ReaderBudget {
 public:
  explicit ReaderBudget(uint64_t slack) : slack_(slack) {}
  // Takes n derived bytes for reader `code` at raw offset `raw_pos`; false when over (and from
  // then on for every reader).
  bool take(uint8_t code, uint64_t n, uint64_t raw_pos) {
    uint64_t& used = used_[code & 7];
    if (exceeded_ || used + n > raw_pos + slack_) return !(exceeded_ = true);
    used += n;
    return true;
  }
  bool exceeded() const { return exceeded_; }

 private:
  uint64_t slack_;
  uint64_t used_[8] = {};
  bool exceeded_ = false;
};

struct DerivedText {
  std::string bytes;
  std::vector<DerivedRun> runs;  // dec_start relative to bytes
  uint16_t via = 0;              // set when the segment is appended
  uint8_t code = 0;              // DerivedVia of the reader that made it
  uint8_t depth = 0;             // decoding depth of its bytes
  uint64_t order = 0;            // where in the text it starts (derived segments go in this order)
  void clear() {
    bytes.clear();
    runs.clear();
  }
};

// Where a builder reads from: a segment of the DecodedText (the text being read).
struct Source {
  const DecodedText* text = nullptr;
  size_t seg = 0;
  uint64_t begin = 0;      // the text's first decoded byte
  uint64_t raw_begin = 0;  // its raw offset
  uint64_t fixed_raw = 0;  // derived texts: the raw offset every budget check uses
  uint8_t depth = 0;       // decoding depth of the text
  // The raw offset the budget measures text byte `pos` against (never past the true one).
  uint64_t raw_at(uint64_t pos) const { return fixed_raw ? fixed_raw : raw_begin + (pos - begin); }
};

class WindowBuilder {
 public:
  WindowBuilder(uint8_t edit, uint8_t code) : edit_(edit), code_(code) {}
  void begin() { open_ = false, on_ = true; }
  // Replaces text [from, to) by `bytes`; edits come in order and do not overlap.
  void edit(const Source& src, uint64_t from, uint64_t to, std::string_view bytes,
            ReaderBudget& budget, std::vector<DerivedText>& done);
  // Everything before `upto` has been read: copy what the open window needs, close it if done.
  void advance(const Source& src, uint64_t upto, ReaderBudget& budget,
               std::vector<DerivedText>& done);
  // The text ended at `end`.
  void finish(const Source& src, uint64_t end, ReaderBudget& budget,
              std::vector<DerivedText>& done) {
    advance(src, end, budget, done);
    if (open_) close(done);
  }

 private:
  void copy(const Source& src, uint64_t to, ReaderBudget& budget);
  void close(std::vector<DerivedText>& done);

  uint8_t edit_, code_;
  bool open_ = false;
  bool on_ = true;           // off once the budget ran out
  uint64_t cursor_ = 0;      // next text byte to copy
  uint64_t window_end_ = 0;  // the open window ends here unless another edit comes first
  DerivedText cur_;
};

// Seams between consecutive text blocks of one content list: the last kWindow bytes of the
// blocks so far (the tail) followed by the first kWindow bytes of the next one (its head). Both
// stay where they are in the text until they might be trimmed (keep()) or are needed, so a list
// of one block costs nothing.
class Joiner {
 public:
  explicit Joiner(DecodedText& text);
  ~Joiner();
  // A text begins: a block of the list at `depth` (another list's: the previous one ends), or
  // (-1) some other string, which changes nothing. `segment` is its segment's id.
  void begin(int depth, uint64_t text_begin, uint64_t segment);
  bool active() const { return depth_ >= 0 && in_block_; }
  // The text has grown to `text_end`: copies what would soon fall out of what stream mode keeps.
  void keep(uint64_t text_end);
  // The block ended at `end`: the seam with the blocks before it goes to `done`.
  void end(const Source& src, uint64_t end, ReaderBudget& budget, std::vector<DerivedText>& done);
  void reset();
  bool holding() const { return tail_ref_.set; }
  void container_closed(size_t depth) {
    if (static_cast<int>(depth) <= depth_) reset();
  }

 private:
  // Bytes [from, to) of a segment, not copied yet.
  struct Ref {
    bool set = false;
    uint64_t segment = 0, from = 0, to = 0;
  };
  void copy(const Ref& ref, DerivedText& into) const;
  void keep_tail();
  bool has_tail() const { return tail_ref_.set || !tail_.bytes.empty(); }

  DecodedText& text_;
  int depth_ = -1;
  bool in_block_ = false;
  bool head_kept_ = false;
  uint64_t block_begin_ = 0, block_segment_ = 0;
  DerivedText head_, tail_;
  Ref tail_ref_;
  std::vector<uint32_t> tail_nodes_;  // tail_.runs[i].node, renumbered by the DecodedText
};

// Whether the first bytes decoded from a base64 run read as text: printable ASCII, tab and
// line breaks, or well-formed UTF-8, for at least 90 % of them.
bool looks_like_text(std::string_view bytes);
// Decodes the first `chars` base64 characters of `run` (standard or URL-safe; whole groups of
// four) into `out` (room for chars / 4 * 3 bytes); returns the bytes written.
size_t decode_base64_prefix(std::string_view run, size_t chars, char* out);

}  // namespace promptgate::readers

// The text readers: they read a string the way the model reads it and add what they read as
// derived segments of the DecodedText, scanned by the same Hyperscan stream as everything else.
//
//   - base64: a run of at least kMinBase64Run base64 characters (standard or URL-safe, also the
//     payload of a `data:` URL) whose first bytes decode to printable text is decoded (as
//     leniently as the API's decoders, LenientBase64) into a segment named "(base64)". A finding
//     there stands for the whole run: redaction replaces the run.
//   - percent: text around %XX escapes, decoded ("(percent)").
//   - normalised: text around non-ASCII code points that change under default-ignorable removal,
//     NFKC and look-alike folding inside ASCII runs (unicode_text.h) ("(normalised)"); no-break
//     and thin spaces become spaces, so grouped digits match.
//   - wrapped: text around a line break (and indentation) that cuts a credential-shaped run at
//     the end of a full line: kWrapRun base64-alphabet characters, digits and letters among
//     them, right before the break, a line of at least kWrapLine bytes, and another such
//     character right after the break ("(wrapped)"); other line breaks are left alone.
//   - joined: the text blocks of one content list (`messages[i].content[*].text`, a tool
//     result's `content[*].text`, `system[*].text`, Gemini `parts[*].text`) read across each seam
//     (kWindow bytes each side); only findings that cross a seam are reported from there, named
//     "first..last" block.
// The decoders nest (base64 in base64, percent in base64, ...) at most kMaxDecodeDepth deep;
// normalised, wrapped and decoded text are read again for encodings, normalised text and
// unwrapped text only where the reader changed something. Derived segments map each byte back to
// the raw bytes it came from (DerivedRun): findings point at, and redaction replaces, raw bytes.
//
// Cost: a string is classified 32 bytes at a time (AVX2) for base64-alphabet runs, non-ASCII
// bytes, '%' and line breaks; plain ASCII prose and code stop there, with no copy and no ICU call.
// Bounds: derived bytes per input are at most its raw size so far + kBudgetSlack; past that the
// readers stop and error() says so (the engine reports it as the scan's error: fail closed).
//
// Used by JsonTextExtractor (each string value) and the engine (text input):
//   TextReaders r(text);
//   r.begin(join_depth);  // the string's segment has just begun
//   ... bytes appended ...; r.consume();   // before text may be trimmed (stream mode)
//   text.end_segment(raw_end); r.end();   // reads the rest, appends the derived segments
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "detectors/decoded_text.h"
#include "detectors/text_scan.h"

namespace promptgate {

class TextReaders {
 public:
  static constexpr uint32_t kWindow = 256;            // bytes kept each side of a change or seam
  static constexpr uint32_t kMinBase64Run = 20;       // characters
  static constexpr uint32_t kBase64Sample = 64;       // characters whose decoding decides a run
  static constexpr uint32_t kWrapRun = 16;            // characters before a wrapped line break
  static constexpr uint32_t kWrapLine = 60;           // bytes of a line that wraps, at least
  static constexpr int kMaxDecodeDepth = 2;           // base64 in base64, and no deeper
  static constexpr uint64_t kBudgetSlack = 1u << 20;  // derived bytes beyond the input's size

  explicit TextReaders(DecodedText& out);
  ~TextReaders();
  TextReaders(const TextReaders&) = delete;
  TextReaders& operator=(const TextReaders&) = delete;

  // A text starts: the segment just begun in `out`. `join_depth` >= 0 names the content list
  // whose text blocks are joined (the depth of its array; see container_closed), -1 for none.
  void begin(int join_depth) {
    reading_ = true;
    started_ = false;
    begin_ = out_.end();
    if (join_depth >= 0) start(join_depth);
  }
  bool reading() const { return reading_; }
  // The input's bytes so far are in `out`: reads what arrived of the open text (all but a short
  // look-ahead) and copies what the readers hold on to. Call before `out` may be trimmed.
  void consume() {
    if ((reading_ && out_.end() - begin_ >= kConsumeAfter) || holding_) consume_slow();
  }
  // Right after end_segment(): reads the rest and appends the derived segments (and theirs).
  void end() {
    if (!reading_) return;
    reading_ = false;
    const uint64_t n = out_.end() - begin_;
    if (!started_ && n <= readers::kScanShort && quiet_short(n)) return;
    end_slow();
  }
  // A JSON container at nesting `depth` (its index among the open ones) closed.
  void container_closed(size_t depth);
  // A value was passed over unread (incremental scanning): nothing joins across it.
  void break_join();
  // Why the readers stopped early (budget), or "".
  const std::string& error() const { return error_; }

 private:
  static constexpr uint64_t kConsumeAfter = 160;  // bytes of an open text worth reading early
  bool quiet_short(uint64_t n) const {
    return readers::quiet_short(out_.slice(begin_, begin_).data(), n);
  }
  void start(int join_depth);
  void consume_slow();
  void end_slow();
  void note_budget();

  struct Impl;
  DecodedText& out_;
  std::unique_ptr<Impl> impl_;
  bool reading_ = false;
  bool started_ = false;  // the text has a reading state (else it has been looked at only)
  bool holding_ = false;  // joined text still refers to bytes of `out`
  uint64_t begin_ = 0;
  std::string error_;
};

}  // namespace promptgate

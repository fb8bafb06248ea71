// Incremental transcript scanning. Claude Code resends the whole conversation (system prompt,
// tool definitions, every message so far) on every turn, so scanning each body in full costs
// O(n^2) over a session. SeenBlocks remembers, per identity, a keyed digest of every transcript
// block that was scanned clean; scan_transcript() passes those blocks over and scans the rest.
//
//   auto seen = std::make_shared<SeenBlocks>();           // one per rule set: dropped on reload
//   TranscriptScan t = scan_transcript(scanner, body, *seen, "alice");
//   t.result.findings ...; t.skipped_bytes ...
//
// A block is a value of a Messages API body that comes back unchanged turn after turn: each
// element of "system" (or the whole string), each element of "tools", and each element of a
// message's "content" (or the whole string). A block is skipped only when the same bytes were
// scanned with no finding, for the same identity, by the same SeenBlocks (so the same rule set).
// Blocks under kMinBlockBytes are always scanned: digesting them costs more than scanning.
// Limitation: a rule's context words are only seen within the blocks that are scanned.
//
// Attachments (a screenshot, a PDF: result.attachments) are read after the scan, by the caller.
// A block holding one is not remembered by scan_transcript() but listed in held_blocks; once
// every attachment in it was read clean, remember_read_clean() remembers it, so the next turns
// pass over it and a picture resent on every turn is read once:
//   std::vector<bool> clean(t.result.attachments.size());   // true: read, nothing found
//   remember_read_clean(*seen, "alice", t, clean);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"

namespace promptgate {

// The raw extents of the transcript blocks of a Messages API body, in order; empty when the
// input is not a JSON object of that shape (it is then scanned in full).
std::vector<RawRange> transcript_blocks(std::string_view json);
// The raw extent of `messages[0]` (an object) of a Messages API body: what, with the client's
// identity, tells one conversation from another (it comes back unchanged on every turn until
// the user runs /clear or rewinds past it). nullopt when there is none.
std::optional<RawRange> first_message(std::string_view json);

struct TranscriptScan;

class SeenBlocks {
 public:
  static constexpr size_t kMinBlockBytes = 256;
  struct Limits {
    size_t max_identities = 4096;
    size_t max_blocks_per_identity = 8192;  // oldest forgotten first
  };
  using Digest = std::array<uint64_t, 2>;

  SeenBlocks() : SeenBlocks(Limits{}) {}
  explicit SeenBlocks(Limits limits);  // draws a fresh random digest key
  ~SeenBlocks();
  SeenBlocks(const SeenBlocks&) = delete;
  SeenBlocks& operator=(const SeenBlocks&) = delete;

  // A keyed 128-bit digest (GMAC) under this instance's random key.
  Digest digest(std::string_view block) const;
  // Thread-safe; one short lock per call (per request, not per byte).
  void lookup(std::string_view identity, const std::vector<Digest>& digests,
              std::vector<bool>& seen) const;
  void remember(std::string_view identity, const std::vector<Digest>& clean);

  size_t identities() const;
  size_t blocks() const;

 private:
  friend TranscriptScan scan_transcript(Scanner&, std::string_view, SeenBlocks&, std::string_view);
  class Digester;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TranscriptScan {
  ScanResult result;
  size_t blocks = 0;          // transcript blocks in the body
  size_t skipped_blocks = 0;  // passed over: scanned clean before
  uint64_t skipped_bytes = 0;
  // Blocks whose text came out clean but which hold attachments still to be read.
  struct HeldBlock {
    SeenBlocks::Digest digest;
    std::vector<size_t> attachments;  // indexes into result.attachments
  };
  std::vector<HeldBlock> held_blocks;
};

// Scans `body` as JSON, passing over the blocks `seen` knows for `identity`, and remembers the
// blocks that came out clean. Findings, paths and offsets are those of a full scan, minus the
// skipped blocks (which had none).
TranscriptScan scan_transcript(Scanner& scanner, std::string_view body, SeenBlocks& seen,
                               std::string_view identity);

// Remembers the held blocks of `scan` all of whose attachments were read clean
// (`attachment_clean[i]` for scan.result.attachments[i]; missing entries count as not clean).
void remember_read_clean(SeenBlocks& seen, std::string_view identity, const TranscriptScan& scan,
                         const std::vector<bool>& attachment_clean);

}  // namespace promptgate

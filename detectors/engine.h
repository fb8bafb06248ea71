// The detection engine: every rule compiled into one Hyperscan database (block and stream
// mode), a second confirm stage (RE2 for the exact span, then validators, entropy, context,
// placeholder and allowlist checks) that runs only on Hyperscan's candidates.
//
//   auto rules = RuleSet::compile(load_rule_packs({RuleSource::builtin()}));   // once; immutable
//   Scanner scanner(rules, cluster_key.fingerprint_key());   // one per thread (cluster_key.h)
//   ScanResult r = scanner.scan(body, InputFormat::json);                      // block mode
//   auto stream = scanner.open_stream(InputFormat::json);                      // stream mode
//   stream->write(chunk1); stream->write(chunk2); ScanResult r2 = stream->finish();
//
// A RuleSet is shared read-only between threads (shared_ptr<const RuleSet>); a Scanner owns
// the Hyperscan scratch of one thread and is not thread-safe. Streams opened on a scanner must
// be used (and destroyed) on that scanner's thread; they may outlive the Scanner object. Findings
// never hold the secret value.
//
// JSON scans also list the body's attachments (PDFs, pictures, office files; attachments.h) in
// ScanResult::attachments, decoded and bounded by set_attachment_limits(). Their text is read
// elsewhere (detectors/readers) and scanned with scan_attachment_text() (attachment_scan.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/fingerprint.h"
#include "detectors/json_text.h"
#include "detectors/rules.h"

namespace promptgate {

struct Finding {
  std::string rule_id;
  Category category;
  Severity severity;
  Action action;
  uint64_t start = 0;  // raw byte offsets of the secret in the input, [start, end)
  uint64_t end = 0;
  uint32_t length = 0;   // length of the decoded secret
  std::string location;  // JSON path ("messages[2].content[0].text"), "" for plain text
  std::string fingerprint;
  // Set when the secret sits inside a base64 document: where the base64 string's content
  // starts in the raw input and the secret's offsets in the decoded document (the redactor
  // finds the closing quote itself, decodes, replaces and re-encodes).
  bool in_base64 = false;
  uint64_t container_start = 0;
  uint64_t inner_start = 0, inner_end = 0;
  // Found in the text a reader got out of an attachment (attachment_scan.h): [start, end) is the
  // attachment's encoded string, which cannot be redacted in place, so the request is blocked.
  bool in_attachment = false;
  bool read_by_ocr = false;    // in text read by OCR from a picture
  bool ocr_corrected = false;  // it passed its validators only with OCR's confusions undone
  // Found in text a reader derived (text_readers.h): decoded, normalised, unwrapped or joined.
  // [start, end) then covers all the raw bytes it came from (for base64, the whole run); a value
  // joined from several text blocks has one raw span per block in `parts` (empty otherwise),
  // and its location names the first and last block ("a..b").
  bool derived = false;
  std::vector<RawRange> parts;
  // Other rules that matched the same value at the same place, merged into this finding
  // (same_value.h): their ids and default actions (`action` is the kept rule's own). The
  // proxy's config overrides are applied to each and the strongest wins (policy.h); an override
  // of the value covers them all.
  struct AlsoMatched {
    std::string rule_id;
    Category category;
    Action action;
  };
  std::vector<AlsoMatched> also_matched;
  // For people: what produced the text, when a tool did (`Read deploy.env`, `Bash cat x`), and
  // the line within it (1-based; 0: unknown). Filled in by the proxy for a blocked request
  // (tool_origin.h); never holds a value.
  std::string origin;
  uint32_t line = 0;
};

enum class InputFormat { text, json, automatic };

struct ScanResult {
  std::vector<Finding> findings;  // sorted by start offset
  uint64_t raw_bytes = 0;
  uint64_t decoded_bytes = 0;
  uint64_t candidates = 0;  // Hyperscan reports that reached the confirm stage
  bool scanned_as_json = false;
  std::vector<Attachment> attachments;  // JSON only: in body order (attachments.h)
  std::string error;  // why the input could not be decoded (JSON mode); findings so far kept
  bool ok() const { return error.empty(); }
};

struct CompiledRule;
class KnownSecrets;

// What Hyperscan looks for on behalf of a rule: its prefilter, its pattern, or (anchor: context)
// its context words.
std::string hyperscan_expression(const Rule& r);

class RuleSet {
 public:
  // Throws RuleError naming the file, line and rule id, with Hyperscan's or RE2's message.
  // With a cache directory, compiled Hyperscan databases are kept there (keyed by a hash of
  // every expression and the Hyperscan version) and reused: a second start takes milliseconds
  // instead of seconds. A missing, stale or corrupt cache entry is simply rebuilt.
  static std::shared_ptr<const RuleSet> compile(RulePacks packs, const std::string& cache_dir = {});
  ~RuleSet();

  size_t size() const;
  const Rule& rule(size_t i) const;
  // Hyperscan stream state per open stream, in bytes.
  size_t stream_state_bytes() const;
  // Decoded bytes a stream retains behind its newest byte so a candidate can be confirmed.
  uint32_t max_lookbehind() const { return max_lookbehind_; }

  struct Impl;  // defined in engine.cc

 private:
  RuleSet();
  friend class Scanner;
  friend class ScanStream;
  std::unique_ptr<Impl> impl_;
  uint32_t max_lookbehind_ = 0;
};

class ScanStream;

class Scanner {
 public:
  Scanner(std::shared_ptr<const RuleSet> rules, FingerprintKey key);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Block mode over a whole buffer. InputFormat::automatic scans as JSON when the input parses
  // as JSON and as text otherwise.
  ScanResult scan(std::string_view input, InputFormat format);
  // JSON only: the listed values are passed over unscanned (see transcript.h); paths and
  // offsets of everything else are as in a full scan.
  ScanResult scan(std::string_view input, InputFormat format, std::vector<RawRange> skip_values);
  std::unique_ptr<ScanStream> open_stream(InputFormat format);
  // Plain text a reader got out of an attachment (a PDF page, a picture's OCR). With `ocr`, a
  // candidate that fails its validators is tried again with OCR's confusions undone
  // (ocr_confusions.h); such findings have ocr_corrected set. Offsets are in `text`.
  ScanResult scan_extracted(std::string_view text, bool ocr);
  // Caps on the attachments JSON scans and streams opened from now on decode and list.
  void set_attachment_limits(const AttachmentLimits& limits);
  const AttachmentLimits& attachment_limits() const;
  // The organisation's known secrets (known_secrets.h), found as rule "known-secret:<label>"
  // (credential, critical, block) in scans and streams opened from now on; null: none.
  void set_known_secrets(std::shared_ptr<const KnownSecrets> known);
  const std::shared_ptr<const RuleSet>& rules() const { return rules_; }

 private:
  friend class ScanStream;
  struct Impl;
  ScanResult scan_block(std::string_view input, InputFormat format,
                        std::vector<RawRange> skip_values, bool ocr);
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<Impl> impl_;  // shared with the streams it opened
};

// Incremental scan of one input (e.g. one request body as it arrives). Memory is bounded by
// the rule set's lookbehind plus the largest chunk, whatever the total length.
class ScanStream {
 public:
  ~ScanStream();
  // False once a JSON input is known to be malformed (see error()).
  bool write(std::string_view chunk);
  ScanResult finish();
  const std::string& error() const;
  size_t memory_bytes() const;

 private:
  friend class Scanner;
  struct Impl;
  explicit ScanStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptgate

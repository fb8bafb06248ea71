// The audit log: one JSON line per request (time, request id, client, method, host, path, model,
// body bytes, decision, findings with rule / category / location / length / fingerprint, scan
// time, upstream status and time, and an override when one was offered or used). Never a value:
// findings carry only what Finding carries, overrides only a code id, never the code.
//
// The log is a hash chain: every line ends with `"seq":N,"prev":"<hex SHA-256 of the previous
// line's bytes>"`, so editing, deleting, inserting or reordering lines is detectable with
// `promptgate audit verify FILE` (AuditChainVerifier below). Reopening a file continues its chain;
// see docs/audit.md for segment starts and restarts.
//
//   AuditLog log("/var/log/promptgate/audit.jsonl");   // "-" = stdout, "" = disabled
//   log.write(event);                                   // thread-safe, one write per line
//
//   AuditChainVerifier v;                               // one per chain of files, in order
//   AuditChainVerifier::FileResult r = v.check(stream); // r.error: the first broken line
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <istream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"

namespace promptgate::proxy {

// What happened to an override on this request (written as "override":{...} when present).
struct OverrideRecord {
  std::string status;                     // offered | redeemed | granted | refused
  std::string reason;                     // why it was refused (empty otherwise)
  std::string code_id;                    // first 8 hex of SHA-256 of the code; never the code
  std::string justification;              // the user's words, capped at kMaxJustificationBytes
  std::vector<std::string> fingerprints;  // the blocking findings the code covers
};
inline constexpr size_t kMaxJustificationBytes = 500;

struct AuditEvent {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string request_id;
  std::string replica;  // the promptgate process that wrote it (pod or host name); may be empty
  std::string user;     // proxy authentication; empty when off
  std::vector<std::string> groups;
  std::string policy;  // the policy block that applied, if any
  std::string client;  // address:port
  std::string method, host, path, model;
  uint16_t port = 0;
  std::string destination;  // intercept | tunnel | deny
  uint64_t body_bytes = 0;
  std::string decision;     // allow | log | redact | block | error
  std::string mode;         // enforce | monitor
  bool enforced = true;     // false in monitor mode when the decision was not applied
  std::string error;        // why the request failed (never a value)
  std::string tls_failure;  // a failed client handshake: its kind (handshake_failure.h)
  std::vector<Finding> findings;
  std::vector<Action> actions;
  uint64_t scan_us = 0;
  uint64_t scan_skipped_bytes = 0;  // incremental scanning: bytes of blocks seen clean before
  // Attachments (PDFs, pictures, office files) listed in the body, read by a reader, and found
  // unreadable or not read in time; the readers' time.
  uint32_t attachments = 0, attachments_read = 0, attachments_unreadable = 0;
  uint64_t read_ms = 0;
  // Action tokenize: values replaced by stand-ins in this request, stand-ins put back in its
  // answer, and stand-ins the answer was cut in the middle of (left as they were).
  uint64_t tokenized = 0, restored = 0, unrestorable = 0;
  unsigned status = 0;           // what the client got
  unsigned upstream_status = 0;  // 0 when not forwarded
  uint64_t upstream_ms = 0;
  uint64_t duration_ms = 0;
  uint64_t tunnel_bytes_up = 0, tunnel_bytes_down = 0;
  std::optional<OverrideRecord> override_record;
  // After a block (config after_block): values of this conversation already blocked and shown,
  // redacted (or tokenized) in this request instead, and the request id of the first block.
  uint32_t after_block_values = 0;
  std::string after_block_first;
};

class AuditLog {
 public:
  // Opens `path` for appending and continues the chain of its last line (read from the end of
  // the file, not the whole file). Throws std::runtime_error naming the path.
  explicit AuditLog(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  bool enabled() const { return file_ != nullptr || console_ != nullptr; }
  // Also say each event on `out` (a terminal) as one short line for a person: console_line.
  void set_console(FILE* out) { console_ = out; }
  void write(const AuditEvent& event);
  // "14:03:27  POST api.anthropic.com/v1/messages  block 400  github-pat-classic": local time,
  // method, host and path, decision and status, the rules found (ids only, never a value).
  static std::string console_line(const AuditEvent& event, std::time_t now);
  // The event's JSON object without the chain fields (seq, prev, chain), no newline.
  static std::string to_json_line(const AuditEvent& event);

 private:
  std::mutex mu_;
  FILE* file_ = nullptr;
  FILE* console_ = nullptr;
  bool owned_ = false;
  // The chain, guarded by mu_: the next line's seq and prev, and its segment marker
  // ("start" or "restart"; empty when the line simply continues the chain).
  uint64_t next_seq_ = 1;
  std::string prev_hash_;
  std::string segment_marker_;
  bool reported_write_error_ = false;
};

// Hex SHA-256 of `bytes` (64 lower-case hex digits).
std::string sha256_hex(std::string_view bytes);
// The longest prefix of `text` of at most `max_bytes` that does not cut a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

inline const std::string kChainOrigin(64, '0');  // prev of the first line of a new chain

// Checks audit files as one chain, in the order given (rotated files oldest first).
class AuditChainVerifier {
 public:
  struct Issue {
    uint64_t line = 0;  // 1-based, within the file being checked; 0: the previous file's last line
    std::string message;
  };
  struct FileResult {
    uint64_t events = 0;          // lines that are JSON events
    std::optional<Issue> error;   // the first broken line; checking stops there
    std::vector<Issue> warnings;  // chain starts/restarts, torn lines, unchained lines
    uint64_t first_seq = 0, last_seq = 0;
    std::string last_hash;  // SHA-256 of the last line: anchor it elsewhere to detect truncation
  };
  // Reads `in` to the end (or to the first error). Throws nothing; I/O errors are the caller's.
  FileResult check(std::istream& in);

 private:
  // The last line of the files checked so far (empty before the first line).
  bool have_previous_ = false;
  std::string previous_hash_;
  std::optional<uint64_t> previous_seq_;  // absent when the previous line was not chained
  bool chained_seen_ = false;
};

}  // namespace promptgate::proxy

// Stage 2, the body: where a request's bytes land as they are read, under the body limits and
// the process-wide memory budget, decoded (Content-Encoding) and handed to the scanner piece by
// piece, with no intermediate copy. The networking side (request_handler.cc) reads into
// `free_space()` and calls `take(n)`; everything else happens here, without Boost.
//
//   BodyIntake body(cfg, budget, scanner, format, inspect, seen_blocks);
//   if (auto r = body.open_decoder(content_encoding)) answer(*r);
//   while (...) { if (!body.fits(reserved)) break; n = read(body.free_space()); body.take(n); }
//   body.end_of_body();
//   if (body.over_budget()) answer(body.over_budget_refusal(keep_alive));
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "detectors/engine.h"
#include "detectors/transcript.h"
#include "proxy/body_budget.h"
#include "proxy/content_decoding.h"
#include "proxy/pipeline/body_bytes.h"
#include "proxy/pipeline/request_context.h"

namespace promptgate::proxy {

class BodyIntake {
 public:
  // A JSON body with `seen_blocks` set is scanned whole once it has arrived (passing over the
  // transcript blocks scanned clean before); anything else as it arrives. `inspect` false: the
  // bytes are only held, for forwarding.
  BodyIntake(const ProxyConfig& cfg, BodyBudget& budget, Scanner& scanner, InputFormat format,
             bool inspect, SeenBlocks* seen_blocks);
  BodyIntake(const BodyIntake&) = delete;
  BodyIntake& operator=(const BodyIntake&) = delete;

  // The Content-Encoding list (repeated lines joined); a 415 when a coding is unknown.
  std::optional<Refusal> open_decoder(std::string_view content_encoding);
  bool decoding() const { return decoder_ != nullptr; }

  // --- reading -------------------------------------------------------------------------------
  BodyBytes& raw() { return raw_; }
  size_t used() const { return used_; }
  char* free_space() { return raw_.data() + used_; }
  size_t free_size() const { return raw_.size() - used_; }
  // Sizes the buffer for a body of known length; its pages are touched only as bytes arrive.
  void size_for(uint64_t length) { raw_.resize(static_cast<size_t>(length)); }
  // Counts `raw_bytes` (plus the decoded copy) against the budget; false once over it.
  bool fits(uint64_t raw_bytes);
  // Room for the next chunked read: grows the buffer (never past what the parser's body limit
  // lets in); false when the budget refuses.
  bool grow_for_chunk(uint64_t max_body_bytes);
  // `got` new bytes at free_space(): decoded and scanned (when inspecting).
  void take(size_t got);
  // The body is complete: the decoder's tail is decoded, the buffer trimmed to what arrived.
  void end_of_body();

  // --- the memory budget ---------------------------------------------------------------------
  bool over_budget() const { return over_budget_; }
  // Gives the memory back (the rest of the body is then read and dropped).
  void drop();
  // 413 when the request could never fit, else 503 with Retry-After (clients retry it).
  Refusal over_budget_refusal(bool keep_alive) const;
  BodyBudget::Hold& hold() { return held_; }

  // --- what the next stages read -------------------------------------------------------------
  // The text the scanner read: the decoded body when a Content-Encoding applied, else the raw.
  std::string_view text() const { return decoder_ ? std::string_view(decoded_) : as_view(raw_); }
  InputFormat format() const { return format_; }
  SeenBlocks* seen_blocks() const { return seen_blocks_; }
  // The stream that scanned the body as it arrived (null when nothing was streamed).
  std::unique_ptr<ScanStream> take_stream() { return std::move(scan_); }
  uint64_t scan_us() const { return scan_us_; }
  // A body that could not be decoded: 413 (decompressed too large) or 415; nullopt otherwise.
  std::optional<Refusal> decode_refusal(bool keep_alive) const;
  // Gives the memory back once the body to forward has been built.
  void release();

 private:
  void scan_piece(std::string_view piece);
  void decode_piece(std::string_view piece, bool last);

  const ProxyConfig& cfg_;
  BodyBudget::Hold held_;
  Scanner& scanner_;
  InputFormat format_;
  bool inspect_;
  SeenBlocks* seen_blocks_;
  BodyBytes raw_;
  size_t used_ = 0;
  std::string decoded_;  // only when a Content-Encoding applies
  std::unique_ptr<ContentDecoder> decoder_;
  std::unique_ptr<ScanStream> scan_;
  uint64_t scan_us_ = 0;
  bool over_budget_ = false;
  bool too_large_alone_ = false;  // would not fit even with nothing else held: 413, not 503
  bool decode_failed_ = false, decoded_too_large_ = false;
  std::string decode_error_;
};

}  // namespace promptgate::proxy

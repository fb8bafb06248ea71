#include "proxy/pipeline/body_intake.h"

#include <algorithm>

#include "proxy/audit_scope.h"
#include "proxy/http_fields.h"

namespace promptgate::proxy {

BodyIntake::BodyIntake(const ProxyConfig& cfg, BodyBudget& budget, Scanner& scanner,
                       InputFormat format, bool inspect, SeenBlocks* seen_blocks)
    : cfg_(cfg),
      held_(budget),
      scanner_(scanner),
      format_(format),
      inspect_(inspect),
      seen_blocks_(format == InputFormat::json ? seen_blocks : nullptr) {}

std::optional<Refusal> BodyIntake::open_decoder(std::string_view content_encoding) {
  if (!inspect_ || content_encoding.empty() || ascii_iequals(content_encoding, "identity"))
    return std::nullopt;
  std::string err;
  decoder_ = ContentDecoder::create(content_encoding, cfg_.max_decoded_body_bytes, err);
  if (decoder_) return std::nullopt;
  return refuse(415, "invalid_request_error",
                "promptgate cannot inspect this request: " + err +
                    ". It was not forwarded; send it uncompressed or with gzip, deflate, br or "
                    "zstd.",
                false);
}

bool BodyIntake::fits(uint64_t raw_bytes) {
  const uint64_t total = raw_bytes + decoded_.size();
  if (!over_budget_ && !held_.try_grow_to(total, cfg_.max_buffered_body_bytes)) {
    over_budget_ = true;
    too_large_alone_ = total > cfg_.max_buffered_body_bytes;
  }
  return !over_budget_;
}

bool BodyIntake::grow_for_chunk(uint64_t max_body_bytes) {
  if (raw_.size() - used_ >= 16 * 1024) return true;
  size_t grown = std::max<size_t>(2 * raw_.size(), used_ + 64 * 1024);
  grown = std::min<size_t>(grown, std::max<size_t>(max_body_bytes, used_) + 16 * 1024);
  if (!fits(grown)) return false;
  raw_.resize(grown);
  return true;
}

void BodyIntake::scan_piece(std::string_view piece) {
  if (seen_blocks_) return;
  auto t0 = std::chrono::steady_clock::now();
  if (!scan_) scan_ = scanner_.open_stream(format_);
  scan_->write(piece);
  scan_us_ += micros_since(t0);
}

void BodyIntake::decode_piece(std::string_view piece, bool last) {
  if (!decoder_ || decode_failed_) return;
  std::string out;
  bool ok =
      last ? (decoder_->decode(piece, out) && decoder_->finish(out)) : decoder_->decode(piece, out);
  if (!ok) {
    decode_failed_ = true;
    decoded_too_large_ = decoder_->output_limit_exceeded();
    decode_error_ = decoder_->error();
  }
  if (!out.empty()) {
    decoded_ += out;
    if (!fits(raw_.size())) return;
    scan_piece(out);
  }
}

void BodyIntake::take(size_t got) {
  std::string_view data(raw_.data() + used_, got);
  used_ += got;
  if (!inspect_) return;
  if (decoder_)
    decode_piece(data, false);
  else
    scan_piece(data);
}

void BodyIntake::end_of_body() {
  raw_.resize(used_);
  if (decoder_) decode_piece({}, true);
}

void BodyIntake::drop() {
  BodyBytes().swap(raw_);
  std::string().swap(decoded_);
  scan_.reset();
  held_.set(0);
}

void BodyIntake::release() {
  BodyBytes().swap(raw_);
  std::string().swap(decoded_);
}

Refusal BodyIntake::over_budget_refusal(bool keep_alive) const {
  if (too_large_alone_)
    return refuse(413, "request_too_large",
                  "promptgate refused this request: with its decompressed copy it needs more "
                  "memory than max_buffered_body_bytes allows.",
                  keep_alive);
  Refusal r = refuse(503, "overloaded_error",
                     "promptgate is holding too many request bodies in memory right now, so this "
                     "request was not forwarded. Retry in a moment; if this persists, ask the "
                     "promptgate operator to raise max_buffered_body_bytes or add capacity.",
                     keep_alive);
  r.audit_error = "the request bodies held in memory reached max_buffered_body_bytes";
  r.retry_after_seconds = 1;
  return r;
}

std::optional<Refusal> BodyIntake::decode_refusal(bool keep_alive) const {
  if (!decode_failed_) return std::nullopt;
  if (decoded_too_large_)
    return refuse(413, "request_too_large",
                  "promptgate refused this request: its decompressed body is larger than the " +
                      std::to_string(cfg_.max_decoded_body_bytes) + "-byte limit.",
                  keep_alive);
  return refuse(415, "invalid_request_error",
                "promptgate could not decode the request body (" + decode_error_ +
                    "), so it was not forwarded.",
                keep_alive);
}

}  // namespace promptgate::proxy

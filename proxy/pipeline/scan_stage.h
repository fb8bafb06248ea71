// Stage 3, the scan: the findings of a request whose body has arrived. The body's stream scan
// (started as it arrived) is finished, or a JSON body is scanned whole past the transcript
// blocks this conversation already had scanned clean (incremental scanning); then the query
// string (percent-decoded) and the headers the config names are scanned as text, with their
// findings located at "query" and "header:<name>".
//
//   ScanOutcome s = scan_request(scanner, body, ctx, headers);
//   if (auto r = unreadable_body_refusal(body, s, ctx)) answer(*r);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detectors/engine.h"
#include "detectors/transcript.h"
#include "proxy/pipeline/body_intake.h"
#include "proxy/pipeline/request_context.h"

namespace promptgate::proxy {

struct ScanOutcome {
  std::vector<Finding> findings;
  bool failed = false;           // the body could not be read as what it claims to be
  std::string error;             // why (never a value)
  std::string read_as = "JSON";  // what the body could not be read as, for the refusal
  uint64_t skipped_bytes = 0;    // incremental scanning: bytes passed over as seen clean
  uint64_t scan_us = 0;          // this stage's time (the body's streamed scan is counted apart)
  // Attachments the body holds (PDFs, pictures, office files), for the read stage.
  std::vector<Attachment> attachments;
  // Incremental scanning: the transcript blocks held until their attachments are read clean.
  std::vector<TranscriptScan::HeldBlock> held_blocks;
};

// The configured headers present on the request, as (name, value).
using ScannedHeaders = std::vector<std::pair<std::string, std::string_view>>;

// `content_type` is the request's: a multipart/form-data body (a file upload) also lists the
// parts a reader opens (PDF, pictures, office files) as attachments (multipart.h).
ScanOutcome scan_request(Scanner& scanner, BodyIntake& body, const RequestContext& ctx,
                         const ScannedHeaders& headers, std::string_view content_type = {});

// A body that could not be decoded or scanned is not forwarded, unless the host fails open.
std::optional<Refusal> unreadable_body_refusal(const BodyIntake& body, const ScanOutcome& scan,
                                               const RequestContext& ctx);

// True when a finding lies outside the body (query string, a header), where it cannot be
// redacted or tokenized in place.
bool outside_body(const Finding& f);

}  // namespace promptgate::proxy

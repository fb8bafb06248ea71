#include "proxy/pipeline/scan_stage.h"

#include <chrono>

#include "detectors/multipart.h"
#include "proxy/audit_scope.h"
#include "proxy/http_fields.h"

namespace promptgate::proxy {

namespace {

void scan_body(Scanner& scanner, BodyIntake& body, const RequestContext& ctx, ScanOutcome& out) {
  if (SeenBlocks* seen = body.seen_blocks()) {
    TranscriptScan t = scan_transcript(scanner, body.text(), *seen, ctx.owner);
    if (!t.result.ok()) {
      out.failed = true;
      out.error = t.result.error;
    }
    out.findings = std::move(t.result.findings);
    out.attachments = std::move(t.result.attachments);
    out.skipped_bytes = t.skipped_bytes;
    out.held_blocks = std::move(t.held_blocks);
  } else if (auto stream = body.take_stream()) {
    ScanResult r = stream->finish();
    stream.reset();  // its buffers go to the next request's stream on this thread
    if (!r.ok()) {
      out.failed = true;
      out.error = r.error;
    }
    out.findings = std::move(r.findings);
    out.attachments = std::move(r.attachments);
  }
}

void scan_text_at(Scanner& scanner, std::string_view text, const std::string& location,
                  std::vector<Finding>& findings) {
  ScanResult r = scanner.scan(text, InputFormat::text);
  for (auto& f : r.findings) {
    f.location = location;
    findings.push_back(std::move(f));
  }
}

// A file upload: the parts a reader opens join the body's attachments. A body that does not
// split as its Content-Type says is refused like JSON that does not parse: the API would
// reject it too, and what it holds could not be read.
void list_multipart_attachments(const Scanner& scanner, const BodyIntake& body,
                                std::string_view content_type, ScanOutcome& out) {
  std::optional<std::string> boundary = multipart_boundary(content_type);
  if (!boundary) return;
  std::vector<MultipartPart> parts;
  std::string error;
  if (!split_multipart(body.text(), *boundary, parts, error)) {
    out.failed = true;
    out.read_as = "multipart/form-data";
    out.error = error;
    return;
  }
  std::vector<Attachment> listed =
      multipart_attachments(body.text(), parts, scanner.attachment_limits(), out.findings);
  for (auto& a : listed) out.attachments.push_back(std::move(a));
}

}  // namespace

ScanOutcome scan_request(Scanner& scanner, BodyIntake& body, const RequestContext& ctx,
                         const ScannedHeaders& headers, std::string_view content_type) {
  ScanOutcome out;
  auto t0 = std::chrono::steady_clock::now();
  try {
    scan_body(scanner, body, ctx, out);
    if (!out.failed) list_multipart_attachments(scanner, body, content_type, out);
    size_t q = ctx.path.find('?');
    if (q != std::string::npos)
      scan_text_at(scanner, percent_decode(std::string_view(ctx.path).substr(q + 1)), "query",
                   out.findings);
    for (const auto& [name, value] : headers)
      scan_text_at(scanner, value, "header:" + name, out.findings);
  } catch (const std::exception& e) {
    out.failed = true;
    out.error = std::string("scanner error: ") + e.what();
  }
  out.scan_us = micros_since(t0);
  return out;
}

std::optional<Refusal> unreadable_body_refusal(const BodyIntake& body, const ScanOutcome& scan,
                                               const RequestContext& ctx) {
  if (ctx.cfg.fail_open(ctx.target.host)) return std::nullopt;
  if (auto r = body.decode_refusal(ctx.wants_keep_alive)) return r;
  if (!scan.failed) return std::nullopt;
  return refuse(400, "invalid_request_error",
                "promptgate could not parse the request body as " + scan.read_as + " (" +
                    scan.error + "), so it was not forwarded.",
                ctx.wants_keep_alive);
}

bool outside_body(const Finding& f) {
  return f.location == "query" || f.location.rfind("header:", 0) == 0;
}

}  // namespace promptgate::proxy

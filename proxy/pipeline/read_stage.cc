#include "proxy/pipeline/read_stage.h"

#include "detectors/attachment_scan.h"
#include "detectors/transcript.h"

namespace promptgate::proxy {

ReadLimits read_limits_for(const AttachmentsConfig& cfg) {
  ReadLimits limits;
  limits.pdf.max_pages = cfg.max_pages;
  limits.pdf.max_ocr_pages = cfg.max_ocr_pages;
  limits.pdf.budget = std::chrono::milliseconds(cfg.document_budget_ms);
  limits.office.budget = std::chrono::milliseconds(cfg.document_budget_ms);
  limits.picture.max_pixels = cfg.max_pixels;
  limits.picture.budget = std::chrono::milliseconds(cfg.picture_budget_ms);
  return limits;
}

std::vector<size_t> attachments_to_read(const std::vector<Attachment>& attachments,
                                        const AttachmentsConfig& cfg) {
  std::vector<size_t> todo;
  if (!cfg.read) return todo;
  for (size_t i = 0; i < attachments.size(); ++i)
    if (!attachments[i].unreadable) todo.push_back(i);
  return todo;
}

namespace {

bool is_picture(const Attachment& a) {
  return a.media_type().rfind("image/", 0) == 0;
}

// The refusal for an attachment that was not read: which one, why, and the setting that
// would let it through.
Refusal unread_refusal(const RequestContext& ctx, const Attachment& a, const std::string& reason,
                       bool timed_out) {
  const char* setting = timed_out ? "pictures.on_timeout" : "documents.on_unreadable";
  std::string what = is_picture(a) ? "picture" : "document";
  Refusal r = refuse(ctx.cfg.block_status, "invalid_request_error",
                     "promptgate blocked this request: it could not read the " + what + " (" +
                         std::string(a.media_type()) + ") at " + a.location + " (" + reason +
                         "), so it could not check it for secrets. Send it without that " + what +
                         ", or ask the promptgate operator about " + setting + ".",
                     ctx.wants_keep_alive);
  r.decision = "block";
  r.audit_error = "attachment not read at " + a.location + ": " + reason + " (" + setting + ")";
  return r;
}

}  // namespace

ReadStageResult finish_reads(Scanner& scanner, const RequestContext& ctx, const ScanOutcome& scan,
                             const std::vector<size_t>& todo,
                             const std::vector<ReadOutcome>& outcomes) {
  const AttachmentsConfig& cfg = ctx.cfg.attachments;
  ReadStageResult out;
  std::vector<bool> clean(scan.attachments.size(), false);
  for (size_t k = 0; k < todo.size() && k < outcomes.size(); ++k) {
    const Attachment& a = scan.attachments[todo[k]];
    const ReadOutcome& o = outcomes[k];
    if (!o.ok()) {
      ++out.unreadable;
      bool timed_out = o.status == ReadStatus::timeout;
      bool block = timed_out ? cfg.block_on_timeout : cfg.block_unreadable;
      if (block && !out.refusal) out.refusal = unread_refusal(ctx, a, o.reason, timed_out);
      continue;
    }
    ++out.read;
    std::vector<Finding> found = scan_attachment_text(scanner, a, o);
    clean[todo[k]] = found.empty();
    for (auto& f : found) out.findings.push_back(std::move(f));
  }
  if (cfg.read)
    for (const Attachment& a : scan.attachments)
      if (a.unreadable) {
        ++out.unreadable;
        if (cfg.block_unreadable && !out.refusal)
          out.refusal = unread_refusal(ctx, a, a.reason, false);
      }
  ctx.ev.attachments = static_cast<uint32_t>(scan.attachments.size());
  ctx.ev.attachments_read = out.read;
  ctx.ev.attachments_unreadable = out.unreadable;
  if (ctx.snap.seen_blocks && !scan.held_blocks.empty()) {
    TranscriptScan held;
    held.held_blocks = scan.held_blocks;
    remember_read_clean(*ctx.snap.seen_blocks, ctx.owner, held, clean);
  }
  return out;
}

}  // namespace promptgate::proxy

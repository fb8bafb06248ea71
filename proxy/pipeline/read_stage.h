// Stage 3b, the read: what the model reads inside the body's attachments. The scan stage lists
// them (PDFs, pictures, office files, from every vendor's attachment fields; attachments.h);
// the driver runs the readers (readers.h: PDF text, OCR, office XML) on the reader pool, off
// the io threads, then this stage scans their text on the request's thread. A finding inside
// an attachment cannot be redacted in place, so it blocks (decide_stage). An attachment that
// cannot be read (encrypted, corrupt, over a limit) or not in time is refused unless the config
// allows it (documents.on_unreadable, pictures.on_timeout), with a message naming the reason
// and the setting. With incremental scanning, a transcript block whose attachments were all
// read clean is remembered, so a screenshot resent every turn is read once.
//
//   std::vector<size_t> todo = attachments_to_read(scanned.attachments, cfg);
//   std::vector<ReadOutcome> outcomes = /* on the pool */ read_each(todo);
//   ReadStageResult r = finish_reads(scanner, ctx, scanned, todo, outcomes);
//   scanned.findings += r.findings;  if (r.refusal) answer(*r.refusal);
#pragma once

#include <optional>
#include <vector>

#include "detectors/attachments.h"
#include "detectors/engine.h"
#include "detectors/readers/readers.h"
#include "proxy/pipeline/request_context.h"
#include "proxy/pipeline/scan_stage.h"

namespace promptgate::proxy {

// The reader limits a config sets.
ReadLimits read_limits_for(const AttachmentsConfig& cfg);

// Indexes of the attachments a reader should read: every one that is not already unreadable
// (over a cap when the body was scanned); none when reading is off.
std::vector<size_t> attachments_to_read(const std::vector<Attachment>& attachments,
                                        const AttachmentsConfig& cfg);

struct ReadStageResult {
  std::vector<Finding> findings;   // in the attachments' text, located "<path> (pdf page 2)"
  std::optional<Refusal> refusal;  // an attachment that could not be read (or not in time)
  uint32_t read = 0, unreadable = 0;
};

// Scans what the readers returned (`outcomes[i]` for attachments[todo[i]]), applies the
// unreadable / timeout policy, fills the audit event's attachment counts, and, with incremental
// scanning, remembers the transcript blocks whose attachments all came out clean.
ReadStageResult finish_reads(Scanner& scanner, const RequestContext& ctx, const ScanOutcome& scan,
                             const std::vector<size_t>& todo,
                             const std::vector<ReadOutcome>& outcomes);

}  // namespace promptgate::proxy

// Attachments read on the caller's thread, for `promptgate scan`; see read_files.h.
#include "detectors/readers/read_files.h"

#include "detectors/attachment_scan.h"

namespace promptgate {

std::optional<Attachment> whole_file_attachment(std::string_view bytes,
                                                const AttachmentLimits& limits) {
  MediaKind kind = sniff_media(bytes.substr(0, 1024));
  if (kind == MediaKind::unknown) return std::nullopt;
  Attachment a;
  a.kind = kind;
  a.raw_begin = 0;
  a.raw_end = bytes.size();
  a.decoded_size = bytes.size();
  if (bytes.size() > limits.max_attachment_bytes) {
    a.unreadable = true;
    a.reason = "larger than the " + std::to_string(limits.max_attachment_bytes >> 20) +
               " MiB limit per attachment";
    return a;
  }
  a.bytes = std::string(bytes);
  attachment_detail::sha256(a.bytes, a.sha256);
  return a;
}

AttachmentReport read_and_scan(Scanner& scanner, const std::vector<Attachment>& attachments,
                               const ReadLimits& limits) {
  AttachmentReport report;
  for (const Attachment& a : attachments) {
    std::string where = a.location.empty() ? std::string(a.media_type()) : a.location;
    if (a.unreadable) {
      report.problems.push_back(where + ": unreadable (" + a.reason + ")");
      continue;
    }
    ReadOutcome o;
    try {
      o = read_attachment(a, limits);
    } catch (const std::exception& e) {
      o.status = ReadStatus::unreadable;
      o.reason = std::string("reader error: ") + e.what();
    }
    if (!o.ok()) {
      report.problems.push_back(where + ": " + std::string(read_status_name(o.status)) + " (" +
                                o.reason + ")");
      continue;
    }
    ++report.read;
    for (Finding& f : scan_attachment_text(scanner, a, o)) report.findings.push_back(std::move(f));
  }
  return report;
}

}  // namespace promptgate

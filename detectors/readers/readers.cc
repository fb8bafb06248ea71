// Picks the reader for an attachment; see readers.h.
#include "detectors/readers/readers.h"

#include "detectors/readers/reader_util.h"

namespace promptgate {

ReadOutcome read_attachment(const Attachment& attachment, const ReadLimits& limits) {
  if (attachment.unreadable) return reader_util::unreadable(attachment.reason);
  if (attachment.kind == MediaKind::pdf)
    return read_pdf(attachment.bytes, limits.pdf, limits.picture);
  if (is_picture(attachment.kind)) return read_picture(attachment.bytes, limits.picture);
  if (is_office(attachment.kind))
    return read_office(attachment.bytes, limits.office, attachment.kind);
  return reader_util::unreadable("no reader for this kind of file");
}

}  // namespace promptgate

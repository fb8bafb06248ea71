// Scanning the text a reader got out of an attachment (attachments.h, detectors/readers).
//
//   ScanResult r = scanner.scan(body, InputFormat::json);
//   for (const Attachment& a : r.attachments) {
//     ReadOutcome o = read_attachment(a, read_limits);     // readers.h, off the io threads
//     if (!o.ok()) ...                                     // policy: documents.on_unreadable
//     auto more = scan_attachment_text(scanner, a, o);     // on the scanner's thread
//   }
//
// Each text piece is scanned as plain text (Scanner::scan_extracted). A finding's location is
// the attachment's with the piece's label, "messages[2].content[0].source (pdf page 3)" (the label
// alone for an attachment with no location, a whole file given to `scan`); its
// raw span is the attachment's encoded string; it has in_attachment set (a value inside a file
// cannot be redacted in place: the decision blocks instead). OCR pieces are scanned with OCR's
// confusions undone where a strong checksum pays for it (ocr_confusions.h), and again with
// letters read inside digit groups folded to digits (fold_ocr_digits) and with the spaces OCR
// puts inside long runs dropped (join_ocr_splits); those findings have read_by_ocr set, and
// ocr_corrected when a confusion had to be undone or a view other than the text found them.
#pragma once

#include <vector>

#include "detectors/attachments.h"
#include "detectors/engine.h"

namespace promptgate {

std::vector<Finding> scan_attachment_text(Scanner& scanner, const Attachment& attachment,
                                          const ReadOutcome& outcome);

}  // namespace promptgate

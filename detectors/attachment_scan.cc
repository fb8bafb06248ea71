// Scanning the text read out of an attachment; see attachment_scan.h.
#include "detectors/attachment_scan.h"

#include <algorithm>
#include <tuple>

#include "detectors/ocr_confusions.h"

namespace promptgate {

std::vector<Finding> scan_attachment_text(Scanner& scanner, const Attachment& attachment,
                                          const ReadOutcome& outcome) {
  std::vector<Finding> out;
  for (const TextPiece& piece : outcome.pieces) {
    if (piece.text.empty()) continue;
    auto take = [&](ScanResult r, bool folded) {
      for (Finding& f : r.findings) {
        f.location = attachment.location.empty() ? piece.label
                                                 : attachment.location + " (" + piece.label + ")";
        f.start = attachment.raw_begin;
        f.end = attachment.raw_end;
        f.in_attachment = true;
        f.read_by_ocr = piece.ocr;
        f.ocr_corrected = f.ocr_corrected || folded;
        f.in_base64 = false;
        f.container_start = f.inner_start = f.inner_end = 0;
        // The same value found again (in another view, or another OCR pass) adds nothing.
        bool seen = std::any_of(out.begin(), out.end(), [&](const Finding& g) {
          return g.rule_id == f.rule_id && g.fingerprint == f.fingerprint &&
                 g.location == f.location;
        });
        if (!seen) out.push_back(std::move(f));
      }
    };
    take(scanner.scan_extracted(piece.text, piece.ocr), false);
    if (!piece.ocr) continue;
    // Other views of what OCR read: letters in digit groups folded, spaces in long runs dropped.
    for (const std::string& view : {fold_ocr_digits(piece.text), join_ocr_splits(piece.text)})
      if (!view.empty()) take(scanner.scan_extracted(view, true), true);
  }
  return out;
}

}  // namespace promptgate

// Readers that turn an attachment (attachments.h) into the text a model would read from it:
// PDF text with poppler-cpp, DOCX / XLSX / PPTX text from their XML parts with libzip, and text
// in pictures (PNG, JPEG, GIF, WebP) with Tesseract OCR over Leptonica. A static library of its
// own (CMake target attachment_readers), so the engine itself links none of them.
//
//   ReadLimits limits;                                  // the defaults below, or from config
//   ReadOutcome o = read_attachment(attachment, limits);   // thread-safe: run it on a pool
//   if (o.ok()) findings = scan_attachment_text(scanner, attachment, o);   // attachment_scan.h
//   else ...  // o.status is unreadable or timeout; o.reason names the defect or the limit
//
// Every reader is bounded in input bytes, work (pages, entries, pixels, inflated bytes),
// extracted text and time, and answers `unreadable` (encrypted, corrupt, over a limit) or
// `timeout` rather than reading part of a file and calling it clean. Time is checked between
// pages and parts and inside OCR; a single PDF page or XML part is not interrupted, so its work
// is bounded by the byte limits instead. All functions may run concurrently on any threads
// (OCR keeps one Tesseract instance per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/attachments.h"

namespace promptgate {

struct PdfLimits {
  uint64_t max_bytes = uint64_t{32} << 20;
  uint32_t max_pages = 600;
  // A page with no text (a scan, a page printed as a picture) is rendered at ocr_dpi and read
  // by OCR, up to max_ocr_pages such pages; a document with more is unreadable (OCR costs about
  // a second a page). 0: no OCR, such pages give no text.
  uint32_t max_ocr_pages = 20;
  double ocr_dpi = 150;
  // What the file's Flate streams (page content, fonts, object streams; not pictures) may
  // inflate to, all together: checked before poppler reads the file, against PDF bombs.
  uint64_t max_inflated_bytes = uint64_t{256} << 20;
  uint64_t max_text_bytes = uint64_t{16} << 20;  // extracted text, all pages
  std::chrono::milliseconds budget{10000};
};

struct OfficeLimits {
  uint64_t max_bytes = uint64_t{32} << 20;
  uint32_t max_entries = 10000;                           // zip entries
  uint64_t max_uncompressed_bytes = uint64_t{512} << 20;  // all entries, as declared
  uint64_t max_part_bytes = uint64_t{64} << 20;           // one XML part read
  uint32_t max_ratio = 200;  // uncompressed : compressed, for parts over 1 MiB
  uint64_t max_text_bytes = uint64_t{16} << 20;
  std::chrono::milliseconds budget{10000};
};

struct PictureLimits {
  uint64_t max_bytes = uint64_t{32} << 20;
  // Pictures over this are refused (a JPEG is decoded at 1/2, 1/4 or 1/8 scale to fit first);
  // for a GIF, the pixels of all its frames count.
  uint64_t max_pixels = 40'000'000;
  // Pictures over this are scaled down before OCR (time grows with pixels).
  uint64_t ocr_pixels = 8'000'000;
  // OCR passes: each scales the picture so that its text lines (the median of those Tesseract's
  // layout analysis finds) are this many pixels high, and reads it. Tesseract reads some values
  // better at one size and some at another: on 48 synthetic 1280x800 terminal screenshots with
  // a token, one pass at 20 px found 33, passes at 20 and 32 px found 41 (the same at 2x
  // scale). A later pass runs only if the budget has room for it.
  std::vector<int> line_heights = {20, 32};
  std::chrono::milliseconds budget{5000};  // per picture: decoding, layout and OCR
  std::string tessdata_dir;                // "": Tesseract's default (TESSDATA_PREFIX)
};

struct ReadLimits {
  PdfLimits pdf;
  OfficeLimits office;
  PictureLimits picture;
};

// One piece per page, labelled "pdf page 3"; a page without text is read by OCR ("pdf page 3,
// ocr", marked ocr) under `picture`'s limits and the PDF's time budget.
ReadOutcome read_pdf(std::string_view bytes, const PdfLimits& limits,
                     const PictureLimits& picture = {});

// Pixels another reader already has (a PDF page it rendered), 8-bit grey, rows top down.
struct GrayPixels {
  int width = 0, height = 0;
  std::vector<uint8_t> data;
};
// OCR of such pixels, one piece labelled `label`; a timeout names `budget_setting`.
ReadOutcome read_gray_pixels(const GrayPixels& picture, const PictureLimits& limits,
                             std::chrono::milliseconds budget, std::string label,
                             const char* budget_setting);
// One piece per part: "docx", "docx footnotes", "xlsx shared strings", "xlsx sheet2",
// "pptx slide 3", "pptx notes 3". `kind` says which format is expected; office: any of them.
ReadOutcome read_office(std::string_view bytes, const OfficeLimits& limits,
                        MediaKind kind = MediaKind::office);
// One piece, "picture, ocr", marked ocr.
ReadOutcome read_picture(std::string_view bytes, const PictureLimits& limits);
// By the attachment's kind; one listed unreadable (over a cap) stays unreadable.
ReadOutcome read_attachment(const Attachment& attachment, const ReadLimits& limits);

}  // namespace promptgate

// libFuzzer target: an attachment reader (detectors/readers/readers.h) over arbitrary bytes, with
// small limits and short budgets. Built three times by tests/CMakeLists.txt: fuzz_read_pdf
// (FUZZ_READER=0), fuzz_read_office (1) and fuzz_read_picture (2). Only our code is instrumented;
// poppler, libzip, Leptonica and Tesseract are the system's builds. Whatever the bytes, the
// reader answers ok with valid UTF-8 within its text limit, or unreadable / timeout with a reason.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "detectors/readers/readers.h"
#include "tests/fuzz/fuzz_util.h"

#ifndef FUZZ_READER
#define FUZZ_READER 0
#endif

using namespace promptgate;
using namespace std::chrono_literals;

namespace {

[[maybe_unused]] PictureLimits picture_limits() {
  PictureLimits p;
  p.max_bytes = 1 << 20;
  p.max_pixels = 250'000;
  p.ocr_pixels = 60'000;
  p.line_heights = {20};
  p.budget = 300ms;
  return p;
}

constexpr uint64_t kMaxText = 64 * 1024;

ReadOutcome read(std::string_view bytes) {
  if constexpr (FUZZ_READER == 0) {
    PdfLimits pdf;
    pdf.max_bytes = 1 << 20;
    pdf.max_pages = 4;
    pdf.max_ocr_pages = 1;  // a text-less page is rendered small and read by OCR
    pdf.ocr_dpi = 50;       // the least the reader renders at
    pdf.max_inflated_bytes = 4 << 20;
    pdf.max_text_bytes = kMaxText;
    pdf.budget = 500ms;
    return read_pdf(bytes, pdf, picture_limits());
  } else if constexpr (FUZZ_READER == 1) {
    OfficeLimits office;
    office.max_bytes = 1 << 20;
    office.max_entries = 64;
    office.max_uncompressed_bytes = 4 << 20;
    office.max_part_bytes = 1 << 20;
    office.max_text_bytes = kMaxText;
    office.budget = 500ms;
    return read_office(bytes, office);
  } else {
    return read_picture(bytes, picture_limits());
  }
}

}  // namespace

// fontconfig (through poppler's font lookup) keeps a cache for the life of the process, which
// LeakSanitizer reports as a leak after the first input that needs a font.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReadOutcome o = read({reinterpret_cast<const char*>(data), size});
  // FUZZ_READER_VERBOSE=1 says what each input gave (to check that the seeds are read).
  static const bool verbose = std::getenv("FUZZ_READER_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "%s: %s, %zu pieces\n", std::string(read_status_name(o.status)).c_str(),
                 o.reason.c_str(), o.pieces.size());
  if (!o.ok()) {
    FUZZ_CHECK(!o.reason.empty(), "an unread attachment says why");
    return 0;
  }
  uint64_t text = 0;
  for (const auto& piece : o.pieces) {
    FUZZ_CHECK(!piece.label.empty(), "a piece is labelled");
    FUZZ_CHECK(fuzz::valid_utf8(piece.text), "extracted text is UTF-8");
    text += piece.text.size();
  }
  FUZZ_CHECK(text <= kMaxText, "extracted text within max_text_bytes");
  return 0;
}

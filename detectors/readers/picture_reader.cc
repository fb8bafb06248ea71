// Text in pictures: Leptonica decodes (PNG, JPEG, GIF, WebP) under a pixel limit, Tesseract
// reads under a time budget; see readers.h.
#include <leptonica/allheaders.h>
#include <omp.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detectors/readers/reader_util.h"
#include "detectors/readers/readers.h"

namespace promptgate {
namespace {

using reader_util::Clock;
using reader_util::unreadable;

struct PixFree {
  void operator()(PIX* p) const { pixDestroy(&p); }
};
using Pix = std::unique_ptr<PIX, PixFree>;
struct TextFree {
  void operator()(char* p) const { delete[] p; }
};

struct Dimensions {
  uint64_t width = 0, height = 0;
  uint64_t pixels = 0;  // all frames, for a GIF
};

uint16_t le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) |
                               static_cast<unsigned char>(b[at + 1]) << 8);
}

// A GIF is decoded frame by frame, all of them: add up the frames' sizes from their headers.
bool gif_dimensions(std::string_view b, Dimensions& d) {
  if (b.size() < 13) return false;
  d.width = le16(b, 6);
  d.height = le16(b, 8);
  size_t at = 13;
  if (b[10] & 0x80) at += 3u << ((b[10] & 7) + 1);  // global colour table
  auto skip_blocks = [&] {
    while (at < b.size() && b[at] != 0) at += 1 + static_cast<unsigned char>(b[at]);
    ++at;
  };
  while (at < b.size()) {
    char kind = b[at];
    if (kind == ';') return true;
    if (kind == '!') {  // extension
      at += 2;
      skip_blocks();
    } else if (kind == ',') {  // image
      if (at + 10 > b.size()) return false;
      d.pixels += uint64_t{le16(b, at + 5)} * le16(b, at + 7);
      unsigned char flags = static_cast<unsigned char>(b[at + 9]);
      at += 10;
      if (flags & 0x80) at += 3u << ((flags & 7) + 1);
      ++at;  // LZW minimum code size
      skip_blocks();
    } else {
      return d.pixels > 0;
    }
  }
  return d.pixels > 0;
}

bool dimensions(std::string_view bytes, MediaKind kind, Dimensions& d) {
  if (kind == MediaKind::gif) return gif_dimensions(bytes, d);
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
  if (pixReadHeaderMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size(), &format, &w,
                       &h, &bps, &spp, &cmap) != 0 ||
      w <= 0 || h <= 0)
    return false;
  d.width = static_cast<uint64_t>(w);
  d.height = static_cast<uint64_t>(h);
  d.pixels = d.width * d.height;
  return true;
}

std::string megapixels(uint64_t pixels) {
  return std::to_string(pixels / 1'000'000) + " Mpx";
}

// Decodes within the pixel limit: a JPEG too large is decoded at 1/2, 1/4 or 1/8 scale.
ReadOutcome decode(std::string_view bytes, MediaKind kind, const PictureLimits& limits, Pix& pix) {
  Dimensions d;
  if (!dimensions(bytes, kind, d))
    return unreadable("a damaged picture (its header cannot be read)");
  std::string size = std::to_string(d.width) + "x" + std::to_string(d.height);
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  if (kind == MediaKind::jpeg && d.pixels > limits.max_pixels) {
    int reduction = 2;
    while (reduction < 8 && d.pixels / (reduction * reduction) > limits.max_pixels) reduction *= 2;
    if (d.pixels / (reduction * reduction) > limits.max_pixels)
      return unreadable("a " + size + " px picture, over the " + megapixels(limits.max_pixels) +
                        " limit even at 1/8 scale (pictures.max_pixels)");
    pix.reset(pixReadMemJpeg(data, bytes.size(), 0, reduction, nullptr, 0));
  } else if (d.pixels > limits.max_pixels) {
    return unreadable("a " + size + " px picture" +
                      (kind == MediaKind::gif ? " (all frames)" : "") + ", over the " +
                      megapixels(limits.max_pixels) + " limit (pictures.max_pixels)");
  } else {
    pix.reset(pixReadMem(data, bytes.size()));
  }
  if (!pix) return unreadable("a damaged " + std::string(media_type_name(kind)) + " picture");
  return {};
}

// Grey, dark text on a light ground (terminal screenshots are the other way round), no larger
// than ocr_pixels.
Pix prepare(Pix pix, const PictureLimits& limits) {
  Pix grey(pixConvertTo8(pix.get(), 0));
  if (!grey) return nullptr;
  const uint64_t pixels = uint64_t(pixGetWidth(grey.get())) * uint64_t(pixGetHeight(grey.get()));
  if (pixels > limits.ocr_pixels) {
    auto scale = static_cast<float>(std::sqrt(double(limits.ocr_pixels) / double(pixels)));
    Pix scaled(pixScale(grey.get(), scale, scale));
    if (!scaled) return nullptr;
    grey = std::move(scaled);
  }
  l_float32 mean = 255;
  pixGetAverageMasked(grey.get(), nullptr, 0, 0, 4, L_MEAN_ABSVAL, &mean);
  if (mean < 128) pixInvert(grey.get(), grey.get());
  return grey;
}

// The median height of the text lines Tesseract's layout analysis finds; 0 when it finds none.
int median_line_height(tesseract::TessBaseAPI& api, PIX* pix) {
  api.SetImage(pix);
  api.SetSourceResolution(300);
  std::unique_ptr<tesseract::PageIterator> it(api.AnalyseLayout());
  std::vector<int> heights;
  if (it) {
    do {
      int left, top, right, bottom;
      if (it->BoundingBox(tesseract::RIL_TEXTLINE, &left, &top, &right, &bottom))
        heights.push_back(bottom - top);
    } while (it->Next(tesseract::RIL_TEXTLINE));
  }
  if (heights.empty()) return 0;
  std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
  return heights[heights.size() / 2];
}

// One Tesseract instance per thread, made on first use (loading the model takes ~100 ms).
struct Ocr {
  std::unique_ptr<tesseract::TessBaseAPI> api;
  std::string tessdata_dir;
  bool failed = false;
};

tesseract::TessBaseAPI* ocr_engine(const std::string& tessdata_dir) {
  static thread_local Ocr ocr;
  if (ocr.api && ocr.tessdata_dir == tessdata_dir) return ocr.api.get();
  if (ocr.failed && ocr.tessdata_dir == tessdata_dir) return nullptr;
  ocr.api = std::make_unique<tesseract::TessBaseAPI>();
  ocr.tessdata_dir = tessdata_dir;
  ocr.api->SetVariable("debug_file", "/dev/null");
  if (ocr.api->Init(tessdata_dir.empty() ? nullptr : tessdata_dir.c_str(), "eng",
                    tesseract::OEM_LSTM_ONLY) != 0) {
    ocr.api.reset();
    ocr.failed = true;
    return nullptr;
  }
  ocr.failed = false;
  ocr.api->SetPageSegMode(tesseract::PSM_AUTO);
  return ocr.api.get();
}

// Once per process: Leptonica's messages off, and Tesseract's OpenMP regions run on the calling
// thread only. OCR runs on a pool of threads already; OpenMP's own threads on top made a
// 1280x800 screenshot take twice the time on two cores. This sets OpenMP's process-wide
// max-active-levels to 0; nothing else in promptgate uses OpenMP.
void setup_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    setMsgSeverity(L_SEVERITY_NONE);
    omp_set_max_active_levels(0);
  });
}

// What an OCR run reports as: "picture, ocr" under pictures.time_budget_ms, or a PDF page.
struct OcrJob {
  std::string label = "picture, ocr";
  std::string what = "picture";
  const char* setting = "pictures.time_budget_ms";
};

// One OCR pass over a prepared picture, within what is left of the budget.
ReadOutcome recognize(tesseract::TessBaseAPI& api, PIX* pix, const Clock& clock,
                      const OcrJob& job) {
  if (clock.expired()) return reader_util::timed_out(job.what, clock, job.setting);
  api.SetImage(pix);
  api.SetSourceResolution(300);
  tesseract::ETEXT_DESC monitor;
  monitor.set_deadline_msecs(static_cast<int32_t>(std::max<int64_t>(1, clock.left().count())));
  int rc = api.Recognize(&monitor);
  if (monitor.deadline_exceeded() || clock.expired()) {
    api.Clear();
    return reader_util::timed_out(job.what, clock, job.setting);
  }
  if (rc != 0) {
    api.Clear();
    return unreadable("OCR failed on the " + job.what);
  }
  std::unique_ptr<char, TextFree> text(api.GetUTF8Text());
  api.Clear();
  ReadOutcome out;
  if (text && *text) out.pieces.push_back({job.label, text.get(), true});
  return out;
}

// Prepares a decoded picture and reads it in one pass per line height the budget has room for.
ReadOutcome ocr(Pix pix, const PictureLimits& limits, const Clock& clock, const OcrJob& job) {
  pix = prepare(std::move(pix), limits);
  if (!pix) return unreadable("the " + job.what + " could not be prepared for OCR");
  tesseract::TessBaseAPI* api = ocr_engine(limits.tessdata_dir);
  if (!api) return unreadable("OCR is not available (Tesseract's English model was not found)");
  ReadOutcome out;
  const int line = median_line_height(*api, pix.get());
  if (line <= 0 || limits.line_heights.empty())  // no lines found: one pass as it is
    return recognize(*api, pix.get(), clock, job);
  const uint64_t pixels = uint64_t(pixGetWidth(pix.get())) * uint64_t(pixGetHeight(pix.get()));
  auto last = clock.elapsed();
  for (size_t pass = 0; pass < limits.line_heights.size(); ++pass) {
    // A later pass only when the budget has room for it (twice what the last one took).
    if (pass > 0 && clock.left() < 2 * (clock.elapsed() - last)) break;
    last = clock.elapsed();
    double scale = std::clamp(double(limits.line_heights[pass]) / line, 0.5, 4.0);
    scale = std::min(scale, std::sqrt(double(limits.ocr_pixels) / double(pixels)));
    Pix scaled;
    if (std::abs(scale - 1.0) > 0.05) {
      scaled.reset(pixScale(pix.get(), float(scale), float(scale)));
      if (!scaled) return unreadable("the " + job.what + " could not be scaled for OCR");
    }
    ReadOutcome o = recognize(*api, scaled ? scaled.get() : pix.get(), clock, job);
    if (!o.ok()) return o;
    for (auto& piece : o.pieces) out.pieces.push_back(std::move(piece));
  }
  api->Clear();
  return out;
}

}  // namespace

ReadOutcome read_picture(std::string_view bytes, const PictureLimits& limits) {
  Clock clock(limits.budget);
  setup_once();
  if (bytes.size() > limits.max_bytes)
    return unreadable("a picture of " + reader_util::size_name(bytes.size()) + " is over the " +
                      reader_util::size_name(limits.max_bytes) +
                      " limit (built in: pictures.max_bytes)");
  MediaKind kind = sniff_media(bytes);
  if (!is_picture(kind)) return unreadable("not a PNG, JPEG, GIF or WebP picture");
  Pix pix;
  if (ReadOutcome o = decode(bytes, kind, limits, pix); !o.ok()) return o;
  return ocr(std::move(pix), limits, clock, OcrJob{});
}

ReadOutcome read_gray_pixels(const GrayPixels& picture, const PictureLimits& limits,
                             std::chrono::milliseconds budget, std::string label,
                             const char* budget_setting) {
  Clock clock(budget);
  setup_once();
  const uint64_t pixels = uint64_t(picture.width) * uint64_t(picture.height);
  if (picture.width <= 0 || picture.height <= 0 || picture.data.size() != pixels)
    return unreadable("an empty picture");
  if (pixels > limits.max_pixels)
    return unreadable("a " + megapixels(pixels) + " px page, over the " +
                      megapixels(limits.max_pixels) + " limit (pictures.max_pixels)");
  Pix pix(pixCreate(picture.width, picture.height, 8));
  if (!pix) return unreadable("no memory for the page's pixels");
  l_uint32* row = pixGetData(pix.get());
  const int words = pixGetWpl(pix.get());
  for (int y = 0; y < picture.height; ++y, row += words)
    for (int x = 0; x < picture.width; ++x)
      SET_DATA_BYTE(row, x, picture.data[size_t(y) * size_t(picture.width) + size_t(x)]);
  OcrJob job{std::move(label), "page", budget_setting};
  job.what = job.label;
  return ocr(std::move(pix), limits, clock, job);
}

}  // namespace promptgate

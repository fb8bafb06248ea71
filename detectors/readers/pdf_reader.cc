// PDF text with poppler-cpp, after a bomb check of the file's Flate streams; see readers.h.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detectors/readers/reader_util.h"
#include "detectors/readers/readers.h"

namespace promptgate {
namespace {

using reader_util::Clock;
using reader_util::limit_text;

struct InflateEnd {
  void operator()(z_stream* z) const {
    inflateEnd(z);
    delete z;
  }
};
using Inflater = std::unique_ptr<z_stream, InflateEnd>;

Inflater make_inflater() {
  auto* z = new z_stream{};
  if (inflateInit(z) != Z_OK) {
    delete z;
    return nullptr;
  }
  return Inflater(z);
}

// The dictionary of the stream whose keyword is at `keyword`: from the "obj" before it.
std::string_view stream_dictionary(std::string_view pdf, size_t keyword) {
  size_t from = keyword > 4096 ? keyword - 4096 : 0;
  size_t obj = pdf.substr(from, keyword - from).rfind("obj");
  return obj == std::string_view::npos ? pdf.substr(from, keyword - from)
                                       : pdf.substr(from + obj, keyword - from - obj);
}

// Adds what one Flate stream inflates to, up to `room`; false when it would exceed it.
bool inflate_counting(z_stream& z, std::string_view data, uint64_t room, uint64_t& total) {
  inflateReset(&z);
  static thread_local unsigned char sink[64 * 1024];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), UINT_MAX));
  for (;;) {
    z.next_out = sink;
    z.avail_out = sizeof sink;
    int rc = inflate(&z, Z_NO_FLUSH);
    total += sizeof sink - z.avail_out;
    if (total > room) return false;
    // A damaged or encrypted stream ends the count for that stream: poppler decides about it.
    if (rc != Z_OK || (z.avail_out != 0 && z.avail_in == 0)) return true;
  }
}

// PDF bombs: the Flate streams a text reader decodes (page content, forms, fonts, object
// streams; picture data is passed over) may not inflate to more than `cap` together.
ReadOutcome check_inflated(std::string_view pdf, const PdfLimits& limits, const Clock& clock) {
  Inflater z = make_inflater();
  if (!z) return reader_util::unreadable("zlib could not be initialised");
  uint64_t total = 0;
  for (size_t pos = pdf.find("stream"); pos != std::string_view::npos;
       pos = pdf.find("stream", pos + 6)) {
    if (pos >= 3 && pdf.substr(pos - 3, 3) == "end") continue;
    size_t data = pos + 6;
    if (data < pdf.size() && pdf[data] == '\r') ++data;
    if (data >= pdf.size() || pdf[data] != '\n') continue;  // not the keyword
    ++data;
    std::string_view dict = stream_dictionary(pdf, pos);
    size_t end = pdf.find("endstream", data);
    if (end == std::string_view::npos) end = pdf.size();
    if (dict.find("FlateDecode") == std::string_view::npos ||
        dict.find("/Image") != std::string_view::npos) {
      pos = end;
      continue;
    }
    if (!inflate_counting(*z, pdf.substr(data, end - data), limits.max_inflated_bytes, total))
      return reader_util::unreadable("its compressed streams inflate to more than " +
                                     reader_util::size_name(limits.max_inflated_bytes) +
                                     " (built in: pdf.max_inflated_bytes): a PDF bomb");
    if (clock.expired()) return reader_util::timed_out("pdf", clock, "documents.time_budget_ms");
    pos = end;
  }
  return {};
}

void quiet_poppler() {
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

bool blank(const std::vector<char>& utf8) {
  return std::all_of(utf8.begin(), utf8.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f';
  });
}

// A page with no text, rendered in grey at the configured resolution (less if the page is so
// large that its pixels would pass the OCR limit) and, unless it is blank, read by OCR within
// the document's budget; `ocr_pages` counts the pages read so.
ReadOutcome ocr_page(poppler::page& page, int index, const PdfLimits& limits,
                     const PictureLimits& picture, const Clock& clock, uint32_t& ocr_pages) {
  const std::string label = "pdf page " + std::to_string(index + 1) + ", ocr";
  poppler::rectf box = page.page_rect(poppler::media_box);
  const double inches = std::max(box.width(), 1.0) * std::max(box.height(), 1.0) / (72.0 * 72.0);
  const double dpi = std::min(limits.ocr_dpi, std::sqrt(double(picture.ocr_pixels) / inches));
  if (dpi < 50)
    return reader_util::unreadable("page " + std::to_string(index + 1) +
                                   " has no text and is too large to read by OCR");
  poppler::page_renderer renderer;
  renderer.set_render_hint(poppler::page_renderer::antialiasing);
  renderer.set_image_format(poppler::image::format_gray8);
  poppler::image img = renderer.render_page(&page, dpi, dpi);
  if (!img.is_valid())
    return reader_util::unreadable("page " + std::to_string(index + 1) + " could not be rendered");
  GrayPixels pixels;
  pixels.width = img.width();
  pixels.height = img.height();
  pixels.data.resize(size_t(pixels.width) * size_t(pixels.height));
  for (int y = 0; y < pixels.height; ++y) {
    const auto* row = reinterpret_cast<const uint8_t*>(img.const_data() + y * img.bytes_per_row());
    std::copy(row, row + pixels.width, pixels.data.begin() + ptrdiff_t(y) * pixels.width);
  }
  // A blank page (a separator, a page of faint lines) has nothing to read.
  auto [lo, hi] = std::minmax_element(pixels.data.begin(), pixels.data.end());
  if (*hi - *lo < 48) return {};
  if (++ocr_pages > limits.max_ocr_pages)
    return reader_util::unreadable("more than " + std::to_string(limits.max_ocr_pages) +
                                   " pages without text to read by OCR (documents.max_ocr_pages)");
  return read_gray_pixels(pixels, picture, std::max(clock.left(), std::chrono::milliseconds(1)),
                          label, "documents.time_budget_ms");
}

}  // namespace

ReadOutcome read_pdf(std::string_view bytes, const PdfLimits& limits,
                     const PictureLimits& picture) {
  Clock clock(limits.budget);
  if (bytes.size() > limits.max_bytes || bytes.size() > INT_MAX)
    return reader_util::unreadable("a PDF of " + reader_util::size_name(bytes.size()) +
                                   " is over the " + reader_util::size_name(limits.max_bytes) +
                                   " limit (built in: pdf.max_bytes)");
  if (ReadOutcome bomb = check_inflated(bytes, limits, clock); !bomb.ok()) return bomb;
  quiet_poppler();
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) return reader_util::unreadable("not a PDF that can be read (corrupt or truncated)");
  if (doc->is_locked()) return reader_util::unreadable("encrypted: it needs a password to open");
  const int pages = doc->pages();
  if (pages < 0 || static_cast<uint32_t>(pages) > limits.max_pages)
    return reader_util::unreadable(std::to_string(pages) + " pages, over the limit of " +
                                   std::to_string(limits.max_pages) + " (documents.max_pages)");
  ReadOutcome out;
  uint64_t text_bytes = 0;
  uint32_t ocr_pages = 0;
  for (int i = 0; i < pages; ++i) {
    if (clock.expired())
      return reader_util::timed_out(
          "pdf (" + std::to_string(i) + " of " + std::to_string(pages) + " pages read)", clock,
          "documents.time_budget_ms");
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) return reader_util::unreadable("page " + std::to_string(i + 1) + " is damaged");
    // In reading order on the page, as it is shown: the text a model is given with the page.
    std::vector<char> utf8 = page->text(poppler::rectf(), poppler::page::physical_layout).to_utf8();
    if (blank(utf8) && limits.max_ocr_pages > 0) {
      ReadOutcome o = ocr_page(*page, i, limits, picture, clock, ocr_pages);
      if (!o.ok()) return o;
      for (auto& piece : o.pieces) out.pieces.push_back(std::move(piece));
      continue;
    }
    if (blank(utf8)) continue;
    text_bytes += utf8.size();
    if (text_bytes > limits.max_text_bytes)
      return limit_text("pdf", limits.max_text_bytes, "built-in limit pdf.max_text_bytes");
    out.pieces.push_back(
        {"pdf page " + std::to_string(i + 1), std::string(utf8.begin(), utf8.end()), false});
  }
  return out;
}

}  // namespace promptgate

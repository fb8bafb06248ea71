// DOCX / XLSX / PPTX text from their XML parts, read with libzip under zip-bomb limits; see
// readers.h.
#include <zip.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "detectors/readers/reader_util.h"
#include "detectors/readers/readers.h"
#include "detectors/utf8.h"

namespace promptgate {
namespace {

using reader_util::Clock;
using reader_util::size_name;
using reader_util::unreadable;

struct ZipClose {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using Zip = std::unique_ptr<zip_t, ZipClose>;
using ZipFile = std::unique_ptr<zip_file_t, ZipFileClose>;

// --- XML to text ---------------------------------------------------------------------------
// Only the text of the elements that hold text (w:t, a:t, t, v, ...) is kept, so a value split
// over several runs (Word splits text at every edit) comes out whole; paragraph, row and cell
// ends become line breaks and tabs.

std::string_view local_name(std::string_view tag) {
  size_t end = tag.find_first_of(" \t\r\n/>");
  tag = tag.substr(0, end);
  size_t colon = tag.find(':');
  return colon == std::string_view::npos ? tag : tag.substr(colon + 1);
}

bool holds_text(std::string_view name) {
  return name == "t" || name == "v" || name == "delText" || name == "instrText" || name == "f";
}

void append_entity(std::string_view entity, std::string& out) {
  if (entity == "amp") return out.push_back('&');
  if (entity == "lt") return out.push_back('<');
  if (entity == "gt") return out.push_back('>');
  if (entity == "quot") return out.push_back('"');
  if (entity == "apos") return out.push_back('\'');
  if (entity.size() > 1 && entity[0] == '#') {
    bool hex = entity[1] == 'x' || entity[1] == 'X';
    uint32_t cp = 0;
    for (char c : entity.substr(hex ? 2 : 1)) {
      int d = c >= '0' && c <= '9'          ? c - '0'
              : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : -1;
      if (d < 0 || cp > 0x10FFFF) return;
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
    }
    if (cp < 0x110000) append_utf8(out, cp);  // past U+10FFFF: not a character, dropped
  }
}

void append_text(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size(); ++i) {
    size_t amp = text.find('&', i);
    out.append(text.substr(i, amp - i));
    if (amp == std::string_view::npos) return;
    size_t semi = text.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 10) {
      out.push_back('&');
      i = amp;
      continue;
    }
    append_entity(text.substr(amp + 1, semi - amp - 1), out);
    i = semi;
  }
}

// Where the tag starting at `lt` ends ('>' outside quoted attribute values).
size_t tag_end(std::string_view xml, size_t lt) {
  char quote = 0;
  for (size_t i = lt + 1; i < xml.size(); ++i) {
    char c = xml[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string xml_text(std::string_view xml) {
  std::string out;
  int in_text = 0;  // depth of text-holding elements around the cursor
  size_t i = 0;
  while (i < xml.size()) {
    size_t lt = xml.find('<', i);
    if (in_text > 0) append_text(xml.substr(i, lt - i), out);
    if (lt == std::string_view::npos) break;
    if (xml.substr(lt, 9) == "<![CDATA[") {
      size_t close = xml.find("]]>", lt + 9);
      if (in_text > 0) out.append(xml.substr(lt + 9, close - (lt + 9)));
      i = close == std::string_view::npos ? xml.size() : close + 3;
      continue;
    }
    size_t gt = xml.substr(lt, 4) == "<!--" ? xml.find("-->", lt) : tag_end(xml, lt);
    if (gt == std::string_view::npos) break;
    std::string_view tag = xml.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    bool closing = tag[0] == '/';
    bool empty = tag.back() == '/';
    std::string_view name = local_name(closing ? tag.substr(1) : tag);
    if (holds_text(name)) {
      if (closing)
        in_text = std::max(0, in_text - 1);
      else if (!empty)
        ++in_text;
    } else if ((closing || empty) && (name == "p" || name == "si" || name == "row" ||
                                      name == "tr" || name == "br" || name == "cr")) {
      out.push_back('\n');
    } else if ((closing || empty) && (name == "c" || name == "tc" || name == "tab")) {
      out.push_back('\t');
    }
  }
  return out;
}

// --- which parts hold text -----------------------------------------------------------------

struct Part {
  zip_uint64_t index;
  std::string name;
  std::string label;
  uint64_t number;  // for ordering: slide2 before slide10
};

uint64_t number_in(std::string_view name) {
  size_t end = name.rfind(".xml");
  // Called for every entry, pictures and other non-XML parts included.
  if (end == std::string_view::npos) return 0;
  size_t begin = end;
  while (begin > 0 && name[begin - 1] >= '0' && name[begin - 1] <= '9') --begin;
  uint64_t n = 0;
  for (size_t k = begin; k < end && k < begin + 9; ++k)
    n = n * 10 + static_cast<uint64_t>(name[k] - '0');
  return n;
}

bool in_dir(std::string_view name, std::string_view dir, std::string_view stem) {
  if (!name.starts_with(dir) || !name.ends_with(".xml")) return false;
  std::string_view file = name.substr(dir.size());
  return file.find('/') == std::string_view::npos && file.starts_with(stem);
}

// The label of a part that holds text, or "" for one that does not.
std::string label_of(MediaKind kind, std::string_view name) {
  std::string n = std::to_string(number_in(name));
  if (kind == MediaKind::docx) {
    if (name == "word/document.xml") return "docx";
    for (std::string_view stem : {"header", "footer", "footnotes", "endnotes", "comments"})
      if (in_dir(name, "word/", stem))
        return "docx " + std::string(name.substr(5, name.size() - 9));
  } else if (kind == MediaKind::xlsx) {
    if (name == "xl/sharedStrings.xml") return "xlsx shared strings";
    if (in_dir(name, "xl/worksheets/", "sheet")) return "xlsx sheet" + n;
    if (in_dir(name, "xl/", "comments")) return "xlsx comments" + n;
  } else if (kind == MediaKind::pptx) {
    if (in_dir(name, "ppt/slides/", "slide")) return "pptx slide " + n;
    if (in_dir(name, "ppt/notesSlides/", "notesSlide")) return "pptx notes " + n;
    if (in_dir(name, "ppt/comments/", "")) return "pptx comments " + n;
  }
  return "";
}

MediaKind kind_of_archive(zip_t* z) {
  if (zip_name_locate(z, "word/document.xml", 0) >= 0) return MediaKind::docx;
  if (zip_name_locate(z, "xl/workbook.xml", 0) >= 0) return MediaKind::xlsx;
  if (zip_name_locate(z, "ppt/presentation.xml", 0) >= 0) return MediaKind::pptx;
  return MediaKind::unknown;
}

// Reads one part whole, refusing more than `limit` bytes whatever its header says.
bool read_part(zip_t* z, zip_uint64_t index, uint64_t limit, std::string& out) {
  ZipFile f(zip_fopen_index(z, index, 0));
  if (!f) return false;
  out.clear();
  char buf[64 * 1024];
  for (;;) {
    zip_int64_t n = zip_fread(f.get(), buf, sizeof buf);
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) return false;
  }
}

struct Archive {
  Zip zip;
  std::vector<Part> parts;
  MediaKind kind = MediaKind::unknown;
};

// Opens the archive and checks its entries against the zip-bomb limits; an outcome that is not
// ok says why it cannot be read.
ReadOutcome open_archive(std::string_view bytes, const OfficeLimits& limits, MediaKind expected,
                         Archive& a) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!src) return unreadable("libzip could not take the file");
  a.zip.reset(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  zip_error_fini(&error);
  if (!a.zip) {
    zip_source_free(src);
    return unreadable("not a zip archive that can be read (corrupt, truncated or encrypted)");
  }
  zip_int64_t entries = zip_get_num_entries(a.zip.get(), 0);
  if (entries < 0 || static_cast<uint64_t>(entries) > limits.max_entries)
    return unreadable(std::to_string(entries) + " zip entries, over the limit of " +
                      std::to_string(limits.max_entries) + " (built in: office.max_entries)");
  a.kind = kind_of_archive(a.zip.get());
  if (a.kind == MediaKind::unknown || (expected != MediaKind::office && expected != a.kind))
    return unreadable("not the DOCX, XLSX or PPTX it says it is (its parts are missing)");
  uint64_t total = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(entries); ++i) {
    zip_stat_t st;
    if (zip_stat_index(a.zip.get(), i, 0, &st) != 0) return unreadable("a damaged zip entry");
    if (st.encryption_method != ZIP_EM_NONE) return unreadable("encrypted zip entries");
    total += st.size;
    if (total > limits.max_uncompressed_bytes)
      return unreadable("its entries unpack to more than " +
                        size_name(limits.max_uncompressed_bytes) +
                        " (built in: office.max_uncompressed_bytes): a zip bomb");
    std::string label = label_of(a.kind, st.name);
    if (label.empty()) continue;
    if (st.size > (uint64_t{1} << 20) &&
        st.size / std::max<uint64_t>(st.comp_size, 1) > limits.max_ratio)
      return unreadable(std::string(st.name) + " is compressed more than " +
                        std::to_string(limits.max_ratio) +
                        ":1 (built in: office.max_ratio): a zip bomb");
    if (st.size > limits.max_part_bytes)
      return unreadable(std::string(st.name) + " is over the " + size_name(limits.max_part_bytes) +
                        " limit (built in: office.max_part_bytes)");
    a.parts.push_back({i, st.name, std::move(label), number_in(st.name)});
  }
  std::sort(a.parts.begin(), a.parts.end(), [](const Part& x, const Part& y) {
    std::string_view dx = std::string_view(x.name).substr(0, x.name.rfind('/'));
    std::string_view dy = std::string_view(y.name).substr(0, y.name.rfind('/'));
    return std::tie(dx, x.number, x.name) < std::tie(dy, y.number, y.name);
  });
  return {};
}

}  // namespace

ReadOutcome read_office(std::string_view bytes, const OfficeLimits& limits, MediaKind kind) {
  Clock clock(limits.budget);
  if (bytes.size() > limits.max_bytes)
    return unreadable("an office file of " + size_name(bytes.size()) + " is over the " +
                      size_name(limits.max_bytes) + " limit (built in: office.max_bytes)");
  Archive a;
  if (ReadOutcome o = open_archive(bytes, limits, kind, a); !o.ok()) return o;
  ReadOutcome out;
  uint64_t text_bytes = 0;
  std::string xml;
  for (const Part& p : a.parts) {
    if (clock.expired())
      return reader_util::timed_out("office file", clock, "documents.time_budget_ms");
    if (!read_part(a.zip.get(), p.index, limits.max_part_bytes, xml))
      return unreadable(p.name + " cannot be unpacked (damaged, or larger than it says)");
    std::string text = xml_text(xml);
    if (text.empty()) continue;
    text_bytes += text.size();
    if (text_bytes > limits.max_text_bytes)
      return reader_util::limit_text("office file", limits.max_text_bytes,
                                     "built-in limit office.max_text_bytes");
    out.pieces.push_back({p.label, std::move(text), false});
  }
  return out;
}

}  // namespace promptgate

// Media kinds, sniffing and data URL headers for attachments; see attachments.h.
#include "detectors/attachments.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace promptgate {
namespace {

std::string lower_ascii(std::string_view s, size_t cap) {
  std::string m(s.substr(0, cap));
  for (char& c : m)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  return m;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr std::string_view kDocx =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
constexpr std::string_view kXlsx =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
constexpr std::string_view kPptx =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";

}  // namespace

std::string_view media_type_name(MediaKind kind) {
  switch (kind) {
    case MediaKind::pdf:
      return "application/pdf";
    case MediaKind::png:
      return "image/png";
    case MediaKind::jpeg:
      return "image/jpeg";
    case MediaKind::gif:
      return "image/gif";
    case MediaKind::webp:
      return "image/webp";
    case MediaKind::docx:
      return kDocx;
    case MediaKind::xlsx:
      return kXlsx;
    case MediaKind::pptx:
      return kPptx;
    case MediaKind::office:
      return "application/vnd.openxmlformats-officedocument";
    case MediaKind::unknown:
      break;
  }
  return "";
}

MediaKind media_kind_of_type(std::string_view media_type) {
  std::string m = lower_ascii(trim(media_type.substr(0, media_type.find(';'))), 128);
  if (m == "application/pdf" || m == "application/x-pdf") return MediaKind::pdf;
  if (m == "image/png") return MediaKind::png;
  if (m == "image/jpeg" || m == "image/jpg" || m == "image/pjpeg") return MediaKind::jpeg;
  if (m == "image/gif") return MediaKind::gif;
  if (m == "image/webp") return MediaKind::webp;
  if (m == kDocx) return MediaKind::docx;
  if (m == kXlsx) return MediaKind::xlsx;
  if (m == kPptx) return MediaKind::pptx;
  return MediaKind::unknown;
}

MediaKind media_kind_of_format(std::string_view format) {
  std::string f = lower_ascii(format, 16);
  if (f == "pdf") return MediaKind::pdf;
  if (f == "png") return MediaKind::png;
  if (f == "jpeg" || f == "jpg") return MediaKind::jpeg;
  if (f == "gif") return MediaKind::gif;
  if (f == "webp") return MediaKind::webp;
  if (f == "docx") return MediaKind::docx;
  if (f == "xlsx") return MediaKind::xlsx;
  if (f == "pptx") return MediaKind::pptx;
  return MediaKind::unknown;
}

MediaKind sniff_media(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.starts_with(magic); };
  if (starts("\x89PNG\r\n\x1a\n")) return MediaKind::png;
  if (starts("\xFF\xD8\xFF")) return MediaKind::jpeg;
  if (starts("GIF87a") || starts("GIF89a")) return MediaKind::gif;
  if (head.size() >= 12 && starts("RIFF") && head.substr(8, 4) == "WEBP") return MediaKind::webp;
  if (starts(std::string_view("PK\x03\x04", 4)) && head.size() >= 30) {
    // The first local file header's name: OOXML writers put [Content_Types].xml first.
    size_t name_len = static_cast<unsigned char>(head[26]) |
                      static_cast<size_t>(static_cast<unsigned char>(head[27])) << 8;
    if (head.substr(30, name_len) == "[Content_Types].xml") return MediaKind::office;
    return MediaKind::unknown;
  }
  // Readers (and the APIs' own) accept a PDF header anywhere in the first kilobyte.
  if (head.substr(0, 1024).find("%PDF-") != std::string_view::npos) return MediaKind::pdf;
  return MediaKind::unknown;
}

MediaKind resolve_media(MediaKind sniffed, MediaKind declared) {
  if (sniffed == MediaKind::office && is_office(declared)) return declared;
  return sniffed != MediaKind::unknown ? sniffed : declared;
}

bool is_picture(MediaKind kind) {
  return kind == MediaKind::png || kind == MediaKind::jpeg || kind == MediaKind::gif ||
         kind == MediaKind::webp;
}

bool is_office(MediaKind kind) {
  return kind == MediaKind::docx || kind == MediaKind::xlsx || kind == MediaKind::pptx ||
         kind == MediaKind::office;
}

std::string Attachment::sha256_hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : sha256) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string_view read_status_name(ReadStatus status) {
  switch (status) {
    case ReadStatus::ok:
      return "ok";
    case ReadStatus::unreadable:
      return "unreadable";
    case ReadStatus::timeout:
      return "timeout";
  }
  return "unreadable";
}

namespace attachment_detail {

bool parse_data_url_header(std::string_view header, std::string_view& media_type, bool& base64) {
  if (header.size() < 5 || lower_ascii(header, 5) != "data:") return false;
  std::string_view rest = header.substr(5);
  size_t semi = rest.find(';');
  media_type = trim(rest.substr(0, semi));
  base64 = false;
  while (semi != std::string_view::npos) {
    rest = rest.substr(semi + 1);
    semi = rest.find(';');
    if (lower_ascii(trim(rest.substr(0, semi)), 8) == "base64") base64 = semi == rest.npos;
  }
  return true;
}

void sha256(std::string_view bytes, std::array<unsigned char, 32>& out) {
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
    out.fill(0);
}

}  // namespace attachment_detail
}  // namespace promptgate

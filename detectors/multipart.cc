// multipart/form-data parts and the attachments among them; see multipart.h.
#include "detectors/multipart.h"

#include <algorithm>

namespace promptgate {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The value of parameter `name` in "type; a=1; name=\"x\"" (quotes and backslash escapes
// undone); nullopt when absent.
std::optional<std::string> parameter(std::string_view header, std::string_view name) {
  const size_t n = header.size();
  size_t i = header.find(';');
  while (i < n) {
    ++i;  // past the ';'
    size_t key_begin = i;
    while (i < n && header[i] != '=' && header[i] != ';') ++i;
    std::string_view key = trim(header.substr(key_begin, i - key_begin));
    std::string value;
    if (i < n && header[i] == '=') {
      ++i;
      while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
      if (i < n && header[i] == '"') {
        for (++i; i < n && header[i] != '"'; ++i) {
          if (header[i] == '\\' && i + 1 < n) ++i;
          value.push_back(header[i]);
        }
        i = std::min(header.find(';', i), n);
      } else {
        size_t end = std::min(header.find(';', i), n);
        value = std::string(trim(header.substr(i, end - i)));
        i = end;
      }
    }
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

// Reads a part's header lines from `head`; false if a line is not "Name: value".
bool parse_part_head(std::string_view head, MultipartPart& part) {
  while (!head.empty()) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      part.name = parameter(value, "name").value_or("");
      part.filename = parameter(value, "filename").value_or("");
    } else if (iequals(name, "content-type")) {
      part.content_type = std::string(value.substr(0, 256));
    }
  }
  return true;
}

// A file name as shown in a location: its last path component, printable ASCII, at most 80
// characters.
std::string shown_filename(std::string_view filename) {
  size_t slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  std::string out;
  for (char c : filename.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
  return out;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  std::string_view type = trim(content_type.substr(0, content_type.find(';')));
  if (type.size() < 10 || !iequals(type.substr(0, 10), "multipart/")) return std::nullopt;
  std::string boundary = parameter(content_type, "boundary").value_or("");
  if (boundary.empty() || boundary.size() > 70) return std::string();
  return boundary;
}

bool split_multipart(std::string_view body, std::string_view boundary,
                     std::vector<MultipartPart>& parts, std::string& error,
                     const MultipartLimits& limits) {
  parts.clear();
  if (boundary.empty()) {
    error = "the multipart Content-Type has no usable boundary parameter";
    return false;
  }
  const std::string delimiter = "--" + std::string(boundary);
  // The first delimiter may follow a preamble; later ones start a line.
  size_t at = body.starts_with(delimiter) ? 0 : body.find("\r\n" + delimiter);
  if (at == std::string_view::npos) {
    error = "the multipart body has no opening boundary line";
    return false;
  }
  if (at != 0) at += 2;
  const std::string next_delimiter = "\r\n" + delimiter;
  for (;;) {
    size_t after = at + delimiter.size();
    if (body.substr(after, 2) == "--") return true;  // the closing delimiter
    size_t eol = body.find("\r\n", after);
    if (eol == std::string_view::npos) break;
    if (parts.size() >= limits.max_parts) {
      error = "the multipart body has more than " + std::to_string(limits.max_parts) + " parts";
      return false;
    }
    MultipartPart part;
    part.head_begin = eol + 2;
    size_t head_end = body.find("\r\n\r\n", eol);
    bool empty_head = body.substr(eol + 2, 2) == "\r\n";
    if (empty_head) head_end = eol;
    if (head_end == std::string_view::npos || head_end - eol > limits.max_head_bytes) {
      error = "a multipart part's header lines do not end within " +
              std::to_string(limits.max_head_bytes) + " bytes";
      return false;
    }
    if (!empty_head && !parse_part_head(body.substr(eol + 2, head_end - eol - 2), part)) {
      error = "a multipart part has a malformed header line";
      return false;
    }
    part.begin = head_end + 4;
    size_t close = body.find(next_delimiter, part.begin);
    if (close == std::string_view::npos) break;
    part.end = close;
    parts.push_back(std::move(part));
    at = close + 2;
  }
  error = "the multipart body ends before its closing boundary line";
  return false;
}

MediaKind media_kind_of_filename(std::string_view filename) {
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos) return MediaKind::unknown;
  std::string ext;
  for (char c : filename.substr(dot + 1, 6)) ext.push_back(lower(c));
  if (ext == "jpg") return MediaKind::jpeg;
  return media_kind_of_format(ext);
}

std::vector<Attachment> multipart_attachments(std::string_view body,
                                              const std::vector<MultipartPart>& parts,
                                              const AttachmentLimits& limits,
                                              std::span<const Finding> text_findings) {
  std::vector<Attachment> out;
  if (!limits.collect) return out;
  uint64_t kept_bytes = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const MultipartPart& p = parts[i];
    std::string_view content = body.substr(p.begin, p.end - p.begin);
    MediaKind declared = media_kind_of_type(p.content_type);
    if (declared == MediaKind::unknown) declared = media_kind_of_filename(p.filename);
    MediaKind kind = resolve_media(sniff_media(content.substr(0, 1024)), declared);
    if (kind == MediaKind::unknown) continue;

    Attachment a;
    a.kind = kind;
    a.raw_begin = p.begin;
    a.raw_end = p.end;
    a.decoded_size = content.size();
    bool name_has_finding = std::any_of(text_findings.begin(), text_findings.end(), [&](auto& f) {
      return f.start < p.begin && f.end > p.head_begin;
    });
    a.location = "multipart part " + std::to_string(i + 1) + " \"" + shown_filename(p.name) + "\"";
    if (!p.filename.empty())
      a.location +=
          name_has_finding ? " (file name withheld)" : " (" + shown_filename(p.filename) + ")";
    if (out.size() >= limits.max_attachments) {
      a.unreadable = true;
      a.reason = "more than " + std::to_string(limits.max_attachments) +
                 " attachments in one request (max_attachments)";
    } else if (content.size() > limits.max_attachment_bytes) {
      a.unreadable = true;
      a.reason = "larger than the " + std::to_string(limits.max_attachment_bytes >> 20) +
                 " MiB limit per attachment (max_attachment_bytes)";
    } else if (kept_bytes + content.size() > limits.max_request_bytes) {
      a.unreadable = true;
      a.reason = "the request's attachments are over the " +
                 std::to_string(limits.max_request_bytes >> 20) + " MiB limit (max_request_bytes)";
    } else {
      a.bytes = std::string(content);
      kept_bytes += content.size();
      attachment_detail::sha256(a.bytes, a.sha256);
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace promptgate

// Attachments a model reads (PDFs, pictures, office files) found inside a JSON request body, and
// the text a reader got out of one.
//
// While a body is scanned, the JSON decoder collects every binary attachment of the request
// formats promptgate intercepts into ScanResult::attachments (engine.h):
//   Anthropic  {"type":"document"|"image","source":{"type":"base64","media_type":..,"data":..}}
//              (also inside tool_result content)           location: messages[2].content[0].source
//   OpenAI     "file_data" and "image_url" / "image_url.url" data URLs (data:<type>;base64,...)
//                                                           location: the string's own path
//   Gemini     {"inlineData"|"inline_data":{"mimeType"|"mime_type":..,"data":..}}
//                                                           location:
//                                                           contents[0].parts[1].inlineData
//   Bedrock    {"document"|"image":{"format":"pdf",..,"source":{"bytes":..}}}
//                                                           location: ...content[0].document.source
// What the decoded bytes start with decides the kind (%PDF-, PNG, JPEG, GIF, WebP, a zip whose
// first entry is [Content_Types].xml); the declared type decides when the bytes say nothing
// (and which office format a zip is). Anything else (audio, plain zip, text) is no attachment.
// Bounded: AttachmentLimits caps the decoded bytes kept per attachment and per request and the
// number of attachments; one over a cap is still listed, `unreadable` with the reason.
//
// A reader (detectors/readers/readers.h, a library of its own) turns an attachment into text
// pieces (ReadOutcome); scan_attachment_text() (attachment_scan.h) scans them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

enum class MediaKind : uint8_t {
  unknown,  // not (yet) known to be an attachment a reader handles
  pdf,
  png,
  jpeg,
  gif,
  webp,
  docx,
  xlsx,
  pptx,
  office,  // a zip with [Content_Types].xml: an office file, which one its parts say
};

// "application/pdf", "image/png", ...; "" for unknown.
std::string_view media_type_name(MediaKind kind);
// A declared MIME type (case-insensitive, parameters after ';' ignored); unknown if it is none
// of the kinds above.
MediaKind media_kind_of_type(std::string_view media_type);
// A Bedrock Converse "format" ("pdf", "png", "jpeg", "docx", ...).
MediaKind media_kind_of_format(std::string_view format);
// What the first bytes of a decoded attachment say (64 bytes are enough).
MediaKind sniff_media(std::string_view head);
// The kind an attachment is read as: the bytes win, the declared type breaks ties.
MediaKind resolve_media(MediaKind sniffed, MediaKind declared);
bool is_picture(MediaKind kind);
bool is_office(MediaKind kind);

struct AttachmentLimits {
  bool collect = true;                                 // false: no attachments are collected
  uint64_t max_attachment_bytes = uint64_t{32} << 20;  // decoded bytes kept per attachment
  uint64_t max_request_bytes = uint64_t{32} << 20;     // decoded bytes kept per request
  size_t max_attachments = 256;                        // per request
};

struct Attachment {
  std::string location;  // JSON path, as in findings
  MediaKind kind = MediaKind::unknown;
  std::string bytes;  // decoded; empty when unreadable
  // The encoded string's content in the raw body, [raw_begin, raw_end) (quotes excluded; for a
  // data URL the whole URL).
  uint64_t raw_begin = 0, raw_end = 0;
  uint64_t decoded_size = 0;  // bytes.size(), or an estimate from the encoded length over a cap
  std::array<unsigned char, 32> sha256{};  // of bytes (for caching); all zero when unreadable
  bool unreadable = false;                 // over a cap: nothing was kept, and nothing can be read
  std::string reason;                      // why, naming the limit

  std::string_view media_type() const { return media_type_name(kind); }
  std::string sha256_hex() const;
};

// --- what a reader returns ---------------------------------------------------------------------

struct TextPiece {
  std::string label;  // "pdf page 3", "picture, ocr", "docx", "xlsx sheet 2"
  std::string text;   // UTF-8
  bool ocr = false;   // read by OCR: scanned with OCR's confusions undone
};

enum class ReadStatus : uint8_t {
  ok,          // every piece of text the attachment holds is in `pieces`
  unreadable,  // encrypted, corrupt, over a limit, unsupported: `reason` says which
  timeout,     // the time budget ran out (pictures: OCR; documents: between pages/parts)
};

struct ReadOutcome {
  ReadStatus status = ReadStatus::ok;
  std::string reason;  // for unreadable and timeout, naming the limit or the defect
  std::vector<TextPiece> pieces;
  bool ok() const { return status == ReadStatus::ok; }
};

std::string_view read_status_name(ReadStatus status);  // "ok", "unreadable", "timeout"

// For the JSON decoder.
namespace attachment_detail {
// "data:<type>[;param]*[;base64]" (the part before the comma); false if it is not a data URL.
bool parse_data_url_header(std::string_view header, std::string_view& media_type, bool& base64);
void sha256(std::string_view bytes, std::array<unsigned char, 32>& out);
}  // namespace attachment_detail

}  // namespace promptgate

// multipart/form-data bodies (RFC 7578), the way the model vendors' file APIs receive uploads
// (Anthropic and OpenAI `POST /v1/files`, Gemini's multipart upload). The body is scanned as
// text like any other (text files and form fields are found there, redactable in place); this
// module finds the parts a reader must open (PDF, pictures, DOCX / XLSX / PPTX), which are
// binary, and lists them as attachments for the read stage.
//
//   auto boundary = multipart_boundary(content_type);    // nullopt: not multipart
//   std::vector<MultipartPart> parts;
//   std::string error;
//   if (!split_multipart(body, *boundary, parts, error)) refuse(error);
//   std::vector<Attachment> more = multipart_attachments(body, parts, limits, findings);
//
// Bounded: at most MultipartLimits::max_parts parts and a part head of at most max_head_bytes;
// the attachments keep AttachmentLimits like those of JSON bodies. The parser works on the
// whole (decoded) body in place: parts are offsets into it, nothing is copied until a part is
// kept as an attachment.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/attachments.h"
#include "detectors/engine.h"

namespace promptgate {

struct MultipartPart {
  std::string name;          // the form field ("file", "purpose"); "" if the head names none
  std::string filename;      // "" for a field that is not a file
  std::string content_type;  // as declared ("" when absent)
  uint64_t head_begin = 0;   // the part's head (its header lines), for findings that lie there
  uint64_t begin = 0;        // the part's content in the body, [begin, end)
  uint64_t end = 0;
};

struct MultipartLimits {
  size_t max_parts = 1000;
  size_t max_head_bytes = 16 * 1024;
};

// The boundary parameter of a multipart/* Content-Type (quoted or not, 1..70 characters); nullopt
// when the type is not multipart. A multipart type without a usable boundary gives "".
std::optional<std::string> multipart_boundary(std::string_view content_type);

// Splits a body at "--boundary" delimiter lines. False, with `error` naming the defect (never a
// value from the body), when the body has no opening or closing delimiter, a part head is not
// terminated within the limit, or there are more parts than allowed.
bool split_multipart(std::string_view body, std::string_view boundary,
                     std::vector<MultipartPart>& parts, std::string& error,
                     const MultipartLimits& limits = {});

// The parts a reader opens, as attachments located `multipart part 2 "file" (report.pdf)`: the
// kind comes from the part's bytes, then its declared type, then its file name's extension. The
// file name is left out of the location (`(file name withheld)`) when a finding of the text scan
// lies in the part's head, so a value used as a file name is not repeated in the audit log.
std::vector<Attachment> multipart_attachments(std::string_view body,
                                              const std::vector<MultipartPart>& parts,
                                              const AttachmentLimits& limits,
                                              std::span<const Finding> text_findings);

// "report.PDF" -> pdf, "notes.docx" -> docx, ...; unknown for any other name.
MediaKind media_kind_of_filename(std::string_view filename);

}  // namespace promptgate

// libFuzzer target: multipart/form-data uploads (detectors/multipart.h): the boundary read from a
// Content-Type, the body split into parts, and the parts a reader opens listed as attachments,
// with a text-scan finding placed at a fuzzer-chosen offset. A split that succeeds has its parts
// inside the body, in order, each head before its content; the attachments are exactly the
// bytes of their parts, within the attachment limits, and a file name with a finding in its
// part's head is withheld from the location.
// Input: [finding offset selector] then the Content-Type value, a newline, and the body.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/multipart.h"
#include "tests/fuzz/fuzz_util.h"

using namespace promptgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string_view content_type = rest.substr(0, nl);
  std::string_view body = rest.substr(nl + 1);
  auto boundary = multipart_boundary(content_type);
  if (!boundary) return 0;
  FUZZ_CHECK(boundary->size() <= 70, "a boundary has at most 70 characters");
  MultipartLimits limits;
  limits.max_parts = 16;
  limits.max_head_bytes = 512;
  std::vector<MultipartPart> parts;
  std::string error;
  if (!split_multipart(body, *boundary, parts, error, limits)) {
    FUZZ_CHECK(!error.empty(), "a refused body names its defect");
    return 0;
  }
  FUZZ_CHECK(parts.size() <= limits.max_parts, "at most max_parts parts");
  uint64_t previous_end = 0;
  for (const auto& p : parts) {
    FUZZ_CHECK(previous_end <= p.head_begin && p.head_begin <= p.begin && p.begin <= p.end &&
                   p.end <= body.size(),
               "parts lie inside the body, in order");
    FUZZ_CHECK(p.begin - p.head_begin <= limits.max_head_bytes + 4, "a part head within its limit");
    previous_end = p.end;
  }
  Finding finding{};
  finding.start = body.size() * data[0] / 256;
  finding.end = std::min<uint64_t>(finding.start + 4, body.size());
  AttachmentLimits attachment_limits;
  attachment_limits.max_attachments = 3;
  attachment_limits.max_attachment_bytes = 2048;
  attachment_limits.max_request_bytes = 4096;
  auto attachments = multipart_attachments(body, parts, attachment_limits, {&finding, 1});
  FUZZ_CHECK(attachments.size() <= parts.size(), "at most one attachment per part");
  uint64_t kept = 0, kept_count = 0;
  for (const auto& a : attachments) {
    FUZZ_CHECK(a.raw_begin <= a.raw_end && a.raw_end <= body.size(), "inside the body");
    if (a.unreadable) {
      FUZZ_CHECK(a.bytes.empty() && !a.reason.empty(), "an unreadable attachment says why");
      continue;
    }
    FUZZ_CHECK(a.bytes == body.substr(a.raw_begin, a.raw_end - a.raw_begin),
               "an attachment is its part's bytes");
    FUZZ_CHECK(a.bytes.size() <= attachment_limits.max_attachment_bytes, "per-attachment limit");
    kept += a.bytes.size();
    ++kept_count;
  }
  FUZZ_CHECK(kept <= attachment_limits.max_request_bytes, "per-request limit");
  FUZZ_CHECK(kept_count <= attachment_limits.max_attachments, "attachment count limit");
  for (const auto& p : parts) {
    if (p.filename.empty() || !(finding.start < p.begin && finding.end > p.head_begin)) continue;
    for (const auto& a : attachments)
      if (a.raw_begin == p.begin && a.raw_end == p.end)
        FUZZ_CHECK(a.location.ends_with("(file name withheld)"),
                   "a file name with a finding in its head is withheld");
  }
  return 0;
}

// multipart/form-data uploads (multipart.h): boundaries, splitting (offsets, heads, preamble,
// malformed bodies and limits), and which parts become attachments for the readers.
#include <catch2/catch.hpp>

#include "detectors/multipart.h"

using namespace promptgate;

namespace {

const std::string kPdf = "%PDF-1.4\n1 0 obj\n<< >>\nendobj\ntrailer\n<< >>\n%%EOF\n";

std::string part(const std::string& head, const std::string& content) {
  return "--b0und\r\n" + head + "\r\n\r\n" + content + "\r\n";
}

const std::string kUpload =
    "preamble, ignored\r\n" +
    part("Content-Disposition: form-data; name=\"purpose\"", "assistants") +
    part(
        "content-disposition: form-data; name=\"file\"; filename=\"C:\\\\docs\\\\run book.pdf\"\r\n"
        "Content-Type: application/octet-stream",
        kPdf) +
    part(
        "Content-Disposition: form-data; name=\"notes\"; filename=\"notes.txt\"\r\n"
        "Content-Type: text/plain",
        "plain text, scanned as the body") +
    "--b0und--\r\n";

}  // namespace

TEST_CASE("multipart: the boundary of a Content-Type", "[multipart]") {
  CHECK(multipart_boundary("multipart/form-data; boundary=abc") == "abc");
  CHECK(multipart_boundary("Multipart/Form-Data ; charset=utf-8; BOUNDARY=\"a b;c\"") == "a b;c");
  CHECK(multipart_boundary("multipart/form-data") == "");
  CHECK(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')) == "");
  CHECK_FALSE(multipart_boundary("application/json").has_value());
  CHECK_FALSE(multipart_boundary("text/plain; boundary=abc").has_value());
}

TEST_CASE("multipart: parts, their heads and their content offsets", "[multipart]") {
  std::vector<MultipartPart> parts;
  std::string error;
  REQUIRE(split_multipart(kUpload, "b0und", parts, error));
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].name == "purpose");
  CHECK(parts[0].filename.empty());
  CHECK(kUpload.substr(parts[0].begin, parts[0].end - parts[0].begin) == "assistants");
  CHECK(parts[1].name == "file");
  CHECK(parts[1].filename == "C:\\docs\\run book.pdf");
  CHECK(parts[1].content_type == "application/octet-stream");
  CHECK(kUpload.substr(parts[1].begin, parts[1].end - parts[1].begin) == kPdf);
  CHECK(kUpload.substr(parts[1].head_begin, 19) == "content-disposition");
  CHECK(parts[2].content_type == "text/plain");
}

TEST_CASE("multipart: malformed bodies and limits are named, never read in part", "[multipart]") {
  std::vector<MultipartPart> parts;
  std::string error;
  CHECK_FALSE(split_multipart(kUpload, "", parts, error));
  CHECK(error.find("boundary parameter") != std::string::npos);
  CHECK_FALSE(split_multipart(kUpload, "other", parts, error));
  CHECK(error.find("no opening boundary") != std::string::npos);
  std::string torn = kUpload.substr(0, kUpload.size() - 12);
  CHECK_FALSE(split_multipart(torn, "b0und", parts, error));
  CHECK(error.find("closing boundary") != std::string::npos);
  CHECK_FALSE(split_multipart(part("no colon here", "x") + "--b0und--", "b0und", parts, error));
  CHECK(error.find("malformed header line") != std::string::npos);
  MultipartLimits two_parts{.max_parts = 2};
  CHECK_FALSE(split_multipart(kUpload, "b0und", parts, error, two_parts));
  CHECK(error.find("more than 2 parts") != std::string::npos);
  MultipartLimits short_heads{.max_head_bytes = 40};
  CHECK_FALSE(split_multipart(kUpload, "b0und", parts, error, short_heads));
  CHECK(error.find("within 40 bytes") != std::string::npos);
  // An empty form (only the closing delimiter) has no parts and is well-formed.
  CHECK(split_multipart("--b0und--\r\n", "b0und", parts, error));
  CHECK(parts.empty());
}

TEST_CASE("multipart: files a reader opens become attachments", "[multipart]") {
  std::vector<MultipartPart> parts;
  std::string error;
  REQUIRE(split_multipart(kUpload, "b0und", parts, error));
  std::vector<Attachment> listed = multipart_attachments(kUpload, parts, {}, {});
  REQUIRE(listed.size() == 1);              // the text part and the form field are no attachments
  CHECK(listed[0].kind == MediaKind::pdf);  // by its bytes, whatever the declared type
  CHECK(listed[0].location == "multipart part 2 \"file\" (run book.pdf)");
  CHECK(listed[0].bytes == kPdf);
  CHECK(listed[0].raw_begin == parts[1].begin);
  CHECK(listed[0].raw_end == parts[1].end);
  CHECK(listed[0].sha256_hex() != std::string(64, '0'));

  SECTION("a file name holding a finding is withheld from the location") {
    Finding in_head;
    in_head.start = parts[1].head_begin + 50;
    in_head.end = in_head.start + 20;
    std::vector<Finding> findings{in_head};
    auto withheld = multipart_attachments(kUpload, parts, {}, findings);
    CHECK(withheld[0].location == "multipart part 2 \"file\" (file name withheld)");
  }
  SECTION("over the per-attachment cap: listed unreadable, naming the limit") {
    AttachmentLimits tiny;
    tiny.max_attachment_bytes = 10;
    auto capped = multipart_attachments(kUpload, parts, tiny, {});
    REQUIRE(capped.size() == 1);
    CHECK(capped[0].unreadable);
    CHECK(capped[0].bytes.empty());
    CHECK(capped[0].reason.find("max_attachment_bytes") != std::string::npos);
  }
  SECTION("collection off lists nothing") {
    AttachmentLimits off;
    off.collect = false;
    CHECK(multipart_attachments(kUpload, parts, off, {}).empty());
  }
}

TEST_CASE("multipart: an office file is known by its extension when its bytes do not say",
          "[multipart]") {
  CHECK(media_kind_of_filename("Q3 report.DOCX") == MediaKind::docx);
  CHECK(media_kind_of_filename("screen.jpg") == MediaKind::jpeg);
  CHECK(media_kind_of_filename("archive.zip") == MediaKind::unknown);
  CHECK(media_kind_of_filename("noext") == MediaKind::unknown);
  std::string zip("PK\x03\x04", 4);
  zip += std::string(40, 'z');  // a zip whose first entry is not [Content_Types].xml
  std::string body =
      part("Content-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"", zip) +
      "--b0und--\r\n";
  std::vector<MultipartPart> parts;
  std::string error;
  REQUIRE(split_multipart(body, "b0und", parts, error));
  auto listed = multipart_attachments(body, parts, {}, {});
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].kind == MediaKind::xlsx);
}

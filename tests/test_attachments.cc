// Attachments collected while a JSON body is scanned (attachments.h): every vendor's fields,
// locations, raw ranges, kinds, caps, stream mode at every split, incremental scanning, and
// scanning what a reader returned (attachment_scan.h), with OCR's confusions.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "detectors/attachment_scan.h"
#include "detectors/engine.h"
#include "detectors/ocr_confusions.h"
#include "detectors/redactor.h"
#include "detectors/transcript.h"
#include "tests/synthetic.h"

using namespace promptgate;
using promptgate::testing::base64_encode;
using json = nlohmann::ordered_json;

namespace {

const std::string kPdf = "%PDF-1.4\n1 0 obj\n<< >>\nendobj\ntrailer\n<< >>\n%%EOF\n";
const std::string kPng = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + "not really a png";
const std::string kJpeg = "\xFF\xD8\xFF\xE0 jpeg bytes";
// A zip whose first entry is [Content_Types].xml: what sniffing looks at.
std::string office_zip() {
  std::string z("PK\x03\x04", 4);
  z += std::string(22, '\0');
  z += std::string("\x13\x00\x00\x00", 4);  // name length 19, extra length 0
  z += "[Content_Types].xml";
  return z + "<Types/>";
}

Scanner make_scanner() {
  return Scanner(testing::test_rules(), testing::test_key());
}

json user(json content) {
  return {{"role", "user"}, {"content", std::move(content)}};
}

json anthropic_doc(const std::string& type, const std::string& media, const std::string& bytes) {
  return {{"type", type},
          {"source", {{"type", "base64"}, {"media_type", media}, {"data", base64_encode(bytes)}}}};
}

// The raw range of an attachment is the encoded string's content.
void check_raw(const std::string& body, const Attachment& a, const std::string& encoded) {
  REQUIRE(a.raw_end >= a.raw_begin);
  CHECK(body.substr(a.raw_begin, a.raw_end - a.raw_begin) == encoded);
  CHECK(body[a.raw_begin - 1] == '"');
  CHECK(body[a.raw_end] == '"');
}

std::vector<Attachment> stream_attachments(Scanner& s, const std::string& body, size_t chunk) {
  auto stream = s.open_stream(InputFormat::json);
  for (size_t at = 0; at < body.size(); at += chunk)
    REQUIRE(stream->write(std::string_view(body).substr(at, chunk)));
  ScanResult r = stream->finish();
  REQUIRE(r.ok());
  return std::move(r.attachments);
}

}  // namespace

TEST_CASE("Anthropic document and image blocks are listed with their location and bytes",
          "[attachments]") {
  json body = {{"model", "m"},
               {"messages",
                {user("hello"), user({{{"type", "text"}, {"text", "PDF file read: a.pdf"}},
                                      anthropic_doc("document", "application/pdf", kPdf),
                                      anthropic_doc("image", "image/png", kPng)})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  ScanResult r = s.scan(raw, InputFormat::json);
  REQUIRE(r.ok());
  REQUIRE(r.attachments.size() == 2);
  const Attachment& pdf = r.attachments[0];
  CHECK(pdf.location == "messages[1].content[1].source");
  CHECK(pdf.kind == MediaKind::pdf);
  CHECK(pdf.media_type() == "application/pdf");
  CHECK(pdf.bytes == kPdf);
  CHECK(pdf.decoded_size == kPdf.size());
  CHECK_FALSE(pdf.unreadable);
  check_raw(raw, pdf, base64_encode(kPdf));
  std::array<unsigned char, 32> digest;
  attachment_detail::sha256(kPdf, digest);
  CHECK(pdf.sha256 == digest);
  CHECK(pdf.sha256_hex().size() == 64);
  CHECK(r.attachments[1].location == "messages[1].content[2].source");
  CHECK(r.attachments[1].kind == MediaKind::png);
  CHECK(r.attachments[1].bytes == kPng);
}

TEST_CASE("a document inside tool_result content, members in any order", "[attachments]") {
  json source = {
      {"data", base64_encode(kPdf)}, {"media_type", "application/pdf"}, {"type", "base64"}};
  json body = {{"messages",
                {user({{{"type", "tool_result"},
                        {"tool_use_id", "t1"},
                        {"content",
                         {{{"type", "text"}, {"text", "PDF file read"}},
                          {{"type", "document"}, {"source", source}}}}}})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  ScanResult r = s.scan(raw, InputFormat::json);
  REQUIRE(r.attachments.size() == 1);
  CHECK(r.attachments[0].location == "messages[0].content[0].content[1].source");
  CHECK(r.attachments[0].kind == MediaKind::pdf);
  check_raw(raw, r.attachments[0], base64_encode(kPdf));
}

TEST_CASE("OpenAI data URLs: file_data, image_url.url and a bare image_url", "[attachments]") {
  std::string pdf_url = "data:application/pdf;base64," + base64_encode(kPdf);
  std::string png_url = "data:image/png;base64," + base64_encode(kPng);
  std::string jpeg_url = "data:image/jpeg;name=x.jpg;base64," + base64_encode(kJpeg);
  json body = {
      {"messages",
       {user({{{"type", "file"}, {"file", {{"filename", "a.pdf"}, {"file_data", pdf_url}}}},
              {{"type", "image_url"}, {"image_url", {{"url", png_url}, {"detail", "high"}}}},
              {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/x.png"}}}},
              {{"type", "input_image"}, {"image_url", jpeg_url}},
              {{"type", "text"}, {"text", "data:image/png;base64," + base64_encode(kPng)}}})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  ScanResult r = s.scan(raw, InputFormat::json);
  REQUIRE(r.attachments.size() == 3);
  CHECK(r.attachments[0].location == "messages[0].content[0].file.file_data");
  CHECK(r.attachments[0].kind == MediaKind::pdf);
  CHECK(r.attachments[0].bytes == kPdf);
  check_raw(raw, r.attachments[0], pdf_url);
  CHECK(r.attachments[1].location == "messages[0].content[1].image_url.url");
  CHECK(r.attachments[1].kind == MediaKind::png);
  CHECK(r.attachments[2].location == "messages[0].content[3].image_url");
  CHECK(r.attachments[2].kind == MediaKind::jpeg);
  CHECK(r.attachments[2].bytes == kJpeg);
}

TEST_CASE("Gemini inlineData and inline_data", "[attachments]") {
  json body = {
      {"contents",
       {{{"role", "user"},
         {"parts",
          {{{"text", "read this"}},
           {{"inlineData", {{"mimeType", "application/pdf"}, {"data", base64_encode(kPdf)}}}},
           {{"inline_data", {{"data", base64_encode(kPng)}, {"mime_type", "image/png"}}}}}}}}}};
  Scanner s = make_scanner();
  ScanResult r = s.scan(body.dump(), InputFormat::json);
  REQUIRE(r.attachments.size() == 2);
  CHECK(r.attachments[0].location == "contents[0].parts[1].inlineData");
  CHECK(r.attachments[0].kind == MediaKind::pdf);
  CHECK(r.attachments[1].location == "contents[0].parts[2].inline_data");
  CHECK(r.attachments[1].kind == MediaKind::png);
}

TEST_CASE("Gemini and Bedrock text documents are decoded and scanned too", "[attachments]") {
  std::string token = testing::github_token(7);
  std::string text = "config\nGITHUB_TOKEN=" + token + "\n";
  Scanner s = make_scanner();
  json gemini = {
      {"contents",
       {{{"parts",
          {{{"inlineData", {{"mimeType", "text/plain"}, {"data", base64_encode(text)}}}}}}}}}};
  ScanResult g = s.scan(gemini.dump(), InputFormat::json);
  REQUIRE(g.findings.size() == 1);
  CHECK(g.findings[0].in_base64);
  CHECK(g.attachments.empty());
  json bedrock = {{"messages",
                   {user({{{"document",
                            {{"name", "notes"},
                             {"format", "txt"},
                             {"source", {{"bytes", base64_encode(text)}}}}}}})}}};
  ScanResult b = s.scan(bedrock.dump(), InputFormat::json);
  REQUIRE(b.findings.size() == 1);
  CHECK(b.findings[0].in_base64);
  CHECK(b.attachments.empty());
}

TEST_CASE("Bedrock Converse document and image bytes, format before or after", "[attachments]") {
  json body = {
      {"messages",
       {user({{{"document",
                {{"format", "pdf"},
                 {"name", "report"},
                 {"source", {{"bytes", base64_encode(kPdf)}}}}}},
              {{"image", {{"source", {{"bytes", base64_encode(kPng)}}}, {"format", "png"}}}},
              {{"document",
                {{"source", {{"bytes", base64_encode(office_zip())}}},
                 {"name", "memo"},
                 {"format", "docx"}}}}})}}};
  Scanner s = make_scanner();
  ScanResult r = s.scan(body.dump(), InputFormat::json);
  REQUIRE(r.attachments.size() == 3);
  CHECK(r.attachments[0].location == "messages[0].content[0].document.source");
  CHECK(r.attachments[0].kind == MediaKind::pdf);
  CHECK(r.attachments[1].location == "messages[0].content[1].image.source");
  CHECK(r.attachments[1].kind == MediaKind::png);
  CHECK(r.attachments[2].kind == MediaKind::docx);  // the zip says office, the format which
}

TEST_CASE("the bytes decide the kind: what no reader handles is not listed", "[attachments]") {
  const std::string docx_type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  json body = {
      {"messages",
       {user({anthropic_doc("document", docx_type, office_zip()),
              anthropic_doc("document", "application/octet-stream", office_zip()),
              anthropic_doc("document", "application/octet-stream", kPdf),
              anthropic_doc("image", "image/png", kJpeg),  // mislabelled: read as what it is
              anthropic_doc("document", "application/pdf", "not a pdf at all"),
              anthropic_doc("document", "application/zip", std::string("PK\x03\x04 plain zip", 16)),
              anthropic_doc("document", "audio/wav", kPdf),
              anthropic_doc("document", "text/plain", "hello"),
              {{"type", "document"},
               {"source", {{"type", "text"}, {"media_type", "text/plain"}, {"data", "x"}}}}})}}};
  Scanner s = make_scanner();
  ScanResult r = s.scan(body.dump(), InputFormat::json);
  REQUIRE(r.attachments.size() == 5);
  CHECK(r.attachments[0].kind == MediaKind::docx);
  CHECK(r.attachments[1].kind == MediaKind::office);
  CHECK(r.attachments[2].kind == MediaKind::pdf);
  CHECK(r.attachments[3].kind == MediaKind::jpeg);
  CHECK(r.attachments[4].kind == MediaKind::pdf);  // declared, so a reader says it is corrupt
  CHECK(r.attachments[4].location == "messages[0].content[4].source");
}

TEST_CASE("a body without attachments lists none, and collection can be turned off",
          "[attachments]") {
  Scanner s = make_scanner();
  CHECK(s.scan(R"({"messages":[{"role":"user","content":"hi"}]})", InputFormat::json)
            .attachments.empty());
  CHECK(s.scan("data:application/pdf;base64,JVBERi0=", InputFormat::text).attachments.empty());
  json body = {{"messages", {user({anthropic_doc("document", "application/pdf", kPdf)})}}};
  AttachmentLimits off;
  off.collect = false;
  s.set_attachment_limits(off);
  CHECK(s.scan(body.dump(), InputFormat::json).attachments.empty());
}

TEST_CASE("an attachment over a cap is listed unreadable, never dropped", "[attachments]") {
  std::string big = kPdf + std::string(5000, 'x');
  json body = {{"messages",
                {user({anthropic_doc("document", "application/pdf", big),
                       anthropic_doc("document", "application/pdf", kPdf),
                       anthropic_doc("image", "image/png", kPng)})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  AttachmentLimits limits;
  limits.max_attachment_bytes = 4096;
  limits.max_request_bytes = kPdf.size() + 10;  // what is kept counts, not what was refused
  s.set_attachment_limits(limits);
  ScanResult r = s.scan(raw, InputFormat::json);
  REQUIRE(r.attachments.size() == 3);
  const Attachment& a = r.attachments[0];
  CHECK(a.unreadable);
  CHECK(a.kind == MediaKind::pdf);  // told from its first bytes
  CHECK(a.bytes.empty());
  CHECK(a.reason.find("max_attachment_bytes") != std::string::npos);
  CHECK(a.decoded_size >= big.size() - 3);
  CHECK(a.sha256 == std::array<unsigned char, 32>{});
  check_raw(raw, a, base64_encode(big));
  CHECK_FALSE(r.attachments[1].unreadable);
  CHECK(r.attachments[2].unreadable);  // the request's budget is spent
  CHECK(r.attachments[2].reason.find("max_request_bytes") != std::string::npos);

  limits = AttachmentLimits{};
  limits.max_attachments = 1;
  s.set_attachment_limits(limits);
  r = s.scan(raw, InputFormat::json);
  REQUIRE(r.attachments.size() == 3);
  CHECK_FALSE(r.attachments[0].unreadable);
  CHECK(r.attachments[1].unreadable);
  CHECK(r.attachments[1].reason.find("max_attachments") != std::string::npos);
}

TEST_CASE("stream mode lists the same attachments at every split", "[attachments]") {
  std::string pdf = kPdf + std::string(3000, 'p');
  json body = {
      {"messages",
       {user({{{"type", "text"}, {"text", "see"}},
              anthropic_doc("document", "application/pdf", pdf),
              {{"type", "image_url"},
               {"image_url", {{"url", "data:image/png;base64," + base64_encode(kPng)}}}},
              {{"inlineData", {{"data", base64_encode(kJpeg)}, {"mimeType", "image/jpeg"}}}}})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  ScanResult whole = s.scan(raw, InputFormat::json);
  REQUIRE(whole.attachments.size() == 3);
  for (size_t chunk : {1, 2, 3, 7, 64, 1000, 4096}) {
    INFO("chunk " << chunk);
    auto got = stream_attachments(s, raw, chunk);
    REQUIRE(got.size() == whole.attachments.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].location == whole.attachments[i].location);
      CHECK(got[i].kind == whole.attachments[i].kind);
      CHECK(got[i].bytes == whole.attachments[i].bytes);
      CHECK(got[i].raw_begin == whole.attachments[i].raw_begin);
      CHECK(got[i].raw_end == whole.attachments[i].raw_end);
      CHECK(got[i].sha256 == whole.attachments[i].sha256);
    }
  }
}

TEST_CASE("the members that decide how an attachment is read are said once", "[attachments]") {
  Scanner s = make_scanner();
  CHECK_FALSE(
      s.scan(R"({"inlineData":{"mimeType":"image/png","mime_type":"text/plain","data":""}})",
             InputFormat::json)
          .ok());
  CHECK_FALSE(s.scan(R"({"document":{"format":"txt","format":"pdf","source":{"bytes":""}}})",
                     InputFormat::json)
                  .ok());
  CHECK_FALSE(s.scan(R"({"source":{"bytes":"AAAA","bytes":"BBBB"}})", InputFormat::json).ok());
}

TEST_CASE("a block with an attachment is remembered only once it was read clean",
          "[attachments][transcript]") {
  std::string filler(400, 'w');
  auto body_for = [&](int turns) {
    json messages = json::array();
    messages.push_back(user({{{"type", "text"}, {"text", filler}},
                             anthropic_doc("image", "image/png", kPng + filler)}));
    for (int i = 1; i < turns; ++i) messages.push_back(user("turn " + std::to_string(i) + filler));
    return json{{"messages", messages}}.dump();
  };
  Scanner s = make_scanner();
  SeenBlocks seen;
  TranscriptScan t1 = scan_transcript(s, body_for(1), seen, "alice");
  REQUIRE(t1.result.attachments.size() == 1);
  REQUIRE(t1.held_blocks.size() == 1);
  CHECK(t1.held_blocks[0].attachments == std::vector<size_t>{0});
  // Not read yet (or read dirty): the next turn lists the picture again.
  TranscriptScan t2 = scan_transcript(s, body_for(2), seen, "alice");
  CHECK(t2.result.attachments.size() == 1);
  remember_read_clean(seen, "alice", t2, {false});
  TranscriptScan t3 = scan_transcript(s, body_for(3), seen, "alice");
  CHECK(t3.result.attachments.size() == 1);
  remember_read_clean(seen, "alice", t3, {true});
  // Read clean: later turns pass over the block, picture and all.
  TranscriptScan t4 = scan_transcript(s, body_for(4), seen, "alice");
  CHECK(t4.result.attachments.empty());
  CHECK(t4.skipped_blocks >= 2);
  // Another identity reads it again.
  CHECK(scan_transcript(s, body_for(4), seen, "bob").result.attachments.size() == 1);
}

TEST_CASE("text read from an attachment: location, span and not redactable in place",
          "[attachments]") {
  std::string token = testing::github_token(11);
  json body = {{"messages", {user({anthropic_doc("document", "application/pdf", kPdf)})}}};
  std::string raw = body.dump();
  Scanner s = make_scanner();
  ScanResult r = s.scan(raw, InputFormat::json);
  REQUIRE(r.attachments.size() == 1);
  ReadOutcome o;
  o.pieces.push_back({"pdf page 1", "nothing here", false});
  o.pieces.push_back({"pdf page 3", "export GITHUB_TOKEN=" + token + "\n", false});
  auto findings = scan_attachment_text(s, r.attachments[0], o);
  REQUIRE(findings.size() == 1);
  const Finding& f = findings[0];
  CHECK(f.rule_id == "test-github-pat");
  CHECK(f.location == "messages[0].content[0].source (pdf page 3)");
  CHECK(f.in_attachment);
  CHECK_FALSE(f.read_by_ocr);
  CHECK(f.start == r.attachments[0].raw_begin);
  CHECK(f.end == r.attachments[0].raw_end);
  CHECK(f.length == token.size());
  CHECK(f.fingerprint == s.scan(token, InputFormat::text).findings.at(0).fingerprint);
  ReadOutcome clean;
  clean.pieces.push_back({"pdf page 1", "export GITHUB_TOKEN=$(cat ~/.token)", false});
  CHECK(scan_attachment_text(s, r.attachments[0], clean).empty());
  // Should a caller redact anyway, the whole attachment goes, and the JSON stays valid.
  json redacted = json::parse(redact(raw, findings));
  CHECK(redacted["messages"][0]["content"][0]["source"]["data"] == "[REDACTED:test-github-pat]");
}

namespace {

// The token as OCR may read it: some 0/O/o and 1/l/I swapped for one another.
std::string misread(std::string token, int swaps) {
  for (size_t i = 4; i < token.size() && swaps > 0; ++i) {
    char& c = token[i];
    char to = c == '0'   ? 'O'
              : c == 'O' ? '0'
              : c == 'o' ? '0'
              : c == '1' ? 'l'
              : c == 'l' ? '1'
              : c == 'I' ? 'l'
                         : 0;
    if (to) {
      c = to;
      --swaps;
    }
  }
  return token;
}

// A synthetic token with at least `n` confusable characters after the prefix.
std::string token_with_confusables(int n) {
  for (uint64_t seed = 1;; ++seed) {
    std::string t = testing::github_token(seed);
    int count = 0;
    for (size_t i = 4; i < t.size(); ++i)
      count += std::string_view("0Oo1lI").find(t[i]) != std::string_view::npos;
    if (count >= n) return t;
  }
}

}  // namespace

TEST_CASE("OCR text: a token whose checksum fails on 0/O and 1/l/I is still found",
          "[attachments][ocr]") {
  Scanner s = make_scanner();
  std::string token = token_with_confusables(3);
  std::string read = misread(token, 2);
  REQUIRE(read != token);
  Attachment a;
  a.location = "messages[0].content[1].source";
  ReadOutcome typed, ocr;
  typed.pieces.push_back({"pdf page 1", "token " + read, false});
  ocr.pieces.push_back({"picture, ocr", "$ export GITHUB_TOKEN=" + read + "\n$ ls", true});
  CHECK(scan_attachment_text(s, a, typed).empty());  // typed text: the checksum is believed
  auto found = scan_attachment_text(s, a, ocr);
  REQUIRE(found.size() == 1);
  CHECK(found[0].location == "messages[0].content[1].source (picture, ocr)");
  CHECK(found[0].read_by_ocr);
  CHECK(found[0].ocr_corrected);
  // The fingerprint is the real value's, so allowlists and audit agree.
  CHECK(found[0].fingerprint == s.scan(token, InputFormat::text).findings.at(0).fingerprint);
  // Read right, it is found without correction.
  ReadOutcome exact;
  exact.pieces.push_back({"picture, ocr", "GITHUB_TOKEN=" + token, true});
  auto plain = scan_attachment_text(s, a, exact);
  REQUIRE(plain.size() == 1);
  CHECK_FALSE(plain[0].ocr_corrected);
  // A random value of the same shape is not "corrected" into a token.
  std::string fake = "ghp_" + std::string("OlIo01") + token.substr(10, 30);
  ReadOutcome noise;
  noise.pieces.push_back({"picture, ocr", fake, true});
  CHECK(scan_attachment_text(s, a, noise).empty());
}

TEST_CASE("OCR confusions: budget follows the checksum's strength", "[ocr]") {
  std::string token = token_with_confusables(4);
  std::string corrected;
  Validator crc = find_validator("github_crc32");
  CHECK(undo_ocr_confusions(misread(token, 3), &crc, 1, corrected));
  CHECK(corrected == token);
  Validator weak = find_validator("iban_mod97");
  CHECK_FALSE(undo_ocr_confusions("GB82WEST1234569876543O", &weak, 1, corrected));
  CHECK(validator_check_bits(crc) == 32);
  CHECK(validator_check_bits(find_validator("luhn")) < 18);
}

TEST_CASE("OCR digits: letters read inside digit groups are folded", "[ocr]") {
  CHECK(fold_ocr_digits("card 4O12 l234 5678 9OI2 ok") == "card 4012 1234 5678 9012 ok");
  CHECK(fold_ocr_digits("Hello1 world") == "");
  CHECK(fold_ocr_digits("lOl") == "");
  Scanner s = make_scanner();
  std::string card;
  for (uint64_t seed = 1; card.find_first_of("01", 1) == std::string::npos; ++seed)
    card = testing::visa_number(seed);
  std::string read = card;
  size_t at = read.find_first_of("01", 1);
  read[at] = read[at] == '0' ? 'O' : 'l';
  Attachment a;
  a.location = "m";
  ReadOutcome o;
  o.pieces.push_back({"picture, ocr",
                      "card: " + read.substr(0, 4) + " " + read.substr(4, 4) + " " +
                          read.substr(8, 4) + " " + read.substr(12),
                      true});
  auto found = scan_attachment_text(s, a, o);
  REQUIRE(found.size() == 1);
  CHECK(found[0].rule_id == "test-card");
  CHECK(found[0].read_by_ocr);
}

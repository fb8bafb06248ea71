// The attachment readers (detectors/readers): PDF text, office files and OCR of pictures, each
// with a dirty case found at the right location, a clean twin, and its limits. Every fixture is
// made here from synthetic values (tests/fixtures/attachment_fixtures.h, tests/synthetic.h).
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "detectors/attachment_scan.h"
#include "detectors/engine.h"
#include "detectors/readers/readers.h"
#include "tests/fixtures/attachment_fixtures.h"
#include "tests/synthetic.h"

using namespace promptgate;
using json = nlohmann::ordered_json;
namespace fx = promptgate::fixtures;

namespace {

Scanner make_scanner() {
  return Scanner(testing::test_rules(), testing::test_key());
}

// A token of the right shape whose checksum does not hold: the clean twin of a dirty file.
std::string broken_token(uint64_t seed) {
  std::string t = testing::github_token(seed);
  t.back() = t.back() == 'A' ? 'B' : 'A';
  return t;
}

// Sends `bytes` as a Claude Code Read tool result does (a document or image block after the
// tool_result), scans the body, reads the one attachment and scans what it says.
struct Through {
  Attachment attachment;
  ReadOutcome outcome;
  std::vector<Finding> findings;
};

Through through_body(const std::string& block_type, const std::string& media_type,
                     const std::string& bytes, const ReadLimits& limits = {}) {
  json body = {{"model", "claude-sonnet-4-5"},
               {"messages",
                {{{"role", "user"}, {"content", "read the file"}},
                 {{"role", "user"},
                  {"content",
                   {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "File read"}},
                    {{"type", block_type},
                     {"source",
                      {{"type", "base64"},
                       {"media_type", media_type},
                       {"data", testing::base64_encode(bytes)}}}}}}}}}};
  Scanner s = make_scanner();
  ScanResult r = s.scan(body.dump(), InputFormat::json);
  REQUIRE(r.ok());
  REQUIRE(r.attachments.size() == 1);
  Through t;
  t.attachment = std::move(r.attachments[0]);
  CHECK(t.attachment.location == "messages[1].content[1].source");
  t.outcome = read_attachment(t.attachment, limits);
  if (t.outcome.ok()) t.findings = scan_attachment_text(s, t.attachment, t.outcome);
  return t;
}

std::vector<std::string> pages_with_token_on_third(const std::string& token) {
  return {fx::pdf_text({"Quarterly notes", "nothing to see on page one"}),
          fx::pdf_text({"Page two: deployment checklist", "1. build  2. test  3. ship"}),
          fx::pdf_text({"Page three: environment", "export GITHUB_TOKEN=" + token, "done"})};
}

// Readers' limits with time to spare: a loaded test machine must not skip the second OCR pass.
ReadLimits generous_read() {
  ReadLimits l;
  l.picture.budget = std::chrono::seconds(60);
  return l;
}
PictureLimits generous() {
  return generous_read().picture;
}

bool mentions(const std::string& reason, const char* what) {
  return reason.find(what) != std::string::npos;
}

}  // namespace

// --- PDF -------------------------------------------------------------------------------------

TEST_CASE("PDF: a token on page 3 is found, compressed or not: its clean twin passes",
          "[readers][pdf]") {
  std::string token = testing::github_token(21);
  for (bool compress : {false, true}) {
    INFO("compress " << compress);
    fx::PdfOptions o;
    o.compress = compress;
    Through dirty = through_body("document", "application/pdf",
                                 fx::make_pdf(pages_with_token_on_third(token), o));
    REQUIRE(dirty.outcome.ok());
    REQUIRE(dirty.outcome.pieces.size() == 3);
    CHECK(dirty.outcome.pieces[2].label == "pdf page 3");
    REQUIRE(dirty.findings.size() == 1);
    CHECK(dirty.findings[0].rule_id == "test-github-pat");
    CHECK(dirty.findings[0].location == "messages[1].content[1].source (pdf page 3)");
    CHECK(dirty.findings[0].in_attachment);
    CHECK(dirty.findings[0].start == dirty.attachment.raw_begin);

    Through clean = through_body("document", "application/pdf",
                                 fx::make_pdf(pages_with_token_on_third(broken_token(21)), o));
    REQUIRE(clean.outcome.ok());
    CHECK(clean.outcome.pieces.size() == 3);
    CHECK(clean.findings.empty());
  }
}

TEST_CASE("PDF: text drawn with kerned TJ arrays is read whole", "[readers][pdf]") {
  std::string token = testing::github_token(22);
  fx::PdfOptions o;
  o.compress = true;
  Through t = through_body(
      "document", "application/pdf",
      fx::make_pdf({fx::pdf_kerned_text({"credentials for the CI runner:", "token " + token})}, o));
  REQUIRE(t.outcome.ok());
  REQUIRE(t.findings.size() == 1);
  CHECK(t.findings[0].location == "messages[1].content[1].source (pdf page 1)");
}

TEST_CASE("PDF: too many pages, a bomb, encryption, damage and size are unreadable",
          "[readers][pdf]") {
  std::vector<std::string> many(12, fx::pdf_text({"a page"}));
  PdfLimits limits;
  limits.max_pages = 10;
  ReadOutcome pages = read_pdf(fx::make_pdf(many), limits);
  CHECK(pages.status == ReadStatus::unreadable);
  CHECK(mentions(pages.reason, "12 pages"));
  CHECK(mentions(pages.reason, "documents.max_pages"));

  // 64 MiB of page content that deflates to ~64 KiB: refused before poppler reads it.
  fx::PdfOptions bomb;
  bomb.compress = true;
  bomb.extra_streams.push_back(std::string(64u << 20, ' '));
  std::string bomb_pdf = fx::make_pdf({fx::pdf_text({"hello"})}, bomb);
  CHECK(bomb_pdf.size() < (1u << 20));
  limits = PdfLimits{};
  limits.max_inflated_bytes = 16u << 20;
  // Stopped by the inflation check, before poppler parses anything.
  ReadOutcome b = read_pdf(bomb_pdf, limits);
  CHECK(b.status == ReadStatus::unreadable);
  CHECK(mentions(b.reason, "pdf.max_inflated_bytes"));

  fx::PdfOptions enc;
  enc.encrypted = true;
  ReadOutcome e = read_pdf(fx::make_pdf({fx::pdf_text({"secret"})}, enc), PdfLimits{});
  CHECK(e.status == ReadStatus::unreadable);
  CHECK(mentions(e.reason, "encrypted"));

  ReadOutcome c = read_pdf("%PDF-1.4\n1 0 obj << /Type /Catalog", PdfLimits{});
  CHECK(c.status == ReadStatus::unreadable);
  ReadOutcome truncated = read_pdf(fx::make_pdf({fx::pdf_text({"x"})}).substr(0, 60), PdfLimits{});
  CHECK(truncated.status == ReadStatus::unreadable);

  limits = PdfLimits{};
  limits.max_bytes = 100;
  ReadOutcome big = read_pdf(fx::make_pdf({fx::pdf_text({"x"})}), limits);
  CHECK(big.status == ReadStatus::unreadable);
  CHECK(mentions(big.reason, "pdf.max_bytes"));

  limits = PdfLimits{};
  limits.max_text_bytes = 40;
  ReadOutcome text = read_pdf(fx::make_pdf(many), limits);
  CHECK(text.status == ReadStatus::unreadable);
  CHECK(mentions(text.reason, "pdf.max_text_bytes"));
}

TEST_CASE("PDF: a scanned page (a picture, no text) is read by OCR: its clean twin passes",
          "[readers][pdf][picture]") {
  std::string token = testing::github_token(23);
  ReadLimits limits = generous_read();
  limits.pdf.budget = std::chrono::seconds(60);
  Through dirty =
      through_body("document", "application/pdf",
                   fx::scanned_pdf({"Runbook", "export GITHUB_TOKEN=" + token}), limits);
  REQUIRE(dirty.outcome.ok());
  REQUIRE_FALSE(dirty.outcome.pieces.empty());
  CHECK(dirty.outcome.pieces[0].label == "pdf page 1, ocr");
  CHECK(dirty.outcome.pieces[0].ocr);
  REQUIRE_FALSE(dirty.findings.empty());
  CHECK(dirty.findings[0].location == "messages[1].content[1].source (pdf page 1, ocr)");
  CHECK(dirty.findings[0].read_by_ocr);

  Through clean =
      through_body("document", "application/pdf",
                   fx::scanned_pdf({"Runbook", "export GITHUB_TOKEN=<from vault>"}), limits);
  REQUIRE(clean.outcome.ok());
  CHECK_FALSE(clean.outcome.pieces.empty());
  CHECK(clean.findings.empty());
}

TEST_CASE("PDF: pages read by OCR are bounded, blank pages are not read", "[readers][pdf]") {
  PdfLimits limits;
  limits.budget = std::chrono::seconds(60);
  limits.max_ocr_pages = 2;
  ReadOutcome over = read_pdf(fx::scanned_pdf({"page of a scan"}, 100, 3), limits, generous());
  CHECK(over.status == ReadStatus::unreadable);
  CHECK(mentions(over.reason, "documents.max_ocr_pages"));

  // Pages with nothing drawn have no text and nothing to read: they count for nothing.
  ReadOutcome blank = read_pdf(fx::make_pdf(std::vector<std::string>(5, "")), limits, generous());
  CHECK(blank.ok());
  CHECK(blank.pieces.empty());

  limits.max_ocr_pages = 0;  // OCR off: a scanned page gives no text
  ReadOutcome off = read_pdf(fx::scanned_pdf({"page of a scan"}, 100), limits, generous());
  CHECK(off.ok());
  CHECK(off.pieces.empty());

  limits.max_ocr_pages = 20;
  limits.budget = std::chrono::milliseconds(1);
  ReadOutcome late = read_pdf(fx::scanned_pdf({"page of a scan"}, 100, 2), limits, generous());
  CHECK(late.status == ReadStatus::timeout);
  CHECK(mentions(late.reason, "documents.time_budget_ms"));
}

TEST_CASE("PDF: the time budget ends a long read as a timeout", "[readers][pdf]") {
  std::vector<std::string> pages(300,
                                 fx::pdf_text(std::vector<std::string>(40, "lorem ipsum dolor")));
  PdfLimits limits;
  limits.budget = std::chrono::milliseconds(1);
  fx::PdfOptions compressed;
  compressed.compress = true;
  ReadOutcome o = read_pdf(fx::make_pdf(pages, compressed), limits);
  CHECK(o.status == ReadStatus::timeout);
  CHECK(mentions(o.reason, "documents.time_budget_ms"));
}

TEST_CASE("PDF: several threads read at once", "[readers][pdf]") {
  std::string token = testing::github_token(23);
  fx::PdfOptions o;
  o.compress = true;
  std::string pdf = fx::make_pdf(pages_with_token_on_third(token), o);
  std::vector<ReadOutcome> outcomes(4);
  std::vector<std::thread> threads;
  for (auto& out : outcomes) threads.emplace_back([&] { out = read_pdf(pdf, PdfLimits{}); });
  for (auto& t : threads) t.join();
  for (const auto& out : outcomes) {
    REQUIRE(out.ok());
    REQUIRE(out.pieces.size() == 3);
    CHECK(mentions(out.pieces[2].text, token.c_str()));
  }
}

TEST_CASE("an attachment listed over a cap is unreadable for every reader", "[readers]") {
  Attachment a;
  a.kind = MediaKind::pdf;
  a.unreadable = true;
  a.reason = "larger than the 32 MiB limit per attachment (max_attachment_bytes)";
  ReadOutcome o = read_attachment(a, ReadLimits{});
  CHECK(o.status == ReadStatus::unreadable);
  CHECK(o.reason == a.reason);
}

// --- office files ----------------------------------------------------------------------------

TEST_CASE("DOCX: a token split over runs is found: the clean twin passes", "[readers][office]") {
  const std::string docx_type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  std::string token = testing::github_token(31);
  Through dirty = through_body(
      "document", docx_type,
      fx::make_docx({"Release notes & <setup>", "GITHUB_TOKEN=" + token, "the end"}, 7));
  REQUIRE(dirty.outcome.ok());
  REQUIRE(dirty.outcome.pieces.size() == 1);
  CHECK(dirty.outcome.pieces[0].label == "docx");
  CHECK(mentions(dirty.outcome.pieces[0].text, "Release notes & <setup>\n"));
  REQUIRE(dirty.findings.size() == 1);
  CHECK(dirty.findings[0].location == "messages[1].content[1].source (docx)");
  Through clean =
      through_body("document", docx_type, fx::make_docx({"GITHUB_TOKEN=" + broken_token(31)}, 7));
  REQUIRE(clean.outcome.ok());
  CHECK(clean.findings.empty());
}

TEST_CASE("XLSX shared strings and inline cells, PPTX slides", "[readers][office]") {
  std::string card = testing::visa_number(5);
  std::string token = testing::github_token(32);
  ReadOutcome x = read_office(fx::make_xlsx({"name", "card"}, {card}), OfficeLimits{});
  REQUIRE(x.ok());
  REQUIRE(x.pieces.size() == 2);
  CHECK(x.pieces[0].label == "xlsx shared strings");
  CHECK(x.pieces[1].label == "xlsx sheet1");
  CHECK(mentions(x.pieces[1].text, card.c_str()));
  Scanner s = make_scanner();
  Attachment a;
  a.location = "messages[0].content[0].source";
  auto xf = scan_attachment_text(s, a, x);
  REQUIRE(xf.size() == 1);
  CHECK(xf[0].location == "messages[0].content[0].source (xlsx sheet1)");

  std::vector<std::string> slides = {"Title", "Setup"};
  for (int i = 3; i <= 10; ++i) slides.push_back("slide " + std::to_string(i));
  slides[9] = "token " + token;  // slide 10: sorted after slide 9, not after slide 1
  ReadOutcome p = read_office(fx::make_pptx(slides), OfficeLimits{}, MediaKind::pptx);
  REQUIRE(p.ok());
  REQUIRE(p.pieces.size() == 10);
  CHECK(p.pieces[1].label == "pptx slide 2");
  CHECK(p.pieces[9].label == "pptx slide 10");
  auto pf = scan_attachment_text(s, a, p);
  REQUIRE(pf.size() == 1);
  CHECK(pf[0].location == "messages[0].content[0].source (pptx slide 10)");
  // A DOCX said to be a PPTX is not read as one.
  CHECK(read_office(fx::make_docx({"x"}), OfficeLimits{}, MediaKind::pptx).status ==
        ReadStatus::unreadable);
}

TEST_CASE("office: zip bombs, too many entries, damage and plain zips are unreadable",
          "[readers][office]") {
  // 32 MiB of spaces in one paragraph: deflates over 1000:1.
  std::string bomb = fx::make_docx({std::string(32u << 20, ' ')}, 32u << 20);
  CHECK(bomb.size() < (1u << 20));
  ReadOutcome r = read_office(bomb, OfficeLimits{});
  CHECK(r.status == ReadStatus::unreadable);
  CHECK(mentions(r.reason, "office.max_ratio"));

  OfficeLimits limits;
  limits.max_uncompressed_bytes = 1u << 20;
  ReadOutcome total = read_office(fx::make_docx({std::string(2u << 20, 'a')}, 1u << 20), limits);
  CHECK(total.status == ReadStatus::unreadable);
  CHECK(mentions(total.reason, "office.max_uncompressed_bytes"));

  limits = OfficeLimits{};
  limits.max_entries = 10;
  std::vector<std::string> slides(20, "s");
  ReadOutcome entries = read_office(fx::make_pptx(slides), limits);
  CHECK(entries.status == ReadStatus::unreadable);
  CHECK(mentions(entries.reason, "office.max_entries"));

  CHECK(read_office(fx::make_zip({{"[Content_Types].xml", "<Types/>"}, {"a.txt", "hi"}}),
                    OfficeLimits{})
            .status == ReadStatus::unreadable);
  std::string docx = fx::make_docx({"hello"});
  CHECK(read_office(docx.substr(0, docx.size() / 2), OfficeLimits{}).status ==
        ReadStatus::unreadable);
  CHECK(read_office("PK\x03\x04 not a zip", OfficeLimits{}).status == ReadStatus::unreadable);
}

TEST_CASE("office XML: entities, CDATA, tabs and line breaks", "[readers][office]") {
  std::string doc =
      R"(<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>a&amp;b &#x41;&#66;</w:t></w:r>)"
      R"(<w:r><w:tab/><w:t><![CDATA[<raw>]]></w:t></w:r><w:r><w:br/><w:t>x</w:t></w:r></w:p>)"
      R"(<w:p><w:r><w:instrText> HYPERLINK "u" </w:instrText></w:r></w:p></w:body></w:document>)";
  std::string zip = fx::make_zip({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", doc}});
  ReadOutcome o = read_office(zip, OfficeLimits{}, MediaKind::docx);
  REQUIRE(o.ok());
  REQUIRE(o.pieces.size() == 1);
  CHECK(o.pieces[0].text == "a&b AB\t<raw>\nx\n HYPERLINK \"u\" \n");
}

// --- pictures --------------------------------------------------------------------------------

namespace {

std::vector<std::string> terminal_session(const std::string& secret_line) {
  return {"dev@build-7:~/src/promptgate$ git status",
          "On branch main",
          "Your branch is up to date with 'origin/main'.",
          "",
          "dev@build-7:~/src/promptgate$ cat .env",
          "DATABASE_URL=postgres://localhost:5432/app",
          secret_line,
          "LOG_LEVEL=debug",
          "dev@build-7:~/src/promptgate$ make test",
          "[100%] Built target unit_tests",
          "dev@build-7:~/src/promptgate$ "};
}

}  // namespace

// OCR is not exact (bench/reader_bench measures how often it finds a token): the seeds of the
// tokens in these screenshots are ones Tesseract 5.3 with Debian's English model reads.
TEST_CASE("pictures: a token in a 1280x800 terminal screenshot is read by OCR",
          "[readers][picture]") {
  std::string token = testing::github_token(41);
  std::string png = fx::terminal_screenshot(terminal_session("GITHUB_TOKEN=" + token));
  Through dirty = through_body("image", "image/png", png, generous_read());
  REQUIRE(dirty.outcome.ok());
  REQUIRE(dirty.outcome.pieces.size() == PictureLimits{}.line_heights.size());  // one per pass
  for (const TextPiece& p : dirty.outcome.pieces) {
    CHECK(p.label == "picture, ocr");
    CHECK(p.ocr);
    CHECK(mentions(p.text, "DATABASE"));
  }
  REQUIRE(dirty.findings.size() == 1);
  CHECK(dirty.findings[0].rule_id == "test-github-pat");
  CHECK(dirty.findings[0].location == "messages[1].content[1].source (picture, ocr)");
  CHECK(dirty.findings[0].read_by_ocr);
  CHECK(dirty.findings[0].in_attachment);

  Through clean = through_body(
      "image", "image/png", fx::terminal_screenshot(terminal_session("GITHUB_TOKEN=${GH_TOKEN}")),
      generous_read());
  REQUIRE(clean.outcome.ok());
  CHECK(clean.findings.empty());
}

TEST_CASE("pictures: JPEG, GIF and WebP are decoded and read", "[readers][picture]") {
  std::string token = testing::github_token(42);
  std::string pdf = fx::terminal_screenshot_pdf(terminal_session("export GITHUB_TOKEN=" + token));
  for (MediaKind kind : {MediaKind::jpeg, MediaKind::gif, MediaKind::webp}) {
    INFO(media_type_name(kind));
    std::string bytes = fx::render_picture(pdf, 72, kind);
    CHECK(sniff_media(bytes) == kind);
    Through t = through_body("image", std::string(media_type_name(kind)), bytes, generous_read());
    REQUIRE(t.outcome.ok());
    CHECK(t.findings.size() == 1);
  }
}

TEST_CASE("pictures: a 20000x20000 picture is refused at once: a large one is scaled down",
          "[readers][picture]") {
  std::string huge = fx::blank_png(20000, 20000);
  // Refused from its header, before any decoding: even a budget of 1 ms finds it over the pixel
  // limit rather than out of time.
  PictureLimits no_time;
  no_time.budget = std::chrono::milliseconds(1);
  ReadOutcome o = read_picture(huge, no_time);
  CHECK(o.status == ReadStatus::unreadable);
  CHECK(mentions(o.reason, "20000x20000"));
  CHECK(mentions(o.reason, "pictures.max_pixels"));

  // 6000x5000 = 30 Mpx: decoded, scaled to 8 Mpx for OCR, read within its (default) budget.
  ReadOutcome large = read_picture(fx::blank_png(6000, 5000), PictureLimits{});
  CHECK(large.status == ReadStatus::ok);
}

TEST_CASE("pictures: a JPEG over the pixel limit is decoded smaller: a GIF counts every frame",
          "[readers][picture]") {
  std::string jpeg = fx::terminal_screenshot(terminal_session("LOG_LEVEL=info"), MediaKind::jpeg);
  PictureLimits limits = generous();
  limits.max_pixels = 100'000;  // 1280x800 fits at 1/4 scale
  CHECK(read_picture(jpeg, limits).status == ReadStatus::ok);
  limits.max_pixels = 10'000;  // not even at 1/8
  ReadOutcome o = read_picture(jpeg, limits);
  CHECK(o.status == ReadStatus::unreadable);
  CHECK(mentions(o.reason, "1/8"));
  // A 16x16 GIF whose one frame says 30000x30000: refused before giflib allocates it.
  std::string gif = "GIF89a";
  gif += std::string("\x10\x00\x10\x00\x00\x00\x00", 7);
  gif += std::string(",\x00\x00\x00\x00\x30\x75\x30\x75\x00\x02\x02\x44\x01\x00;", 16);
  ReadOutcome g = read_picture(gif, PictureLimits{});
  CHECK(g.status == ReadStatus::unreadable);
  CHECK(mentions(g.reason, "all frames"));
}

TEST_CASE("pictures: OCR past its time budget is a timeout, a damaged picture unreadable",
          "[readers][picture]") {
  PictureLimits limits;
  limits.budget = std::chrono::milliseconds(1);
  std::string png = fx::terminal_screenshot(terminal_session("GITHUB_TOKEN=x"));
  ReadOutcome o = read_picture(png, limits);
  CHECK(o.status == ReadStatus::timeout);
  CHECK(mentions(o.reason, "pictures.time_budget_ms"));

  ReadOutcome damaged = read_picture(png.substr(0, png.size() / 3), PictureLimits{});
  CHECK(damaged.status == ReadStatus::unreadable);
  CHECK(read_picture("GIF89a", PictureLimits{}).status == ReadStatus::unreadable);
  CHECK(read_picture("%PDF-1.4", PictureLimits{}).status == ReadStatus::unreadable);
  limits = PictureLimits{};
  limits.tessdata_dir = "/nonexistent";
  ReadOutcome no_model = read_picture(png, limits);
  CHECK(no_model.status == ReadStatus::unreadable);
  CHECK(mentions(no_model.reason, "OCR"));
}

TEST_CASE("pictures: OCR runs on several threads at once", "[readers][picture]") {
  std::string token = testing::github_token(44);
  std::string png = fx::terminal_screenshot(terminal_session("GITHUB_TOKEN=" + token));
  std::vector<ReadOutcome> outcomes(2);
  std::vector<std::thread> threads;
  for (auto& o : outcomes) threads.emplace_back([&] { o = read_picture(png, generous()); });
  for (auto& t : threads) t.join();
  Scanner s = make_scanner();
  Attachment a;
  a.location = "x";
  for (const auto& o : outcomes) {
    REQUIRE(o.ok());
    CHECK(scan_attachment_text(s, a, o).size() == 1);
  }
}

// The audit log's hash chain: a written chain verifies; edits, deletions, swaps, insertions and
// truncation are reported at the right line; reopening a file continues its chain (also after a
// torn last line, an unchained line or a copytruncate rotation); concurrent writers keep it
// intact; override records are written capped and without the code.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "proxy/audit_log.h"

using namespace promptgate;
using namespace promptgate::proxy;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("pg-audit-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

AuditEvent event(int i) {
  AuditEvent e;
  e.request_id = "req-" + std::to_string(i);
  e.client = "127.0.0.1:40000";
  e.method = "POST";
  e.host = "api.anthropic.com";
  e.port = 443;
  e.path = "/v1/messages";
  e.destination = "intercept";
  e.decision = "allow";
  e.mode = "enforce";
  e.status = 200;
  return e;
}

void write_events(const std::string& path, int first, int count) {
  AuditLog log(path);
  for (int i = first; i < first + count; ++i) log.write(event(i));
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

AuditChainVerifier::FileResult verify(const std::string& text) {
  std::istringstream in(text);
  return AuditChainVerifier().check(in);
}

nlohmann::json parse(const std::string& line) {
  return nlohmann::json::parse(line);
}

}  // namespace

TEST_CASE("audit chain: every line links to the previous one and verifies", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  write_events(path, 1, 20);
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 20);
  CHECK(parse(lines[0])["prev"] == kChainOrigin);
  CHECK(parse(lines[0])["chain"] == "start");
  for (size_t i = 1; i < lines.size(); ++i) {
    auto j = parse(lines[i]);
    CHECK(j["seq"] == i + 1);
    CHECK(j["prev"] == sha256_hex(lines[i - 1]));
    CHECK_FALSE(j.contains("chain"));
  }
  auto r = verify(join(lines));
  CHECK_FALSE(r.error);
  CHECK(r.warnings.empty());
  CHECK(r.events == 20);
  CHECK(r.first_seq == 1);
  CHECK(r.last_seq == 20);
  CHECK(r.last_hash == sha256_hex(lines.back()));
}

TEST_CASE("audit chain: tampering is reported at the first broken line", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  write_events(path, 1, 10);
  const auto lines = read_lines(path);
  auto broken_at = [](const std::vector<std::string>& l) -> uint64_t {
    auto r = verify(join(l));
    return r.error ? r.error->line : 0;
  };

  SECTION("a byte of a value edited (still valid JSON)") {
    auto l = lines;
    l[4].replace(l[4].find("req-5"), 5, "req-9");
    CHECK(broken_at(l) == 5);
    CHECK_THAT(verify(join(l)).error->message, Catch::Contains("line 5 was edited"));
  }
  SECTION("a byte edited so the line is no longer JSON") {
    auto l = lines;
    l[4][0] = '[';
    CHECK(broken_at(l) == 5);
    CHECK_THAT(verify(join(l)).error->message, Catch::Contains("not a JSON event"));
  }
  SECTION("the prev field of a line edited") {
    auto l = lines;
    size_t at = l[6].find("\"prev\":\"") + 8;
    l[6][at] = l[6][at] == 'a' ? 'b' : 'a';
    CHECK(broken_at(l) == 7);
  }
  SECTION("the seq field of a line edited") {
    auto l = lines;
    l[6].replace(l[6].find("\"seq\":7"), 7, "\"seq\":8");
    CHECK(broken_at(l) == 7);
  }
  SECTION("a line deleted") {
    auto l = lines;
    l.erase(l.begin() + 4);
    CHECK(broken_at(l) == 5);
    CHECK_THAT(verify(join(l)).error->message, Catch::Contains("deleted, inserted or reordered"));
  }
  SECTION("two lines swapped") {
    auto l = lines;
    std::swap(l[3], l[4]);
    CHECK(broken_at(l) == 4);
  }
  SECTION("a line inserted (a copy of another)") {
    auto l = lines;
    l.insert(l.begin() + 2, lines[7]);
    CHECK(broken_at(l) == 3);
  }
  SECTION("the second to last line edited") {
    auto l = lines;
    l[8].replace(l[8].find("req-9"), 5, "req-0");
    CHECK(broken_at(l) == 9);
  }
  SECTION("the first line deleted: the file no longer starts a chain") {
    auto l = lines;
    l.erase(l.begin());
    auto r = verify(join(l));
    CHECK_FALSE(r.error);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].line == 1);
    CHECK_THAT(r.warnings[0].message, Catch::Contains("continues a chain"));
  }
  SECTION("truncated in the middle of the last line") {
    std::string text = join(lines);
    text.resize(text.size() - 30);
    auto r = verify(text);
    CHECK_FALSE(r.error);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].line == 10);
    CHECK_THAT(r.warnings[0].message, Catch::Contains("torn last line"));
  }
  SECTION("truncated at a line boundary: only the last seq and hash show it") {
    auto l = lines;
    l.resize(7);
    auto r = verify(join(l));
    CHECK_FALSE(r.error);
    CHECK(r.last_seq == 7);
    CHECK(r.last_hash != sha256_hex(lines.back()));
  }
  SECTION("a line that is not JSON in the middle") {
    auto l = lines;
    l.insert(l.begin() + 3, "garbage");
    CHECK(broken_at(l) == 4);
  }
  SECTION("an empty line") {
    auto l = lines;
    l.insert(l.begin() + 3, "");
    CHECK(broken_at(l) == 4);
  }
}

TEST_CASE("audit chain: reopening a log continues its chain", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  write_events(path, 1, 3);
  write_events(path, 4, 3);
  write_events(path, 7, 1);
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 7);
  CHECK(parse(lines[3])["seq"] == 4);
  CHECK(parse(lines[3])["prev"] == sha256_hex(lines[2]));
  CHECK_FALSE(parse(lines[3]).contains("chain"));
  auto r = verify(join(lines));
  CHECK_FALSE(r.error);
  CHECK(r.warnings.empty());
  CHECK(r.last_seq == 7);
}

TEST_CASE("audit chain: a torn last line restarts the chain, linked to the torn bytes", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  write_events(path, 1, 3);
  std::string torn = "{\"time\":\"2026-01-01T00:00:00.000Z\",\"request_id\":\"req-4\",\"cli";
  std::ofstream(path, std::ios::app) << torn;  // a crash mid-write: no newline
  write_events(path, 5, 2);
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 6);
  CHECK(lines[3] == torn);
  auto restart = parse(lines[4]);
  CHECK(restart["chain"] == "restart");
  CHECK(restart["prev"] == sha256_hex(torn));
  CHECK(restart["seq"] == 5);  // the torn line most likely was seq 4
  auto r = verify(join(lines));
  CHECK_FALSE(r.error);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].line == 4);
  CHECK_THAT(r.warnings[0].message, Catch::Contains("restarted the chain"));
  CHECK(r.events == 5);

  SECTION("the torn line itself edited afterwards is detected") {
    lines[3] += "x";
    CHECK(verify(join(lines)).error);
  }
}

TEST_CASE("audit chain: a log written before chaining is continued with a restart", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  std::ofstream(path) << "{\"time\":\"t\",\"request_id\":\"old-1\"}\n"
                      << "{\"time\":\"t\",\"request_id\":\"old-2\"}\n";
  write_events(path, 1, 2);
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 4);
  CHECK(parse(lines[2])["chain"] == "restart");
  CHECK(parse(lines[2])["prev"] == sha256_hex(lines[1]));
  auto r = verify(join(lines));
  CHECK_FALSE(r.error);
  CHECK(r.warnings.size() == 2);  // the unchained lines, and the restart
  CHECK(r.events == 4);

  SECTION("an unchained line after chained ones is an insertion") {
    lines.push_back("{\"time\":\"t\",\"request_id\":\"forged\"}");
    auto broken = verify(join(lines));
    REQUIRE(broken.error);
    CHECK(broken.error->line == 5);
  }
}

TEST_CASE("audit chain: a copytruncate rotation verifies per file and across files", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl"), rotated = dir.file("audit.jsonl.1");
  {
    AuditLog log(path);
    for (int i = 1; i <= 5; ++i) log.write(event(i));
    fs::copy_file(path, rotated);
    fs::resize_file(path, 0);  // the log keeps writing: O_APPEND puts the next line at offset 0
    for (int i = 6; i <= 8; ++i) log.write(event(i));
  }
  auto current = read_lines(path);
  REQUIRE(current.size() == 3);
  auto alone = verify(join(current));
  CHECK_FALSE(alone.error);
  REQUIRE(alone.warnings.size() == 1);
  CHECK_THAT(alone.warnings[0].message, Catch::Contains("continues a chain from an earlier file"));

  AuditChainVerifier both;
  std::istringstream first(join(read_lines(rotated))), second(join(current));
  auto r1 = both.check(first);
  auto r2 = both.check(second);
  CHECK_FALSE(r1.error);
  CHECK_FALSE(r2.error);
  CHECK(r1.warnings.empty());
  CHECK(r2.warnings.empty());
  CHECK(r2.first_seq == 6);

  SECTION("files given in the wrong order") {
    AuditChainVerifier wrong;
    std::istringstream a(join(current)), b(join(read_lines(rotated)));
    wrong.check(a);
    auto rb = wrong.check(b);
    CHECK(rb.warnings.size() + (rb.error ? 1 : 0) > 0);
  }
}

TEST_CASE("audit chain: concurrent writers keep one intact chain", "[audit]") {
  TempDir dir;
  std::string path = dir.file("audit.jsonl");
  constexpr int kThreads = 4, kEach = 250;
  {
    AuditLog log(path);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < kEach; ++i) log.write(event(t * kEach + i));
      });
    for (auto& th : threads) th.join();
  }
  auto lines = read_lines(path);
  REQUIRE(lines.size() == kThreads * kEach);
  auto r = verify(join(lines));
  CHECK_FALSE(r.error);
  CHECK(r.warnings.empty());
  CHECK(r.last_seq == kThreads * kEach);
}

TEST_CASE("audit log: override records are written only when present, capped", "[audit]") {
  AuditEvent e = event(1);
  CHECK_FALSE(parse(AuditLog::to_json_line(e)).contains("override"));
  // 400 two-byte characters (800 bytes): the cut must land between characters.
  std::string justification;
  for (int i = 0; i < 400; ++i) justification += "\xC3\xA9";
  e.override_record =
      OverrideRecord{"redeemed", "", "0123abcd", justification, {"fp_aaaa", "fp_bbbb"}};
  auto j = parse(AuditLog::to_json_line(e));
  REQUIRE(j.contains("override"));
  CHECK(j["override"]["status"] == "redeemed");
  CHECK(j["override"]["code_id"] == "0123abcd");
  CHECK(j["override"]["fingerprints"].size() == 2);
  std::string written = j["override"]["justification"];
  CHECK(written.size() == 500);
  CHECK(written == justification.substr(0, 500));
  CHECK_FALSE(j["override"].contains("reason"));
}

TEST_CASE("utf8_prefix never cuts a character", "[audit]") {
  CHECK(utf8_prefix("abc", 5) == "abc");
  CHECK(utf8_prefix("abc", 2) == "ab");
  CHECK(utf8_prefix("a\xE2\x82\xAC", 3) == "a");  // a + euro sign (3 bytes)
  CHECK(utf8_prefix("a\xE2\x82\xAC", 4) == "a\xE2\x82\xAC");
  CHECK(utf8_prefix("\xF0\x9F\x98\x80x", 2).empty());
}

TEST_CASE("sha256_hex", "[audit]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

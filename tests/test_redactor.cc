// Redaction keeps JSON valid, removes every secret, names the rule, and handles escapes and
// base64 documents.
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "detectors/redactor.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;

namespace {
std::string base64(const std::string& s) {
  std::string out(4 * ((s.size() + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Scans `raw` (one finding expected), redacts it, and returns the document's decoded text.
std::string redacted_document(Scanner& s, const std::string& raw) {
  auto r = s.scan(raw, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  auto parsed = nlohmann::json::parse(redact(raw, r.findings));
  std::string data = parsed["messages"][0]["content"][0]["source"]["data"];
  std::string decoded(data.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  REQUIRE(n > 0);
  return decoded;
}
}  // namespace

TEST_CASE("redacted JSON parses, holds no secret, and names the rules") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(21), key = aws_key_id(22);
  std::string escaped_key = "\\u00" + std::string(key[0] == 'A' ? "41" : "??") + key.substr(1);
  nlohmann::json body = {
      {"model", "m"},
      {"messages",
       {{{"role", "user"}, {"content", "token " + token + "\npassword = \"Zq8Lw3Nv7Tx2pR\"\n"}}}}};
  std::string raw = body.dump();
  raw.insert(raw.find("\\npassword"), " key " + escaped_key);  // an escaped secret as well
  auto r = s.scan(raw, InputFormat::json);
  REQUIRE(r.findings.size() == 3);
  std::string out = redact(raw, r.findings);
  auto parsed = nlohmann::json::parse(out);  // throws if invalid
  std::string content = parsed["messages"][0]["content"];
  CHECK(content.find(token) == std::string::npos);
  CHECK(content.find(key) == std::string::npos);
  CHECK(content.find("Zq8Lw3Nv7Tx2pR") == std::string::npos);
  CHECK(content.find("[REDACTED:test-github-pat]") != std::string::npos);
  CHECK(content.find("[REDACTED:test-aws-key-id]") != std::string::npos);
  CHECK(content.find("password = \"[REDACTED:test-password]\"") != std::string::npos);
  CHECK(s.scan(out, InputFormat::json).findings.empty());
}

TEST_CASE("redaction inside a base64 document re-encodes the document") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(23);
  std::string doc = "deploy notes\nGH_TOKEN=" + token + "\nend\n";
  nlohmann::json body = {
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "document"},
            {"source",
             {{"type", "base64"}, {"media_type", "text/plain"}, {"data", base64(doc)}}}}}}}}}};
  std::string decoded = redacted_document(s, body.dump());
  CHECK(decoded.find("GH_TOKEN=[REDACTED:test-github-pat]\nend") != std::string::npos);
  CHECK(decoded.find(token) == std::string::npos);
}

// The redactor decodes a document as the detector did (JSON escapes undone, then leniently),
// so the redaction lands on the secret even when the data is written unusually.
TEST_CASE("redaction inside an unusually written base64 document hits the secret") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(24);
  std::string doc = "\xFB\xFF\xBF notes\nGH_TOKEN=" + token + "\nend\n";  // "+/+/" in base64
  std::string b64 = base64(doc);
  REQUIRE(b64.find('+') != std::string::npos);
  std::string url = b64;  // URL-safe, unpadded
  for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (url.back() == '=') url.pop_back();
  std::string escaped = b64;  // '+' written as \u002B, as .NET's serializer does
  for (size_t at = 0; (at = escaped.find('+', at)) != std::string::npos;)
    escaped.replace(at, 1, "\\u002B");
  for (const std::string& data : {url, b64 + ".", escaped}) {
    INFO(data);
    std::string raw =
        R"({"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"text/plain","data":")" +
        data + R"("}}]}]})";
    std::string decoded = redacted_document(s, raw);
    CHECK(decoded.find("GH_TOKEN=[REDACTED:test-github-pat]\nend") != std::string::npos);
    CHECK(decoded.find(token) == std::string::npos);
  }
}

TEST_CASE("overlapping findings are merged into one marker") {
  Finding a, b;
  a.rule_id = "first";
  a.start = 2;
  a.end = 8;
  b.rule_id = "second";
  b.start = 5;
  b.end = 10;
  CHECK(redact("0123456789AB", {a, b}) == "01[REDACTED:first]AB");
}

TEST_CASE("plain text redaction") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(24);
  std::string text = "a " + token + " b";
  CHECK(redact(text, s.scan(text, InputFormat::text).findings) == "a [REDACTED:test-github-pat] b");
}

TEST_CASE("redact_with: the callback gets the decoded value: its result is escaped") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(25);
  std::string key = aws_key_id(26);
  std::string escaped_key = "\\u0041" + key.substr(1);  // the model reads 'A'
  nlohmann::json body = {{"messages", {{{"role", "user"}, {"content", "t " + token + " k X"}}}}};
  std::string raw = body.dump();
  raw.replace(raw.find(" X"), 2, " " + escaped_key);
  auto r = s.scan(raw, InputFormat::json);
  REQUIRE(r.findings.size() == 2);
  std::vector<std::string> seen;
  std::vector<size_t> indexes;
  std::string out = redact_with(
      raw, r.findings,
      [&](const Finding& f, std::string_view value) {
        seen.emplace_back(value);
        indexes.push_back(static_cast<size_t>(&f - r.findings.data()));
        return f.rule_id == "test-aws-key-id" ? std::string("q\"uote\\d") : std::string("T1");
      },
      InputFormat::json);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == token);
  CHECK(seen[1] == key);  // unescaped
  CHECK(indexes == std::vector<size_t>{0, 1});
  auto parsed = nlohmann::json::parse(out);
  CHECK(parsed["messages"][0]["content"] == "t T1 k q\"uote\\d");
}

TEST_CASE("redact_with in a base64 document and in plain text") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(27);
  std::string doc = "GH_TOKEN=" + token + "\n";
  nlohmann::json body = {
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "document"},
            {"source",
             {{"type", "base64"}, {"media_type", "text/plain"}, {"data", base64(doc)}}}}}}}}}};
  std::string raw = body.dump();
  auto r = s.scan(raw, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  std::string got;
  std::string out = redact_with(raw, r.findings, [&](const Finding&, std::string_view v) {
    got = v;
    return std::string("ghp_standin");
  });
  CHECK(got == token);
  std::string data = nlohmann::json::parse(out)["messages"][0]["content"][0]["source"]["data"];
  CHECK(data == base64("GH_TOKEN=ghp_standin\n"));

  std::string text = "a " + token + " \\n b";
  auto t = s.scan(text, InputFormat::text);
  REQUIRE(t.findings.size() == 1);
  CHECK(redact_with(text, t.findings, [](const Finding&, std::string_view v) {
          return "<" + std::string(v.substr(0, 4)) + ">";
        }) == "a <ghp_> \\n b");
}

TEST_CASE("json_escape and json_unescape") {
  std::string out;
  CHECK(json_unescape(R"(a\"b\\c\/d\n\u00e9\ud83d\ude00)", out));
  CHECK(out == "a\"b\\c/d\n\xC3\xA9\xF0\x9F\x98\x80");
  CHECK_FALSE(json_unescape(R"(bad\q)", out));
  CHECK_FALSE(json_unescape("trailing\\", out));
  CHECK(json_escape("q\"b\\n\n\x01") == R"(q\"b\\n\n\u0001)");
}

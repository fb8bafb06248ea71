// The text readers (text_readers.h): base64 and percent-encoded text, normalised text, wrapped
// values and joined text blocks are found where the model would read them, with their location,
// a clean twin of each is not flagged, limits hold, stream and block mode agree, and redaction
// lands on the original bytes with the JSON still valid.
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "detectors/engine.h"
#include "detectors/redactor.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;
using json = nlohmann::json;

namespace {

std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string percent_all(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// ASCII letters and digits in their full-width forms (U+FF01..U+FF5E).
std::string full_width(std::string_view s) {
  std::string out;
  for (char ch : s) {
    uint32_t cp = 0xFF01 + static_cast<uint32_t>(ch - '!');
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Inserts `what` after every `every` characters of an ASCII string.
std::string interleave(std::string_view s, std::string_view what, size_t every) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && i % every == 0) out += what;
    out += s[i];
  }
  return out;
}

std::string user_message(const std::string& text) {
  return json{{"messages", {{{"role", "user"}, {"content", text}}}}}.dump();
}

std::string describe(const std::vector<Finding>& fs) {
  std::string out;
  for (const auto& f : fs)
    out += f.rule_id + "@" + std::to_string(f.start) + "-" + std::to_string(f.end) + " " +
           f.location + "; ";
  return out;
}

bool same_findings(const std::vector<Finding>& a, const std::vector<Finding>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].rule_id != b[i].rule_id || a[i].start != b[i].start || a[i].end != b[i].end ||
        a[i].location != b[i].location || a[i].fingerprint != b[i].fingerprint ||
        a[i].parts != b[i].parts)
      return false;
  return true;
}

ScanResult scan_split(Scanner& s, std::string_view input, InputFormat f, size_t every) {
  auto stream = s.open_stream(f);
  for (size_t at = 0; at < input.size(); at += every) stream->write(input.substr(at, every));
  return stream->finish();
}

// Block mode against stream mode split at every offset (or every `step`-th), and in small pieces.
void check_stream_agrees(Scanner& s, const std::string& input, InputFormat f, size_t step = 1) {
  auto block = s.scan(input, f);
  INFO("block: " << describe(block.findings));
  for (size_t cut = 1; cut < input.size(); cut += step) {
    auto stream = s.open_stream(f);
    stream->write(std::string_view(input).substr(0, cut));
    stream->write(std::string_view(input).substr(cut));
    auto r = stream->finish();
    INFO("split at " << cut << ": " << describe(r.findings));
    REQUIRE(same_findings(block.findings, r.findings));
  }
  for (size_t every : {1, 7, 64, 100, 4096}) {
    auto r = scan_split(s, input, f, every);
    INFO("pieces of " << every << ": " << describe(r.findings));
    REQUIRE(same_findings(block.findings, r.findings));
  }
}

}  // namespace

// --- base64 and percent-encoding ---------------------------------------------------------------

TEST_CASE("a token in base64 inside prompt text is found, and redaction replaces the run") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(11);
  std::string encoded = base64("export GITHUB_TOKEN=" + token + "\n");
  std::string body = user_message("decode this: " + encoded + " and run it");
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.ok());
  INFO(describe(r.findings));
  REQUIRE(r.findings.size() == 1);
  const Finding& f = r.findings[0];
  CHECK(f.rule_id == "test-github-pat");
  CHECK(f.location == "messages[0].content (base64)");
  CHECK(f.derived);
  CHECK(body.substr(f.start, f.end - f.start) == encoded);
  std::string redacted = redact(body, r.findings);
  json parsed = json::parse(redacted);
  CHECK(parsed["messages"][0]["content"] == "decode this: [REDACTED:test-github-pat] and run it");
  CHECK(s.scan(redacted, InputFormat::json).findings.empty());
  check_stream_agrees(s, body, InputFormat::json);
}

TEST_CASE("base64 of prose, of binary bytes and base64-shaped identifiers are not findings") {
  Scanner s(test_rules(), test_key());
  std::string prose = base64("Please refactor the parser into smaller parts with clear names.");
  std::string binary;
  for (int i = 0; i < 300; ++i) binary.push_back(static_cast<char>((i * 151 + 7) & 0xFF));
  std::string text = "notes: " + prose + "\nblob: " + base64(binary) +
                     "\nsha: 3f786850e387550fdab836ed7e6dc881de23001b CMAKE_CXX_COMPILER_LAUNCHER";
  auto r = s.scan(user_message(text), InputFormat::json);
  REQUIRE(r.ok());
  CHECK(r.findings.empty());
  // The prose was decoded (its derived text is scanned), the binary was not.
  auto only_prose = s.scan(user_message("notes: " + prose), InputFormat::json);
  CHECK(only_prose.decoded_bytes > user_message("notes: " + prose).size());
}

TEST_CASE("kubectl get secret -o yaml output in a tool result is read") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(12);
  std::string yaml = "apiVersion: v1\ndata:\n  token: " + base64(token) +
                     "\n  user: " + base64("deploy-bot") +
                     "\nkind: Secret\nmetadata:\n  name: gh\n";
  json body = {{"messages",
                {{{"role", "user"},
                  {"content",
                   {{{"type", "tool_result"}, {"tool_use_id", "toolu_01"}, {"content", yaml}}}}}}}};
  std::string raw = body.dump();
  auto r = s.scan(raw, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "messages[0].content[0].content (base64)");
  CHECK(raw.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == base64(token));
  json redacted = json::parse(redact(raw, r.findings));
  std::string content = redacted["messages"][0]["content"][0]["content"];
  CHECK(content.find("token: [REDACTED:test-github-pat]\n") != std::string::npos);
  CHECK(content.find(base64("deploy-bot")) != std::string::npos);
}

TEST_CASE("base64 nests two levels deep, not three") {
  Scanner s(test_rules(), test_key());
  std::string secret = "key " + aws_key_id(13) + " here";
  std::string two = base64(base64(secret));
  std::string three = base64(two);
  auto r2 = s.scan(user_message("blob " + two), InputFormat::json);
  REQUIRE(r2.findings.size() == 1);
  CHECK(r2.findings[0].location == "messages[0].content (base64, base64)");
  auto r3 = s.scan(user_message("blob " + three), InputFormat::json);
  CHECK(r3.ok());
  CHECK(r3.findings.empty());
  check_stream_agrees(s, user_message("blob " + two), InputFormat::json, 3);
}

TEST_CASE("data: URLs with base64 or percent payloads are read") {
  Scanner s(test_rules(), test_key());
  std::string key = aws_key_id(14);
  std::string b64_url = "data:text/plain;base64," + base64("aws " + key);
  std::string pct_url = "data:text/plain,aws%20" + percent_all(key);
  for (const auto& [url, suffix] : {std::pair{b64_url, " (base64)"}, {pct_url, " (percent)"}}) {
    std::string body = user_message("see " + url + " ok");
    auto r = s.scan(body, InputFormat::json);
    INFO(url);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].location == std::string("messages[0].content") + suffix);
    CHECK(json::parse(redact(body, r.findings))["messages"][0]["content"].is_string());
  }
}

TEST_CASE("percent-encoded text is decoded with its exact span") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(15);
  std::string encoded = token;
  encoded.replace(3, 1, "%5F");  // ghp%5F...
  std::string body = user_message("open https://ci.example/hook?t=" + encoded + "&x=1 now");
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "messages[0].content (percent)");
  CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == encoded);
  json redacted = json::parse(redact(body, r.findings));
  CHECK(redacted["messages"][0]["content"] ==
        "open https://ci.example/hook?t=[REDACTED:test-github-pat]&x=1 now");
  check_stream_agrees(s, body, InputFormat::json, 2);
  // A clean URL with escapes is not a finding.
  CHECK(s.scan(user_message("https://ci.example/a%20b?q=%7Bx%7D"), InputFormat::json)
            .findings.empty());
}

TEST_CASE("a huge base64 run is decoded within the budget and stays fast") {
  Scanner s(test_rules(), test_key());
  std::string text;
  while (text.size() < (3u << 20)) text += "the request returns a value when the buffer is ok. ";
  std::string body = user_message(base64(text + github_token(16)));
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.ok());
  REQUIRE(r.findings.size() == 1);
  CHECK(r.decoded_bytes < body.size() * 2);
  auto streamed = scan_split(s, body, InputFormat::json, 16384);
  CHECK(same_findings(r.findings, streamed.findings));
  // Binary of the same size is not decoded at all.
  std::string noise(3u << 20, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string noisy = user_message(base64(noise));
  auto rn = s.scan(noisy, InputFormat::json);
  CHECK(rn.ok());
  CHECK(rn.decoded_bytes < noisy.size() + 4096);
}

// --- normalisation -----------------------------------------------------------------------------

TEST_CASE("invisible code points inside a token do not hide it") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(17);
  struct Case {
    const char* name;
    std::string invisible;
  };
  for (const Case& c : {Case{"zero-width space", "\u200B"}, Case{"soft hyphen", "\u00AD"},
                        Case{"word joiner", "\u2060"}, Case{"zero-width joiner", "\u200D"},
                        Case{"byte order mark", "\uFEFF"}, Case{"variation selector", "\uFE0F"}}) {
    INFO(c.name);
    std::string hidden = interleave(token, c.invisible, 5);
    std::string body = user_message("token " + hidden + " ok");
    REQUIRE(body.find(token) == std::string::npos);
    auto r = s.scan(body, InputFormat::json);
    INFO(describe(r.findings));
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].location == "messages[0].content (normalised)");
    CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == hidden);
    CHECK(r.findings[0].length == token.size());
    json redacted = json::parse(redact(body, r.findings));
    CHECK(redacted["messages"][0]["content"] == "token [REDACTED:test-github-pat] ok");
  }
}

TEST_CASE("full-width and mathematical letters fold to the token they spell") {
  Scanner s(test_rules(), test_key());
  std::string key = aws_key_id(18);
  std::string wide = full_width(key);
  std::string body = user_message("aws key " + wide + " ok");
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "test-aws-key-id");
  CHECK(r.findings[0].location == "messages[0].content (normalised)");
  CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == wide);
  CHECK(json::parse(redact(body, r.findings))["messages"][0]["content"] ==
        "aws key [REDACTED:test-aws-key-id] ok");
  check_stream_agrees(s, body, InputFormat::json, 5);

  // The same as \u escapes in the JSON: the span covers the escapes whole.
  std::string escaped = "{\"content\":\"key ";
  for (char ch : key) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", 0xFF01 + (ch - '!'));
    escaped += buf;
  }
  escaped += "\"}";
  auto re = s.scan(escaped, InputFormat::json);
  REQUIRE(re.findings.size() == 1);
  CHECK(re.findings[0].start == escaped.find("\\u"));
  CHECK(json::parse(redact(escaped, re.findings))["content"] == "key [REDACTED:test-aws-key-id]");

  // Mathematical bold capitals and digits (U+1D400.., U+1D7CE..).
  std::string bold;
  for (char ch : key) {
    uint32_t cp = ch >= 'A' && ch <= 'Z' ? 0x1D400 + (ch - 'A') : 0x1D7CE + (ch - '0');
    bold += static_cast<char>(0xF0 | (cp >> 18));
    bold += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    bold += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    bold += static_cast<char>(0x80 | (cp & 0x3F));
  }
  auto rb = s.scan("key " + bold, InputFormat::text);
  REQUIRE(rb.findings.size() == 1);
  CHECK(rb.findings[0].location == "(normalised)");
}

TEST_CASE("Cyrillic and Greek look-alikes inside a credential are read as the letters they mimic") {
  Scanner s(test_rules(), test_key());
  std::string key = aws_key_id(24);
  // AKIA with Cyrillic A, K, I (U+0410, U+041A, U+0406) and Greek capital alpha (U+0391).
  std::string mimic = "\u0410\u041A\u0406\u0391" + key.substr(4);
  std::string body = user_message("aws key " + mimic + " ok");
  auto r = s.scan(body, InputFormat::json);
  INFO(describe(r.findings));
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "test-aws-key-id");
  CHECK(r.findings[0].location == "messages[0].content (normalised)");
  CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == mimic);
  check_stream_agrees(s, body, InputFormat::json, 3);
  // A Cyrillic r (U+0440) in ghp_.
  std::string token = github_token(25);
  std::string tok = "gh\u0440" + token.substr(3);
  auto rt = s.scan("token " + tok, InputFormat::text);
  REQUIRE(rt.findings.size() == 1);
  CHECK(rt.findings[0].location == "(normalised)");
  // Words written in Cyrillic or Greek are left as they are: nothing derived.
  std::string prose =
      "\u041F\u0440\u0438\u0432\u0435\u0442, \u043A\u0430\u043A "
      "\u0434\u0435\u043B\u0430? \u039A\u03B1\u03BB\u03B7\u03BC\u03AD\u03C1\u03B1 world";
  auto rp = s.scan(prose, InputFormat::text);
  CHECK(rp.findings.empty());
  CHECK(rp.decoded_bytes == prose.size());
}

TEST_CASE("full-width and accented text without a secret is not a finding") {
  Scanner s(test_rules(), test_key());
  std::string text =
      full_width("HelloWorld2024") + " café, naïve — “quoted” … ﬁle ½ " + "Привет мир 你好 \u200B";
  auto r = s.scan(user_message(text), InputFormat::json);
  CHECK(r.ok());
  CHECK(r.findings.empty());
}

TEST_CASE("plain ASCII text is read with no derived text") {
  Scanner s(test_rules(), test_key());
  std::string text =
      "def load_config(path):\n    with open(path) as f:\n        return yaml.safe_load(f)\n"
      "2026-11-02T10:15:32.118Z INFO http: GET /api/v2/items?page=3 200 trace=7f3a91c2\n"
      "please refactor this class into smaller parts with clear names, 50% faster.\n";
  auto r = s.scan(text, InputFormat::text);
  CHECK(r.findings.empty());
  CHECK(r.decoded_bytes == text.size());
}

TEST_CASE("digits grouped by no-break and thin spaces are a card number") {
  Scanner s(test_rules(), test_key());
  std::string card = visa_number(19);
  for (const char* space : {"\u00A0", "\u202F", "\u2009"}) {
    std::string grouped;
    for (size_t i = 0; i < card.size(); i += 4) grouped += (i ? space : "") + card.substr(i, 4);
    std::string body = user_message("card " + grouped + " exp");
    auto r = s.scan(body, InputFormat::json);
    INFO(describe(r.findings));
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].rule_id == "test-card");
    CHECK(r.findings[0].location == "messages[0].content (normalised)");
    CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == grouped);
  }
}

TEST_CASE("normalisation text that expands past the budget fails the scan") {
  Scanner s(test_rules(), test_key());
  std::string bomb;
  while (bomb.size() < (1u << 20)) bomb += "\uFDFA";  // 3 bytes, 33 once normalised
  auto r = s.scan(user_message(bomb), InputFormat::json);
  CHECK_FALSE(r.ok());
  CHECK(r.error.find("text readers") != std::string::npos);
  auto streamed = scan_split(s, user_message(bomb), InputFormat::json, 16384);
  CHECK_FALSE(streamed.ok());
}

// --- wrapped values ----------------------------------------------------------------------------

TEST_CASE("a token wrapped by a terminal or an editor is found") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(20);
  // An 80-column terminal cuts the line 26 characters into the token.
  std::string line = "dev@build-host:~/src/promptgate$ export GITHUB_TOKEN=" + token;
  REQUIRE(line.size() > 80);
  for (const char* brk : {"\n", "\r\n", "\n    ", "\n\t"}) {
    std::string wrapped = line.substr(0, 80) + brk + line.substr(80);
    std::string body = user_message("$ cat .env\n" + wrapped + "\n$ ");
    auto r = s.scan(body, InputFormat::json);
    INFO(describe(r.findings));
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].location == "messages[0].content (wrapped)");
    json redacted = json::parse(redact(body, r.findings));
    CHECK(redacted["messages"][0]["content"] ==
          "$ cat .env\ndev@build-host:~/src/promptgate$ export "
          "GITHUB_TOKEN=[REDACTED:test-github-pat]\n$ ");
    check_stream_agrees(s, body, InputFormat::json, 3);
  }
  // A short line is not a wrapped one: the same break 45 characters into a shorter line.
  std::string short_line = "export GITHUB_TOKEN=" + token;
  CHECK(s.scan(short_line.substr(0, 45) + "\n" + short_line.substr(45), InputFormat::text)
            .findings.empty());
}

TEST_CASE("ordinary line breaks are not joined") {
  Scanner s(test_rules(), test_key());
  std::string text =
      "retry_after_timeout_ms2\nnext_line_here\n"  // a short run: not credential-shaped
      "state machine v2 update\n  parser stream\n"
      "see build/output/v20261102\nfor the log\n"
      "a long line of prose that ends in an identifier like parse_header_v2\nnext";
  auto r = s.scan(text, InputFormat::text);
  CHECK(r.findings.empty());
  CHECK(r.decoded_bytes < text.size() + 600);
}

// --- joined text blocks ------------------------------------------------------------------------

TEST_CASE("a value split across two text blocks of a message is found once, named by both") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(21);
  std::string whole = github_token(22);
  json body = {{"messages",
                {{{"role", "user"}, {"content", "hi"}},
                 {{"role", "user"},
                  {"content",
                   {{{"type", "text"}, {"text", "my token is " + token.substr(0, 17)}},
                    {{"type", "text"}, {"text", token.substr(17) + " and also " + whole}}}}}}}};
  std::string raw = body.dump();
  auto r = s.scan(raw, InputFormat::json);
  INFO(describe(r.findings));
  REQUIRE(r.findings.size() == 2);
  const Finding* joined = nullptr;
  const Finding* direct = nullptr;
  for (const auto& f : r.findings) (f.parts.empty() ? direct : joined) = &f;
  REQUIRE(joined);
  REQUIRE(direct);
  CHECK(joined->location == "messages[1].content[0].text..messages[1].content[1].text");
  REQUIRE(joined->parts.size() == 2);
  CHECK(raw.substr(joined->parts[0].begin, joined->parts[0].end - joined->parts[0].begin) ==
        token.substr(0, 17));
  CHECK(raw.substr(joined->parts[1].begin, joined->parts[1].end - joined->parts[1].begin) ==
        token.substr(17));
  CHECK(direct->location == "messages[1].content[1].text");
  json redacted = json::parse(redact(raw, r.findings));
  CHECK(redacted["messages"][1]["content"][0]["text"] == "my token is [REDACTED:test-github-pat]");
  CHECK(redacted["messages"][1]["content"][1]["text"] == " and also [REDACTED:test-github-pat]");
  check_stream_agrees(s, raw, InputFormat::json, 3);
}

TEST_CASE("the text items of a tool result are joined: separate messages are not") {
  Scanner s(test_rules(), test_key());
  std::string key = aws_key_id(23);
  json tool = {{"messages",
                {{{"role", "user"},
                  {"content",
                   {{{"type", "tool_result"},
                     {"tool_use_id", "toolu_1"},
                     {"content",
                      {{{"type", "text"}, {"text", "id=" + key.substr(0, 9)}},
                       {{"type", "text"}, {"text", key.substr(9) + "\n"}}}}}}}}}}};
  auto r = s.scan(tool.dump(), InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location ==
        "messages[0].content[0].content[0].text..messages[0].content[0].content[1].text");
  json apart = {{"messages",
                 {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", key.substr(0, 9)}}}}},
                  {{"role", "user"}, {"content", {{{"type", "text"}, {"text", key.substr(9)}}}}}}}};
  CHECK(s.scan(apart.dump(), InputFormat::json).findings.empty());
}

// --- stream and block agree on mixed inputs ---------------------------------------------------

TEST_CASE("stream and block mode agree on texts mixing every reader, at random splits") {
  Scanner s(test_rules(), test_key());
  std::mt19937_64 rng(20261204);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string token = github_token(30), key = aws_key_id(31), card = visa_number(32);
  std::vector<std::string> pieces = {
      "plain words and more words ",
      "decode " + base64("export T=" + token + "\n") + " ",
      base64(base64("k " + key)) + "\n",
      base64(std::string(70, 'x')) + "==",
      "url?t=" + percent_all(token) + "&x ",
      interleave(token, "\u200B", 7) + " ",
      full_width(key) + " ",
      "card 4111\u00A0" + card.substr(4, 4) + "\u202F" + card.substr(8, 4) + " " + card.substr(12),
      std::string(64, 'A') + "B9\n    " + std::string(30, 'c') + " ",
      "dev@host:~/src/project$ export GITHUB_TOKEN=" + token.substr(0, 30) + "\n" +
          token.substr(30) + "\n",
      "\u00E9t\u00E9 \u2026 \uFB01 ",
      "k \u0410\u041A\u0406\u0391" + key.substr(4) + " gh\u0440" + token.substr(3) + " ",
      "\u041F\u0440\u0438\u0432\u0435\u0442 \u043C\u0438\u0440 abc\u0430\u0431\u0432 ",
      "100% sure %zz %4 ",
      token.substr(0, 20),
      token.substr(20) + " ",
  };
  for (int round = 0; round < 100; ++round) {
    std::vector<std::string> blocks(1 + pick(3));
    for (auto& b : blocks)
      for (size_t k = 1 + pick(6); k > 0; --k) b += pieces[pick(pieces.size())];
    json content = json::array();
    for (const auto& b : blocks) content.push_back({{"type", "text"}, {"text", b}});
    std::string body = json{{"messages", {{{"role", "user"}, {"content", content}}}}}.dump();
    auto block = s.scan(body, InputFormat::json);
    REQUIRE(block.ok());
    INFO("round " << round << ": " << describe(block.findings));
    for (int k = 0; k < 12; ++k) {
      size_t a = 1 + pick(body.size() - 1), b = 1 + pick(body.size() - 1);
      if (a > b) std::swap(a, b);
      auto stream = s.open_stream(InputFormat::json);
      stream->write(std::string_view(body).substr(0, a));
      stream->write(std::string_view(body).substr(a, b - a));
      stream->write(std::string_view(body).substr(b));
      auto r = stream->finish();
      INFO("splits " << a << ", " << b << ": " << describe(r.findings));
      REQUIRE(same_findings(block.findings, r.findings));
    }
    for (size_t every : {1, 13, 97})
      REQUIRE(
          same_findings(block.findings, scan_split(s, body, InputFormat::json, every).findings));
    // Redaction keeps the JSON valid and leaves nothing to find.
    CHECK(json::accept(redact(body, block.findings)));
    // The same texts as plain text input.
    std::string text = blocks[0];
    auto tb = s.scan(text, InputFormat::text);
    REQUIRE(
        same_findings(tb.findings, scan_split(s, text, InputFormat::text, 1 + pick(50)).findings));
  }
}

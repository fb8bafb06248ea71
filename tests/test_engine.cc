// The engine: block and stream mode agree, matches across chunk boundaries are found, JSON
// escapes hide nothing, offsets map back to raw bytes, memory per stream stays bounded, the
// allowlist and placeholders work, and bad rules are rejected with file, line and rule id.
#include <openssl/evp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "detectors/decoded_text.h"
#include "detectors/engine.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;

namespace {

std::vector<std::string> rule_ids(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.rule_id);
  return out;
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
        a[i].location != b[i].location || a[i].fingerprint != b[i].fingerprint)
      return false;
  return true;
}

std::string grouped(const std::string& digits) {
  std::string out;
  for (size_t i = 0; i < digits.size(); i += 4) out += (i ? " " : "") + digits.substr(i, 4);
  return out;
}

ScanResult scan_in_chunks(Scanner& s, std::string_view input, InputFormat f,
                          std::vector<size_t> cuts) {
  auto stream = s.open_stream(f);
  size_t at = 0;
  for (size_t cut : cuts) {
    stream->write(input.substr(at, cut - at));
    at = cut;
  }
  stream->write(input.substr(at));
  return stream->finish();
}

}  // namespace

TEST_CASE("a token in plain text is found with its exact span") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(1);
  std::string text = "export GH_TOKEN=" + token + "\n";
  auto r = s.scan(text, InputFormat::text);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "test-github-pat");
  CHECK(text.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == token);
  CHECK(r.findings[0].length == token.size());
  CHECK(r.findings[0].location.empty());
}

TEST_CASE("a token with a wrong checksum is not a finding") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(2);
  token.back() = token.back() == 'a' ? 'b' : 'a';
  CHECK(s.scan("token " + token, InputFormat::text).findings.empty());
}

TEST_CASE("JSON escapes do not hide a secret and spans map back to the raw escaped bytes") {
  Scanner s(test_rules(), test_key());
  std::string key = aws_key_id(3);
  // \u0041 is 'A': the raw body never contains the literal key.
  std::string escaped = key;
  escaped.replace(0, 1, "\\u0041");
  std::string body = R"({"messages":[{"role":"user","content":[{"type":"text","text":"key: )" +
                     escaped + R"( ok"}]}]})";
  REQUIRE(body.find(key) == std::string::npos);
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.ok());
  REQUIRE(r.findings.size() == 1);
  const auto& f = r.findings[0];
  CHECK(f.rule_id == "test-aws-key-id");
  CHECK(f.location == "messages[0].content[0].text");
  CHECK(body.substr(f.start, f.end - f.start) == escaped);
  CHECK(f.length == key.size());
}

TEST_CASE("a PEM key whose newlines are JSON escapes is found") {
  Scanner s(test_rules(), test_key());
  std::string pem =
      "-----BEGIN RSA PRIVATE "
      "KEY-----\\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\\n"
      "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\\n"
      "-----END RSA PRIVATE KEY-----";
  std::string body = R"({"content":")" + pem + R"("})";
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "test-pem");
  CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) == pem);
  // As raw text the escaped newlines are two characters and the rule does not match.
  CHECK(s.scan(body, InputFormat::text).findings.empty());
}

TEST_CASE("a JSON member name gives context to its value") {
  Scanner s(test_rules(), test_key());
  std::string body = R"({"db": {"password": "Zq8Lw3Nv7Tx2pR"}, "note": "password reset"})";
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].rule_id == "test-password");
  CHECK(r.findings[0].location == "db.password");
  CHECK(body.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start) ==
        "Zq8Lw3Nv7Tx2pR");
}

TEST_CASE("placeholders and documentation examples are not findings") {
  Scanner s(test_rules(), test_key());
  for (const char* text : {"aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "password = \"changeme123\"",
                           "password: ${DB_PASSWORD}", "password = \"<your-password>\"",
                           "password = 'xxxxxxxxxxxx'", "password = os.environ[\"DB_PASSWORD\"]"}) {
    INFO(text);
    CHECK(s.scan(text, InputFormat::text).findings.empty());
  }
}

TEST_CASE("context words are required where a rule asks for them") {
  Scanner s(test_rules(), test_key());
  CHECK(rule_ids(s.scan("patient ssn: 212-45-1234", InputFormat::text).findings) ==
        std::vector<std::string>{"test-ssn-context"});
  CHECK(s.scan("order ref 212-45-1234 shipped", InputFormat::text).findings.empty());
  CHECK(s.scan("ssn: 666-45-1234", InputFormat::text).findings.empty());  // invalid area
}

TEST_CASE("stream mode equals block mode at every split of a JSON body") {
  Scanner s(test_rules(), test_key());
  std::string body =
      nlohmann::json{
          {"messages",
           {{{"role", "user"},
             {"content", "my token " + github_token(4) + "\ncard " + grouped(visa_number(5)) +
                             "\n\"password\": \"Zq8Lw3Nv7Tx2pR\" " + aws_key_id(6) +
                             " done, ssn: 212-45-1234 and 212-45-1235"}}}}}
          .dump();
  auto block = s.scan(body, InputFormat::json);
  REQUIRE(block.ok());
  INFO(describe(block.findings));
  REQUIRE(block.findings.size() >= 6);
  for (size_t cut = 1; cut < body.size(); ++cut) {
    auto streamed = scan_in_chunks(s, body, InputFormat::json, {cut});
    INFO("split at " << cut << ": " << describe(streamed.findings));
    REQUIRE(same_findings(block.findings, streamed.findings));
  }
  // Three-way splits around the token, byte by byte.
  size_t t = body.find("ghp_");
  for (size_t a = t - 3; a < t + 20; ++a)
    for (size_t b = a + 1; b < t + 45; ++b)
      REQUIRE(same_findings(block.findings,
                            scan_in_chunks(s, body, InputFormat::json, {a, b}).findings));
}

TEST_CASE("one-byte chunks give the same findings as one block") {
  Scanner s(test_rules(), test_key());
  std::string text =
      "line one\npassword=Zq8Lw3Nv7Tx2pR\n" + github_token(7) + " and " + aws_key_id(8);
  auto block = s.scan(text, InputFormat::text);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < text.size(); ++i) cuts.push_back(i);
  CHECK(same_findings(block.findings, scan_in_chunks(s, text, InputFormat::text, cuts).findings));
  CHECK(block.findings.size() == 3);
}

TEST_CASE("a stream outlives its scanner, and the next streams reuse finished ones' buffers") {
  // A rule reload replaces a thread's Scanner while a request body is still arriving.
  auto scanner = std::make_unique<Scanner>(test_rules(), test_key());
  std::string body =
      R"({"messages":[{"role":"user","content":"deploy with )" + github_token(3) + R"( please"}]})";
  auto stream = scanner->open_stream(InputFormat::json);
  stream->write(std::string_view(body).substr(0, 40));
  scanner.reset();
  stream->write(std::string_view(body).substr(40));
  auto r = stream->finish();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "messages[0].content");
  stream.reset();

  // Streams one after another (and two at once) find the same as a fresh scanner's first one.
  Scanner s(test_rules(), test_key());
  std::string big =
      R"({"messages":[{"role":"user","content":")" + std::string(200000, 'x') + R"("}]})";
  for (int round = 0; round < 3; ++round) {
    auto a = s.open_stream(InputFormat::json);
    auto b = s.open_stream(InputFormat::json);
    a->write(big);
    b->write(body);
    CHECK(a->finish().findings.empty());
    auto rb = b->finish();
    REQUIRE(rb.findings.size() == 1);
    CHECK(rb.findings[0].start == r.findings[0].start);
    CHECK(rb.findings[0].location == "messages[0].content");
  }
}

TEST_CASE("memory per stream stays bounded over a long input") {
  Scanner s(test_rules(), test_key());
  auto stream = s.open_stream(InputFormat::text);
  std::string chunk(64 * 1024, 'a');
  for (size_t i = 0; i < chunk.size(); i += 100) chunk[i] = '\n';
  size_t peak = 0;
  for (int i = 0; i < 1024; ++i) {  // 64 MiB
    REQUIRE(stream->write(chunk));
    peak = std::max(peak, stream->memory_bytes());
  }
  std::string token = github_token(9);
  stream->write(" " + token + " ");
  auto r = stream->finish();
  CHECK(r.raw_bytes == 64u * 1024 * 1024 + token.size() + 2);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].start == 64u * 1024 * 1024 + 1);
  // Lookbehind window + one chunk + fixed structures; nowhere near the 64 MiB read.
  CHECK(peak < 4 * test_rules()->max_lookbehind() + 4 * chunk.size() + (1u << 20));
}

TEST_CASE("memory per JSON stream stays bounded with many small values") {
  Scanner s(test_rules(), test_key());
  auto stream = s.open_stream(InputFormat::json);
  REQUIRE(stream->write("{\"items\":["));
  std::string chunk;
  for (int i = 0; i < 2000; ++i) chunk += "{\"k\":\"value number " + std::to_string(i) + "\"},";
  size_t peak = 0;
  for (int i = 0; i < 300; ++i) {
    REQUIRE(stream->write(chunk));
    peak = std::max(peak, stream->memory_bytes());
  }
  REQUIRE(stream->write("{\"k\":\"x\"}]}"));
  auto r = stream->finish();
  CHECK(r.ok());
  CHECK(peak < 8u << 20);
}

TEST_CASE("malformed and truncated JSON is reported, not crashed on") {
  Scanner s(test_rules(), test_key());
  for (const char* bad : {"{\"a\":", "{\"a\" 1}", "[1,]", "{\"a\":\"\\x\"}", "{\"a\":tru}", "\"abc",
                          "{\"a\":1}}", "{\"a\":01}", "{\"a\":\"\x01\"}"}) {
    INFO(bad);
    auto r = s.scan(bad, InputFormat::json);
    CHECK_FALSE(r.ok());
    CHECK(r.error.find("invalid JSON at byte") != std::string::npos);
    auto st = s.open_stream(InputFormat::json);
    st->write(bad);
    CHECK_FALSE(st->finish().ok());
  }
  std::string deep(10000, '[');
  auto r = s.scan(deep, InputFormat::json);
  CHECK(r.error.find("nesting") != std::string::npos);
}

TEST_CASE("automatic format scans non-JSON as text") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(10);
  auto r = s.scan("{ not json " + token, InputFormat::automatic);
  CHECK(r.ok());
  CHECK_FALSE(r.scanned_as_json);
  CHECK(r.findings.size() == 1);
  auto j = s.scan("{\"t\":\"" + token + "\"}", InputFormat::automatic);
  CHECK(j.scanned_as_json);
  CHECK(j.findings.size() == 1);
}

TEST_CASE("base64 text documents are decoded and scanned") {
  Scanner s(test_rules(), test_key());
  std::string doc = "config:\n  token: " + github_token(11) + "\n";
  std::string b64(4 * ((doc.size() + 2) / 3), '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                                 reinterpret_cast<const unsigned char*>(doc.data()),
                                                 static_cast<int>(doc.size()))));
  std::string body =
      R"({"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"text/plain","data":")" +
      b64 + R"("}}]}]})";
  auto r = s.scan(body, InputFormat::json);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].in_base64);
  CHECK(r.findings[0].location == "messages[0].content[0].source.data");
  CHECK(r.findings[0].start >= body.find(b64));
  CHECK(r.findings[0].end <= body.find(b64) + b64.size());
  // An image is not decoded as text.
  std::string image =
      R"({"source":{"type":"base64","media_type":"image/png","data":")" + b64 + R"("}})";
  CHECK(s.scan(image, InputFormat::json).findings.empty());
}

// A reader of the JSON would find these: the differences a review found between what the
// decoder scanned and what the API's parsers read.
TEST_CASE("a document's data is scanned as text too, and decoded as leniently as the API does") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(14);
  auto found = [&](const std::string& body) {
    auto r = s.scan(body, InputFormat::json);
    REQUIRE(r.ok());
    return r.findings.size();
  };
  auto doc = [](std::string source) {
    return R"({"messages":[{"role":"user","content":[{"type":"document","source":)" + source +
           "}]}]}";
  };
  // A plain-text source, and text in a source whose type is never said.
  CHECK(found(doc(R"({"type":"text","media_type":"text/plain","data":"Notes. My token is )" +
                  token + R"( ok."})")) == 1);
  CHECK(found(doc(R"({"data":"Notes. My token is )" + token + R"( ok."})")) == 1);
  // Plain text where an image's base64 should be (a tool may send anything).
  CHECK(found(R"({"input":{"type":"base64","media_type":"image/png","data":"notes )" + token +
              R"("}})") == 1);
  // Base64 with what lenient decoders skip or accept: a stray character, extra padding, line
  // breaks, the URL-safe alphabet without padding; media types in any case.
  std::string text = "\xFB\xFF\xBF config token: " + token + " \xFB\xFF\xBF";  // "+/+/" in base64
  std::string b64(4 * ((text.size() + 2) / 3), '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(
      reinterpret_cast<unsigned char*>(b64.data()),
      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()))));
  std::string url = b64;
  for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!url.empty() && url.back() == '=') url.pop_back();
  REQUIRE(url.find_first_of("-_") != std::string::npos);
  for (std::string data :
       {b64 + ".", "*" + b64, b64 + "=", b64.substr(0, 20) + "\\n" + b64.substr(20), url}) {
    INFO(data);
    CHECK(found(doc(R"({"type":"base64","media_type":"Text/Plain","data":")" + data + R"("})")) ==
          1);
  }
  // One character too many (4k+1) does not cost the document its last block.
  CHECK(found(doc(R"({"type":"base64","media_type":"text/plain","data":")" + b64 + "A\"}")) == 1);
  // Keys that decide how the data is read, said twice: parsers differ on which wins, so the
  // document is refused rather than read one way.
  auto twice = s.scan(
      doc(R"({"type":"text","data":")" + b64 + R"(","type":"base64","media_type":"text/plain"})"),
      InputFormat::json);
  CHECK_FALSE(twice.ok());
  CHECK(twice.error.find("\"type\" appears twice") != std::string::npos);
  // A declared non-base64 type before the data is believed: the text is not decoded.
  auto r = s.scan(doc(R"({"type":"text","media_type":"text/plain","data":")" + b64 + R"("})"),
                  InputFormat::json);
  CHECK(r.findings.empty());
}

TEST_CASE("a UTF-8 byte order mark before a JSON document is read past") {
  Scanner s(test_rules(), test_key());
  std::string token = github_token(15);
  std::string body = "\xEF\xBB\xBF{\"t\":\"\\u0067" + token.substr(1) + "\"}";
  for (auto format : {InputFormat::json, InputFormat::automatic}) {
    auto r = s.scan(body, format);
    REQUIRE(r.ok());
    CHECK(r.scanned_as_json);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].start == body.find("\\u0067"));
    // Streamed in two pieces, split anywhere (inside the mark too): the same finding.
    for (size_t cut = 0; cut <= 8; ++cut) {
      INFO("cut at " << cut);
      auto stream = s.open_stream(format);
      stream->write(std::string_view(body).substr(0, cut));
      stream->write(std::string_view(body).substr(cut));
      auto streamed = stream->finish();
      REQUIRE(streamed.ok());
      REQUIRE(streamed.findings.size() == 1);
      CHECK(streamed.findings[0].start == r.findings[0].start);
    }
  }
  // The start of a mark that does not go on is not JSON.
  CHECK_FALSE(s.scan("\xEF\xBB{\"t\":1}", InputFormat::json).ok());
}

TEST_CASE("fingerprints are keyed, stable, and never the value") {
  std::string token = github_token(12);
  Scanner a(test_rules(), FingerprintKey::from_passphrase("one"));
  Scanner b(test_rules(), FingerprintKey::from_passphrase("two"));
  auto fa = a.scan(token, InputFormat::text).findings.at(0).fingerprint;
  CHECK(fa == a.scan("x " + token, InputFormat::text).findings.at(0).fingerprint);
  CHECK(fa != b.scan(token, InputFormat::text).findings.at(0).fingerprint);
  CHECK(fa.rfind("fp_", 0) == 0);
  CHECK(fa.size() == 19);
  CHECK(token.find(fa.substr(3)) == std::string::npos);
}

TEST_CASE("the allowlist drops findings by fingerprint, rule or pattern") {
  std::string token = github_token(13);
  auto fp =
      Scanner(test_rules(), test_key()).scan(token, InputFormat::text).findings.at(0).fingerprint;
  auto with_allow = [&](const std::string& entries) {
    auto packs = parse_rule_pack(kTestPack, "test-pack.yaml");
    auto allow = parse_rule_pack("allowlist:\n" + entries, "allow.yaml");
    packs.allowlist = allow.allowlist;
    Scanner s(RuleSet::compile(packs), test_key());
    return s.scan(token + " " + aws_key_id(14), InputFormat::text).findings;
  };
  CHECK(with_allow("  - fingerprint: " + fp + "\n").size() == 1);
  CHECK(with_allow("  - rule: test-github-pat\n    fingerprint: " + fp + "\n").size() == 1);
  CHECK(with_allow("  - rule: test-aws-key-id\n    fingerprint: " + fp + "\n").size() == 2);
  CHECK(with_allow("  - rule: test-aws-key-id\n").size() == 1);
  CHECK(with_allow("  - pattern: '^ghp_'\n").size() == 1);
  CHECK(with_allow("  - fingerprint: fp_0000000000000000\n").size() == 2);
}

TEST_CASE("bad rules are rejected with file, line and rule id") {
  auto error_of = [](const std::string& yaml) {
    try {
      RuleSet::compile(parse_rule_pack(yaml, "my-rules.yaml"));
    } catch (const RuleError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string head =
      "pack: mine\nrules:\n  - id: my-rule\n    category: credential\n    severity: high\n"
      "    action: block\n    description: d\n";
  std::string e = error_of(head + "    pattern: 'abc(['\n");
  CHECK(e.find("my-rules.yaml:3") != std::string::npos);
  CHECK(e.find("my-rule") != std::string::npos);
  CHECK(e.find("Hyperscan") != std::string::npos);

  e = error_of(head + "    pattern: 'abc'\n    validators: [luhn, no_such_check]\n");
  CHECK(e.find("my-rules.yaml:9") != std::string::npos);
  CHECK(e.find("unknown validator 'no_such_check'") != std::string::npos);

  e = error_of(head +
               "    pattern: 'abc'\n  - id: my-rule\n    category: pii\n    severity: low\n"
               "    action: log\n    description: d\n    pattern: 'x'\n");
  CHECK(e.find("my-rules.yaml:9") != std::string::npos);
  CHECK(e.find("duplicate rule id") != std::string::npos);

  e = error_of(head + "    pattern: 'abc'\n    min_entropy: [1\n");
  CHECK(e.find("my-rules.yaml:") != std::string::npos);
  CHECK(e.find("malformed YAML") != std::string::npos);

  e = error_of(head + "    pattern: 'abc'\n    severity_typo: 1\n");
  CHECK(e.find("unknown field 'severity_typo'") != std::string::npos);

  e = error_of(head + "    pattern: '(?<=a)b'\n");
  CHECK(e.find("my-rules.yaml:3: rule 'my-rule'") != std::string::npos);

  e = error_of("pack: mine\nrules:\n  - id: Bad Id\n");
  CHECK(e.find("my-rules.yaml:3") != std::string::npos);
}

TEST_CASE("findings carry no part of the value") {
  Scanner s(builtin_rules(), test_key());
  std::string token = github_token(15);
  auto r = s.scan("{\"t\":\"" + token + "\"}", InputFormat::json);
  REQUIRE_FALSE(r.findings.empty());
  for (const auto& f : r.findings) {
    for (const std::string* field : {&f.rule_id, &f.location, &f.fingerprint}) {
      CHECK(field->find(token.substr(4, 8)) == std::string::npos);
      CHECK(field->find(token.substr(20, 8)) == std::string::npos);
    }
  }
}

TEST_CASE("compiled databases are cached and a corrupt cache entry is rebuilt") {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("promptgate-cache-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string token = github_token(31);
  auto scan_with_cache = [&] {
    Scanner s(RuleSet::compile(parse_rule_pack(kTestPack, "test-pack.yaml"), dir.string()),
              test_key());
    return s.scan("x " + token, InputFormat::text).findings;
  };
  auto first = scan_with_cache();
  REQUIRE(first.size() == 1);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "garbage";
  }
  CHECK(files == 2);                // block and stream databases
  auto second = scan_with_cache();  // corrupt entries: compiled again
  REQUIRE(second.size() == 1);
  CHECK(second[0].fingerprint == first[0].fingerprint);
  auto third = scan_with_cache();  // served from the rebuilt cache
  CHECK(third.size() == 1);
  fs::remove_all(dir);
}

TEST_CASE("scanning never reads past the end of the caller's buffer or the decoded text") {
  // Hyperscan 5.4's VBMI Teddy over-reads up to 32 bytes (Vectorscan issue #322, same trigger).
  // The input sits right before a page that is not mapped, as a body at the end of an mmap
  // would; scanning it in every mode must neither crash nor miss the match.
  auto rules = RuleSet::compile(parse_rule_pack(R"(pack: teddy
rules:
  - id: three-letter-word
    category: credential
    severity: low
    action: log
    description: Teddy with many short literals
    pattern: '(?i)(?:bat|cat|mat|rat|fat|sat|pat|hat|vat)'
)",
                                                "teddy"));
  Scanner scanner(rules, test_key());
  const std::string input = "VAt hat pat sat fat rat mat ca";
  const long page = ::sysconf(_SC_PAGESIZE);
  void* map = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(map != MAP_FAILED);
  REQUIRE(::mprotect(static_cast<char*>(map) + page, page, PROT_NONE) == 0);
  char* at = static_cast<char*>(map) + page - input.size();
  std::memcpy(at, input.data(), input.size());
  std::string_view edge(at, input.size());
  for (auto format : {InputFormat::text, InputFormat::automatic}) {
    auto block = scanner.scan(edge, format);
    REQUIRE(block.ok());
    CHECK(block.findings.size() == 7);
    auto stream = scanner.open_stream(format);
    stream->write(edge.substr(0, 11));
    stream->write(edge.substr(11));
    CHECK(stream->finish().findings.size() == 7);
  }
  ::munmap(map, 2 * page);

  // The decoded text itself keeps readable room after its end whatever was appended.
  DecodedText text;
  for (size_t n = 0; n < 5000; n += 37) {
    text.append_identity(std::string(n, 'x').data(), n);
    CHECK(text.spare() >= DecodedText::kScanReadSlack);
  }
}

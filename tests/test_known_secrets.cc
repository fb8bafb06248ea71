// Known secrets: digests round-trip through the file format, values are found as whole tokens
// (and only so), a file made under another key or malformed is refused naming file:line, and no
// value ever appears in a digest file or an error message. Every value here is synthetic.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "detectors/engine.h"
#include "detectors/known_secrets.h"
#include "tests/synthetic.h"

using namespace promptgate;

namespace {

FingerprintKey key_a() {
  return FingerprintKey::from_passphrase("known-secrets test key A");
}
FingerprintKey key_b() {
  return FingerprintKey::from_passphrase("known-secrets test key B");
}

std::string digest_file(const std::vector<std::pair<std::string, std::string>>& values,
                        const FingerprintKey& key = key_a()) {
  KnownSecretsDigester d(key);
  for (const auto& [value, label] : values) {
    INFO("label " << label);
    REQUIRE(d.add(value, label) == KnownSecretsDigester::Outcome::added);
  }
  return d.file_text();
}

std::vector<KnownSecretMatch> find_all(const KnownSecrets& ks, std::string_view text) {
  std::vector<KnownSecretMatch> out;
  ks.find(text, out);
  return out;
}

std::string load_error(std::string_view text, const FingerprintKey& key = key_a()) {
  try {
    KnownSecrets::parse(text, "known.txt", key);
  } catch (const KnownSecretsError& e) {
    return e.what();
  }
  return "(no error)";
}

// Synthetic values of the shapes the feature is for: passwords and internal tokens.
const std::string kPassword = "Zq8#Lw3Nv7";                     // 10 bytes
const std::string kToken = "itk_5f1c9e27b0a44d8e93c2f61d";      // 28 bytes
const std::string kSpaced = "pa ss:w/rd(7)!x";                  // boundary bytes inside
const std::string kShort8 = "x7Qp2Lm9";                         // minimum length
const std::string kLong256 = std::string(250, 'k') + "9Zr!2q";  // maximum length

}  // namespace

TEST_CASE("known secrets: digest file fields follow the documented format", "[known_secrets]") {
  // docs/known-secrets.md: prefilter = first 4 bytes of AES-128-ECB(K_w, first 8 bytes || 8 zero
  // bytes), digest = first 16 bytes of HMAC-SHA256(K_d, value), with K_w (first 16 bytes) and
  // K_d derived as HMAC-SHA256(fingerprint key, purpose), key-id likewise (first 8 bytes).
  auto hex = [](const unsigned char* p, size_t n) {
    std::string out;
    char buf[3];
    for (size_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", p[i]);
      out += buf;
    }
    return out;
  };
  FingerprintKey key = key_a();
  auto kw = key.derive("promptgate known-secrets v1 window");
  auto kd = key.derive("promptgate known-secrets v1 digest");
  auto id = key.derive("promptgate known-secrets key id");
  unsigned char block[16] = {}, enc[32];
  std::memcpy(block, kToken.data(), 8);
  int len = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, kw.data(), nullptr) == 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  REQUIRE(EVP_EncryptUpdate(ctx, enc, &len, block, 16) == 1);
  EVP_CIPHER_CTX_free(ctx);
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), kd.data(), 32, reinterpret_cast<const unsigned char*>(kToken.data()),
       kToken.size(), mac, &mac_len);
  std::string expected = "promptgate-known-secrets v1 key-id=" + hex(id.data(), 8) + "\n";
  std::string line =
      std::to_string(kToken.size()) + " " + hex(enc, 4) + " " + hex(mac, 16) + " INTERNAL_TOKEN\n";
  std::string file = digest_file({{kToken, "INTERNAL_TOKEN"}}, key);
  CHECK(file.rfind(expected, 0) == 0);
  CHECK(file.find("\n" + line) != std::string::npos);
  CHECK(KnownSecrets::key_id(key) == hex(id.data(), 8));
}

TEST_CASE("known secrets: digest round trip finds values as whole tokens", "[known_secrets]") {
  std::string file = digest_file({{kPassword, "DB_PASSWORD"},
                                  {kToken, "secret/data/app#internal_token"},
                                  {kSpaced, "ODD"},
                                  {kShort8, "SHORT"},
                                  {kLong256, "LONG"}});
  for (const auto& v : {kPassword, kToken, kSpaced, kShort8, kLong256})
    CHECK(file.find(v) == std::string::npos);
  CHECK(file.rfind("promptgate-known-secrets v1 key-id=" + KnownSecrets::key_id(key_a()) + "\n",
                   0) == 0);

  auto ks = KnownSecrets::parse(file, "known.txt", key_a());
  REQUIRE(ks->size() == 5);
  CHECK(ks->min_length() == 8);
  CHECK(ks->max_length() == 256);

  auto expect_one = [&](const std::string& text, const std::string& value,
                        const std::string& label) {
    INFO("text shape: " << text.size() << " bytes, label " << label);
    auto m = find_all(*ks, text);
    REQUIRE(m.size() == 1);
    CHECK(text.substr(m[0].start, m[0].end - m[0].start) == value);
    CHECK(ks->label(m[0].entry) == label);
    CHECK(ks->length(m[0].entry) == value.size());
  };
  expect_one("{\"password\":\"" + kPassword + "\"}", kPassword, "DB_PASSWORD");
  expect_one("connect with postgres://app:" + kPassword + "@db.internal:5432/x", kPassword,
             "DB_PASSWORD");
  expect_one(kPassword, kPassword, "DB_PASSWORD");  // the whole text
  expect_one(kPassword + " at the start", kPassword, "DB_PASSWORD");
  expect_one("at the end: " + kPassword, kPassword, "DB_PASSWORD");
  expect_one("the token is " + kToken + ".", kToken, "secret/data/app#internal_token");
  expect_one("Authorization: Bearer " + kToken + "\r\n", kToken, "secret/data/app#internal_token");
  expect_one("odd='" + kSpaced + "'", kSpaced, "ODD");
  expect_one("x " + kShort8 + "\n", kShort8, "SHORT");
  expect_one("k=" + kLong256 + ";", kLong256, "LONG");
  expect_one("**" + kPassword + "**", kPassword, "DB_PASSWORD");

  // Inside a longer token it is not the value, whatever the side.
  for (const std::string& text :
       {"x" + kPassword, kPassword + "x", kPassword + "_old", "my-" + kPassword, "9" + kToken,
        kToken + "0", "#" + kShort8 + "#", kLong256 + "z", "a" + kSpaced})
    CHECK(find_all(*ks, text).empty());
  // Only the exact value: one byte changed or cut is not it.
  std::string changed = kToken;
  changed[20] ^= 1;
  CHECK(find_all(*ks, "t " + changed + " t").empty());
  CHECK(find_all(*ks, "t " + kToken.substr(0, kToken.size() - 1) + " t").empty());
  CHECK(find_all(*ks, "").empty());
  CHECK(find_all(*ks, "short").empty());

  // Appends, in text order.
  std::vector<KnownSecretMatch> out(1);
  ks->find(kToken + " and " + kPassword, out);
  REQUIRE(out.size() == 3);
  CHECK(out[1].start == 0);
  CHECK(out[2].start == kToken.size() + 5);
}

TEST_CASE("known secrets: a value whose prefix is another value, and duplicates",
          "[known_secrets]") {
  const std::string base = "Kx9vT2mQ", longer = "Kx9vT2mQ:7yH";  // same first 8 bytes
  std::string file = digest_file({{base, "A"}, {longer, "B"}});
  // A concatenation of two files repeats entries: loaded once.
  std::string twice = file + file.substr(file.find('\n') + 1);
  auto ks = KnownSecrets::parse(twice, "known.txt", key_a());
  REQUIRE(ks->size() == 2);
  auto m = find_all(*ks, "(" + longer + ")");
  REQUIRE(m.size() == 2);
  CHECK(ks->label(m[0].entry) == "A");
  CHECK(m[0].end - m[0].start == base.size());
  CHECK(ks->label(m[1].entry) == "B");
  CHECK(m[1].end - m[1].start == longer.size());
}

TEST_CASE("known secrets: agrees with a naive search on random text", "[known_secrets]") {
  std::mt19937_64 rng(11);
  const std::string alphabet = "abcdefXYZ0123456789-_+%~ \n\t\"':=/@.,;!()[]{}<>|\\*&?#";
  auto random_string = [&](size_t n, std::string_view chars) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(chars[rng() % chars.size()]);
    return s;
  };
  std::vector<std::string> values;
  KnownSecretsDigester d(key_a());
  while (values.size() < 300) {
    std::string v = random_string(8 + rng() % 40, "abcXYZ0123456789-_:/.@!");
    if (d.add(v, "v" + std::to_string(values.size())) == KnownSecretsDigester::Outcome::added)
      values.push_back(v);
  }
  auto ks = KnownSecrets::parse(d.file_text(), "known.txt", key_a());
  REQUIRE(ks->size() == values.size());
  auto boundary = [](std::string_view t, size_t at) {
    return KnownSecrets::is_boundary(static_cast<unsigned char>(t[at]));
  };
  for (int round = 0; round < 40; ++round) {
    std::string text = random_string(rng() % 600, alphabet);
    for (int k = 0; k < 12; ++k) {  // plant values anywhere, including across 64-byte blocks
      const std::string& v = values[rng() % values.size()];
      text.insert(rng() % (text.size() + 1), k % 2 ? v : " " + v + " ");
    }
    std::set<std::tuple<size_t, size_t, std::string>> expected, got;
    for (const auto& v : values)
      for (size_t at = text.find(v); at != std::string::npos; at = text.find(v, at + 1)) {
        size_t end = at + v.size();
        bool start_ok = (at == 0 || boundary(text, at - 1)) && !std::isspace(text[at]);
        bool end_ok = end == text.size() || boundary(text, end);
        if (start_ok && end_ok) expected.insert({at, end, v});
      }
    for (const auto& m : find_all(*ks, text)) {
      REQUIRE(m.end <= text.size());
      got.insert({m.start, m.end, text.substr(m.start, m.end - m.start)});
    }
    CHECK(got == expected);
    CHECK(!expected.empty());
  }
}

TEST_CASE("known secrets: a file made under another key is refused", "[known_secrets]") {
  std::string file = digest_file({{kPassword, "DB_PASSWORD"}}, key_b());
  std::string err = load_error(file, key_a());
  CHECK(err.find("known.txt:1: made under another fingerprint key") != std::string::npos);
  CHECK(err.find(KnownSecrets::key_id(key_b())) != std::string::npos);
  CHECK(err.find(kPassword) == std::string::npos);
  // And its digests would not match anyway: with the header forged they find nothing.
  std::string forged = file;
  forged.replace(forged.find("key-id=") + 7, 16, KnownSecrets::key_id(key_a()));
  auto ks = KnownSecrets::parse(forged, "known.txt", key_a());
  CHECK(find_all(*ks, "pw " + kPassword + " pw").empty());
  CHECK(KnownSecrets::key_id(key_a()) != KnownSecrets::key_id(key_b()));
  CHECK(KnownSecrets::key_id(key_a()).size() == 16);
}

TEST_CASE("known secrets: supported lengths are 8 to 256 bytes", "[known_secrets]") {
  KnownSecretsDigester d(key_a());
  CHECK(d.add("a1b2c3d", "SEVEN") == KnownSecretsDigester::Outcome::too_short);
  CHECK(d.add(std::string(256, 'q') + "1", "LONG") == KnownSecretsDigester::Outcome::too_long);
  CHECK(d.add("a1b2c3d4", "EIGHT") == KnownSecretsDigester::Outcome::added);
  CHECK(d.add(std::string(255, 'q') + "1", "MAX") == KnownSecretsDigester::Outcome::added);
  CHECK(d.size() == 2);

  std::string header = "promptgate-known-secrets v1 key-id=" + KnownSecrets::key_id(key_a());
  std::string digest(32, 'a');
  CHECK(load_error(header + "\n7 00000000 " + digest + "\n") ==
        "known.txt:2: length must be a number from 8 to 256");
  CHECK(load_error(header + "\n257 00000000 " + digest + "\n") ==
        "known.txt:2: length must be a number from 8 to 256");
  CHECK(load_error(header + "\n99999999999999999999999 00000000 " + digest + "\n") ==
        "known.txt:2: length must be a number from 8 to 256");
  CHECK_NOTHROW(
      KnownSecrets::parse(header + "\n8 00000000 " + digest + "\n256 ffffffff " + digest + " L\n",
                          "known.txt", key_a()));
}

TEST_CASE("known secrets: malformed files are refused naming file:line", "[known_secrets]") {
  std::string header = "promptgate-known-secrets v1 key-id=" + KnownSecrets::key_id(key_a());
  std::string digest(32, '0');
  CHECK(load_error("") ==
        "known.txt: empty; expected the header `promptgate-known-secrets v1 "
        "key-id=...`");
  CHECK(load_error("# only a comment\n\n").rfind("known.txt: empty", 0) == 0);
  CHECK(
      load_error("DB_PASSWORD=" + kPassword + "\n").rfind("known.txt:1: expected the header", 0) ==
      0);
  CHECK(load_error("promptgate-known-secrets v2 key-id=0000000000000000\n")
            .rfind("known.txt:1: unsupported header", 0) == 0);
  CHECK(load_error("promptgate-known-secrets v1 key-id=00\n")
            .rfind("known.txt:1: the header's key-id", 0) == 0);
  CHECK(load_error("# c\n" + header + "\n12 0000000g " + digest + "\n") ==
        "known.txt:3: prefilter must be 8 hex digits");
  CHECK(load_error(header + "\n# c\n\n12 00000000 " + digest.substr(1) + "\n") ==
        "known.txt:4: digest must be 32 hex digits");
  CHECK(load_error(header + "\n12 00000000\n") ==
        "known.txt:2: expected `LENGTH PREFILTER DIGEST [LABEL]` (2 fields)");
  CHECK(load_error(header + "\n12 00000000 " + digest + " a b\n") ==
        "known.txt:2: expected `LENGTH PREFILTER DIGEST [LABEL]` (5 fields)");
  CHECK(load_error(header + "\r\n12 00000000 " + digest + " caf\xc3\xa9\r\n") ==
        "known.txt:2: label must be printable ASCII");
  CHECK(load_error(header + "\n12 00000000 " + digest + " " + std::string(129, 'L') + "\n") ==
        "known.txt:2: label longer than 128 bytes");
  // A value pasted where a digest belongs is refused without being echoed.
  std::string err = load_error(header + "\n10 00000000 " + kPassword + "\n");
  CHECK(err == "known.txt:2: digest must be 32 hex digits");
  // Comments, blank lines, CRLF and an entry with no label are fine; so is an empty set.
  auto ks = KnownSecrets::parse("# made by hand\n\n" + header + "\r\n  # c\n", "k", key_a());
  CHECK(ks->size() == 0);
  CHECK(find_all(*ks, "anything at all " + kPassword).empty());
  CHECK_THROWS_WITH(KnownSecrets::load("/nonexistent/known-secrets", key_a()),
                    "/nonexistent/known-secrets: cannot open known-secrets file");
}

TEST_CASE("known secrets: the digester skips what cannot or should not match", "[known_secrets]") {
  KnownSecretsDigester d(key_a());
  using O = KnownSecretsDigester::Outcome;
  CHECK(d.add(" leading1x", "A") == O::edge_whitespace);
  CHECK(d.add("trailing1x\t", "A") == O::edge_whitespace);
  CHECK(d.add("production", "NODE_ENV") == O::plain);
  CHECK(d.add("Sunshine", "A") == O::plain);
  CHECK(d.add("1700000000", "EPOCH") == O::plain);
  CHECK(d.add("1700000000", "EPOCH", true) == O::added);
  CHECK(d.add("Tr0ub4dor&3", "PW one") == O::added);
  CHECK(d.add("Tr0ub4dor&3", "PGPASSWORD") == O::duplicate);
  CHECK(d.add("Tr0ub4dor&3", "PW one") == O::duplicate);
  CHECK(d.size() == 2);
  std::string file = d.file_text();
  CHECK(file.find(" PW_one,PGPASSWORD\n") != std::string::npos);  // cleaned, merged
  CHECK(file.find("Tr0ub4dor") == std::string::npos);
  CHECK(file.find("1700000000") == std::string::npos);
  auto ks = KnownSecrets::parse(file, "known.txt", key_a());
  auto m = find_all(*ks, "PGPASSWORD=Tr0ub4dor&3");
  REQUIRE(m.size() == 1);
  CHECK(ks->label(m[0].entry) == "PW_one,PGPASSWORD");
}

namespace {
std::vector<std::tuple<std::string, std::string, size_t>> read_all(std::string_view text,
                                                                   SecretInputFormat f) {
  std::vector<std::tuple<std::string, std::string, size_t>> out;
  read_secret_input(text, f, [&](std::string_view v, std::string_view label, size_t line) {
    out.emplace_back(std::string(v), std::string(label), line);
  });
  return out;
}
std::string input_error(std::string_view text, SecretInputFormat f) {
  try {
    read_all(text, f);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}
using Item = std::tuple<std::string, std::string, size_t>;
}  // namespace

TEST_CASE("known secrets: .env input", "[known_secrets]") {
  std::string env =
      "# app settings\n"
      "export DB_PASSWORD=Zq8#Lw3Nv7\n"
      "  API_TOKEN = \"itk 5f1c\\\"9e\\\\27\\n\"  # quoted, escaped\n"
      "SINGLE='lit\\eral $X'\n"
      "INLINE=abc#def # a comment\n"
      "\n"
      "MULTI=\"line one\nline two\"\n"
      "EMPTY=\n"
      "EMPTY_QUOTED=''\r\n"
      "CRLF=crlf-value\r\n"
      "dotted.key-name=v\n";
  auto items = read_all(env, SecretInputFormat::env);
  std::vector<Item> expected = {
      {"Zq8#Lw3Nv7", "DB_PASSWORD", 2},   {"itk 5f1c\"9e\\27\n", "API_TOKEN", 3},
      {"lit\\eral $X", "SINGLE", 4},      {"abc#def", "INLINE", 5},
      {"line one\nline two", "MULTI", 7}, {"crlf-value", "CRLF", 11},
      {"v", "dotted.key-name", 12}};
  CHECK(items == expected);

  CHECK(input_error("A=1\nnot an assignment\n", SecretInputFormat::env) ==
        "line 2: expected KEY=VALUE");
  CHECK(input_error("A=1\nB=\"Zq8Lw3Nv7 never closed\nC=2\n", SecretInputFormat::env) ==
        "line 2: unterminated double-quoted value");
  CHECK(input_error("A='Zq8Lw3Nv7'trailing\n", SecretInputFormat::env) ==
        "line 1: unexpected text after the closing quote");
  CHECK(input_error("1A=x\n", SecretInputFormat::env) == "line 1: expected KEY=VALUE");
}

TEST_CASE("known secrets: one-value-per-line and JSON input", "[known_secrets]") {
  CHECK(read_all("first value\r\n\n # not a comment\n", SecretInputFormat::lines) ==
        std::vector<Item>{{"first value", "", 1}, {" # not a comment", "", 3}});

  std::string kv2 = R"({"request_id":"r","data":{"data":{"db_password":"Zq8#Lw3Nv7",
      "port":5432},"metadata":{"version":3}}})";
  SecretInputStats stats;
  std::vector<Item> items;
  stats = read_secret_input(kv2, SecretInputFormat::json,
                            [&](std::string_view v, std::string_view l, size_t line) {
                              items.emplace_back(std::string(v), std::string(l), line);
                            });
  CHECK(items == std::vector<Item>{{"Zq8#Lw3Nv7", "db_password", 0}});
  CHECK(stats.values == 1);
  CHECK(stats.non_string == 1);
  CHECK(read_all(R"({"data":{"api_key":"itk_5f1c9e27"}})", SecretInputFormat::json) ==
        std::vector<Item>{{"itk_5f1c9e27", "api_key", 0}});
  CHECK(read_all(R"({"A":"one-value","B":"two-value"})", SecretInputFormat::json) ==
        std::vector<Item>{{"one-value", "A", 0}, {"two-value", "B", 0}});

  // nlohmann's own message quotes what it read last; ours gives the line only.
  std::string err =
      input_error("{\n\"a\": \"Zq8#Lw3Nv7\",\n\"b\": Zq8Lw3Nv7x\n}", SecretInputFormat::json);
  CHECK(err == "line 3: invalid JSON");
  CHECK(input_error(R"(["Zq8#Lw3Nv7"])", SecretInputFormat::json) ==
        "line 1: expected a JSON object");
}

TEST_CASE("known secrets: find is thread-safe and instances under different keys can alternate",
          "[known_secrets]") {
  auto ks_a = KnownSecrets::parse(digest_file({{kToken, "A"}}, key_a()), "a", key_a());
  auto ks_b = KnownSecrets::parse(digest_file({{kPassword, "B"}}, key_b()), "b", key_b());
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "line " + std::to_string(i) + ": " + kToken + " / " + kPassword + "\n";
  for (int round = 0; round < 3; ++round) {  // one thread, two cipher keys in turn
    CHECK(find_all(*ks_a, text).size() == 200);
    CHECK(find_all(*ks_b, text).size() == 200);
  }
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const auto& ks = (t + i) % 2 ? ks_a : ks_b;
        std::vector<KnownSecretMatch> out;
        ks->find(text, out);
        if (out.size() != 200) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("known secrets: the boundary set is exactly the documented one, on every path",
          "[known_secrets]") {
  const std::string value = "Qm7vX2pL9k";
  auto ks = KnownSecrets::parse(digest_file({{value, "V"}}), "known.txt", key_a());
  const std::string documented = "'\"`,;:=&?/@<>()[]{}|\\.!*";
  for (int c = 0; c < 256; ++c) {
    auto byte = static_cast<unsigned char>(c);
    bool expected =
        c <= 0x20 || c == 0x7f || documented.find(static_cast<char>(c)) != std::string::npos;
    INFO("byte " << c);
    CHECK(KnownSecrets::is_boundary(byte) == expected);
    // Inside a 64-byte block (the vector path) and in the scalar tail of a short text.
    std::string sep(1, static_cast<char>(c));
    std::string long_text = std::string(20, 'x') + sep + value + sep + std::string(60, 'y');
    std::string short_text = "x" + sep + value + sep + "y";
    CHECK(find_all(*ks, long_text).size() == (expected ? 1u : 0u));
    CHECK(find_all(*ks, short_text).size() == (expected ? 1u : 0u));
  }
}

// --- through the scanner ----------------------------------------------------------------------

TEST_CASE("the scanner finds known secrets in block and stream mode, at every chunk boundary",
          "[known_secrets]") {
  const std::string value = "Tr0ub4dor&3x!";  // synthetic
  auto known = KnownSecrets::parse(digest_file({{value, "DB_PASSWORD"}}), "test", key_a());
  Scanner scanner(testing::builtin_rules(), key_a());
  scanner.set_known_secrets(known);
  const std::string text =
      "connect with postgres://app:" + value + "@db/app please, not " + value + "zz or x" + value;
  const size_t at = text.find(value);
  auto known_findings = [](const ScanResult& r) {
    std::vector<Finding> out;
    for (const auto& f : r.findings)
      if (f.rule_id.rfind("known-secret", 0) == 0) out.push_back(f);
    return out;
  };
  ScanResult block = scanner.scan(text, InputFormat::text);
  auto kf = known_findings(block);
  REQUIRE(kf.size() == 1);  // not inside "...zz" nor "x..."
  CHECK(kf[0].rule_id == "known-secret:DB_PASSWORD");
  CHECK(kf[0].category == Category::credential);
  CHECK(kf[0].start == at);
  CHECK(kf[0].end == at + value.size());
  for (size_t cut = 1; cut < text.size(); ++cut) {
    auto stream = scanner.open_stream(InputFormat::text);
    stream->write(std::string_view(text).substr(0, cut));
    stream->write(std::string_view(text).substr(cut));
    auto sf = known_findings(stream->finish());
    INFO("cut at " << cut);
    REQUIRE(sf.size() == 1);
    CHECK(sf[0].start == at);
  }
  // In JSON, the value as the model reads it: here its '&' is a \u0026 escape.
  std::string json = R"({"messages":[{"role":"user","content":"pw Tr0ub4dor\u00263x! ok"}]})";
  auto jf = known_findings(scanner.scan(json, InputFormat::json));
  REQUIRE(jf.size() == 1);
  CHECK(jf[0].location == "messages[0].content");
  CHECK(json.substr(jf[0].start, jf[0].end - jf[0].start) == R"(Tr0ub4dor\u00263x!)");
  // No known secrets set: nothing of the kind.
  Scanner plain(testing::builtin_rules(), key_a());
  CHECK(known_findings(plain.scan(text, InputFormat::text)).empty());
}

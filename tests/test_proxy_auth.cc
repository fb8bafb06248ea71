// Proxy authentication: PBKDF2 hash round trips, Basic header parsing (scheme case, base64
// padding, ':' in secrets, malformed values), users-file errors (file:line, never the hash), the
// permission check of load(), and the verified-pairs cache (hits skip PBKDF2, failures are never
// cached). Hashes use the minimum iteration count to keep the tests fast.
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy_auth.h"

using namespace promptgate::proxy;
namespace fs = std::filesystem;

namespace {

std::string b64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string basic(std::string_view user_colon_secret) {
  return "Basic " + b64(user_colon_secret);
}

std::string fast_hash(std::string_view secret) {
  return hash_secret(secret, kMinPbkdf2Iterations);
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("promptgate-auth-test-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string write_file(const fs::path& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path);
    out << text;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path.string();
}

std::string parse_error(const std::string& text) {
  try {
    Credentials::parse(text, "users.txt");
  } catch (const AuthFileError& e) {
    return e.what();
  }
  FAIL("no AuthFileError for: " << text);
  return {};
}

}  // namespace

TEST_CASE("proxy auth: hash then verify round trip", "[proxy_auth]") {
  std::string hash = fast_hash("s3cret");
  CHECK(hash.rfind("pbkdf2-sha256$1000$", 0) == 0);
  CHECK(std::count(hash.begin(), hash.end(), '$') == 3);
  CHECK(fast_hash("s3cret") != hash);  // fresh salt every time

  auto creds = Credentials::parse("alice:" + hash + "\n", "users.txt");
  CHECK(creds->users() == 1);
  CHECK(creds->check_basic(basic("alice:s3cret")) == std::optional<std::string>("alice"));
  // The scheme is case-insensitive; extra blanks around the token are tolerated.
  CHECK(creds->check_basic("basic " + b64("alice:s3cret")) == "alice");
  CHECK(creds->check_basic("BASIC   " + b64("alice:s3cret") + " ") == "alice");
}

TEST_CASE("proxy auth: every base64 padding length decodes", "[proxy_auth]") {
  // "u:a" has no padding, "u:ab" two '=', "u:abc" one.
  for (std::string secret : {"a", "ab", "abc", "abcd"}) {
    auto creds = Credentials::parse("u:" + fast_hash(secret), "users.txt");
    CHECK(creds->check_basic(basic("u:" + secret)) == "u");
  }
}

TEST_CASE("proxy auth: the default hash uses 600000 iterations", "[proxy_auth]") {
  std::string line = hash_secret_for_file("carol", "correct horse");
  CHECK(line.rfind("carol:pbkdf2-sha256$600000$", 0) == 0);
  auto creds = Credentials::parse(line, "users.txt");
  CHECK(creds->check_basic(basic("carol:correct horse")) == "carol");
}

TEST_CASE("proxy auth: wrong secrets and unknown users are refused", "[proxy_auth]") {
  auto creds = Credentials::parse("alice:" + fast_hash("s3cret"), "users.txt");
  uint64_t runs = creds->pbkdf2_runs();
  CHECK_FALSE(creds->check_basic(basic("alice:wrong")));
  CHECK_FALSE(creds->check_basic(basic("alice:s3cret ")));
  CHECK_FALSE(creds->check_basic(basic("Alice:s3cret")));  // user names are case-sensitive
  CHECK(creds->pbkdf2_runs() == runs + 3);
  // An unknown user costs a PBKDF2 run too (against a dummy hash), like a wrong secret.
  CHECK_FALSE(creds->check_basic(basic("mallory:s3cret")));
  CHECK(creds->pbkdf2_runs() == runs + 4);
  CHECK(creds->cached_pairs() == 0);
}

TEST_CASE("proxy auth: malformed headers are refused without hashing", "[proxy_auth]") {
  auto creds = Credentials::parse("alice:" + fast_hash("s3cret"), "users.txt");
  for (const std::string& header : {
           std::string(""),
           std::string("Basic"),
           std::string("Basic "),
           std::string("Bearer x"),
           std::string("Bearer ") + b64("alice:s3cret"),
           std::string("Basic !!!"),
           std::string("Basic ") + b64("alice:s3cret").substr(1),  // length not a multiple of 4
           std::string("Basic YWxp Y2U6czNjcmV0"),                 // blank inside the token
           std::string("Basic ===="),
           std::string("Basic ") + b64("nocolon"),
           std::string("Basic ") + b64(":s3cret"),  // empty user
           std::string("Basic ") + b64("alice:"),   // empty secret
           std::string("Basicx ") + b64("alice:s3cret"),
           std::string("Basic ") + std::string(20000, 'A'),
       }) {
    INFO(header);
    CHECK_FALSE(creds->check_basic(header));
  }
  CHECK(creds->pbkdf2_runs() == 0);
}

TEST_CASE("proxy auth: the pair splits at the first ':'", "[proxy_auth]") {
  auto creds = Credentials::parse("bob:" + fast_hash("pa:ss:word"), "users.txt");
  CHECK(creds->check_basic(basic("bob:pa:ss:word")) == "bob");
  CHECK_FALSE(creds->check_basic(basic("bob:pa")));
}

TEST_CASE("proxy auth: hash_secret_for_file validates its input", "[proxy_auth]") {
  CHECK_THROWS_AS(hash_secret_for_file("a:b", "x"), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret_for_file("", "x"), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret_for_file("a\nb", "x"), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret_for_file(" a", "x"), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret_for_file("a", ""), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret("x", kMinPbkdf2Iterations - 1), std::invalid_argument);
  CHECK_THROWS_AS(hash_secret("x", kMaxPbkdf2Iterations + 1), std::invalid_argument);
}

TEST_CASE("proxy auth: users file comments, blank lines and CRLF", "[proxy_auth]") {
  std::string text = "# gateway users\n\n  # indented comment\r\nalice:" + fast_hash("one") +
                     "\r\n\nbob:" + fast_hash("two") + "   \n# end";
  auto creds = Credentials::parse(text, "users.txt");
  CHECK(creds->users() == 2);
  CHECK(creds->check_basic(basic("alice:one")) == "alice");
  CHECK(creds->check_basic(basic("bob:two")) == "bob");
  CHECK(Credentials::parse("", "users.txt")->users() == 0);
  CHECK_FALSE(Credentials::parse("# nobody\n", "users.txt")->check_basic(basic("alice:one")));
}

TEST_CASE("proxy auth: users file errors name file:line and never the hash", "[proxy_auth]") {
  std::string good = fast_hash("s3cret");
  auto parts = [&] {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t end; (end = good.find('$', start)) != std::string::npos; start = end + 1)
      out.push_back(good.substr(start, end - start));
    out.push_back(good.substr(start));
    return out;
  }();
  REQUIRE(parts.size() == 4);
  const std::string& salt = parts[2];
  const std::string& hash = parts[3];
  std::string prefix = "# users\n\nalice:" + good + "\n";  // the error is on line 4

  struct Case {
    std::string line;
    std::string what;
  };
  std::vector<Case> cases = {
      {"hunter2-plaintext", "missing ':'"},
      {":" + good, "empty user name"},
      {"bob:hunter2-plaintext", "unknown hash scheme"},
      {"bob:sha256$1000$" + salt + "$" + hash, "unknown hash scheme"},
      {"bob:pbkdf2-sha256$1000$" + salt, "malformed"},
      {"bob:pbkdf2-sha256$1000$" + salt + "$" + hash + "$x", "malformed"},
      {"bob:pbkdf2-sha256$1000$!!" + salt + "$" + hash, "bad base64 in the salt"},
      {"bob:pbkdf2-sha256$1000$" + salt + "$" + hash.substr(1), "bad base64 in the hash"},
      {"bob:pbkdf2-sha256$1000$" + salt + "$" + salt, "hash must be 32 bytes"},
      {"bob:pbkdf2-sha256$1000$QUJD$" + hash, "salt must be"},
      {"bob:pbkdf2-sha256$999$" + salt + "$" + hash, "iterations out of range"},
      {"bob:pbkdf2-sha256$10000001$" + salt + "$" + hash, "iterations out of range"},
      {"bob:pbkdf2-sha256$1e4$" + salt + "$" + hash, "iterations is not a number"},
      {"bob:pbkdf2-sha256$$" + salt + "$" + hash, "iterations is not a number"},
      {"bad\x01user:" + good, "invalid user name"},
      {"alice:" + fast_hash("other"), "duplicate user 'alice' (first defined on line 3)"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    std::string msg = parse_error(prefix + c.line + "\n# after\n");
    CHECK(msg.rfind("users.txt:4: ", 0) == 0);
    CHECK(msg.find(c.what) != std::string::npos);
    CHECK(msg.find(salt) == std::string::npos);
    CHECK(msg.find(hash) == std::string::npos);
    CHECK(msg.find(hash.substr(1)) == std::string::npos);
    CHECK(msg.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("proxy auth: load refuses a users file other users can read", "[proxy_auth]") {
  TempDir dir;
  std::string text = "alice:" + fast_hash("s3cret") + "\n";

  auto creds = Credentials::load(write_file(dir.path / "users-600", text, 0600));
  CHECK(creds->check_basic(basic("alice:s3cret")) == "alice");
  CHECK(Credentials::load(write_file(dir.path / "users-640", text, 0640))->users() == 1);

  for (mode_t mode : {0644, 0604, 0602, 0666}) {
    std::string path = write_file(dir.path / ("users-" + std::to_string(mode)), text, mode);
    INFO(path);
    try {
      Credentials::load(path);
      FAIL("load accepted mode " << mode);
    } catch (const AuthFileError& e) {
      std::string msg = e.what();
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find("chmod 600") != std::string::npos);
      CHECK(msg.find("pbkdf2") == std::string::npos);
    }
  }

  // Errors from load name the real path and line.
  std::string bad = write_file(dir.path / "users-bad", "# x\nalice\n", 0600);
  CHECK_THROWS_WITH(Credentials::load(bad), Catch::Matchers::StartsWith(bad + ":2: "));
  CHECK_THROWS_WITH(Credentials::load((dir.path / "missing").string()),
                    Catch::Matchers::Contains((dir.path / "missing").string()));
  CHECK_THROWS_AS(Credentials::load(dir.path.string()), AuthFileError);  // a directory
}

TEST_CASE("proxy auth: a verified pair is cached, failures never are", "[proxy_auth]") {
  auto creds = Credentials::parse("alice:" + fast_hash("s3cret") + "\nbob:" + fast_hash("hunter2"),
                                  "users.txt");
  CHECK(creds->cached_pairs() == 0);

  CHECK(creds->check_basic(basic("alice:s3cret")) == "alice");
  uint64_t runs = creds->pbkdf2_runs();
  CHECK(runs == 1);
  CHECK(creds->cached_pairs() == 1);
  for (int i = 0; i < 5; ++i) CHECK(creds->check_basic(basic("alice:s3cret")) == "alice");
  CHECK(creds->pbkdf2_runs() == runs);  // served from the cache

  // Failures (wrong secret, unknown user, another user's secret) are re-checked every time.
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(creds->check_basic(basic("alice:wrong")));
    CHECK_FALSE(creds->check_basic(basic("mallory:s3cret")));
    CHECK_FALSE(creds->check_basic(basic("bob:s3cret")));
  }
  CHECK(creds->pbkdf2_runs() == runs + 9);
  CHECK(creds->cached_pairs() == 1);

  // The cached pair is bound to its user: the same secret for another user is not a hit.
  CHECK(creds->check_basic(basic("bob:hunter2")) == "bob");
  CHECK(creds->cached_pairs() == 2);

  // A cache is per Credentials: a reloaded file starts cold.
  auto reloaded = Credentials::parse("alice:" + fast_hash("s3cret"), "users.txt");
  CHECK(reloaded->cached_pairs() == 0);
}

TEST_CASE("proxy auth: concurrent checks", "[proxy_auth]") {
  auto creds = Credentials::parse("alice:" + fast_hash("s3cret") + "\nbob:" + fast_hash("hunter2"),
                                  "users.txt");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool alice = (i + t) % 2 == 0;
        auto ok = creds->check_basic(basic(alice ? "alice:s3cret" : "bob:hunter2"));
        auto bad = creds->check_basic(basic(alice ? "alice:hunter2" : "bob:s3cret"));
        if (ok != std::optional<std::string>(alice ? "alice" : "bob") || bad) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(creds->cached_pairs() == 2);
}

TEST_CASE("login backoff: free failures, then doubling lockouts, cleared by a success",
          "[proxy_auth]") {
  using namespace std::chrono_literals;
  LoginThrottle::Clock::time_point t{};
  LoginThrottle throttle(LoginThrottle::Limits{3, 1s, 8s, 100}, [&] { return t; });
  for (int i = 0; i < 3; ++i) {
    CHECK(!throttle.locked_out("10.0.0.1"));
    throttle.failed("10.0.0.1");
  }
  CHECK(!throttle.locked_out("10.0.0.1"));  // three free failures
  throttle.failed("10.0.0.1");
  REQUIRE(throttle.locked_out("10.0.0.1"));
  CHECK(*throttle.locked_out("10.0.0.1") == 1s);
  CHECK(!throttle.locked_out("10.0.0.2"));  // per address
  t += 1s;
  CHECK(!throttle.locked_out("10.0.0.1"));
  throttle.failed("10.0.0.1");
  CHECK(*throttle.locked_out("10.0.0.1") == 2s);
  t += 2s;
  throttle.failed("10.0.0.1");
  CHECK(*throttle.locked_out("10.0.0.1") == 4s);
  t += 4s;
  throttle.failed("10.0.0.1");
  t += 8s;
  throttle.failed("10.0.0.1");
  CHECK(*throttle.locked_out("10.0.0.1") == 8s);  // capped
  throttle.succeeded("10.0.0.1");
  CHECK(!throttle.locked_out("10.0.0.1"));
  CHECK(throttle.tracked() == 0);
}

TEST_CASE("login backoff remembers a bounded number of addresses", "[proxy_auth]") {
  LoginThrottle throttle(
      LoginThrottle::Limits{0, std::chrono::seconds(60), std::chrono::seconds(60), 3});
  for (int i = 0; i < 10; ++i) throttle.failed("192.0.2." + std::to_string(i));
  CHECK(throttle.tracked() == 3);
  CHECK(throttle.locked_out("192.0.2.9"));
  CHECK(!throttle.locked_out("192.0.2.0"));  // forgotten first
}

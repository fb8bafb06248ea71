// Proxy authentication for the gateway: `Proxy-Authorization: Basic` checked against a file of
// hashed secrets (never plain text), and the identity (user, groups) that policy and the audit
// log use.
//
//   auto creds = Credentials::load("/etc/promptgate/users");   // throws AuthFileError(file:line)
//   std::optional<std::string> user = creds->check_basic(header_value);   // nullopt: refuse (407)
//   std::string line = hash_secret_for_file("alice", "s3cret");          // for `promptgate passwd`
//
// File format, one user per line ('#' comments and blank lines allowed):
//   alice:pbkdf2-sha256$600000$<salt base64>$<hash base64>
// Checking a secret is deliberately slow (PBKDF2); a verified (user, secret) pair is remembered in
// memory as a keyed digest so a keep-alive client is not re-hashed on every request.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace promptgate::proxy {

struct AuthFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Credentials {
 public:
  static std::shared_ptr<const Credentials> load(const std::string& path);
  static std::shared_ptr<const Credentials> parse(const std::string& text,
                                                  const std::string& source_name);
  ~Credentials();
  // The user name when `proxy_authorization` ("Basic <base64 user:secret>") is valid.
  std::optional<std::string> check_basic(std::string_view proxy_authorization) const;
  size_t users() const;
  // For tests and metrics: PBKDF2 derivations run by check_basic (a cache hit runs none), and the
  // number of verified (user, secret) pairs currently remembered.
  uint64_t pbkdf2_runs() const;
  size_t cached_pairs() const;

  struct Impl;

 private:
  explicit Credentials(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Backoff for failed logins, per client address: after `free_failures` wrong secrets in a row,
// each further failure locks the address out for twice as long as the last (1 s, 2 s, 4 s, ...
// up to `max_lockout`); a success clears it. While locked out the proxy answers 429 without
// checking the secret, so guessing is slow and cannot burn the gateway's CPU on PBKDF2.
// Bounded (the least recently failed addresses are forgotten first); thread-safe.
//
//   if (auto wait = throttle.locked_out(ip)) answer 429 with Retry-After: *wait
//   ... check ... ? throttle.succeeded(ip) : throttle.failed(ip);
class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    unsigned free_failures = 5;
    std::chrono::seconds first_lockout{1};
    std::chrono::seconds max_lockout{300};
    size_t max_addresses = 65536;
  };
  LoginThrottle() : LoginThrottle(Limits{}) {}
  explicit LoginThrottle(Limits limits, std::function<Clock::time_point()> now = Clock::now);
  ~LoginThrottle();
  // Seconds until `address` may try again (rounded up), or nullopt when it may try now.
  std::optional<std::chrono::seconds> locked_out(std::string_view address) const;
  void failed(std::string_view address);
  void succeeded(std::string_view address);
  size_t tracked() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

inline constexpr unsigned kDefaultPbkdf2Iterations = 600000;
inline constexpr unsigned kMinPbkdf2Iterations = 1000;
inline constexpr unsigned kMaxPbkdf2Iterations = 10000000;

// "user:pbkdf2-sha256$..." with a fresh random salt. Throws std::invalid_argument on an empty or
// invalid user name (':' or a control character, leading/trailing blanks) or an empty secret.
std::string hash_secret_for_file(std::string_view user, std::string_view secret);
// "pbkdf2-sha256$<iterations>$<salt>$<hash>" with a fresh random salt; iterations must be within
// [kMinPbkdf2Iterations, kMaxPbkdf2Iterations] (tests use the minimum to stay fast).
std::string hash_secret(std::string_view secret, unsigned iterations = kDefaultPbkdf2Iterations);

}  // namespace promptgate::proxy

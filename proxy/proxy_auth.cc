// Proxy authentication: the users file (PBKDF2-SHA256 hashes, parsed strictly, refused when other
// users can read it), `Proxy-Authorization: Basic` checks in roughly constant time, and a bounded
// cache of verified (user, secret) pairs kept as keyed digests, never as secrets.
#include "proxy/proxy_auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace promptgate::proxy {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr size_t kSaltBytes = 16;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMaxSaltBytes = 64;
constexpr size_t kHashBytes = 32;
constexpr size_t kMaxUserBytes = 256;
constexpr size_t kMaxCredentialsBase64 = 8192;  // of the Basic token; far above any real one
constexpr size_t kMaxFileBytes = 16 << 20;
constexpr size_t kCacheCapacity = 4096;

using Bytes = std::vector<unsigned char>;
using Digest = std::array<unsigned char, 32>;

struct DigestHash {
  size_t operator()(const Digest& d) const noexcept {
    size_t h;  // the digest is already uniformly random
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};

// Wipes a string holding a secret when it goes out of scope.
struct Cleanse {
  std::string& s;
  ~Cleanse() {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  }
};

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::string base64_encode(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');  // EVP_EncodeBlock writes a NUL
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Strict standard base64 with padding: EVP_DecodeBlock alone trims whitespace, and counts '='
// padding as zero bytes in its result, so the input is checked first and the padding subtracted.
std::optional<Bytes> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in.size() >= 2 && in[in.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < in.size() - pad; ++i)
    if (!is_base64_char(in[i])) return std::nullopt;
  if (in.empty()) return Bytes{};
  Bytes out(in.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

bool valid_user_name(std::string_view user) {
  if (user.empty() || user.size() > kMaxUserBytes) return false;
  if (user.front() == ' ' || user.back() == ' ') return false;
  for (char c : user) {
    auto u = static_cast<unsigned char>(c);
    if (c == ':' || u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

struct Entry {
  unsigned iterations = 0;
  Bytes salt;
  Bytes hash;
};

Bytes pbkdf2(std::string_view secret, const Bytes& salt, unsigned iterations) {
  Bytes out(kHashBytes);
  if (PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1)
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  return out;
}

Bytes random_bytes(size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("cannot draw random bytes (RAND_bytes failed)");
  return out;
}

// Parses "pbkdf2-sha256$<iterations>$<salt>$<hash>"; on failure returns what is wrong, in words
// that never quote the field (a plain-text secret pasted by mistake must not reach a log).
std::variant<Entry, std::string> parse_hash(std::string_view field) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = field.find('$', start);
    parts.push_back(field.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts[0] != kScheme)
    return std::string(
        "unknown hash scheme (expected pbkdf2-sha256$ITERATIONS$SALT$HASH; create entries with "
        "`promptgate passwd USER`)");
  if (parts.size() != 4)
    return std::string(
        "malformed pbkdf2-sha256 hash (expected pbkdf2-sha256$ITERATIONS$SALT$HASH)");
  Entry e;
  uint64_t iterations = 0;
  std::string_view it = parts[1];
  auto [ptr, ec] = std::from_chars(it.data(), it.data() + it.size(), iterations);
  if (it.empty() || ec != std::errc() || ptr != it.data() + it.size())
    return std::string("iterations is not a number");
  if (iterations < kMinPbkdf2Iterations || iterations > kMaxPbkdf2Iterations)
    return "iterations out of range (" + std::to_string(kMinPbkdf2Iterations) + " to " +
           std::to_string(kMaxPbkdf2Iterations) + ")";
  e.iterations = static_cast<unsigned>(iterations);
  auto salt = base64_decode(parts[2]);
  if (!salt) return std::string("bad base64 in the salt");
  if (salt->size() < kMinSaltBytes || salt->size() > kMaxSaltBytes)
    return "salt must be " + std::to_string(kMinSaltBytes) + " to " +
           std::to_string(kMaxSaltBytes) + " bytes";
  auto hash = base64_decode(parts[3]);
  if (!hash) return std::string("bad base64 in the hash");
  if (hash->size() != kHashBytes)
    return "hash must be " + std::to_string(kHashBytes) + " bytes (PBKDF2-HMAC-SHA256 output)";
  e.salt = std::move(*salt);
  e.hash = std::move(*hash);
  return e;
}

}  // namespace

struct Credentials::Impl {
  std::unordered_map<std::string, Entry> users;
  // Verified against for unknown users, so they cost as much as a wrong secret for a known one.
  Entry dummy;
  Bytes cache_key;  // HMAC key of the verified-pairs cache; random per Credentials

  mutable std::mutex mutex;
  mutable std::unordered_set<Digest, DigestHash> cache;
  mutable std::deque<Digest> cache_order;  // oldest first, for eviction
  mutable std::atomic<uint64_t> pbkdf2_runs{0};

  Digest pair_digest(std::string_view user, std::string_view secret) const {
    std::string msg;
    Cleanse wipe{msg};
    msg.reserve(user.size() + 1 + secret.size());
    msg.append(user).push_back('\0');
    msg.append(secret);
    Digest d{};
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), cache_key.data(), static_cast<int>(cache_key.size()),
              reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), d.data(), &len) ||
        len != d.size())
      throw std::runtime_error("HMAC-SHA256 failed");
    return d;
  }

  bool verify(const Entry& e, std::string_view secret) const {
    ++pbkdf2_runs;
    Bytes derived = pbkdf2(secret, e.salt, e.iterations);
    return derived.size() == e.hash.size() &&
           CRYPTO_memcmp(derived.data(), e.hash.data(), derived.size()) == 0;
  }
};

Credentials::Credentials(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Credentials::~Credentials() = default;

std::shared_ptr<const Credentials> Credentials::parse(const std::string& text,
                                                      const std::string& source_name) {
  auto impl = std::make_unique<Impl>();
  std::unordered_map<std::string, size_t> first_line;
  std::map<unsigned, size_t> iteration_counts;
  size_t line_no = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        std::string_view(text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](const std::string& what) {
      throw AuthFileError(source_name + ":" + std::to_string(line_no) + ": " + what);
    };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      fail("missing ':' (expected USER:pbkdf2-sha256$...; see `promptgate passwd USER`)");
    std::string_view user = line.substr(0, colon);
    if (user.empty()) fail("empty user name");
    if (!valid_user_name(user))
      fail("invalid user name (no control characters, no leading or trailing blanks, at most " +
           std::to_string(kMaxUserBytes) + " bytes)");
    auto parsed = parse_hash(line.substr(colon + 1));
    // The user name is not quoted here: on a malformed line it may be part of a pasted secret.
    if (auto* what = std::get_if<std::string>(&parsed)) fail(*what);
    std::string name(user);
    if (auto it = first_line.find(name); it != first_line.end())
      fail("duplicate user '" + name + "' (first defined on line " + std::to_string(it->second) +
           ")");
    first_line.emplace(name, line_no);
    Entry& e = std::get<Entry>(parsed);
    ++iteration_counts[e.iterations];
    impl->users.emplace(std::move(name), std::move(e));
  }
  // The dummy uses the iteration count most users have, so an unknown user costs the same.
  unsigned dummy_iterations = kDefaultPbkdf2Iterations;
  size_t best = 0;
  for (const auto& [iterations, count] : iteration_counts)
    if (count > best) best = count, dummy_iterations = iterations;
  impl->dummy.iterations = dummy_iterations;
  impl->dummy.salt = random_bytes(kSaltBytes);
  impl->dummy.hash = random_bytes(kHashBytes);
  impl->cache_key = random_bytes(32);
  return std::shared_ptr<const Credentials>(new Credentials(std::move(impl)));
}

std::shared_ptr<const Credentials> Credentials::load(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw AuthFileError("cannot open users file " + path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw AuthFileError("cannot stat users file " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw AuthFileError("users file " + path + " is not a regular file");
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw AuthFileError("refusing to use the users file " + path + ": its mode " + mode +
                        " lets other users " + ((st.st_mode & S_IWOTH) ? "write" : "read") +
                        " it (it holds password hashes); run `chmod 600 " + path +
                        "` (or 640 with a group the proxy runs as) and try again");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes)
    throw AuthFileError("users file " + path + " is larger than 16 MiB");
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw AuthFileError("cannot read users file " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes)
      throw AuthFileError("users file " + path + " is larger than 16 MiB");
  }
  return parse(text, path);
}

std::optional<std::string> Credentials::check_basic(std::string_view proxy_authorization) const {
  std::string_view value = trim(proxy_authorization);
  size_t sp = value.find_first_of(" \t");
  if (sp == std::string_view::npos || !iequals(value.substr(0, sp), "basic")) return std::nullopt;
  std::string_view token = trim(value.substr(sp));
  if (token.empty() || token.size() > kMaxCredentialsBase64) return std::nullopt;
  auto decoded = base64_decode(token);
  if (!decoded) return std::nullopt;
  std::string pair(decoded->begin(), decoded->end());
  OPENSSL_cleanse(decoded->data(), decoded->size());
  Cleanse wipe{pair};
  size_t colon = pair.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string_view user = std::string_view(pair).substr(0, colon);
  std::string_view secret = std::string_view(pair).substr(colon + 1);
  if (secret.empty() || impl_->users.empty()) return std::nullopt;

  Digest digest = impl_->pair_digest(user, secret);
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cache.count(digest)) return std::string(user);
  }
  auto it = impl_->users.find(std::string(user));
  if (it == impl_->users.end()) {
    impl_->verify(impl_->dummy, secret);  // same cost as a wrong secret; the result is ignored
    return std::nullopt;
  }
  if (!impl_->verify(it->second, secret)) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  if (impl_->cache.insert(digest).second) {
    impl_->cache_order.push_back(digest);
    if (impl_->cache_order.size() > kCacheCapacity) {
      impl_->cache.erase(impl_->cache_order.front());
      impl_->cache_order.pop_front();
    }
  }
  return std::string(user);
}

size_t Credentials::users() const {
  return impl_->users.size();
}

uint64_t Credentials::pbkdf2_runs() const {
  return impl_->pbkdf2_runs.load();
}

size_t Credentials::cached_pairs() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->cache.size();
}

std::string hash_secret(std::string_view secret, unsigned iterations) {
  if (secret.empty()) throw std::invalid_argument("the secret is empty");
  if (iterations < kMinPbkdf2Iterations || iterations > kMaxPbkdf2Iterations)
    throw std::invalid_argument("iterations out of range (" + std::to_string(kMinPbkdf2Iterations) +
                                " to " + std::to_string(kMaxPbkdf2Iterations) + ")");
  Bytes salt = random_bytes(kSaltBytes);
  Bytes hash = pbkdf2(secret, salt, iterations);
  std::string out = std::string(kScheme) + "$" + std::to_string(iterations) + "$" +
                    base64_encode(salt.data(), salt.size()) + "$" +
                    base64_encode(hash.data(), hash.size());
  OPENSSL_cleanse(hash.data(), hash.size());
  return out;
}

std::string hash_secret_for_file(std::string_view user, std::string_view secret) {
  if (!valid_user_name(user))
    throw std::invalid_argument(
        "invalid user name: it must be 1 to " + std::to_string(kMaxUserBytes) +
        " bytes without ':', control characters or leading/trailing blanks");
  return std::string(user) + ":" + hash_secret(secret);
}

// --- LoginThrottle ---------------------------------------------------------------------------

struct LoginThrottle::Impl {
  struct Entry {
    unsigned failures = 0;
    Clock::time_point locked_until{};
    std::chrono::seconds last_lockout{0};
    std::list<std::string>::iterator order;
  };
  Limits limits;
  std::function<Clock::time_point()> now;
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> order;  // most recently failed first
};

LoginThrottle::LoginThrottle(Limits limits, std::function<Clock::time_point()> now)
    : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->now = std::move(now);
}

LoginThrottle::~LoginThrottle() = default;

std::optional<std::chrono::seconds> LoginThrottle::locked_out(std::string_view address) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(std::string(address));
  if (it == impl_->entries.end()) return std::nullopt;
  auto t = impl_->now();
  if (t >= it->second.locked_until) return std::nullopt;
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - t);
  return std::max(left, std::chrono::seconds(1));
}

void LoginThrottle::failed(std::string_view address) {
  std::lock_guard lock(impl_->mu);
  auto& m = impl_->entries;
  auto it = m.find(std::string(address));
  if (it == m.end()) {
    if (impl_->limits.max_addresses == 0) return;
    while (m.size() >= impl_->limits.max_addresses) {
      m.erase(impl_->order.back());
      impl_->order.pop_back();
    }
    impl_->order.emplace_front(address);
    it = m.emplace(std::string(address), Impl::Entry{}).first;
    it->second.order = impl_->order.begin();
  } else {
    impl_->order.splice(impl_->order.begin(), impl_->order, it->second.order);
  }
  Impl::Entry& e = it->second;
  if (++e.failures <= impl_->limits.free_failures) return;
  e.last_lockout = e.last_lockout.count() == 0
                       ? impl_->limits.first_lockout
                       : std::min(e.last_lockout * 2, impl_->limits.max_lockout);
  e.locked_until = impl_->now() + e.last_lockout;
}

void LoginThrottle::succeeded(std::string_view address) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(std::string(address));
  if (it == impl_->entries.end()) return;
  impl_->order.erase(it->second.order);
  impl_->entries.erase(it);
}

size_t LoginThrottle::tracked() const {
  std::lock_guard lock(impl_->mu);
  return impl_->entries.size();
}

}  // namespace promptgate::proxy

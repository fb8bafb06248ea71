// The cluster key and its per-purpose keys; see cluster_key.h.
#include "detectors/cluster_key.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace promptgate {

namespace {

constexpr std::string_view kSalt = "promptgate cluster key";
constexpr size_t kMaxFileBytes = 256;  // a key file is 32 bytes or 64 hex digits and blanks

struct KdfFree {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 64 hex digits, blanks around them allowed (a trailing newline, a Secret made with echo).
bool parse_hex(std::string_view text, ClusterKey::Bytes& out) {
  size_t b = 0, e = text.size();
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (b < e && blank(text[b])) ++b;
  while (e > b && blank(text[e - 1])) --e;
  if (e - b != 2 * ClusterKey::kSize) return false;
  for (size_t i = 0; i < ClusterKey::kSize; ++i) {
    int hi = hex_value(text[b + 2 * i]), lo = hex_value(text[b + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

std::string read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open key file: " + std::strerror(errno));
  std::string data(kMaxFileBytes + 1, '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

std::string_view key_purpose_label(KeyPurpose purpose) {
  switch (purpose) {
    case KeyPurpose::fingerprints:
      return "promptgate v1 finding fingerprints";
    case KeyPurpose::standins:
      return "promptgate v1 tokenize stand-ins";
    case KeyPurpose::override_codes:
      return "promptgate v1 override codes";
    case KeyPurpose::transcript_digests:
      return "promptgate v1 transcript digests";
    case KeyPurpose::key_id:
      return "promptgate v1 key id";
  }
  return "?";
}

ClusterKey::~ClusterKey() {
  OPENSSL_cleanse(secret_.data(), secret_.size());
}

ClusterKey ClusterKey::from_bytes(const Bytes& secret, bool legacy) {
  ClusterKey k;
  k.secret_ = secret;
  k.legacy_ = legacy;
  return k;
}

ClusterKey ClusterKey::load_file(const std::string& path) {
  std::string data = read_small_file(path);
  ClusterKey k;
  k.path_ = path;
  if (parse_hex(data, k.secret_)) {
    OPENSSL_cleanse(data.data(), data.size());
    return k;
  }
  bool raw = data.size() == kSize;
  if (raw) {
    std::memcpy(k.secret_.data(), data.data(), kSize);
    k.legacy_ = true;
  }
  OPENSSL_cleanse(data.data(), data.size());
  if (!raw)
    throw std::runtime_error(path +
                             ": not a promptgate key (a cluster key is 64 hex digits, an old "
                             "fingerprint key 32 bytes)");
  return k;
}

ClusterKey ClusterKey::create_file(const std::string& path, bool replace) {
  ClusterKey k;
  if (RAND_bytes(k.secret_.data(), static_cast<int>(kSize)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  std::string text;
  for (unsigned char b : k.secret_) {
    text.push_back(kHexDigits[b >> 4]);
    text.push_back(kHexDigits[b & 15]);
  }
  text.push_back('\n');
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(path + ": cannot create key file: " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(text.data(), text.size());
  // Without `replace`, link() refuses an existing file: two processes creating the key at once
  // end up with the same one (the loser reads the winner's).
  bool placed = ok && (replace ? ::rename(tmp.c_str(), path.c_str()) == 0
                               : ::link(tmp.c_str(), path.c_str()) == 0);
  int err = errno;
  ::unlink(tmp.c_str());
  if (!ok) throw std::runtime_error(path + ": cannot write key file");
  if (!placed) {
    if (!replace && err == EEXIST) return load_file(path);
    throw std::runtime_error(path + ": cannot create key file: " + std::strerror(err));
  }
  k.path_ = path;
  k.created_ = true;
  return k;
}

ClusterKey ClusterKey::resolve(const std::string& home, const std::string& explicit_path,
                               bool create) {
  std::string path = explicit_path;
  if (path.empty())
    if (const char* env = std::getenv("PROMPTGATE_KEY_FILE"); env && *env) path = env;
  if (!path.empty()) return load_file(path);
  std::error_code ec;
  std::string cluster = home + "/cluster.key", legacy = home + "/fingerprint.key";
  if (std::filesystem::exists(cluster, ec)) return load_file(cluster);
  if (std::filesystem::exists(legacy, ec)) return load_file(legacy);
  if (!create)
    throw std::runtime_error(home +
                             ": no cluster key (cluster.key). Create one with `promptgate "
                             "keys init`, or name one with --key-file or "
                             "PROMPTGATE_KEY_FILE");
  return create_file(cluster);
}

ClusterKey::Bytes ClusterKey::derive(KeyPurpose purpose) const {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) throw std::runtime_error("HKDF is not available in this OpenSSL");
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) throw std::runtime_error("HKDF: out of memory");
  std::string_view label = key_purpose_label(purpose);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<unsigned char*>(secret_.data()), secret_.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSalt.data()),
                                        kSalt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(label.data()),
                                        label.size()),
      OSSL_PARAM_construct_end()};
  Bytes out{};
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
    throw std::runtime_error("HKDF derivation failed");
  return out;
}

FingerprintKey ClusterKey::fingerprint_key() const {
  if (legacy_) return FingerprintKey::from_bytes(secret_);
  Bytes k = derive(KeyPurpose::fingerprints);
  FingerprintKey fk = FingerprintKey::from_bytes(k);
  OPENSSL_cleanse(k.data(), k.size());
  return fk;
}

std::string ClusterKey::id() const {
  Bytes k = derive(KeyPurpose::key_id);
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    out.push_back(kHexDigits[k[i] >> 4]);
    out.push_back(kHexDigits[k[i] & 15]);
  }
  return out;
}

}  // namespace promptgate

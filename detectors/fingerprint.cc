#include "detectors/fingerprint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace promptgate {

std::string default_home_dir() {
  if (const char* h = std::getenv("PROMPTGATE_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::string(x) + "/promptgate";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.config/promptgate";
  return ".promptgate";
}

FingerprintKey FingerprintKey::load_or_create(const std::string& dir) {
  FingerprintKey k;
  std::filesystem::create_directories(dir);
  std::string path = dir + "/fingerprint.key";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, k.key_.data(), kSize);
    ::close(fd);
    if (n != static_cast<ssize_t>(kSize))
      throw std::runtime_error(path + ": fingerprint key must be " + std::to_string(kSize) +
                               " bytes");
    return k;
  }
  if (RAND_bytes(k.key_.data(), kSize) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(path + ": cannot create fingerprint key");
  bool ok = ::write(fd, k.key_.data(), kSize) == static_cast<ssize_t>(kSize);
  ::close(fd);
  // Another process may have created the key meanwhile: link() fails then and we read theirs.
  if (!ok || ::link(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    if (!ok) throw std::runtime_error(path + ": cannot write fingerprint key");
    return load_or_create(dir);
  }
  ::unlink(tmp.c_str());
  return k;
}

FingerprintKey FingerprintKey::from_passphrase(std::string_view passphrase) {
  FingerprintKey k;
  unsigned int len = 0;
  EVP_Digest(passphrase.data(), passphrase.size(), k.key_.data(), &len, EVP_sha256(), nullptr);
  return k;
}

FingerprintKey FingerprintKey::load_file(const std::string& path) {
  FingerprintKey k;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open fingerprint key");
  ssize_t n = ::read(fd, k.key_.data(), kSize);
  char extra = 0;
  bool longer = n == static_cast<ssize_t>(kSize) && ::read(fd, &extra, 1) == 1;
  ::close(fd);
  if (n != static_cast<ssize_t>(kSize) || longer)
    throw std::runtime_error(path + ": fingerprint key must be " + std::to_string(kSize) +
                             " bytes");
  return k;
}

FingerprintKey FingerprintKey::from_bytes(const std::array<unsigned char, kSize>& bytes) {
  FingerprintKey k;
  k.key_ = bytes;
  return k;
}

std::array<unsigned char, FingerprintKey::kSize> FingerprintKey::derive(
    std::string_view purpose) const {
  std::array<unsigned char, kSize> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(kSize),
       reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(), out.data(), &len);
  return out;
}

std::string FingerprintKey::fingerprint(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(kSize),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "fp_";
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

}  // namespace promptgate

#include "detectors/fingerprint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
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

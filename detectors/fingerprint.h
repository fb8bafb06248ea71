// Keyed fingerprints of secret values: HMAC-SHA256 under a key derived from the cluster key,
// truncated to 64 bits and printed as "fp_" + 16 hex digits. A fingerprint lets a person recognise
// "the same secret again" across audit lines and allowlist it, without the value ever leaving the
// process; without the key it cannot be brute-forced even for short values such as SSNs.
//
//   FingerprintKey key = ClusterKey::resolve(home, key_file, true).fingerprint_key();
//   std::string fp = key.fingerprint(value);          // (detectors/cluster_key.h)
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace promptgate {

class FingerprintKey {
 public:
  static constexpr size_t kSize = 32;
  // A fixed key derived from a passphrase; for tests and for teams that share fingerprints.
  static FingerprintKey from_passphrase(std::string_view passphrase);
  // Reads an existing key file (exactly kSize bytes) and never creates one: for tools that must
  // use the gateway's key, not a fresh one. Throws naming the path.
  static FingerprintKey load_file(const std::string& path);
  // A key given as bytes: what ClusterKey derives for fingerprints (detectors/cluster_key.h).
  static FingerprintKey from_bytes(const std::array<unsigned char, kSize>& bytes);

  std::string fingerprint(std::string_view value) const;
  // HMAC-SHA256(key, purpose): a subkey for one purpose, so a feature keys its own hashes
  // (domain separation) and never needs to hold the install key itself.
  std::array<unsigned char, kSize> derive(std::string_view purpose) const;

 private:
  std::array<unsigned char, kSize> key_{};
};

// $PROMPTGATE_HOME, else $XDG_CONFIG_HOME/promptgate, else ~/.config/promptgate.
std::string default_home_dir();

}  // namespace promptgate

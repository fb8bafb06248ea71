// The cluster key: one secret shared by every promptgate that must agree (gateway replicas, a
// team's laptops, CI), from which each purpose derives its own key with HKDF-SHA256, so no
// feature ever holds the secret itself and a key of one purpose says nothing about another's.
//
//   ClusterKey k = ClusterKey::resolve(home, flag_or_env_path, /*create=*/true);
//   FingerprintKey fp = k.fingerprint_key();          // finding fingerprints (fp_...)
//   auto codes = k.derive(KeyPurpose::override_codes);
//
// Where it comes from (first found): --key-file / $PROMPTGATE_KEY_FILE, $PROMPTGATE_HOME/
// cluster.key, $PROMPTGATE_HOME/fingerprint.key (a home made before the cluster key: its key is
// the secret, and fingerprints stay what they were), else a new cluster.key is written.
// A cluster key file holds 64 hex digits (`promptgate keys init`, or `openssl rand -hex 32`);
// a file of exactly 32 raw bytes is an old fingerprint key. See docs/keys.md.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "detectors/fingerprint.h"

namespace promptgate {

enum class KeyPurpose { fingerprints, standins, override_codes, transcript_digests, key_id };

class ClusterKey {
 public:
  static constexpr size_t kSize = 32;
  using Bytes = std::array<unsigned char, kSize>;

  // The key a command uses: `explicit_path` (a flag; empty: $PROMPTGATE_KEY_FILE) must exist;
  // otherwise the home's cluster.key or legacy fingerprint.key; otherwise a new cluster.key
  // when `create`, else an error naming what is missing. Throws std::runtime_error.
  static ClusterKey resolve(const std::string& home, const std::string& explicit_path, bool create);
  // Reads one key file (either format). Throws naming the path.
  static ClusterKey load_file(const std::string& path);
  // Writes a fresh random cluster key to `path` (mode 0600; fails if it exists, unless
  // `replace`, which writes to a temporary file and renames it over).
  static ClusterKey create_file(const std::string& path, bool replace = false);
  // A fixed key from raw bytes: tests.
  static ClusterKey from_bytes(const Bytes& secret, bool legacy = false);

  // HKDF-SHA256(secret, salt "promptgate cluster key", info = the purpose's label), 32 bytes.
  Bytes derive(KeyPurpose purpose) const;
  // Fingerprints: the derived key, or for a legacy fingerprint.key the secret itself.
  FingerprintKey fingerprint_key() const;
  // 16 hex digits that name the key without revealing it: compare them across replicas.
  std::string id() const;
  const std::string& path() const { return path_; }  // where it was read from
  bool legacy() const { return legacy_; }            // an old 32-byte fingerprint.key
  bool created() const { return created_; }

  ClusterKey(const ClusterKey&) = default;
  ClusterKey& operator=(const ClusterKey&) = default;
  ~ClusterKey();

 private:
  ClusterKey() = default;
  Bytes secret_{};
  std::string path_;
  bool legacy_ = false;
  bool created_ = false;
};

// The label HKDF uses for `purpose` (exposed for the tests and the docs).
std::string_view key_purpose_label(KeyPurpose purpose);

}  // namespace promptgate

// Known secrets: the organisation's own secret values (short passwords, internal tokens, anything
// with no recognisable format), supplied as keyed digests and found wherever one occurs in a text
// as a whole token. Plain values never reach the matcher: the digest file holds each value's
// length, a 32-bit keyed tag of its first 8 bytes and a 128-bit HMAC, all under subkeys of the
// install's FingerprintKey (see docs/known-secrets.md for the format and what it leaks).
//
//   // promptgate secrets digest (values are in memory only here):
//   KnownSecretsDigester d(key);
//   read_secret_input(env_file_text, SecretInputFormat::env, [&](auto value, auto label, auto) {
//     d.add(value, label);
//   });
//   std::string file = d.file_text();
//
//   // the scanner (once per digest file; shared read-only between threads):
//   auto known = KnownSecrets::load("/etc/promptgate/known-secrets", key);   // throws file:line
//   std::vector<KnownSecretMatch> hits;
//   known->find(decoded_text, hits);   // appends; thread-safe
//   for (auto& m : hits) use(m.start, m.end, known->label(m.entry));
//
// A match is a whole token: its start is the text start or follows a boundary byte, its end is
// the text end or precedes one, and its first byte is not whitespace. The value itself may
// contain boundary bytes: each (start, length) pair is tested, nothing is tokenised.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/fingerprint.h"

namespace promptgate {

// A malformed or foreign digest file; the message names file:line and never quotes the line.
class KnownSecretsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KnownSecretMatch {
  size_t start = 0, end = 0;  // byte offsets in the text passed to find(), [start, end)
  uint32_t entry = 0;         // for KnownSecrets::label() and length()
};

class KnownSecrets {
 public:
  // Below 8 bytes a value is as likely to be an ordinary word or number as a secret, and the
  // matcher's prefilter reads an 8-byte window at every token start. Above 256 bytes values are
  // keys and certificates, which the format rules already find.
  static constexpr size_t kMinLength = 8;
  static constexpr size_t kMaxLength = 256;
  static constexpr size_t kMaxEntries = 1'000'000;
  static constexpr std::string_view kMagic = "promptgate-known-secrets";

  // Reads a digest file made under `key` (see KnownSecretsDigester::file_text). Throws
  // KnownSecretsError naming path:line, including when the file was made under another key.
  static std::shared_ptr<const KnownSecrets> load(const std::string& path,
                                                  const FingerprintKey& key);
  // The same from text in memory; `name` stands for the path in errors.
  static std::shared_ptr<const KnownSecrets> parse(std::string_view file_text,
                                                   const std::string& name,
                                                   const FingerprintKey& key);
  // 16 hex digits identifying `key` in digest file headers (a keyed hash; reveals nothing of it).
  static std::string key_id(const FingerprintKey& key);
  // Bytes that delimit a token: ASCII controls and space, DEL, and ' " ` , ; : = & ? / @ < > ( )
  // [ ] { } | \ . ! *
  static bool is_boundary(unsigned char c) { return kByteClass[c] & kBoundary; }

  ~KnownSecrets();
  KnownSecrets(const KnownSecrets&) = delete;
  KnownSecrets& operator=(const KnownSecrets&) = delete;

  // Appends every occurrence of every known value in `text`, ordered by start, then length.
  // Overlapping occurrences of different values are all reported. Allocates nothing per call
  // beyond `out` (a thread's first call makes its cipher context; OpenSSL's HMAC allocates on a
  // prefilter hit, which is rare).
  void find(std::string_view text, std::vector<KnownSecretMatch>& out) const;

  const std::string& label(uint32_t entry) const { return labels_[entries_[entry].label]; }
  size_t length(uint32_t entry) const { return entries_[entry].length; }
  size_t size() const { return entries_.size(); }
  size_t min_length() const { return min_length_; }
  size_t max_length() const { return max_length_; }

  // --- shared with KnownSecretsDigester ---
  struct Keys {
    std::array<unsigned char, FingerprintKey::kSize> digest{};  // HMAC key of the 128-bit digest
    std::array<unsigned char, 16> window{};                     // AES-128 key of the prefilter tag
    std::string id;
    explicit Keys(const FingerprintKey& key);
    ~Keys();
    Keys(const Keys&) = default;
    Keys& operator=(const Keys&) = default;
    // The first 4 bytes (big-endian) of AES-128(window, first8 || 8 zero bytes).
    uint32_t window_tag(const unsigned char* first8) const;
    std::array<unsigned char, 16> digest_of(std::string_view value) const;
  };

 private:
  enum : uint8_t { kBoundary = 1, kSpace = 2 };
  static const std::array<uint8_t, 256> kByteClass;

  struct Entry {
    std::array<unsigned char, 16> digest;
    uint32_t label;
    uint16_t length;
  };
  // One slot per distinct prefilter tag; `first`..`first + count` index members_, whose entries
  // are sorted by length so a group is tried shortest first and stops past the text end.
  struct Slot {
    uint32_t tag;
    uint32_t first;  // kEmpty: unused slot
    uint32_t count;
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;

  explicit KnownSecrets(const FingerprintKey& key);
  // Tests the tags (first 4 bytes of each 16-byte cipher block) of a batch of token starts.
  void check_batch(const unsigned char* tags, const size_t* starts, size_t count,
                   const unsigned char* text, size_t size,
                   std::vector<KnownSecretMatch>& out) const;
  void probe(uint32_t tag, const unsigned char* text, size_t size, size_t start,
             std::vector<KnownSecretMatch>& out) const;
  void try_group(const Slot& slot, const unsigned char* text, size_t size, size_t start,
                 std::vector<KnownSecretMatch>& out) const;

  Keys keys_;
  std::vector<Entry> entries_;
  std::vector<std::string> labels_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> members_;
  size_t mask_ = 0;
  // One bit per tag bucket, a few percent set, so most token starts end at one predictable test.
  std::vector<uint64_t> bitmap_;
  int bitmap_shift_ = 32;
  uint64_t generation_ = 0;  // tells a thread's cached cipher context which key it holds
  size_t min_length_ = 0, max_length_ = 0;
};

// Turns plain values into a digest file. Values are digested as they are added and never kept.
class KnownSecretsDigester {
 public:
  enum class Outcome {
    added,
    duplicate,        // the same value again; its label is added to the entry's
    too_short,        // < kMinLength bytes
    too_long,         // > kMaxLength bytes
    edge_whitespace,  // starts or ends with whitespace: it could never be a whole token
    plain,            // only letters or only digits: would match ordinary text (see keep_plain)
  };
  explicit KnownSecretsDigester(const FingerprintKey& key) : keys_(key) {}

  // `label` (a variable name or vault key, never the value) is cleaned to printable ASCII
  // without spaces, at most 128 bytes. With keep_plain, words and numbers are digested too.
  Outcome add(std::string_view value, std::string_view label, bool keep_plain = false);
  size_t size() const { return entries_.size(); }
  // The header line, a comment, then one `LENGTH TAG DIGEST [LABEL]` line per distinct value,
  // ordered by label and digest (not by input order).
  std::string file_text() const;

 private:
  struct Entry {
    uint32_t length;
    uint32_t tag;
    std::string label;
  };
  KnownSecrets::Keys keys_;
  std::map<std::array<unsigned char, 16>, Entry> entries_;
};

enum class SecretInputFormat {
  env,    // KEY=VALUE lines: `export ` prefix, '…' and "…" quotes (may span lines), # comments
  lines,  // every non-empty line is one value, verbatim
  json,   // {"data":{"data":{K:V}}} (vault kv get -format=json, KV v2), {"data":{K:V}} (KV v1),
          // or a flat {K:V}; string values only
};

struct SecretInputStats {
  size_t values = 0;
  size_t non_string = 0;  // JSON values that are not strings, skipped
};

// Calls `each(value, label, line)` for every value in `text` (line: 1-based where the value's
// entry starts; 0 for JSON). Throws std::runtime_error("line N: ...") on malformed input; the
// message never quotes the input. Unescaped values are wiped after the call.
SecretInputStats read_secret_input(
    std::string_view text, SecretInputFormat format,
    const std::function<void(std::string_view value, std::string_view label, size_t line)>& each);

}  // namespace promptgate

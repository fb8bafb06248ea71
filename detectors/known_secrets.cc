#include "detectors/known_secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "detectors/cpu_features.h"

namespace promptgate {

namespace {

constexpr std::string_view kVersion = "v1";
constexpr size_t kWindow = KnownSecrets::kMinLength;
constexpr size_t kMaxLabel = 128;
constexpr size_t kMaxFileBytes = 256u << 20;

constexpr char kHex[] = "0123456789abcdef";

std::string hex(const unsigned char* p, size_t n) {
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kHex[p[i] >> 4]);
    s.push_back(kHex[p[i] & 15]);
  }
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex(std::string_view s, unsigned char* out, size_t n) {
  if (s.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool is_label_byte(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

inline uint32_t be32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// AES-128-ECB through OpenSSL, which uses AES-NI / ARMv8 AES where present: one call encrypts a
// batch of windows with the blocks interleaved in the pipeline, a few ns per token start.
class WindowCipher {
 public:
  WindowCipher() = default;
  explicit WindowCipher(const std::array<unsigned char, 16>& key) { rekey(key); }
  ~WindowCipher() { EVP_CIPHER_CTX_free(ctx_); }
  WindowCipher(const WindowCipher&) = delete;
  WindowCipher& operator=(const WindowCipher&) = delete;
  void rekey(const std::array<unsigned char, 16>& key) {
    if (!ctx_ && !(ctx_ = EVP_CIPHER_CTX_new())) throw std::bad_alloc();
    if (EVP_EncryptInit_ex(ctx_, EVP_aes_128_ecb(), nullptr, key.data(), nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx_, 0) != 1)
      throw std::runtime_error("known secrets: AES-128-ECB unavailable");
  }
  void encrypt(const unsigned char* in, unsigned char* out, size_t blocks) {
    int len = 0;
    if (EVP_EncryptUpdate(ctx_, out, &len, in, static_cast<int>(16 * blocks)) != 1)
      throw std::runtime_error("known secrets: AES-128-ECB failed");
  }

 private:
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// Per-thread state of find(): the cipher context keyed for the last KnownSecrets used on this
// thread, and a batch of windows (8 text bytes, 8 zero bytes each) with their start offsets.
struct FindScratch {
  static constexpr size_t kBatch = 256;
  WindowCipher cipher;
  uint64_t generation = 0;
  alignas(64) unsigned char in[kBatch * 16] = {};
  alignas(64) unsigned char out[kBatch * 16];
  size_t start[kBatch];
  ~FindScratch() { OPENSSL_cleanse(in, sizeof in); }
};

std::atomic<uint64_t> g_generation{0};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PROMPTGATE_KNOWN_SECRETS_SSSE3 1
// Classifies 64 bytes with two nibble-table lookups per 16 (SSSE3, present on every x86-64 CPU
// since 2006 but not in the baseline the build targets, hence the runtime check). A byte is a
// boundary when lo_table[low nibble] & hi_table[high nibble] != 0; each bit of the tables
// stands for a set of high nibbles: 0x01 0-1 (controls, all), 0x02 2, 0x04 3, 0x08 4 and 6,
// 0x10 5, 0x20 7. Must agree with kByteClass (the tests check all 256 bytes).
__attribute__((target("ssse3"))) void classify64_ssse3(const unsigned char* p, uint64_t& boundary,
                                                       uint64_t& space) {
  const __m128i lo_table = _mm_setr_epi8(0x0b, 0x03, 0x03, 0x01, 0x01, 0x01, 0x03, 0x03, 0x03, 0x03,
                                         0x07, 0x35, 0x37, 0x35, 0x07, 0x27);
  const __m128i hi_table =
      _mm_setr_epi8(0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x20, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m128i nibble = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
  const __m128i blank = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), four = _mm_set1_epi8(4);
  uint64_t b = 0, sp = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i lo = _mm_and_si128(x, nibble);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), nibble);
    __m128i cls = _mm_and_si128(_mm_shuffle_epi8(lo_table, lo), _mm_shuffle_epi8(hi_table, hi));
    uint32_t not_boundary = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(cls, zero)));
    __m128i from_tab = _mm_sub_epi8(x, tab);  // \t \n \v \f \r: 0..4 unsigned
    __m128i ws = _mm_or_si128(_mm_cmpeq_epi8(x, blank),
                              _mm_cmpeq_epi8(_mm_min_epu8(from_tab, four), from_tab));
    b |= static_cast<uint64_t>(~not_boundary & 0xffff) << (16 * k);
    sp |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(ws))) << (16 * k);
  }
  boundary = b;
  space = sp;
}
#endif

}  // namespace

// ---------------------------------------------------------------------------------------------
// Keys

KnownSecrets::Keys::Keys(const FingerprintKey& key) {
  digest = key.derive("promptgate known-secrets v1 digest");
  auto derived = key.derive("promptgate known-secrets v1 window");
  std::memcpy(window.data(), derived.data(), window.size());
  OPENSSL_cleanse(derived.data(), derived.size());
  auto idbytes = key.derive("promptgate known-secrets key id");
  id = hex(idbytes.data(), 8);
}

KnownSecrets::Keys::~Keys() {
  OPENSSL_cleanse(digest.data(), digest.size());
  OPENSSL_cleanse(window.data(), window.size());
}

uint32_t KnownSecrets::Keys::window_tag(const unsigned char* first8) const {
  WindowCipher cipher(window);
  unsigned char block[16] = {}, out[16];
  std::memcpy(block, first8, kWindow);
  cipher.encrypt(block, out, 1);
  OPENSSL_cleanse(block, sizeof block);
  return be32(out);
}

std::array<unsigned char, 16> KnownSecrets::Keys::digest_of(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), digest.data(), static_cast<int>(digest.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  std::array<unsigned char, 16> out;
  std::memcpy(out.data(), mac, out.size());
  OPENSSL_cleanse(mac, sizeof mac);
  return out;
}

// ---------------------------------------------------------------------------------------------
// KnownSecrets

const std::array<uint8_t, 256> KnownSecrets::kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c <= 0x20; ++c) t[c] = kBoundary;
  t[0x7f] = kBoundary;
  for (unsigned char c : std::string_view("'\"`,;:=&?/@<>()[]{}|\\.!*")) t[c] = kBoundary;
  for (unsigned char c : std::string_view(" \t\n\r\v\f")) t[c] |= kSpace;
  return t;
}();

std::string KnownSecrets::key_id(const FingerprintKey& key) {
  return Keys(key).id;
}

KnownSecrets::KnownSecrets(const FingerprintKey& key) : keys_(key), generation_(++g_generation) {}

KnownSecrets::~KnownSecrets() {
  for (auto& e : entries_) OPENSSL_cleanse(e.digest.data(), e.digest.size());
}

std::shared_ptr<const KnownSecrets> KnownSecrets::load(const std::string& path,
                                                       const FingerprintKey& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw KnownSecretsError(path + ": cannot open known-secrets file");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes)
      throw KnownSecretsError(path + ": larger than " + std::to_string(kMaxFileBytes >> 20) +
                              " MiB");
  }
  if (in.bad()) throw KnownSecretsError(path + ": cannot read known-secrets file");
  return parse(text, path, key);
}

std::shared_ptr<const KnownSecrets> KnownSecrets::parse(std::string_view text,
                                                        const std::string& name,
                                                        const FingerprintKey& key) {
  std::shared_ptr<KnownSecrets> ks(new KnownSecrets(key));
  auto error = [&](size_t line, const std::string& msg) {
    return KnownSecretsError(name + ":" + std::to_string(line) + ": " + msg);
  };
  struct Parsed {
    uint32_t tag;
    uint32_t entry;
  };
  std::vector<Parsed> parsed;
  std::map<std::string, uint32_t> label_index;
  std::map<std::pair<std::array<unsigned char, 16>, uint16_t>, uint32_t> seen;
  bool have_header = false;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto f = fields(line);
    if (f.empty() || f[0][0] == '#') continue;
    if (!have_header) {
      if (f[0] != kMagic)
        throw error(line_no, "expected the header `" + std::string(kMagic) + " " +
                                 std::string(kVersion) +
                                 " key-id=...` (is this a file made by `promptgate secrets "
                                 "digest`?)");
      if (f.size() != 3 || f[1] != kVersion)
        throw error(line_no, "unsupported header; this promptgate reads `" + std::string(kMagic) +
                                 " " + std::string(kVersion) + " key-id=<16 hex digits>`");
      std::string_view id = f[2];
      if (id.substr(0, 7) != "key-id=" || id.size() != 7 + 16)
        throw error(line_no, "the header's key-id must be key-id=<16 hex digits>");
      id.remove_prefix(7);
      if (id != ks->keys_.id)
        throw error(line_no, "made under another fingerprint key (file key-id " + std::string(id) +
                                 ", this install's key-id " + ks->keys_.id +
                                 "); digest the values again with `promptgate secrets digest` "
                                 "and the gateway's fingerprint.key");
      have_header = true;
      continue;
    }
    if (f.size() < 3 || f.size() > 4)
      throw error(line_no, "expected `LENGTH PREFILTER DIGEST [LABEL]` (" +
                               std::to_string(f.size()) + " fields)");
    size_t length = 0;
    for (char c : f[0]) {
      if (c < '0' || c > '9' || length > kMaxLength) {
        length = SIZE_MAX;
        break;
      }
      length = length * 10 + static_cast<size_t>(c - '0');
    }
    if (length < kMinLength || length > kMaxLength)
      throw error(line_no, "length must be a number from " + std::to_string(kMinLength) + " to " +
                               std::to_string(kMaxLength));
    unsigned char tag_bytes[4];
    if (!parse_hex(f[1], tag_bytes, 4)) throw error(line_no, "prefilter must be 8 hex digits");
    Entry e{};
    if (!parse_hex(f[2], e.digest.data(), e.digest.size()))
      throw error(line_no, "digest must be 32 hex digits");
    std::string label;
    if (f.size() == 4) {
      if (f[3].size() > kMaxLabel)
        throw error(line_no, "label longer than " + std::to_string(kMaxLabel) + " bytes");
      for (unsigned char c : f[3])
        if (!is_label_byte(c)) throw error(line_no, "label must be printable ASCII");
      label = f[3];
    }
    e.length = static_cast<uint16_t>(length);
    // The same value twice (e.g. two files concatenated): keep the first label.
    if (!seen.emplace(std::make_pair(e.digest, e.length), 0).second) continue;
    if (ks->entries_.size() >= kMaxEntries)
      throw error(line_no, "more than " + std::to_string(kMaxEntries) + " entries");
    auto [it, fresh] = label_index.emplace(label, static_cast<uint32_t>(ks->labels_.size()));
    if (fresh) ks->labels_.push_back(label);
    e.label = it->second;
    uint32_t tag = static_cast<uint32_t>(tag_bytes[0]) << 24 |
                   static_cast<uint32_t>(tag_bytes[1]) << 16 |
                   static_cast<uint32_t>(tag_bytes[2]) << 8 | tag_bytes[3];
    parsed.push_back({tag, static_cast<uint32_t>(ks->entries_.size())});
    ks->entries_.push_back(e);
  }
  if (!have_header)
    throw KnownSecretsError(name + ": empty; expected the header `" + std::string(kMagic) + " " +
                            std::string(kVersion) + " key-id=...`");
  if (ks->labels_.empty()) ks->labels_.emplace_back();

  // Groups of entries sharing a prefilter tag, each sorted by length, in an open-addressing
  // table at most half full so a miss (the common case) ends after a probe or two.
  std::sort(parsed.begin(), parsed.end(), [&](const Parsed& a, const Parsed& b) {
    if (a.tag != b.tag) return a.tag < b.tag;
    return ks->entries_[a.entry].length < ks->entries_[b.entry].length;
  });
  size_t groups = 0;
  for (size_t i = 0; i < parsed.size(); ++i) groups += i == 0 || parsed[i].tag != parsed[i - 1].tag;
  size_t capacity = std::bit_ceil(std::max<size_t>(16, 2 * groups));
  ks->slots_.assign(capacity, Slot{0, kEmpty, 0});
  ks->mask_ = capacity - 1;
  ks->members_.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size();) {
    size_t j = i;
    while (j < parsed.size() && parsed[j].tag == parsed[i].tag) {
      ks->members_.push_back(parsed[j].entry);
      ++j;
    }
    size_t s = parsed[i].tag & ks->mask_;
    while (ks->slots_[s].first != kEmpty) s = (s + 1) & ks->mask_;
    ks->slots_[s] = {parsed[i].tag, static_cast<uint32_t>(i), static_cast<uint32_t>(j - i)};
    i = j;
  }
  // About 1 bit in 64 set: the test that ends most token starts is nearly always "no".
  size_t bits = std::bit_ceil(std::clamp<size_t>(64 * groups, 4096, size_t{1} << 24));
  ks->bitmap_.assign(bits / 64, 0);
  ks->bitmap_shift_ = 32 - std::countr_zero(bits);
  for (const auto& p : parsed) {
    uint32_t bucket = p.tag >> ks->bitmap_shift_;
    ks->bitmap_[bucket >> 6] |= uint64_t{1} << (bucket & 63);
  }
  for (const auto& e : ks->entries_) {
    ks->min_length_ = ks->min_length_ ? std::min<size_t>(ks->min_length_, e.length) : e.length;
    ks->max_length_ = std::max<size_t>(ks->max_length_, e.length);
  }
  return ks;
}

void KnownSecrets::find(std::string_view text, std::vector<KnownSecretMatch>& out) const {
  const size_t n = text.size();
  if (entries_.empty() || n < kWindow) return;
  thread_local FindScratch scratch;
  if (scratch.generation != generation_) {
    scratch.cipher.rekey(keys_.window);
    scratch.generation = generation_;
  }
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  FindScratch& sc = scratch;
  size_t batched = 0;
  const size_t last_start = n - kWindow;
  // Token starts are found 64 bytes at a time as a bit mask (start = follows a boundary byte
  // and is not whitespace), so the loop branches per start rather than per byte.
  bool prev_boundary = true;  // the text start counts as a boundary
  for (size_t base = 0; base <= last_start; base += 64) {
    size_t count = std::min<size_t>(64, last_start + 1 - base);
    uint64_t boundary = 0, space = 0;
#if PROMPTGATE_KNOWN_SECRETS_SSSE3
    if (count == 64 && cpu::has_ssse3) {
      classify64_ssse3(s + base, boundary, space);
    } else
#endif
    {
      for (size_t i = 0; i < count; ++i) {
        uint8_t c = kByteClass[s[base + i]];
        boundary |= static_cast<uint64_t>(c & kBoundary) << i;
        space |= static_cast<uint64_t>((c & kSpace) >> 1) << i;
      }
    }
    uint64_t starts = ((boundary << 1) | (prev_boundary ? 1 : 0)) & ~space;
    if (count < 64) starts &= (uint64_t{1} << count) - 1;
    prev_boundary = (boundary >> 63) & 1;
    while (starts) {
      size_t p = base + static_cast<size_t>(std::countr_zero(starts));
      starts &= starts - 1;
      std::memcpy(sc.in + 16 * batched, s + p, kWindow);
      sc.start[batched] = p;
      if (++batched == FindScratch::kBatch) {
        sc.cipher.encrypt(sc.in, sc.out, batched);
        check_batch(sc.out, sc.start, batched, s, n, out);
        batched = 0;
      }
    }
  }
  if (batched) {
    sc.cipher.encrypt(sc.in, sc.out, batched);
    check_batch(sc.out, sc.start, batched, s, n, out);
  }
  // The windows are text bytes, possibly a secret's: leave none behind in thread memory.
  OPENSSL_cleanse(sc.in, sizeof sc.in);
}

void KnownSecrets::check_batch(const unsigned char* tags, const size_t* starts, size_t count,
                               const unsigned char* text, size_t size,
                               std::vector<KnownSecretMatch>& out) const {
  for (size_t k = 0; k < count; ++k) {
    uint32_t tag = be32(tags + 16 * k);
    uint32_t bucket = tag >> bitmap_shift_;
    if ((bitmap_[bucket >> 6] >> (bucket & 63)) & 1) probe(tag, text, size, starts[k], out);
  }
}

void KnownSecrets::probe(uint32_t tag, const unsigned char* text, size_t size, size_t start,
                         std::vector<KnownSecretMatch>& out) const {
  for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.first == kEmpty) return;
    if (slot.tag == tag) return try_group(slot, text, size, start, out);
  }
}

void KnownSecrets::try_group(const Slot& slot, const unsigned char* text, size_t size, size_t start,
                             std::vector<KnownSecretMatch>& out) const {
  size_t digested_length = 0;
  std::array<unsigned char, 16> digest{};
  for (uint32_t k = 0; k < slot.count; ++k) {
    uint32_t entry = members_[slot.first + k];
    const Entry& e = entries_[entry];
    size_t end = start + e.length;
    if (end > size) break;  // members are sorted by length
    if (end < size && !(kByteClass[text[end]] & kBoundary)) continue;
    if (digested_length != e.length) {
      digest =
          keys_.digest_of(std::string_view(reinterpret_cast<const char*>(text) + start, e.length));
      digested_length = e.length;
    }
    if (CRYPTO_memcmp(digest.data(), e.digest.data(), digest.size()) == 0)
      out.push_back({start, end, entry});
  }
  OPENSSL_cleanse(digest.data(), digest.size());
}

// ---------------------------------------------------------------------------------------------
// KnownSecretsDigester

KnownSecretsDigester::Outcome KnownSecretsDigester::add(std::string_view value,
                                                        std::string_view label, bool keep_plain) {
  if (value.size() < KnownSecrets::kMinLength) return Outcome::too_short;
  if (value.size() > KnownSecrets::kMaxLength) return Outcome::too_long;
  auto space = [](unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  if (space(value.front()) || space(value.back())) return Outcome::edge_whitespace;
  if (!keep_plain) {
    bool letters = true, digits = true;
    for (unsigned char c : value) {
      letters = letters && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
      digits = digits && c >= '0' && c <= '9';
    }
    if (letters || digits) return Outcome::plain;
  }
  std::string clean;
  for (unsigned char c : label) {
    if (clean.size() == kMaxLabel) break;
    clean.push_back(is_label_byte(c) ? static_cast<char>(c) : '_');
  }
  auto digest = keys_.digest_of(value);
  auto it = entries_.find(digest);
  if (it != entries_.end()) {
    std::string& have = it->second.label;
    bool listed = false;
    for (size_t at = 0; at <= have.size();) {
      size_t comma = std::min(have.find(',', at), have.size());
      listed = listed || have.substr(at, comma - at) == clean;
      at = comma + 1;
    }
    if (!listed && !clean.empty()) {
      if (have.empty())
        have = clean;
      else if (have.size() + 1 + clean.size() <= kMaxLabel)
        have += "," + clean;
    }
    return Outcome::duplicate;
  }
  entries_.emplace(
      digest, Entry{static_cast<uint32_t>(value.size()),
                    keys_.window_tag(reinterpret_cast<const unsigned char*>(value.data())), clean});
  return Outcome::added;
}

std::string KnownSecretsDigester::file_text() const {
  std::vector<const std::pair<const std::array<unsigned char, 16>, Entry>*> order;
  for (const auto& kv : entries_) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(),
                   [](auto* a, auto* b) { return a->second.label < b->second.label; });
  std::string out = std::string(KnownSecrets::kMagic) + " " + std::string(kVersion) +
                    " key-id=" + keys_.id + "\n";
  out += "# " + std::to_string(entries_.size()) +
         " known secrets, made by `promptgate secrets digest`: length, keyed prefilter tag,\n"
         "# keyed digest and label of each value; no value is stored.\n";
  for (auto* kv : order) {
    char tag[9];
    for (int i = 0; i < 8; ++i) tag[i] = kHex[(kv->second.tag >> (28 - 4 * i)) & 15];
    tag[8] = 0;
    out += std::to_string(kv->second.length) + " " + tag + " " + hex(kv->first.data(), 16);
    if (!kv->second.label.empty()) out += " " + kv->second.label;
    out += "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Inputs

namespace {

using Each = std::function<void(std::string_view, std::string_view, size_t)>;

[[noreturn]] void input_error(size_t line, const std::string& msg) {
  throw std::runtime_error("line " + std::to_string(line) + ": " + msg);
}

bool is_key_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_key_char(char c) {
  return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

void read_env(std::string_view t, SecretInputStats& stats, const Each& each) {
  size_t i = 0, line = 1;
  auto blank = [&](size_t at) { return at < t.size() && (t[at] == ' ' || t[at] == '\t'); };
  auto skip_blank = [&] {
    while (blank(i)) ++i;
  };
  auto at_eol = [&] { return i >= t.size() || t[i] == '\n' || t[i] == '\r'; };
  auto skip_to_next_line = [&] {
    while (i < t.size() && t[i] != '\n') ++i;
    if (i < t.size()) {
      ++i;
      ++line;
    }
  };
  while (i < t.size()) {
    skip_blank();
    if (at_eol() || t[i] == '#') {
      skip_to_next_line();
      continue;
    }
    if (t.substr(i, 6) == "export" && blank(i + 6)) {
      i += 6;
      skip_blank();
    }
    size_t key_start = i;
    if (!is_key_start(t[i])) input_error(line, "expected KEY=VALUE");
    while (i < t.size() && is_key_char(t[i])) ++i;
    std::string_view key = t.substr(key_start, i - key_start);
    skip_blank();
    if (i >= t.size() || t[i] != '=') input_error(line, "expected KEY=VALUE");
    ++i;
    skip_blank();
    size_t entry_line = line;
    std::string value;
    if (i < t.size() && (t[i] == '"' || t[i] == '\'')) {
      char quote = t[i++];
      bool closed = false;
      while (i < t.size()) {
        char c = t[i++];
        if (c == quote) {
          closed = true;
          break;
        }
        if (c == '\n') ++line;
        if (quote == '"' && c == '\\' && i < t.size()) {
          char e = t[i++];
          switch (e) {
            case 'n':
              value.push_back('\n');
              break;
            case 'r':
              value.push_back('\r');
              break;
            case 't':
              value.push_back('\t');
              break;
            case '"':
            case '\\':
            case '$':
            case '`':
              value.push_back(e);
              break;
            case '\n':
              ++line;
              value += "\\\n";
              break;
            default:
              value.push_back('\\');
              value.push_back(e);
              break;
          }
          continue;
        }
        value.push_back(c);
      }
      if (!closed) {
        wipe(value);
        input_error(entry_line, std::string("unterminated ") +
                                    (quote == '"' ? "double" : "single") + "-quoted value");
      }
      skip_blank();
      if (!at_eol() && t[i] != '#') {
        wipe(value);
        input_error(line, "unexpected text after the closing quote");
      }
    } else {
      size_t start = i;
      while (!at_eol() && !(t[i] == '#' && i > start && blank(i - 1))) ++i;
      size_t end = i;
      while (end > start && (t[end - 1] == ' ' || t[end - 1] == '\t')) --end;
      value.assign(t.substr(start, end - start));
    }
    skip_to_next_line();
    ++stats.values;
    try {
      if (!value.empty()) each(value, key, entry_line);
    } catch (...) {
      wipe(value);
      throw;
    }
    wipe(value);
  }
}

void read_lines(std::string_view t, SecretInputStats& stats, const Each& each) {
  size_t pos = 0, line = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    std::string_view v = t.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? t.size() : nl + 1;
    ++line;
    if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
    if (v.empty()) continue;
    ++stats.values;
    each(v, "", line);
  }
}

void read_json(std::string_view t, SecretInputStats& stats, const Each& each) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(t);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message quotes the bytes last read, which may be part of a value.
    size_t at = std::min<size_t>(e.byte, t.size());
    size_t line = 1 + static_cast<size_t>(std::count(t.begin(), t.begin() + at, '\n'));
    input_error(line, "invalid JSON");
  }
  if (!doc.is_object()) input_error(1, "expected a JSON object");
  nlohmann::json* kv = &doc;
  if (auto d = doc.find("data"); d != doc.end() && d->is_object()) {
    auto inner = d->find("data");
    kv = inner != d->end() && inner->is_object() ? &*inner : &*d;
  }
  for (auto it = kv->begin(); it != kv->end(); ++it) {
    if (!it->is_string()) {
      ++stats.non_string;
      continue;
    }
    ++stats.values;
    std::string& v = it->get_ref<std::string&>();
    each(v, it.key(), 0);
    wipe(v);
  }
}

}  // namespace

SecretInputStats read_secret_input(std::string_view text, SecretInputFormat format,
                                   const Each& each) {
  SecretInputStats stats;
  switch (format) {
    case SecretInputFormat::env:
      read_env(text, stats, each);
      break;
    case SecretInputFormat::lines:
      read_lines(text, stats, each);
      break;
    case SecretInputFormat::json:
      read_json(text, stats, each);
      break;
  }
  return stats;
}

}  // namespace promptgate

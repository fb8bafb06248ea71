// Incremental transcript scanning; see transcript.h.
#include "detectors/transcript.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace promptgate {

// --- block extents ---------------------------------------------------------------------------
// A structural pass only: strings are jumped over with memchr, nothing is decoded. Anything
// unexpected gives up (empty result) and the body is scanned in full, which also reports the
// JSON error.
namespace {

class BlockFinder {
 public:
  explicit BlockFinder(std::string_view s) : s_(s) {}

  std::vector<RawRange> run() {
    ws();
    if (!eat('{')) return {};
    ws();
    if (eat('}')) return {};
    for (;;) {
      ws();
      std::string_view key;
      if (!string(&key)) return {};
      ws();
      if (!eat(':')) return {};
      ws();
      if (i_ >= s_.size()) return {};
      char c = s_[i_];
      bool ok;
      if ((key == "system" || key == "tools") && c == '[')
        ok = elements();
      else if (key == "system" && c == '"')
        ok = whole_value();
      else if (key == "messages" && c == '[')
        ok = messages();
      else
        ok = value();
      if (!ok) return {};
      ws();
      if (eat(',')) continue;
      if (eat('}')) break;
      return {};
    }
    return std::move(out_);
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // At a '"': moves past the closing quote. A quote ends the string unless an odd run of
  // backslashes precedes it.
  bool string(std::string_view* raw_content = nullptr) {
    if (!eat('"')) return false;
    size_t from = i_;
    for (;;) {
      const void* q = std::memchr(s_.data() + i_, '"', s_.size() - i_);
      if (!q) return false;
      size_t at = static_cast<size_t>(static_cast<const char*>(q) - s_.data());
      size_t slashes = 0;
      while (at - slashes > from && s_[at - slashes - 1] == '\\') ++slashes;
      i_ = at + 1;
      if (slashes % 2 == 0) {
        if (raw_content) *raw_content = s_.substr(from, at - from);
        return true;
      }
    }
  }
  bool value() {
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      size_t depth = 0;
      while (i_ < s_.size()) {
        char d = s_[i_];
        if (d == '"') {
          if (!string()) return false;
          continue;
        }
        ++i_;
        if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) return true;
        }
      }
      return false;
    }
    size_t from = i_;
    while (i_ < s_.size() && !std::strchr(",]} \n\r\t", s_[i_])) ++i_;
    return i_ > from;
  }
  bool whole_value() {
    size_t from = i_;
    if (!value()) return false;
    out_.push_back({from, i_});
    return true;
  }
  bool elements() {
    if (!eat('[')) return false;
    ws();
    if (eat(']')) return true;
    for (;;) {
      ws();
      if (!whole_value()) return false;
      ws();
      if (eat(',')) continue;
      return eat(']');
    }
  }
  // Each message object: its "content" (a string, or an array of blocks) makes the blocks.
  bool messages() {
    if (!eat('[')) return false;
    ws();
    if (eat(']')) return true;
    for (;;) {
      ws();
      size_t from = i_;
      if (i_ < s_.size() && s_[i_] == '{') {
        if (!message()) return false;
        if (!first_message_) first_message_ = RawRange{from, i_};
      } else if (!value()) {
        return false;
      }
      ws();
      if (eat(',')) continue;
      return eat(']');
    }
  }
  bool message() {
    eat('{');
    ws();
    if (eat('}')) return true;
    for (;;) {
      ws();
      std::string_view key;
      if (!string(&key)) return false;
      ws();
      if (!eat(':')) return false;
      ws();
      bool ok;
      if (key == "content" && i_ < s_.size() && s_[i_] == '[')
        ok = elements();
      else if (key == "content" && i_ < s_.size() && s_[i_] == '"')
        ok = whole_value();
      else
        ok = value();
      if (!ok) return false;
      ws();
      if (eat(',')) continue;
      return eat('}');
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::vector<RawRange> out_;

 public:
  std::optional<RawRange> first_message_;
};

struct DigestHash {
  size_t operator()(const SeenBlocks::Digest& d) const { return static_cast<size_t>(d[0]); }
};

}  // namespace

std::vector<RawRange> transcript_blocks(std::string_view json) {
  return BlockFinder(json).run();
}

std::optional<RawRange> first_message(std::string_view json) {
  BlockFinder finder(json);
  finder.run();
  return finder.first_message_;
}

// --- the per-identity memory -----------------------------------------------------------------

struct SeenBlocks::Impl {
  struct PerIdentity {
    std::unordered_set<Digest, DigestHash> set;
    std::deque<Digest> order;  // oldest first, for the bound
    std::list<std::string>::iterator lru;
  };
  Limits limits;
  unsigned char key[16];  // AES-128
  mutable std::mutex mu;
  std::unordered_map<std::string, PerIdentity> by_identity;
  mutable std::list<std::string> lru;  // most recently used first
  size_t total = 0;
};

SeenBlocks::SeenBlocks(Limits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  if (RAND_bytes(impl_->key, sizeof impl_->key) != 1)
    throw std::runtime_error("RAND_bytes failed for the transcript digest key");
}

SeenBlocks::~SeenBlocks() = default;

// GMAC: AES-128-GCM over the block as additional data, with the instance's random key and a
// fixed nonce. A keyed universal hash running at memory speed (the bodies are hashed on every
// turn, so HMAC-SHA256 would cost more than the scan it saves). The tags never leave the
// process, so the fixed nonce gives nobody a forgery to work with; finding two blocks with the
// same tag without the key has probability about length/2^128.
class SeenBlocks::Digester {
 public:
  explicit Digester(const unsigned char* key) : ctx_(EVP_CIPHER_CTX_new()) {
    if (!ctx_ || EVP_EncryptInit_ex(ctx_, EVP_aes_128_gcm(), nullptr, key, kNonce) != 1)
      throw std::runtime_error("AES-128-GCM is unavailable for the transcript digests");
  }
  ~Digester() { EVP_CIPHER_CTX_free(ctx_); }
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  Digest operator()(std::string_view block) {
    int outl = 0;
    unsigned char tag[16];
    bool ok = EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, kNonce) == 1;
    // EVP takes an int length: feed big blocks in pieces.
    for (size_t at = 0; ok && at < block.size(); at += kPiece) {
      size_t n = std::min(kPiece, block.size() - at);
      ok = EVP_EncryptUpdate(ctx_, nullptr, &outl,
                             reinterpret_cast<const unsigned char*>(block.data() + at),
                             static_cast<int>(n)) == 1;
    }
    ok = ok && EVP_EncryptFinal_ex(ctx_, tag, &outl) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, sizeof tag, tag) == 1;
    if (!ok) throw std::runtime_error("AES-128-GCM failed for a transcript digest");
    Digest d;
    std::memcpy(d.data(), tag, sizeof d);
    return d;
  }

 private:
  static constexpr unsigned char kNonce[12] = {'p', 'r', 'o', 'm', 'p', 't',
                                               'g', 'a', 't', 'e', '0', '1'};
  static constexpr size_t kPiece = size_t{1} << 30;
  EVP_CIPHER_CTX* ctx_;
};

SeenBlocks::Digest SeenBlocks::digest(std::string_view block) const {
  Digester digester(impl_->key);
  return digester(block);
}

void SeenBlocks::lookup(std::string_view identity, const std::vector<Digest>& digests,
                        std::vector<bool>& seen) const {
  seen.assign(digests.size(), false);
  std::lock_guard lock(impl_->mu);
  auto it = impl_->by_identity.find(std::string(identity));
  if (it == impl_->by_identity.end()) return;
  impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.lru);
  for (size_t i = 0; i < digests.size(); ++i) seen[i] = it->second.set.count(digests[i]) > 0;
}

void SeenBlocks::remember(std::string_view identity, const std::vector<Digest>& clean) {
  if (clean.empty() || impl_->limits.max_identities == 0 ||
      impl_->limits.max_blocks_per_identity == 0)
    return;
  std::lock_guard lock(impl_->mu);
  auto& m = impl_->by_identity;
  auto it = m.find(std::string(identity));
  if (it == m.end()) {
    while (m.size() >= impl_->limits.max_identities) {
      auto victim = m.find(impl_->lru.back());
      impl_->total -= victim->second.set.size();
      m.erase(victim);
      impl_->lru.pop_back();
    }
    impl_->lru.emplace_front(identity);
    it = m.emplace(std::string(identity), Impl::PerIdentity{}).first;
    it->second.lru = impl_->lru.begin();
  } else {
    impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.lru);
  }
  Impl::PerIdentity& p = it->second;
  for (const Digest& d : clean) {
    if (!p.set.insert(d).second) continue;
    p.order.push_back(d);
    ++impl_->total;
    if (p.order.size() > impl_->limits.max_blocks_per_identity) {
      p.set.erase(p.order.front());
      p.order.pop_front();
      --impl_->total;
    }
  }
}

size_t SeenBlocks::identities() const {
  std::lock_guard lock(impl_->mu);
  return impl_->by_identity.size();
}

size_t SeenBlocks::blocks() const {
  std::lock_guard lock(impl_->mu);
  return impl_->total;
}

// --- the scan --------------------------------------------------------------------------------

TranscriptScan scan_transcript(Scanner& scanner, std::string_view body, SeenBlocks& seen,
                               std::string_view identity) {
  TranscriptScan out;
  std::vector<RawRange> blocks = transcript_blocks(body);
  out.blocks = blocks.size();
  std::vector<RawRange> candidates;  // big enough to be worth a digest
  std::vector<SeenBlocks::Digest> digests;
  SeenBlocks::Digester digester(seen.impl_->key);
  for (const RawRange& b : blocks) {
    if (b.end - b.begin < SeenBlocks::kMinBlockBytes) continue;
    candidates.push_back(b);
    digests.push_back(digester(body.substr(b.begin, b.end - b.begin)));
  }
  std::vector<bool> known;
  seen.lookup(identity, digests, known);
  std::vector<RawRange> skip;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!known[i]) continue;
    skip.push_back(candidates[i]);
    out.skipped_bytes += candidates[i].end - candidates[i].begin;
  }
  out.skipped_blocks = skip.size();
  out.result = scanner.scan(body, InputFormat::json, std::move(skip));
  if (!out.result.ok()) return out;
  // Remember what came out clean: a block in which no finding starts (nor any part of a value
  // joined from several blocks). A block holding an attachment waits until its attachments were
  // read (remember_read_clean).
  auto block_of = [&](uint64_t at) -> size_t {
    auto it = std::upper_bound(candidates.begin(), candidates.end(), at,
                               [](uint64_t v, const RawRange& r) { return v < r.begin; });
    if (it == candidates.begin() || at >= (--it)->end) return candidates.size();
    return static_cast<size_t>(it - candidates.begin());
  };
  std::vector<bool> dirty(candidates.size(), false);
  auto mark = [&](uint64_t at) {
    size_t b = block_of(at);
    if (b < candidates.size()) dirty[b] = true;
  };
  for (const Finding& f : out.result.findings) {
    mark(f.in_base64 ? f.container_start : f.start);
    for (const RawRange& p : f.parts) mark(p.begin);
  }
  std::vector<int> held(candidates.size(), -1);  // index into held_blocks
  const auto& attachments = out.result.attachments;
  for (size_t i = 0; i < attachments.size(); ++i) {
    size_t b = block_of(attachments[i].raw_begin);
    if (b == candidates.size() || dirty[b]) continue;
    if (held[b] < 0) {
      held[b] = static_cast<int>(out.held_blocks.size());
      out.held_blocks.push_back({digests[b], {}});
    }
    out.held_blocks[static_cast<size_t>(held[b])].attachments.push_back(i);
  }
  std::vector<SeenBlocks::Digest> clean;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (!known[i] && !dirty[i] && held[i] < 0) clean.push_back(digests[i]);
  seen.remember(identity, clean);
  return out;
}

void remember_read_clean(SeenBlocks& seen, std::string_view identity, const TranscriptScan& scan,
                         const std::vector<bool>& attachment_clean) {
  std::vector<SeenBlocks::Digest> clean;
  for (const auto& h : scan.held_blocks) {
    bool all = std::all_of(h.attachments.begin(), h.attachments.end(), [&](size_t i) {
      return i < attachment_clean.size() && attachment_clean[i];
    });
    if (all) clean.push_back(h.digest);
  }
  seen.remember(identity, clean);
}

}  // namespace promptgate

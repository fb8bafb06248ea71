// Conversations and their stand-in maps, in memory only; see token_vault.h.
#include "proxy/token_vault.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "detectors/redactor.h"
#include "detectors/standin.h"

namespace promptgate::proxy {

namespace {
void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}
}  // namespace

// --- Conversation ----------------------------------------------------------------------------

Conversation::Conversation(TokenVault& vault, const std::string& identity) : vault_(vault) {
  std::string msg = "promptgate conversation v1";
  msg.push_back('\0');
  msg += identity;
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), vault.key_.data(), static_cast<int>(vault.key_.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), key_.data(), &len))
    throw std::runtime_error("token vault: HMAC-SHA256 failed");
}

Conversation::~Conversation() {
  std::lock_guard lock(mu_);
  size_t released = wipe_locked();
  if (!evicted_) {
    vault_.total_bytes_ -= released;
  }
  OPENSSL_cleanse(key_.data(), key_.size());
}

size_t Conversation::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

void Conversation::drop_entry_locked(std::list<Entry>::iterator it) {
  by_original_.erase(it->original);
  by_standin_.erase(it->standin);
  size_t b = it->bytes();
  bytes_ -= b;
  if (!evicted_) {
    vault_.total_bytes_ -= b;
    vault_.total_entries_ -= 1;
  }
  wipe(it->original);
  lru_.erase(it);
  snapshot_.reset();
}

size_t Conversation::wipe_locked() {
  size_t released = bytes_;
  if (!evicted_) vault_.total_entries_ -= lru_.size();
  by_original_.clear();
  by_standin_.clear();
  for (auto& e : lru_) wipe(e.original);
  lru_.clear();
  bytes_ = 0;
  snapshot_.reset();
  return released;
}

std::string Conversation::standin_for(const Rule& rule, std::string_view original) {
  std::string standin;
  {
    std::lock_guard lock(mu_);
    if (auto it = by_original_.find(original); it != by_original_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->standin;
    }
    uint32_t attempt = 0;
    for (; attempt < kMaxAttempts; ++attempt) {
      standin = make_standin(rule, original, key_, attempt);
      // Taken by another value, or equal to a value of this conversation (the answer would
      // then restore that value where the model meant this one).
      if (!by_standin_.contains(standin) && !by_original_.contains(standin)) break;
      ++vault_.collisions_;
    }
    if (attempt == kMaxAttempts) {
      ++vault_.irreversible_;
      return redaction_marker(rule.id);
    }
    size_t max_entries = std::max<size_t>(1, vault_.limits_.max_entries_per_conversation);
    while (lru_.size() >= max_entries) {
      drop_entry_locked(std::prev(lru_.end()));
      ++vault_.evicted_entries_;
    }
    lru_.push_front(Entry{std::string(original), standin});
    auto it = lru_.begin();
    by_original_.emplace(it->original, it);
    by_standin_.emplace(it->standin, it);
    bytes_ += it->bytes();
    if (!evicted_) {
      vault_.total_bytes_ += it->bytes();
      vault_.total_entries_ += 1;
    }
    snapshot_.reset();
  }
  vault_.enforce_total_bytes(this);
  return standin;
}

std::shared_ptr<const Substitutions> Conversation::restorations() {
  std::lock_guard lock(mu_);
  if (!snapshot_) {
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(lru_.size());
    for (const auto& e : lru_) pairs.emplace_back(e.standin, e.original);
    snapshot_ = std::make_shared<const Substitutions>(std::move(pairs));
  }
  return snapshot_;
}

// --- TokenVault ------------------------------------------------------------------------------

TokenVault::TokenVault(VaultLimits limits, Clock clock)
    : TokenVault(limits, Key{}, std::move(clock)) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
    throw std::runtime_error("token vault: no random bytes for its key");
}

TokenVault::TokenVault(VaultLimits limits, const Key& key, Clock clock)
    : limits_(limits), key_(key), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

TokenVault::~TokenVault() {
  std::lock_guard lock(mu_);
  while (!lru_.empty()) evict_locked(lru_.back(), false);
  OPENSSL_cleanse(key_.data(), key_.size());
}

void TokenVault::evict_locked(const std::string& identity, bool expired) {
  auto it = table_.find(identity);
  if (it == table_.end()) return;
  std::shared_ptr<Conversation> conv = std::move(it->second.conversation);
  lru_.erase(conv->lru_pos_);
  table_.erase(it);
  {
    std::lock_guard lock(conv->mu_);
    total_bytes_ -= conv->wipe_locked();
    conv->evicted_ = true;
  }
  ++(expired ? expired_conversations_ : evicted_conversations_);
}

void TokenVault::expire_locked(std::chrono::steady_clock::time_point now) {
  while (!lru_.empty()) {
    auto it = table_.find(lru_.back());
    if (now - it->second.conversation->last_used_ <= limits_.idle_ttl) break;
    evict_locked(lru_.back(), true);
  }
}

std::shared_ptr<Conversation> TokenVault::conversation(const std::string& identity) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  expire_locked(now);
  if (auto it = table_.find(identity); it != table_.end()) {
    auto& conv = it->second.conversation;
    conv->last_used_ = now;
    lru_.splice(lru_.begin(), lru_, conv->lru_pos_);
    return conv;
  }
  size_t max_conversations = std::max<size_t>(1, limits_.max_conversations);
  while (table_.size() >= max_conversations) evict_locked(lru_.back(), false);
  auto conv = std::shared_ptr<Conversation>(new Conversation(*this, identity));
  conv->last_used_ = now;
  lru_.push_front(identity);
  conv->lru_pos_ = lru_.begin();
  table_.emplace(identity, Slot{conv});
  return conv;
}

std::shared_ptr<Conversation> TokenVault::find(const std::string& identity) {
  if (total_entries_.load() == 0) return nullptr;  // the common case, without the lock
  auto now = clock_();
  std::lock_guard lock(mu_);
  expire_locked(now);
  auto it = table_.find(identity);
  if (it == table_.end()) return nullptr;
  auto& conv = it->second.conversation;
  conv->last_used_ = now;
  lru_.splice(lru_.begin(), lru_, conv->lru_pos_);
  return conv;
}

void TokenVault::sweep() {
  auto now = clock_();
  std::lock_guard lock(mu_);
  expire_locked(now);
}

void TokenVault::enforce_total_bytes(Conversation* grown) {
  if (total_bytes_.load() <= limits_.max_total_bytes) return;
  std::lock_guard lock(mu_);
  // Other conversations go first, least recently used first; the one that grew is evicted
  // entry by entry only when it alone is over the bound.
  auto it = lru_.end();
  while (total_bytes_.load() > limits_.max_total_bytes && it != lru_.begin()) {
    --it;
    auto slot = table_.find(*it);
    if (slot->second.conversation.get() == grown) continue;
    auto victim = it;
    ++it;
    evict_locked(*victim, false);
  }
  if (total_bytes_.load() <= limits_.max_total_bytes) return;
  std::lock_guard conv_lock(grown->mu_);
  while (total_bytes_.load() > limits_.max_total_bytes && grown->lru_.size() > 1 &&
         !grown->evicted_) {
    grown->drop_entry_locked(std::prev(grown->lru_.end()));
    ++evicted_entries_;
  }
}

VaultStats TokenVault::stats() const {
  VaultStats s;
  {
    std::lock_guard lock(mu_);
    s.conversations = table_.size();
  }
  s.entries = total_entries_.load();
  s.bytes = total_bytes_.load();
  s.evicted_conversations = evicted_conversations_.load();
  s.expired_conversations = expired_conversations_.load();
  s.evicted_entries = evicted_entries_.load();
  s.collisions = collisions_.load();
  s.irreversible = irreversible_.load();
  return s;
}

}  // namespace promptgate::proxy

// The in-memory map behind action `tokenize`: per conversation (client identity), which secret
// went out under which stand-in, so the answer can be restored (sse_restorer.h).
//
//   TokenVault vault(VaultLimits{});                        // one per proxy, shared by threads
//   auto conv = vault.conversation(identity);              // user name, or the client IP
//   std::string s = conv->standin_for(rule, value);        // per tokenized finding
//   std::shared_ptr<const Substitutions> subs = conv->restorations();   // for this answer
//   StreamRestorer restorer(subs);
//
// A conversation's key is HMAC-SHA256 of its identity under the vault's key (the cluster's
// stand-in key in the proxy, detectors/cluster_key.h), and stand-ins are an HMAC of the value
// under that (standin.h): the same value gets the same stand-in every turn, on every replica
// sharing the cluster key and after a restart, and another identity gets a different one. A
// replica that never saw a value rebuilds the map from the request it handles, which carries
// the value (docs/tokenize.md). Nothing is ever written to disk or logs. Memory is bounded: at most
// max_conversations (least recently used evicted), max_entries_per_conversation (least recently
// used entry evicted; a value seen again gets its stand-in back, as it is derived from the key),
// max_total_bytes over all conversations (whole conversations evicted, oldest first), and a
// conversation idle for idle_ttl is dropped. Evicted values are wiped (OPENSSL_cleanse).
// A request that already holds a Conversation keeps using it even if it is evicted meanwhile;
// it is then no longer counted or found, and freed with its last holder. The vault must outlive
// the conversations it hands out. Thread-safe: a mutex for the table, one per conversation.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "detectors/rules.h"
#include "proxy/sse_restorer.h"

namespace promptgate::proxy {

struct VaultLimits {
  size_t max_conversations = 1000;
  size_t max_entries_per_conversation = 1000;
  size_t max_total_bytes = 32u << 20;
  std::chrono::seconds idle_ttl{3600};
};

struct VaultStats {
  size_t conversations = 0;
  size_t entries = 0;
  size_t bytes = 0;                    // accounted bytes (values, stand-ins, per-entry overhead)
  uint64_t evicted_conversations = 0;  // for the conversation or byte bound
  uint64_t expired_conversations = 0;  // idle longer than idle_ttl
  uint64_t evicted_entries = 0;        // for the per-conversation bound
  uint64_t collisions = 0;             // stand-in already taken, next attempt used
  uint64_t irreversible = 0;           // no free stand-in found: the redaction marker was used
};

class TokenVault;

class Conversation {
 public:
  ~Conversation();
  Conversation(const Conversation&) = delete;
  Conversation& operator=(const Conversation&) = delete;

  // The stand-in for `original` in this conversation: the same every time (while the entry
  // lives), distinct from every other value's, never equal to the value. If no free stand-in is
  // found after kMaxAttempts (very short formats), returns the redaction marker instead.
  std::string standin_for(const Rule& rule, std::string_view original);
  // Stand-in -> original for everything this conversation has handed out; an immutable
  // snapshot, shared until the next new entry.
  std::shared_ptr<const Substitutions> restorations();
  size_t entries() const;

  static constexpr uint32_t kMaxAttempts = 32;
  static constexpr size_t kEntryOverhead = 96;  // list node, two index slots

 private:
  friend class TokenVault;
  Conversation(TokenVault& vault, const std::string& identity);
  struct Entry {
    std::string original, standin;
    size_t bytes() const { return original.size() + standin.size() + kEntryOverhead; }
  };
  void drop_entry_locked(std::list<Entry>::iterator it);
  size_t wipe_locked();  // evicted: frees everything, returns the bytes released

  TokenVault& vault_;
  mutable std::mutex mu_;
  std::array<unsigned char, 32> key_{};
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> by_original_, by_standin_;
  size_t bytes_ = 0;
  bool evicted_ = false;
  std::shared_ptr<const Substitutions> snapshot_;  // reset whenever an entry comes or goes
  // Table bookkeeping, guarded by the vault's mutex.
  std::chrono::steady_clock::time_point last_used_;
  std::list<std::string>::iterator lru_pos_;
};

class TokenVault {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Key = std::array<unsigned char, 32>;
  // `key`: the stand-in key; without one the vault draws a random key (stand-ins then differ
  // from other processes').
  explicit TokenVault(VaultLimits limits, Clock clock = {});
  TokenVault(VaultLimits limits, const Key& key, Clock clock = {});
  ~TokenVault();
  TokenVault(const TokenVault&) = delete;
  TokenVault& operator=(const TokenVault&) = delete;

  // The identity's conversation, created on first use (or after it expired or was evicted).
  std::shared_ptr<Conversation> conversation(const std::string& identity);
  // The identity's live conversation, or null: for answers to requests that tokenized nothing
  // new but may repeat earlier stand-ins. Creates nothing.
  std::shared_ptr<Conversation> find(const std::string& identity);
  // Drops conversations idle longer than idle_ttl (conversation() does this too).
  void sweep();
  VaultStats stats() const;
  const VaultLimits& limits() const { return limits_; }

 private:
  friend class Conversation;
  struct Slot {
    std::shared_ptr<Conversation> conversation;
  };
  void expire_locked(std::chrono::steady_clock::time_point now);
  void evict_locked(const std::string& identity, bool expired);
  // Called by a conversation after it grew, without its own lock held.
  void enforce_total_bytes(Conversation* grown);

  VaultLimits limits_;
  Key key_{};
  Clock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Slot> table_;
  std::list<std::string> lru_;  // identities, most recently used first
  std::atomic<size_t> total_bytes_{0};
  std::atomic<size_t> total_entries_{0};
  std::atomic<uint64_t> evicted_conversations_{0}, expired_conversations_{0}, evicted_entries_{0},
      collisions_{0}, irreversible_{0};
};

}  // namespace promptgate::proxy

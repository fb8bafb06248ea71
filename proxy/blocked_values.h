// After a block, the session can go on (docs/blocked.md#after-a-block). Claude Code keeps a
// blocked prompt (or the tool output that held the value) in its conversation and resends it on
// every turn, so with today's rule every later turn would be blocked for the same value. This
// memory lets the decision stage tell a value the user has already been shown a block for, in
// this conversation, from a new one: the known value is redacted (config `after_block`) and the
// turn goes on; a new blocking value still blocks.
//
// A conversation is the owner (authenticated user, else client address) and a keyed digest of
// the first block the user wrote in the body's first message (`messages[0]`, which comes back on
// every turn until the user runs /clear or rewinds past it): the client's `<system-reminder>`
// blocks, `cache_control` marks and trailing space are left out, since clients add, move and
// merge them (after a failed first turn Claude Code merges the next prompt into messages[0]).
// Two conversations of one owner that open with the same words count as one.
//
//   BlockedValues memory;                                   // one per process, across reloads
//   std::string conv = memory.conversation_key(owner, body); // empty: not a conversation
//   if (auto first = memory.blocked_before(conv, fp)) ...    // the first block's event id
//   memory.remember(conv, {fp1, fp2}, ev.request_id);        // after sending a block
//
// Bounded: at most `max_conversations` (least recently used dropped first), each with at most
// `max_values` fingerprints (oldest dropped first), each forgotten `ttl` after it was blocked.
// Holds fingerprints and digests only, never a value.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace promptgate::proxy {

class BlockedValues {
 public:
  struct Limits {
    size_t max_conversations = 4096;
    size_t max_values = 256;
    std::chrono::seconds ttl{std::chrono::hours(24)};
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  BlockedValues() : BlockedValues(Limits{}) {}
  explicit BlockedValues(Limits limits, Clock clock = &std::chrono::steady_clock::now);
  BlockedValues(const BlockedValues&) = delete;
  BlockedValues& operator=(const BlockedValues&) = delete;

  // An opaque key for (owner, first message of `body_json`); empty when the body has no
  // messages (then nothing is remembered for it).
  std::string conversation_key(std::string_view owner, std::string_view body_json) const;

  // The request id of the block that first showed `fingerprint` in this conversation, if it is
  // remembered and not expired.
  std::optional<std::string> blocked_before(const std::string& conversation,
                                            const std::string& fingerprint);
  // Remembers the values a block was just shown for (those not remembered yet).
  void remember(const std::string& conversation, const std::vector<std::string>& fingerprints,
                const std::string& request_id);

  // Forgets values the user chose to send anyway (a justified override), so later turns forward
  // them under the override's grant instead of redacting them.
  void forget(const std::string& conversation, const std::vector<std::string>& fingerprints);

  size_t conversations() const;

 private:
  struct Value {
    std::string request_id;
    std::chrono::steady_clock::time_point at;
  };
  struct Conversation {
    std::unordered_map<std::string, Value> values;
    std::list<std::string> order;  // fingerprints, oldest first
    std::list<std::string>::iterator lru;
  };
  Limits limits_;
  Clock clock_;
  std::array<unsigned char, 32> key_{};
  mutable std::mutex mu_;
  std::unordered_map<std::string, Conversation> by_key_;
  std::list<std::string> lru_;  // conversation keys, most recent first
};

}  // namespace promptgate::proxy

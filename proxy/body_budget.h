// A process-wide budget for the request bytes promptgate holds in memory: bodies being read and
// scanned, their decompressed copies, and bodies waiting for the upstream's response header.
// Every request takes a Hold; when a Hold cannot grow within the limit, the request is answered
// 503 at once, instead of the process growing toward an out-of-memory kill that would end every
// user's requests together. One atomic, touched a few times per request, never per byte.
//
//   BodyBudget budget;                           // one per process
//   BodyBudget::Hold hold(budget);               // one per request
//   if (!hold.try_grow_to(content_length, cfg.max_buffered_body_bytes)) { /* answer 503 */ }
//   ...
//   hold.set(0);                                 // the body is gone (also done by ~Hold)
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace promptgate::proxy {

class BodyBudget {
 public:
  class Hold {
   public:
    explicit Hold(BodyBudget& budget) : budget_(&budget) {}
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { set(0); }

    // Counts `total` bytes for this request if the budget's other holds leave room for them
    // under `limit`; false (and nothing changes) when they do not. Never shrinks.
    bool try_grow_to(uint64_t total, uint64_t limit) {
      if (total <= held_) return true;
      const uint64_t more = total - held_;
      uint64_t used = budget_->used_.load(std::memory_order_relaxed);
      do {
        if (used + more > limit) return false;
      } while (!budget_->used_.compare_exchange_weak(used, used + more, std::memory_order_relaxed));
      held_ = total;
      return true;
    }
    // Counts exactly `total` bytes, over the limit if need be: for memory already allocated
    // (a redacted copy) or given back.
    void set(uint64_t total) {
      if (total >= held_)
        budget_->used_.fetch_add(total - held_, std::memory_order_relaxed);
      else
        budget_->used_.fetch_sub(held_ - total, std::memory_order_relaxed);
      held_ = total;
    }
    uint64_t bytes() const { return held_; }

   private:
    BodyBudget* budget_;
    uint64_t held_ = 0;
  };

  // Bytes counted by all holds now (the promptgate_buffered_request_bytes gauge).
  uint64_t in_use() const { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> used_{0};
};

}  // namespace promptgate::proxy

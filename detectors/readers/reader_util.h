// Small helpers shared by the attachment readers (readers.h): the time budget and the wording
// of unreadable and timeout outcomes. Internal to detectors/readers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "detectors/attachments.h"

namespace promptgate::reader_util {

// A read's deadline, from when it started.
class Clock {
 public:
  explicit Clock(std::chrono::milliseconds budget)
      : start_(std::chrono::steady_clock::now()), budget_(budget) {}
  bool expired() const { return elapsed() > budget_; }
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start_);
  }
  std::chrono::milliseconds left() const {
    auto e = elapsed();
    return e >= budget_ ? std::chrono::milliseconds(0) : budget_ - e;
  }
  std::chrono::milliseconds budget() const { return budget_; }

 private:
  std::chrono::steady_clock::time_point start_;
  std::chrono::milliseconds budget_;
};

inline std::string size_name(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

inline ReadOutcome unreadable(std::string reason) {
  ReadOutcome o;
  o.status = ReadStatus::unreadable;
  o.reason = std::move(reason);
  return o;
}

// "reading <what> took longer than the 5000 ms budget (pictures.budget_ms)"
inline ReadOutcome timed_out(const std::string& what, const Clock& clock, const char* setting) {
  ReadOutcome o;
  o.status = ReadStatus::timeout;
  o.reason = "reading the " + what + " took longer than the " +
             std::to_string(clock.budget().count()) + " ms budget (" + setting + ")";
  return o;
}

inline ReadOutcome limit_text(const char* what, uint64_t limit, const char* setting) {
  return unreadable(std::string("the ") + what + "'s text is over the " + size_name(limit) +
                    " limit (" + setting + ")");
}

}  // namespace promptgate::reader_util

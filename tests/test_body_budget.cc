// The request-body memory budget: holds grow only within the limit, a refused grow changes
// nothing, and every byte a hold counted goes back when it shrinks or ends.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "proxy/body_budget.h"

using promptgate::proxy::BodyBudget;

TEST_CASE("a hold grows within the limit, and a refused grow changes nothing", "[body_budget]") {
  BodyBudget budget;
  BodyBudget::Hold a(budget), b(budget);
  REQUIRE(a.try_grow_to(600, 1000));
  REQUIRE(budget.in_use() == 600);
  REQUIRE_FALSE(b.try_grow_to(500, 1000));  // 600 + 500 > 1000
  REQUIRE(b.bytes() == 0);
  REQUIRE(budget.in_use() == 600);
  REQUIRE(b.try_grow_to(400, 1000));  // exactly at the limit
  REQUIRE(budget.in_use() == 1000);
  REQUIRE(a.try_grow_to(300, 1000));  // never shrinks: already holds more
  REQUIRE(a.bytes() == 600);
  a.set(100);  // the body went away but for 100 bytes
  REQUIRE(budget.in_use() == 500);
  REQUIRE(b.try_grow_to(900, 1000));
  REQUIRE(budget.in_use() == 1000);
}

TEST_CASE("set counts memory already allocated, over the limit if need be", "[body_budget]") {
  BodyBudget budget;
  BodyBudget::Hold a(budget);
  REQUIRE(a.try_grow_to(900, 1000));
  a.set(1200);  // a redacted copy, larger than the body
  REQUIRE(budget.in_use() == 1200);
  BodyBudget::Hold b(budget);
  REQUIRE_FALSE(b.try_grow_to(1, 1000));
  a.set(0);
  REQUIRE(b.try_grow_to(1000, 1000));
}

TEST_CASE("a hold gives back what it counted when it ends", "[body_budget]") {
  BodyBudget budget;
  {
    BodyBudget::Hold a(budget);
    REQUIRE(a.try_grow_to(700, 1000));
    BodyBudget::Hold b(budget);
    REQUIRE(b.try_grow_to(300, 1000));
    REQUIRE(budget.in_use() == 1000);
  }
  REQUIRE(budget.in_use() == 0);
}

TEST_CASE("threads racing for the budget never take more than the limit together",
          "[body_budget]") {
  // Four threads each want 3000 of 10000: at most three fit at a time. Catch2 assertions are
  // not thread-safe, so the threads only count; the checks run after the join.
  BodyBudget budget;
  constexpr uint64_t kLimit = 10'000;
  std::atomic<uint64_t> peak{0}, granted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        BodyBudget::Hold h(budget);
        if (!h.try_grow_to(3'000, kLimit)) {
          ++refused;
          continue;
        }
        ++granted;
        uint64_t now = budget.in_use(), seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
      }
    });
  for (auto& t : threads) t.join();
  REQUIRE(peak.load() <= 9'000);
  REQUIRE(granted.load() > 0);
  REQUIRE(granted.load() + refused.load() == 80'000);
  REQUIRE(budget.in_use() == 0);
}

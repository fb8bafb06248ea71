// Hyperscan's failures: errors name the call and the hs_error_t code, and the scratch space
// is never leaked, whichever allocation fails (counted with Hyperscan's own allocator hooks).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "detectors/engine.h"
#include "detectors/hyperscan_util.h"
#include "tests/synthetic.h"

using namespace promptgate;

namespace {

// Scratch allocations that are live, and the allocation (counted from 0) made to fail.
int g_live = 0;
int g_calls = 0;
int g_fail_at = -1;

void* counting_alloc(size_t n) {
  if (g_calls++ == g_fail_at) return nullptr;
  void* p = std::malloc(n);
  if (p) ++g_live;
  return p;
}

void counting_free(void* p) {
  if (!p) return;
  --g_live;
  std::free(p);
}

// Counts scratch allocations while alive; Hyperscan's default allocator again afterwards.
struct CountingScratchAllocator {
  explicit CountingScratchAllocator(int fail_at) {
    g_live = 0;
    g_calls = 0;
    g_fail_at = fail_at;
    hs_set_scratch_allocator(counting_alloc, counting_free);
  }
  ~CountingScratchAllocator() { hs_set_scratch_allocator(nullptr, nullptr); }
};

struct Database {
  hs_database_t* db = nullptr;
  Database(const char* pattern, unsigned mode) {
    hs_compile_error_t* err = nullptr;
    if (hs_compile(pattern, 0, mode, nullptr, &db, &err) != HS_SUCCESS) {
      hs_free_compile_error(err);
      FAIL("hs_compile");
    }
  }
  ~Database() { hs_free_database(db); }
};

}  // namespace

TEST_CASE("Hyperscan errors name the call and the code", "[hyperscan]") {
  HyperscanError e("hs_scan_stream", HS_SCRATCH_IN_USE);
  CHECK(std::string(e.what()) == "hs_scan_stream failed (HS_SCRATCH_IN_USE, -10)");
  CHECK(e.code() == HS_SCRATCH_IN_USE);
  CHECK(std::string(HyperscanError("hs_alloc_scratch", HS_NOMEM).what()) ==
        "hs_alloc_scratch failed (HS_NOMEM, -2)");
  CHECK(std::string(hs_error_name(HS_INVALID)) == "HS_INVALID");
  CHECK(std::string(hs_error_name(HS_UNKNOWN_ERROR)) == "HS_UNKNOWN_ERROR");
  CHECK(std::string(HyperscanError("hs_scan", -99).what()) ==
        "hs_scan failed (unknown error, -99)");
  CHECK_THROWS_AS(throw_hs_error("hs_open_stream", HS_NOMEM), HyperscanError);
  // Callers that know only std::runtime_error still catch it.
  CHECK_THROWS_AS(throw_hs_error("hs_open_stream", HS_NOMEM), std::runtime_error);
}

TEST_CASE("one scratch grows to fit a block and a stream database", "[hyperscan]") {
  Database block("abc", HS_MODE_BLOCK);
  Database stream("a[0-9]{5,}b", HS_MODE_STREAM);
  CountingScratchAllocator counting(-1);
  {
    HsScratch scratch;
    alloc_scratch(scratch, block.db);
    alloc_scratch(scratch, stream.db);
    REQUIRE(scratch);
    CHECK(g_live > 0);
  }
  CHECK(g_live == 0);
}

TEST_CASE("a scratch is not leaked when the second allocation fails", "[hyperscan]") {
  Database block("abc", HS_MODE_BLOCK);
  Database stream("a[0-9]{5,}b", HS_MODE_STREAM);

  SECTION("Hyperscan refuses the second database and keeps the first scratch") {
    alignas(64) static const unsigned char not_a_database[256] = {};
    CountingScratchAllocator counting(-1);
    {
      HsScratch scratch;
      alloc_scratch(scratch, block.db);
      try {
        alloc_scratch(scratch, reinterpret_cast<const hs_database_t*>(not_a_database));
        FAIL("no HyperscanError");
      } catch (const HyperscanError& e) {
        CHECK(e.code() != HS_SUCCESS);
      }
      CHECK(scratch);  // still owned: freed below, not leaked
    }
    CHECK(g_live == 0);
  }

  SECTION("every allocation in turn runs out of memory") {
    int failures = 0;
    for (int fail_at = 0; fail_at < 8; ++fail_at) {
      CountingScratchAllocator counting(fail_at);
      bool failed = false;
      {
        HsScratch scratch;
        try {
          alloc_scratch(scratch, block.db);
          alloc_scratch(scratch, stream.db);
        } catch (const HyperscanError& e) {
          failed = true;
          CHECK(e.code() == HS_NOMEM);
        }
      }
      INFO("failing allocation " << fail_at);
      CHECK(g_live == 0);
      if (!failed) break;  // fewer allocations than fail_at: every one has been tried
      ++failures;
    }
    CHECK(failures >= 3);  // both sizing buffers and at least one scratch
  }
}

TEST_CASE("a Scanner whose scratch cannot be allocated throws the code and leaks nothing",
          "[hyperscan]") {
  auto rules = RuleSet::compile(parse_rule_pack(
      "pack: t\nrules:\n  - id: t-rule\n    category: credential\n    severity: high\n"
      "    action: block\n    description: d\n    pattern: 'tok_[a-z]{8}'\n",
      "t.yaml"));
  int failures = 0;
  for (int fail_at = 0; fail_at < 8; ++fail_at) {
    CountingScratchAllocator counting(fail_at);
    bool failed = false;
    try {
      Scanner scanner(rules, testing::test_key());
      CHECK(scanner.scan("x tok_qmzrkwte", InputFormat::text).findings.size() == 1);
    } catch (const HyperscanError& e) {
      failed = true;
      CHECK(std::string(e.what()) == "hs_alloc_scratch failed (HS_NOMEM, -2)");
    }
    INFO("failing allocation " << fail_at);
    CHECK(g_live == 0);
    if (!failed) break;
    ++failures;
  }
  CHECK(failures >= 3);
}

// Hyperscan and Vectorscan both install libhs.so.5: a build against one (scripts/
// build-vectorscan.sh links Vectorscan by its build RPATH on a machine with Hyperscan installed)
// could load the other at run time, or compile against the other's headers, and still pass.
TEST_CASE("the engine library loaded at run time is the version of the headers compiled against",
          "[hyperscan]") {
  std::string loaded = hs_version();
  INFO("hs_version(): '" << loaded << "', hs.h: " << engine_header_version());
  CHECK(loaded.rfind(engine_header_version(), 0) == 0);
  CHECK((loaded.size() == engine_header_version().size() ||
         loaded[engine_header_version().size()] == ' '));
}

TEST_CASE("engine_version names the engine this build links and its library's version",
          "[hyperscan]") {
  std::string name = engine_name();
  CHECK((name == "Hyperscan" || name == "Vectorscan"));
  // The build that links the other engine says which it expects (scripts/build-vectorscan.sh).
  if (const char* expected = std::getenv("PROMPTGATE_EXPECT_ENGINE")) CHECK(name == expected);
  std::string version = engine_version();
  CHECK(version.rfind(name + " " + engine_header_version(), 0) == 0);
  CHECK(version.back() != ' ');
}

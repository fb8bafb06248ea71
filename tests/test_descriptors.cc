// descriptors.h: the note that names descriptor exhaustion, under a lowered open-file limit.
#include <sys/resource.h>

#include <catch2/catch.hpp>

#include "proxy/descriptors.h"

using namespace promptgate::proxy;

TEST_CASE("descriptors: exhaustion is named only near the limit", "[descriptors]") {
  const uint64_t open = open_descriptors();
  REQUIRE(open > 0);
  CHECK_FALSE(descriptor_exhaustion_note().has_value());  // the test runner is far from it

  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit tight = saved;
  tight.rlim_cur = open + 2;  // the note's own directory listing needs one
  REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
  auto note = descriptor_exhaustion_note();
  uint64_t limit = descriptor_limit();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(limit == open + 2);
  REQUIRE(note.has_value());
  CHECK(note->find("of the open-file limit " + std::to_string(open + 2) + " in use") !=
        std::string::npos);
  CHECK(note->find("LimitNOFILE=") != std::string::npos);

  // An EMFILE seen by the caller is named even when the count looks fine.
  auto emfile = descriptor_exhaustion_note(true);
  REQUIRE(emfile.has_value());
  CHECK(emfile->find("no file descriptors left") == 0);
}

// libFuzzer target: a rule pack (detectors/rules.h) as arbitrary YAML, parsed and, when it
// parses, compiled (Hyperscan and RE2). A pack that is refused is a std::exception with a
// message; a crash or another exception type is a failure.
#include <cstdint>
#include <exception>
#include <string>

#include "detectors/engine.h"
#include "detectors/rules.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    auto packs = promptgate::parse_rule_pack(yaml, "fuzz");
    (void)promptgate::RuleSet::compile(std::move(packs));
  } catch (const std::exception& e) {
    FUZZ_CHECK(e.what() && *e.what(), "a rule pack error has a message");
  }
  return 0;
}

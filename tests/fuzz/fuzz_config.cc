// libFuzzer target: the proxy's config file (proxy/config.h, parse_config) as arbitrary YAML.
// A config that does not parse is a std::exception with a message naming the problem; anything
// else (a crash, another exception type) is a failure.
#include <cstdint>
#include <exception>
#include <string>

#include "proxy/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    (void)promptgate::proxy::parse_config(yaml, "fuzz.yaml");
  } catch (const std::exception& e) {
    FUZZ_CHECK(e.what() && *e.what(), "a config error has a message");
  }
  return 0;
}

// libFuzzer target: arbitrary bytes as a JSON body (FUZZ_AS_JSON=1) or as text (0), in block
// mode and in stream mode split at a fuzzer-chosen offset; both must agree, and redaction must
// not crash. Built twice by tests/CMakeLists.txt: fuzz_json_scan and fuzz_text_scan.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "detectors/engine.h"
#include "detectors/redactor.h"

#ifndef FUZZ_AS_JSON
#define FUZZ_AS_JSON 1
#endif

namespace {
const char* kPack = R"(pack: fuzz
rules:
  - id: fuzz-token
    category: credential
    severity: high
    action: block
    description: a token
    pattern: '\btok_[A-Za-z0-9]{8,20}\b'
  - id: fuzz-password
    category: credential
    severity: high
    action: redact
    description: password
    pattern: '(?i)password\s*[:=]\s*(?P<secret>[^\s"]{4,32})'
    context: {words: [db], within: 16}
  - id: fuzz-card
    category: pci
    severity: high
    action: block
    description: card
    pattern: '\b4[0-9]{12}(?:[0-9]{3})?\b'
    validators: [luhn]
)";
promptgate::Scanner& scanner() {
  static promptgate::Scanner s(
      promptgate::RuleSet::compile(promptgate::parse_rule_pack(kPack, "fuzz")),
      promptgate::FingerprintKey::from_passphrase("fuzz"));
  return s;
}
}  // namespace

constexpr promptgate::InputFormat kFormat =
    FUZZ_AS_JSON ? promptgate::InputFormat::json : promptgate::InputFormat::text;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t cut = data[0] % size;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  auto block = scanner().scan(input, kFormat);
  auto stream = scanner().open_stream(kFormat);
  stream->write(input.substr(0, std::min(cut, input.size())));
  stream->write(input.substr(std::min(cut, input.size())));
  auto streamed = stream->finish();
  if (block.ok() != streamed.ok()) abort();
  if (block.ok() && block.findings.size() != streamed.findings.size()) abort();
  if (block.ok()) (void)promptgate::redact(input, block.findings);
  return 0;
}

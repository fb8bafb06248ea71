// Runs every rule's own examples through a scanner: each `match` example must yield a finding
// of that rule in block mode and in stream mode split into two chunks at every offset; each
// `no_match` example must yield none. Used by `promptgate rules test` and by the unit tests.
#pragma once

#include <string>
#include <vector>

#include "detectors/engine.h"

namespace promptgate {

struct ExampleReport {
  size_t examples = 0;
  size_t passed = 0;
  std::vector<std::string> failures;  // "file:line: rule 'id': ..."
};

ExampleReport check_rule_examples(Scanner& scanner, bool split_every_offset = true);

}  // namespace promptgate

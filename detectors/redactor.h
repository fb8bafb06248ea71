// Rewrites an input with every finding replaced by a marker that names the rule, e.g.
// `[REDACTED:aws-access-key-id]`. Spans come from the engine in raw coordinates and never split
// a JSON escape, and the marker holds no character JSON would need to escape, so a valid JSON
// body stays valid JSON. Secrets inside base64 documents are replaced in the decoded document,
// which is then encoded again. Overlapping findings are merged (the first rule names the marker).
//
//   std::string clean = redact(body, result.findings);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine.h"

namespace promptgate {

std::string redaction_marker(std::string_view rule_id);
std::string redact(std::string_view raw, const std::vector<Finding>& findings);

}  // namespace promptgate

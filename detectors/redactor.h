// Rewrites an input with every finding replaced by a marker that names the rule, e.g.
// `[REDACTED:aws-access-key-id]`. Spans come from the engine in raw coordinates and never split
// a JSON escape, and the marker holds no character JSON would need to escape, so a valid JSON
// body stays valid JSON. Secrets inside base64 documents are replaced in the decoded document,
// which is then encoded again. Overlapping findings are merged (the first rule names the marker).
//
//   std::string clean = redact(body, result.findings);
//
// `redact_with` lets the caller choose each replacement (action `tokenize` puts a stand-in in):
// the callback gets the finding and the value as the model would read it (JSON-unescaped, or
// taken from the decoded base64 document), and what it returns is JSON-escaped where needed.
//
//   std::string out = redact_with(body, findings, [&](const Finding& f, std::string_view value) {
//     return stand_in_for(f, value);   // f is an element of `findings`
//   }, InputFormat::json);
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"

namespace promptgate {

std::string redaction_marker(std::string_view rule_id);
std::string redact(std::string_view raw, const std::vector<Finding>& findings);

// The value a replacement callback is given is a secret: it must not be logged or kept beyond
// its use. Overlapping findings are merged into one span: the callback is called once, with the
// finding that starts first and the value of the whole merged span. The Finding reference is
// an element of `findings` (its index is `&f - findings.data()`).
using ReplacementFn = std::function<std::string(const Finding&, std::string_view decoded_value)>;
// `format`: json unescapes values and escapes replacements, text takes both as they are,
// automatic treats a finding as JSON when it has a location (the engine sets one for JSON).
std::string redact_with(std::string_view raw, const std::vector<Finding>& findings,
                        const ReplacementFn& replacement,
                        InputFormat format = InputFormat::automatic);

// JSON string escaping without the quotes, and its inverse for one raw span of string content
// (false when the span holds a malformed escape).
std::string json_escape(std::string_view s);
bool json_unescape(std::string_view raw, std::string& out);

}  // namespace promptgate

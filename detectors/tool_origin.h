// Locations people can act on. A finding in a coding agent's request is usually in a tool's
// output: `messages[5].content[0].content` is the result of some tool call, and the person
// needs to know which one (`Read deploy.env`, `Bash cat ~/.aws/credentials`) and where in it
// (line 4). This names, for each finding in a Messages API body, the tool call whose
// `tool_result` holds it (matched by `tool_use_id` to the `tool_use` in an earlier message) and
// the line within the JSON string it sits in.
//
//   name_tool_origins(body, findings);   // sets Finding::origin and Finding::line
//
// What is printed of the tool's input is short and never a value: one field (the file path, the
// command's first line, the pattern, the URL), at most kMaxInputChars, and nothing at all when
// any finding lies in that tool call (its input could hold the value itself). The body is parsed
// only when a finding is in `messages`: callers use this on blocked requests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"

namespace promptgate {

inline constexpr size_t kMaxInputChars = 60;
// Bodies above this are not parsed for tool names (lines are still counted): the parse holds a
// copy of the body several times its size, outside the proxy's body budget.
inline constexpr size_t kMaxOriginParseBytes = 8u << 20;

void name_tool_origins(std::string_view body_json, std::vector<Finding>& findings);

// The 1-based line of raw byte `offset` within the JSON string that contains it (counting
// `\n` escapes from the string's opening quote); 0 when `offset` is not inside a string.
uint32_t line_in_json_string(std::string_view json, uint64_t offset);

// How a tool call is named for people: the tool and one short field of its input, e.g.
// "Read deploy.env" or "Bash cat ~/.aws/credentials" (`input_json` is the call's `input`
// object as JSON text). Just the tool name when no known field is there.
std::string describe_tool_call(std::string_view name, std::string_view input_json);

}  // namespace promptgate

// The placeholder model: one test, run by the engine on every rule's confirmed secret (unless
// the rule says `not_placeholder: false`), for documentation values and templates that have a
// credential's shape but are none: `xxxx`, `XXXX..._AAAAAAAA`, `****`, `0000`, one character
// repeated or a short cycle, sequential runs, `...`, `<your-key>`, `[PASSWORD]`, `${VAR}`,
// `{{var}}`, words like your / example / changeme / redacted / placeholder, and variable names
// (`DB_PASSWORD`). `placeholder_in_context` also looks at the bytes right around the value.
#pragma once

#include <string_view>

namespace promptgate {

// True for a documentation placeholder or templated value.
bool looks_like_placeholder(std::string_view s);
// The same, also true when the value is cut off by `...` / `…` right after it, or is a bare
// word wrapped in `<>`, `[]`, `{}` or opened by `${`, `{{`, `$(`, `%(`. `before` and `after`
// are the few bytes next to the value in the same text (may be empty).
bool placeholder_in_context(std::string_view before, std::string_view s, std::string_view after);

}  // namespace promptgate

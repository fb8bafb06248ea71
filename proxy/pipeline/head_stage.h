// Stage 1, the head: checks on a request's framing that must hold before its body is read.
// Where the body ends must be read the same way here, upstream and by anything in front of us
// (RFC 9112 6.1): a Transfer-Encoding that is not just chunked, or one on HTTP/1.0, leaves it
// ambiguous and is refused rather than guessed at. Trailer fields after a chunked body are
// refused too: they could change how the upstream reads a body already scanned.
//
//   HeadFacts facts{...from the parser...};
//   if (auto r = check_framing(facts)) answer(*r);
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "proxy/pipeline/request_context.h"

namespace promptgate::proxy {

struct HeadFacts {
  unsigned version = 11;                            // 10 or 11
  bool chunked = false;                             // the parser reads the body as chunked
  std::vector<std::string_view> transfer_encoding;  // every Transfer-Encoding line, as sent
};

std::optional<Refusal> check_framing(const HeadFacts& head);

// The answer to a chunked body that ended in trailer fields.
Refusal trailer_refusal();

}  // namespace promptgate::proxy

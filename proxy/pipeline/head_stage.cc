#include "proxy/pipeline/head_stage.h"

#include "proxy/http_fields.h"

namespace promptgate::proxy {

std::optional<Refusal> check_framing(const HeadFacts& head) {
  if (head.transfer_encoding.empty()) return std::nullopt;
  if (head.chunked && head.version >= 11 && only_chunked(head.transfer_encoding))
    return std::nullopt;
  return refuse(400, "invalid_request_error",
                "promptgate refused this request: its Transfer-Encoding is not just "
                "chunked (or comes with HTTP/1.0), so where its body ends is ambiguous.",
                false);
}

Refusal trailer_refusal() {
  return refuse(400, "invalid_request_error",
                "promptgate refused this request: it ends in trailer fields, which could "
                "change how the upstream reads a body already scanned. Send them as headers.",
                false);
}

}  // namespace promptgate::proxy

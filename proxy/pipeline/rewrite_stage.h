// Stage 5, the rewrite: the body a redacted request is forwarded with. Each finding whose
// action is redact becomes a marker ("[REDACTED:<rule>]"), each tokenize finding a stand-in of
// the same shape that this conversation keeps (and that the answer is restored from); JSON
// stays valid because the redactor rewrites decoded string content and re-escapes it.
// Also: the stand-ins this conversation was given, for restoring the answer.
//
//   std::string body = rewrite_body(ctx, body_text, format, findings, actions, vault, &ev);
//   auto restore = restorations_for(ctx, vault);   // null: nothing to put back
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"
#include "proxy/pipeline/request_context.h"
#include "proxy/token_vault.h"

namespace promptgate::proxy {

std::string rewrite_body(const RequestContext& ctx, std::string_view body_text, InputFormat format,
                         const std::vector<Finding>& findings, const std::vector<Action>& actions,
                         TokenVault& vault);

// The stand-ins given to this conversation (this turn or earlier), to be put back in the answer;
// null when there are none or the destination is not inspected.
std::shared_ptr<const Substitutions> restorations_for(const RequestContext& ctx, TokenVault& vault);

}  // namespace promptgate::proxy

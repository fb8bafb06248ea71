// Stage 4, the decision: what happens to a request given its findings. The policy for the
// user and host picks each finding's action (block, redact, tokenize, log); a finding outside
// the body (query, header) cannot be rewritten in place and blocks instead, as does any
// rewrite of a signed body (AWS SigV4); a justified override may let a block through. After a
// block, a value already shown blocked in the same conversation is redacted instead (config
// after_block; blocked_values.h), so the session goes on; a new blocking value still blocks.
// Fills in the audit event's findings, actions, decision, override and after-block record.
//
//   Decided d = decide_request(ctx, findings, inputs, overrides_book);
//   if (d.block) answer(*d.block);          // the block message names rules, never values
//   else if (d.rewrite) ...                 // stage 5 rewrites the body
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "detectors/engine.h"
#include "proxy/blocked_values.h"
#include "proxy/override.h"
#include "proxy/pipeline/request_context.h"
#include "proxy/policy.h"

namespace promptgate::proxy {

// What the decision reads from the request besides its findings.
struct DecideInputs {
  std::string_view authorization;    // the Authorization header (SigV4 marks a signed body)
  std::string_view override_header;  // X-Promptgate-Override, if sent
  std::string_view body_text;        // where an override line in the conversation is looked for
  BlockedValues* blocked = nullptr;  // values already blocked per conversation; null: none kept
};

struct Decided {
  RequestDecision decision;
  bool enforce = true;           // mode enforce: the verdict is applied
  bool rewrite = false;          // redact / tokenize the body before forwarding
  std::optional<Refusal> block;  // the answer when the request is blocked
};

Decided decide_request(const RequestContext& ctx, const std::vector<Finding>& findings,
                       const DecideInputs& inputs, OverrideBook& overrides);

}  // namespace promptgate::proxy

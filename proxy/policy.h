// What happens to a request given its findings: each finding gets an action (the rule's default,
// unless a config override for its rule / category / host says otherwise), and the request gets
// the most severe one (block > redact > log > allow). Pure functions over immutable data.
//
//   const PolicyBlock* p = config.policy_for(identity, host);
//   RequestDecision d = decide(config, p, "api.anthropic.com", findings, /*body_signed=*/false);
//   if (d.verdict == Verdict::block) ... d.actions[i] is the action for findings[i]
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "detectors/engine.h"
#include "proxy/config.h"

namespace promptgate::proxy {

enum class Verdict { allow, log, redact, block };
const char* to_string(Verdict v);

struct RequestDecision {
  Verdict verdict = Verdict::allow;
  std::vector<Action> actions;  // one per finding, after overrides
  // Redaction was asked for but the body is signed by the client (AWS SigV4), so it blocks.
  bool redaction_refused_signed = false;
};

// `policy` (the identity's policy block, may be null) is consulted before the global overrides.
// For a finding several rules matched (Finding::also_matched), the strongest of their actions.
Action action_for(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                  const Finding& finding);
RequestDecision decide(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                       const std::vector<Finding>& findings, bool body_signed);

// The request's verdict for actions already decided (after overrides changed some).
Verdict verdict_of(const std::vector<Action>& actions);

// What the block message says beyond the findings.
struct BlockMessageOptions {
  bool redacted_later = false;  // after_block: later turns go on with these values redacted
  std::string help_url;         // block_help_url
};

// The message a blocked client sees: which rule(s), where (the tool and line when known), the
// fingerprints, and in one line what to do in Claude Code; never the value.
std::string block_message(const std::vector<Finding>& findings, const std::vector<Action>& actions,
                          bool redaction_refused_signed, const BlockMessageOptions& options = {});

}  // namespace promptgate::proxy

#include "proxy/pipeline/decide_stage.h"

#include "proxy/pipeline/scan_stage.h"

namespace promptgate::proxy {

Decided decide_request(const RequestContext& ctx, const std::vector<Finding>& findings,
                       const DecideInputs& inputs, OverrideBook& overrides) {
  const ProxyConfig& cfg = ctx.cfg;
  AuditEvent& ev = ctx.ev;
  Decided d;
  bool body_signed = inputs.authorization.substr(0, 16) == "AWS4-HMAC-SHA256" ||
                     cfg.signed_body_host(ctx.target.host);
  d.decision = decide(cfg, ctx.policy, ctx.target.host, findings, body_signed);
  RequestDecision& decision = d.decision;
  // A finding outside the body (query, header) or inside an attachment (a PDF's text, a
  // picture's) cannot be rewritten in place: block instead.
  for (size_t i = 0; i < findings.size(); ++i)
    if ((decision.actions[i] == Action::redact || decision.actions[i] == Action::tokenize) &&
        (findings[i].in_attachment ||
         (!findings[i].location.empty() && outside_body(findings[i])))) {
      decision.actions[i] = Action::block;
      decision.verdict = Verdict::block;
    }
  ev.findings = findings;
  ev.actions = decision.actions;
  ev.decision = to_string(decision.verdict);
  d.enforce = ctx.mode == Mode::enforce;
  std::string override_offer;
  if (decision.verdict == Verdict::block && d.enforce && cfg.overrides.enabled) {
    // A justified override (docs/overrides.md): a code offered by an earlier block message,
    // repeated with a reason, lets this block through (and is logged); else a code is offered.
    auto asked = inputs.override_header.empty() ? find_override_marker(inputs.body_text)
                                                : parse_override_header(inputs.override_header);
    OverrideOutcome o = apply_override(overrides, cfg.overrides, ctx.identity, ctx.owner, findings,
                                       decision.actions, asked);
    ev.override_record = o.record;
    if (o.forward) {
      decision.verdict = o.verdict;
      ev.actions = decision.actions;
      ev.decision = to_string(decision.verdict);
    } else {
      override_offer = std::move(o.message);
    }
  }
  if (decision.verdict == Verdict::block && d.enforce) {
    Refusal r = refuse(cfg.block_status, "invalid_request_error",
                       block_message(findings, decision.actions, decision.redaction_refused_signed),
                       ctx.wants_keep_alive);
    r.message += override_offer;  // holds a code: never copied into the audit log
    r.audit_error.clear();
    r.decision = "block";
    d.block = std::move(r);
    return d;
  }
  if ((decision.verdict == Verdict::block || decision.verdict == Verdict::redact) && !d.enforce)
    ev.enforced = false;
  d.rewrite = decision.verdict == Verdict::redact && d.enforce;
  return d;
}

}  // namespace promptgate::proxy

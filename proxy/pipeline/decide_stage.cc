#include "proxy/pipeline/decide_stage.h"

#include <algorithm>

#include "detectors/tool_origin.h"
#include "proxy/pipeline/scan_stage.h"

namespace promptgate::proxy {

namespace {

// A blocking value that a later turn could carry redacted: in the body's text, not in an
// attachment, the query or a header.
bool redactable_in_place(const Finding& f) {
  return !f.in_attachment && !(!f.location.empty() && outside_body(f));
}

// After a block: the values this conversation was already shown blocked are rewritten instead
// (after_block), so the turn can go on if nothing new blocks. Returns the conversation's key.
// Not when the request asks for an override: the user chose to send the value.
std::string redact_known_values(const RequestContext& ctx, const std::vector<Finding>& findings,
                                const DecideInputs& inputs, bool body_signed, bool override_asked,
                                RequestDecision& decision) {
  if (!inputs.blocked || ctx.cfg.after_block == Action::block || body_signed || override_asked ||
      decision.verdict != Verdict::block)
    return {};
  std::string conv = inputs.blocked->conversation_key(ctx.owner, inputs.body_text);
  if (conv.empty()) return conv;
  for (size_t i = 0; i < findings.size(); ++i) {
    if (decision.actions[i] != Action::block || !redactable_in_place(findings[i])) continue;
    auto first = inputs.blocked->blocked_before(conv, findings[i].fingerprint);
    if (!first) continue;
    decision.actions[i] = ctx.cfg.after_block;
    ++ctx.ev.after_block_values;
    if (ctx.ev.after_block_first.empty()) ctx.ev.after_block_first = *first;
  }
  if (ctx.ev.after_block_values) decision.verdict = verdict_of(decision.actions);
  return conv;
}

// The blocking values the user is about to be shown, remembered for the conversation's next
// turns (only those a later turn could carry redacted).
void remember_shown(const RequestContext& ctx, const std::vector<Finding>& findings,
                    const std::vector<Action>& actions, const DecideInputs& inputs,
                    std::string conv) {
  if (!inputs.blocked || ctx.cfg.after_block == Action::block) return;
  std::vector<std::string> shown;
  for (size_t i = 0; i < findings.size(); ++i)
    if (actions[i] == Action::block && redactable_in_place(findings[i]))
      shown.push_back(findings[i].fingerprint);
  if (shown.empty()) return;
  if (conv.empty()) conv = inputs.blocked->conversation_key(ctx.owner, inputs.body_text);
  inputs.blocked->remember(conv, shown, ctx.ev.request_id);
}

}  // namespace

Decided decide_request(const RequestContext& ctx, const std::vector<Finding>& findings_in,
                       const DecideInputs& inputs, OverrideBook& overrides) {
  const ProxyConfig& cfg = ctx.cfg;
  AuditEvent& ev = ctx.ev;
  Decided d;
  bool body_signed = inputs.authorization.substr(0, 16) == "AWS4-HMAC-SHA256" ||
                     cfg.signed_body_host(ctx.target.host);
  d.decision = decide(cfg, ctx.policy, ctx.target.host, findings_in, body_signed);
  RequestDecision& decision = d.decision;
  // A finding outside the body (query, header) or inside an attachment (a PDF's text, a
  // picture's) cannot be rewritten in place: block instead.
  for (size_t i = 0; i < findings_in.size(); ++i)
    if ((decision.actions[i] == Action::redact || decision.actions[i] == Action::tokenize) &&
        !redactable_in_place(findings_in[i])) {
      decision.actions[i] = Action::block;
      decision.verdict = Verdict::block;
    }
  d.enforce = ctx.mode == Mode::enforce;
  std::optional<OverrideRequest> asked;
  if (cfg.overrides.enabled)
    asked = inputs.override_header.empty() ? find_override_marker(inputs.body_text)
                                           : parse_override_header(inputs.override_header);
  std::string conv;
  if (d.enforce)
    conv = redact_known_values(ctx, findings_in, inputs, body_signed, asked.has_value(), decision);
  // A block names the tool whose output held the value, and the line (tool_origin.h).
  std::vector<Finding> located;
  if (decision.verdict == Verdict::block) {
    located = findings_in;
    name_tool_origins(inputs.body_text, located);
  }
  const std::vector<Finding>& findings = located.empty() ? findings_in : located;
  ev.findings = findings;
  ev.actions = decision.actions;
  ev.decision = to_string(decision.verdict);
  std::string override_offer;
  if (decision.verdict == Verdict::block && d.enforce && cfg.overrides.enabled) {
    // A justified override (docs/overrides.md): a code offered by an earlier block message,
    // repeated with a reason, lets this block through (and is logged); else a code is offered.
    OverrideOutcome o = apply_override(overrides, cfg.overrides, ctx.identity, ctx.owner, findings,
                                       decision.actions, asked);
    ev.override_record = o.record;
    if (o.forward) {
      if (inputs.blocked && o.record) {
        if (conv.empty()) conv = inputs.blocked->conversation_key(ctx.owner, inputs.body_text);
        inputs.blocked->forget(conv, o.record->fingerprints);
      }
      decision.verdict = o.verdict;
      ev.actions = decision.actions;
      ev.decision = to_string(decision.verdict);
    } else {
      override_offer = std::move(o.message);
    }
  }
  if (decision.verdict == Verdict::block && d.enforce) {
    // "Just send your next message" only when every blocking value can then be redacted.
    bool carried_on = cfg.after_block != Action::block && inputs.blocked && !body_signed;
    for (size_t i = 0; i < findings.size(); ++i)
      if (decision.actions[i] == Action::block && !redactable_in_place(findings[i]))
        carried_on = false;
    BlockMessageOptions options{carried_on, cfg.block_help_url};
    Refusal r = refuse(
        cfg.block_status, "invalid_request_error",
        block_message(findings, decision.actions, decision.redaction_refused_signed, options),
        ctx.wants_keep_alive);
    r.message += override_offer;  // holds a code: never copied into the audit log
    r.audit_error.clear();
    r.decision = "block";
    d.block = std::move(r);
    remember_shown(ctx, findings, decision.actions, inputs, std::move(conv));
    return d;
  }
  if ((decision.verdict == Verdict::block || decision.verdict == Verdict::redact) && !d.enforce)
    ev.enforced = false;
  d.rewrite = decision.verdict == Verdict::redact && d.enforce;
  return d;
}

}  // namespace promptgate::proxy

// Per-finding actions and the request verdict; see policy.h.
#include "proxy/policy.h"

#include <algorithm>
#include <set>

namespace promptgate::proxy {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::allow:
      return "allow";
    case Verdict::log:
      return "log";
    case Verdict::redact:
      return "redact";
    case Verdict::block:
      return "block";
  }
  return "?";
}

namespace {
const ActionOverride* first_override(const std::vector<ActionOverride>& list, std::string_view host,
                                     const Finding& f) {
  for (const auto& o : list) {
    if (!o.rule.empty() && o.rule != f.rule_id) continue;
    if (o.category && *o.category != f.category) continue;
    if (!o.host.empty() && !host_matches(o.host, host)) continue;
    return &o;
  }
  return nullptr;
}
}  // namespace

Action action_for(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                  const Finding& f) {
  if (policy)
    if (const auto* o = first_override(policy->actions, host, f)) return o->action;
  if (const auto* o = first_override(config.actions, host, f)) return o->action;
  return f.action;
}

RequestDecision decide(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                       const std::vector<Finding>& findings, bool body_signed) {
  RequestDecision d;
  for (const auto& f : findings) {
    Action a = action_for(config, policy, host, f);
    // Tokenizing rewrites the body just as redacting does, so both need an unsigned body.
    bool rewrites = a == Action::redact || a == Action::tokenize;
    if (rewrites && body_signed) {
      a = Action::block;
      d.redaction_refused_signed = true;
    }
    d.actions.push_back(a);
    Verdict v = a == Action::block ? Verdict::block : rewrites ? Verdict::redact : Verdict::log;
    d.verdict = std::max(d.verdict, v);
  }
  return d;
}

std::string block_message(const std::vector<Finding>& findings, const std::vector<Action>& actions,
                          bool redaction_refused_signed) {
  std::string listed;
  std::set<std::string> seen;
  size_t shown = 0, blocking = 0;
  for (size_t i = 0; i < findings.size(); ++i) {
    if (actions[i] != Action::block) continue;
    ++blocking;
    const Finding& f = findings[i];
    if (!seen.insert(f.rule_id + f.fingerprint).second || shown == 5) continue;
    ++shown;
    if (!listed.empty()) listed += "; ";
    listed += std::string(to_string(f.category)) + " '" + f.rule_id + "' at " +
              (f.location.empty() ? std::string("the request") : f.location) + " (" +
              std::to_string(f.length) + " chars, " + f.fingerprint + ")";
  }
  if (blocking > shown) listed += "; and " + std::to_string(blocking - shown) + " more";
  std::string msg = "promptgate blocked this request: it contains " + listed + ". ";
  if (redaction_refused_signed)
    msg += "The request is signed by the client, so promptgate cannot redact it. ";
  msg +=
      "Remove the value from your prompt, files or tool output (use a placeholder or an "
      "environment variable name instead) and try again. If this is a false positive, ask your "
      "security team to allowlist the fingerprint.";
  return msg;
}

}  // namespace promptgate::proxy

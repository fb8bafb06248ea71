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
                                     std::string_view rule_id, Category category) {
  for (const auto& o : list) {
    if (!o.rule.empty() && o.rule != rule_id) continue;
    if (o.category && *o.category != category) continue;
    if (!o.host.empty() && !host_matches(o.host, host)) continue;
    return &o;
  }
  return nullptr;
}
Action one_rule_action(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                       std::string_view rule_id, Category category, Action rule_default) {
  if (policy)
    if (const auto* o = first_override(policy->actions, host, rule_id, category)) return o->action;
  if (const auto* o = first_override(config.actions, host, rule_id, category)) return o->action;
  return rule_default;
}
}  // namespace

Action action_for(const ProxyConfig& config, const PolicyBlock* policy, std::string_view host,
                  const Finding& f) {
  // One value matched by several rules is one finding (same_value.h); each rule's configured
  // action counts, so merging never weakens what the config asks for.
  Action a = one_rule_action(config, policy, host, f.rule_id, f.category, f.action);
  for (const auto& m : f.also_matched)
    a = std::max(a, one_rule_action(config, policy, host, m.rule_id, m.category, m.action));
  return a;
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

Verdict verdict_of(const std::vector<Action>& actions) {
  Verdict v = Verdict::allow;
  for (Action a : actions) {
    // Anything between log and block rewrites the body (redact, or tokenize where it exists).
    Verdict this_one = a == Action::block ? Verdict::block
                       : a == Action::log ? Verdict::log
                                          : Verdict::redact;
    v = std::max(v, this_one);
  }
  return v;
}

std::string block_message(const std::vector<Finding>& findings, const std::vector<Action>& actions,
                          bool redaction_refused_signed, const BlockMessageOptions& options) {
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
    listed += std::string(to_string(f.category)) + " '" + f.rule_id + "' ";
    std::string where = f.location.empty() ? std::string("the request") : f.location;
    if (!f.origin.empty()) {
      listed += "in the output of `" + f.origin + "`";
      if (f.line) listed += ", line " + std::to_string(f.line);
      listed += " (" + where + ", ";
    } else {
      if (f.line) where += ", line " + std::to_string(f.line);
      listed += "at " + where + " (";
    }
    listed += std::to_string(f.length) + " chars, " + f.fingerprint + ")";
  }
  if (blocking > shown) listed += "; and " + std::to_string(blocking - shown) + " more";
  std::string msg = "promptgate blocked this request: it contains " + listed + ". ";
  if (redaction_refused_signed)
    msg += "The request is signed by the client, so promptgate cannot redact it. ";
  msg +=
      "Remove the value from the file, output or prompt it came from (use a placeholder or an "
      "environment variable name). ";
  if (options.redacted_later)
    msg +=
        "In Claude Code, just send your next message: promptgate now redacts this value in this "
        "conversation (or run /clear, or press Esc Esc to rewind to before it). ";
  else
    msg +=
        "In Claude Code, run /clear or press Esc Esc to rewind to before the turn that brought it "
        "in: every turn that resends it is blocked. ";
  msg += "If this is a false positive, ask your security team to allowlist the fingerprint.";
  if (!options.help_url.empty()) msg += " Help: " + options.help_url;
  return msg;
}

}  // namespace promptgate::proxy

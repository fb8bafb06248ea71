#include "proxy/pipeline/rewrite_stage.h"

#include <algorithm>

#include "detectors/redactor.h"

namespace promptgate::proxy {

std::string rewrite_body(const RequestContext& ctx, std::string_view body_text, InputFormat format,
                         const std::vector<Finding>& findings, const std::vector<Action>& actions,
                         TokenVault& vault) {
  std::vector<Finding> body_findings;
  std::vector<bool> tokenize;
  for (size_t i = 0; i < findings.size(); ++i) {
    Action a = actions[i];
    if ((a != Action::redact && a != Action::tokenize) || findings[i].location == "query") continue;
    body_findings.push_back(findings[i]);
    tokenize.push_back(a == Action::tokenize);
  }
  std::shared_ptr<Conversation> conv;
  if (std::find(tokenize.begin(), tokenize.end(), true) != tokenize.end())
    conv = vault.conversation(ctx.owner);
  return redact_with(
      body_text, body_findings,
      [&](const Finding& f, std::string_view value) {
        size_t i = static_cast<size_t>(&f - body_findings.data());
        auto rule = ctx.snap.rule_by_id.find(f.rule_id);
        if (!tokenize[i] || rule == ctx.snap.rule_by_id.end()) return redaction_marker(f.rule_id);
        ++ctx.ev.tokenized;
        return conv->standin_for(*rule->second, value);
      },
      format == InputFormat::json ? InputFormat::json : InputFormat::automatic);
}

std::shared_ptr<const Substitutions> restorations_for(const RequestContext& ctx,
                                                      TokenVault& vault) {
  if (!ctx.inspect) return nullptr;
  if (auto conv = vault.find(ctx.owner))
    if (auto subs = conv->restorations(); subs && !subs->empty()) return subs;
  return nullptr;
}

}  // namespace promptgate::proxy

#include "detectors/same_value.h"

#include <algorithm>
#include <tuple>

namespace promptgate {

bool is_generic_rule(std::string_view rule_id) {
  return rule_id.starts_with("generic-");
}

namespace {

// The place and the value: findings equal on this key are one finding.
auto place_key(const Finding& f) {
  return std::tie(f.start, f.end, f.in_base64, f.inner_start, f.inner_end, f.in_attachment,
                  f.fingerprint);
}

}  // namespace

bool matched_by(const Finding& f, std::string_view rule_id) {
  if (f.rule_id == rule_id) return true;
  return std::any_of(f.also_matched.begin(), f.also_matched.end(),
                     [&](const Finding::AlsoMatched& m) { return m.rule_id == rule_id; });
}

Action strongest_action(const Finding& f) {
  Action a = f.action;
  for (const auto& m : f.also_matched) a = std::max(a, m.action);
  return a;
}

void merge_same_value(std::vector<Finding>& f, const TraitsOf& traits_of) {
  if (f.size() < 2) return;
  auto traits = [&](const Finding& x) { return traits_of ? traits_of(x.rule_id) : RuleTraits{}; };
  // Within one place, the best finding first: specific before generic, severe before mild,
  // format before keyword-anchored, checked before unchecked, then by id; a direct finding
  // before a derived copy.
  std::sort(f.begin(), f.end(), [&](const Finding& a, const Finding& b) {
    if (place_key(a) != place_key(b)) return place_key(a) < place_key(b);
    bool ga = is_generic_rule(a.rule_id), gb = is_generic_rule(b.rule_id);
    if (ga != gb) return gb;
    RuleTraits ta = traits(a), tb = traits(b);
    if (ta.format != tb.format) return ta.format;
    if (a.severity != b.severity) return a.severity > b.severity;
    if (ta.validated != tb.validated) return ta.validated;
    return std::tie(a.rule_id, a.derived, a.location) < std::tie(b.rule_id, b.derived, b.location);
  });
  size_t out = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (out > 0 && place_key(f[out - 1]) == place_key(f[i])) {
      Finding& kept = f[out - 1];
      const Finding& same = f[i];
      bool listed = same.rule_id == kept.rule_id;
      for (const auto& a : kept.also_matched) listed = listed || a.rule_id == same.rule_id;
      if (!listed) kept.also_matched.push_back({same.rule_id, same.category, same.action});
      continue;
    }
    if (out != i) f[out] = std::move(f[i]);
    ++out;
  }
  f.resize(out);
}

}  // namespace promptgate

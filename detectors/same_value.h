// One finding per value: several rules often match the same value at the same place (an AWS
// secret key is also a `generic-secret-unquoted` and a `generic-api-key-unquoted` assignment).
// Reporting it three times clutters the block message and the audit, and an override or a
// redaction that covered only one of them would leave the others acting on the same value. So
// findings of one value at one place are merged into one, named by the most specific rule:
//   1. a specific rule outranks a generic one (id starting `generic-`),
//   2. then a format rule (the value alone identifies it: `card-visa`) outranks one that
//      recognises it by the words around it (a `(?P<secret>...)` group or a context
//      requirement: `card-pan-context`),
//   3. then the higher severity,
//   4. then the rule that checks the value (has validators: a checksum, a Luhn digit),
//   5. then the rule id, so the choice is stable.
// The merged finding lists the other rules in `also_matched` with their actions; the policy
// takes the strongest action of them all (a merge never weakens a verdict: policy.h).
//
//   merge_same_value(result.findings, rules);   // findings sorted by start afterwards
#pragma once

#include <functional>
#include <vector>

#include "detectors/engine.h"

namespace promptgate {

// True for the catch-all rules (assignment-shaped, keyword-driven) that any specific format
// rule outranks: ids starting `generic-`.
bool is_generic_rule(std::string_view rule_id);

// What ranks a rule beyond its id and severity (steps 2 and 4 above).
struct RuleTraits {
  bool format = false;     // the match is the value itself, no surrounding words needed
  bool validated = false;  // validators check the value
};
// The traits of the rule `rule_id`; may be null (then every rule has none).
using TraitsOf = std::function<RuleTraits(std::string_view rule_id)>;

// True when `rule_id` matched the value: the finding's rule or one merged into it.
bool matched_by(const Finding& f, std::string_view rule_id);

// The strongest default action of the rules that matched the value (the finding's own and
// those merged into it).
Action strongest_action(const Finding& f);

// Merges findings of the same value (same fingerprint) at the same place (same raw span, same
// offsets inside a base64 document, same attachment flag); also drops a derived copy of a
// value found directly. Leaves the findings sorted by start offset.
void merge_same_value(std::vector<Finding>& findings, const TraitsOf& traits_of = {});

}  // namespace promptgate

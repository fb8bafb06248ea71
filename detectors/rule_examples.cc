#include "detectors/rule_examples.h"

#include <algorithm>

#include "detectors/same_value.h"

namespace promptgate {
namespace {

bool has_rule(const std::vector<Finding>& findings, const std::string& id) {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return matched_by(f, id); });
}

std::string prefix(const Example& e, const Rule& r) {
  return e.where.file + ":" + std::to_string(e.where.line) + ": rule '" + r.id + "': ";
}

}  // namespace

ExampleReport check_rule_examples(Scanner& scanner, bool split_every_offset) {
  ExampleReport report;
  const RuleSet& rules = *scanner.rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules.rule(i);
    if (r.match_examples.empty())
      report.failures.push_back(r.where.file + ":" + std::to_string(r.where.line) + ": rule '" +
                                r.id + "': has no match examples");
    for (const auto& ex : r.match_examples) {
      ++report.examples;
      if (!has_rule(scanner.scan(ex.text, InputFormat::text).findings, r.id)) {
        report.failures.push_back(prefix(ex, r) + "match example not found");
        continue;
      }
      bool ok = true;
      for (size_t cut = 1; split_every_offset && cut < ex.text.size() && ok; ++cut) {
        auto s = scanner.open_stream(InputFormat::text);
        s->write(std::string_view(ex.text).substr(0, cut));
        s->write(std::string_view(ex.text).substr(cut));
        if (!has_rule(s->finish().findings, r.id)) {
          report.failures.push_back(prefix(ex, r) +
                                    "match example not found in stream mode when split at byte " +
                                    std::to_string(cut));
          ok = false;
        }
      }
      if (ok) ++report.passed;
    }
    for (const auto& ex : r.no_match_examples) {
      ++report.examples;
      if (has_rule(scanner.scan(ex.text, InputFormat::text).findings, r.id)) {
        report.failures.push_back(prefix(ex, r) + "no_match example was found");
        continue;
      }
      ++report.passed;
    }
  }
  return report;
}

}  // namespace promptgate

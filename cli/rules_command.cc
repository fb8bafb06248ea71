// `promptgate rules test|list`: checks every rule against its own examples, or lists rules.
#include <iomanip>
#include <iostream>
#include <span>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "detectors/engine.h"
#include "detectors/rule_examples.h"

namespace promptgate {

extern const char kRulesUsage[] =
    R"(usage: promptgate rules test [PATH...]
       promptgate rules list [PATH...]
  test  runs every rule's examples (each must match, each counter-example must not)
  list  prints id, category, action and description of every rule
PATH is a rule pack (YAML file or directory of them) or "builtin"; default: the built-in packs.
Exit status: 0 passed, 1 an example failed, 2 error.
)";

int rules_command(const Args& args) {
  constexpr const char* kUsage = kRulesUsage;
  if (args.empty() || (args[0] != "test" && args[0] != "list")) {
    std::cerr << kUsage;
    return 2;
  }
  cli::Arguments parsed;
  try {
    parsed = cli::parse_arguments(std::span(args).subspan(1), {.positionals = true});
  } catch (const cli::ArgumentError& e) {
    std::cerr << "promptgate rules: " << e.what() << "\n" << kUsage;
    return 2;
  }
  std::vector<RuleSource> sources;
  for (const auto& path : parsed.positionals) sources.push_back({path});
  if (sources.empty()) sources.push_back(RuleSource::builtin());
  std::shared_ptr<const RuleSet> rules;
  try {
    rules = RuleSet::compile(load_rule_packs(sources), default_home_dir() + "/cache");
  } catch (const RuleError& e) {
    std::cerr << "promptgate: " << e.what() << "\n";
    return 2;
  }
  if (args[0] == "list") {
    for (size_t i = 0; i < rules->size(); ++i) {
      const Rule& r = rules->rule(i);
      std::cout << std::left << std::setw(40) << r.id << " " << std::setw(10)
                << to_string(r.category) << " " << std::setw(6) << to_string(r.action) << " "
                << r.description << "\n";
    }
    return 0;
  }
  Scanner scanner(rules, FingerprintKey::from_passphrase("promptgate rules test"));
  ExampleReport report = check_rule_examples(scanner);
  for (const auto& f : report.failures) std::cout << f << "\n";
  std::cout << "rules test: " << rules->size() << " rules, " << report.examples << " examples; "
            << "per stream: " << rules->stream_state_bytes() << " B Hyperscan state, "
            << rules->max_lookbehind() << " B text window\n";
  std::cout << report.passed << " passed, " << report.failures.size() << " failed\n";
  return report.failures.empty() ? 0 : 1;
}

}  // namespace promptgate

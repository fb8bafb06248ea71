// Rule model and loading of rule packs (YAML).
//
// A rule pack is a YAML file with `pack:` and `rules:`; it may also carry an `allowlist:`.
// `load_rule_sources` reads files, directories (every *.yaml / *.yml inside, sorted) or the
// embedded packs (the name "builtin"), validates every field and returns plain data; compiling
// happens in engine.h. Every error names the file, the line and the rule id:
//
//   std::vector<RuleSource> sources = {RuleSource::builtin()};
//   RulePacks packs = load_rule_packs(sources);   // throws RuleError
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "detectors/digit_runs.h"

namespace promptgate {

enum class Category { credential, pii, phi, pci };
enum class Severity { low, medium, high, critical };
// Ordered by strength: when several findings apply, the largest wins. `tokenize` replaces the
// value with a reversible stand-in (see standin.h); it rewrites the request like `redact` but
// is weaker, since the value comes back in the answer.
enum class Action { log, tokenize, redact, block };
// What Hyperscan searches for a rule: its pattern (or prefilter), or its context words, for
// rules whose pattern has no rare literal but which only count near certain words.
enum class Anchor { pattern, context };

const char* to_string(Category c);
const char* to_string(Severity s);
const char* to_string(Action a);
std::optional<Category> parse_category(std::string_view s);
std::optional<Severity> parse_severity(std::string_view s);
std::optional<Action> parse_action(std::string_view s);

// Where a rule or example came from, for error messages.
struct SourceLocation {
  std::string file;
  int line = 0;
};

struct ContextRequirement {
  std::vector<std::string> words;  // lower-case; one must occur near the span
  uint32_t within = 0;             // bytes before the span start and after its end
};

struct Example {
  std::string text;
  SourceLocation where;
};

struct Rule {
  std::string id;
  std::string pack;
  Category category = Category::credential;
  Severity severity = Severity::high;
  Action action = Action::block;
  std::string description;
  std::string pattern;
  // Optional cheaper Hyperscan pattern that matches inside every match of `pattern` (a rare
  // literal, a keyword); Hyperscan runs it over every byte and `pattern` confirms candidates.
  std::string prefilter;
  // Instead of `prefilter`: the engine's digit-run finder reports the candidates.
  // For digit-shaped formats with no literal: what the engine's own finder looks for instead of
  // a Hyperscan prefilter (`digit_run:`, read as the finder's spec).
  std::optional<DigitRunSpec> digit_run;
  Anchor anchor = Anchor::pattern;
  std::vector<std::string> validators;  // names from validators.h
  double min_entropy = 0;
  std::optional<ContextRequirement> context;
  bool not_placeholder = true;  // the placeholder model (placeholders.h) runs unless opted out
  uint32_t max_length = 0;      // 0: taken from the pattern's own bound
  std::vector<Example> match_examples;
  std::vector<Example> no_match_examples;
  SourceLocation where;
};

// One allowlist entry: every field present must hold for a finding to be dropped.
struct AllowEntry {
  std::string fingerprint;  // exact keyed fingerprint ("fp_...")
  std::string rule;         // a rule id
  std::string pattern;      // RE2 pattern searched in the secret value
  SourceLocation where;
};

struct RulePacks {
  std::vector<Rule> rules;
  std::vector<AllowEntry> allowlist;
};

// A place to load rules from: a file, a directory, or the packs compiled into the binary.
struct RuleSource {
  std::string path;  // "builtin" means the embedded packs
  static RuleSource builtin() { return {"builtin"}; }
};

class RuleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses one YAML document (`name` is used in messages only).
RulePacks parse_rule_pack(const std::string& yaml_text, const std::string& name);
// Loads and merges sources. Errors: duplicate rule ids across files, allowlist entries naming a
// rule that none of the sources defines (every such entry listed), and no rules at all (an
// allowlist-only file given on its own would otherwise turn detection off without a word).
RulePacks load_rule_packs(const std::vector<RuleSource>& sources);

// The sources a command line or config names: `paths` added to the built-in packs, or, with
// `keep_builtin` false, `paths` alone. "builtin" among the paths names the built-in packs (once).
std::vector<RuleSource> rule_sources(const std::vector<std::string>& paths,
                                     bool keep_builtin = true);

// The rule id most like `id` (at most a third of its letters apart), for "did you mean"; empty
// when none is close.
std::string closest_rule_id(const RulePacks& packs, std::string_view id);

// The packs embedded at build time: (file name, YAML text).
struct EmbeddedPack {
  const char* name;
  const char* text;
};
const std::vector<EmbeddedPack>& embedded_packs();

}  // namespace promptgate

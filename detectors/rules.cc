#include "detectors/rules.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "detectors/validators.h"
#include "detectors/yaml_reader.h"

namespace promptgate {
namespace {

constexpr const char* kCategoryNames[] = {"credential", "pii", "phi", "pci"};
constexpr const char* kSeverityNames[] = {"low", "medium", "high", "critical"};
constexpr const char* kActionNames[] = {"log", "tokenize", "redact", "block"};

template <typename E, size_t N>
std::optional<E> parse_enum(std::string_view s, const char* const (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  return std::nullopt;
}

// The fields a rule may have: a misspelt one is an error, not a silently ignored line.
const std::vector<std::string_view> kRuleFields = {
    "id",      "category",        "severity",   "action",     "description",
    "pattern", "prefilter",       "anchor",     "validators", "min_entropy",
    "context", "not_placeholder", "max_length", "examples",   "digit_run"};

std::function<std::string(const std::string&)> unknown_field(const std::string& what) {
  return [what](const std::string& key) { return "unknown " + what + "field '" + key + "'"; };
}

std::string required(const YamlReader& in, const YAML::Node& n, const char* key) {
  if (!n[key]) in.fail(n, std::string("missing '") + key + "'");
  return in.string(n[key], key);
}

template <typename E>
E required_enum(const YamlReader& in, const YAML::Node& n, const char* key,
                std::optional<E> (*parse)(std::string_view), const char* choices) {
  std::string text = required(in, n, key);
  std::optional<E> value = parse(text);
  if (!value) in.fail(n[key], std::string("unknown ") + key + " '" + text + "' (" + choices + ")");
  return *value;
}

std::vector<Example> parse_examples(const YamlReader& in, const YAML::Node& list,
                                    const std::string& key) {
  std::vector<Example> out;
  if (!list) return out;
  for (auto& item : in.string_items(list, key, "examples." + key + " must be a list of strings"))
    out.push_back({std::move(item.value), {in.file(), YamlReader::line_of(item.node)}});
  return out;
}

std::vector<std::string> parse_validators(const YamlReader& in, const YAML::Node& list) {
  std::vector<std::string> out;
  for (auto& item : in.string_items(list, "validators")) {
    if (!find_validator(item.value))
      in.fail(item.node,
              "unknown validator '" + item.value + "' (known: " + known_validator_names() + ")");
    out.push_back(std::move(item.value));
  }
  return out;
}

ContextRequirement parse_context(const YamlReader& in, const YAML::Node& ctx) {
  if (!ctx.IsMap() || !ctx["words"] || !ctx["words"].IsSequence())
    in.fail(ctx, "'context' must be {words: [...], within: N}");
  ContextRequirement req;
  for (auto& word : in.string_items(ctx["words"], "context.words")) {
    if (word.value.empty()) in.fail(word.node, "empty context word");
    std::transform(word.value.begin(), word.value.end(), word.value.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    req.words.push_back(std::move(word.value));
  }
  if (req.words.empty()) in.fail(ctx, "context.words is empty");
  int64_t within = 64;
  if (ctx["within"]) within = in.scalar<int64_t>(ctx["within"], "context.within must be a number");
  if (within <= 0 || within > 4096) in.fail(ctx, "context.within must be 1..4096 bytes");
  req.within = static_cast<uint32_t>(within);
  return req;
}

void parse_anchor(const YamlReader& in, const YAML::Node& an, Rule& r) {
  auto v = in.string(an, "anchor");
  if (v == "context") {
    r.anchor = Anchor::context;
  } else if (v != "pattern") {
    in.fail(an, "anchor must be 'pattern' or 'context'");
  }
  if (r.anchor == Anchor::context && !r.context)
    in.fail(an, "anchor: context needs a 'context' with words");
  if (r.anchor == Anchor::context && !r.prefilter.empty())
    in.fail(an, "anchor: context and prefilter exclude each other");
}

// Reads the digit_run counts; each bound depends on the ones before it.
void parse_digit_counts(const YamlReader& in, const YAML::Node& dr, DigitRunSpec& run) {
  const std::string numbers =
      "digit_run.digits, min_group, first_group and max_separators must be numbers";
  auto digits = in.scalar<int64_t>(dr["digits"], numbers);
  if (digits < 2 || digits > 64) in.fail(dr["digits"], "digit_run.digits must be 2..64");
  run.digits = static_cast<uint32_t>(digits);
  if (dr["min_group"]) {
    auto group = in.scalar<int64_t>(dr["min_group"], numbers);
    if (group < 1 || group > digits)
      in.fail(dr["min_group"], "digit_run.min_group must be 1..digits");
    run.min_group = static_cast<uint32_t>(group);
  }
  run.first_group = run.min_group;
  if (dr["first_group"]) {
    auto group = in.scalar<int64_t>(dr["first_group"], numbers);
    if (group < run.min_group || group > digits)
      in.fail(dr["first_group"], "digit_run.first_group must be min_group..digits");
    run.first_group = static_cast<uint32_t>(group);
  }
  if (dr["max_separators"]) {
    auto most = in.scalar<int64_t>(dr["max_separators"], numbers);
    if (most < 0 || most >= digits)
      in.fail(dr["max_separators"], "digit_run.max_separators must be 0..digits-1");
    run.max_separators = static_cast<uint32_t>(most);
  }
}

DigitRunSpec parse_digit_run(const YamlReader& in, const YAML::Node& dr) {
  if (!dr.IsMap() || !dr["digits"])
    in.fail(dr,
            "'digit_run' must be {digits: N, separators: ' -', min_group: G, first_group: F, "
            "first_digits: '23456', whole_run: true, max_separators: S, after_capitals: C, "
            "ends_run: true}");
  in.check_keys(dr,
                {"digits", "separators", "min_group", "first_group", "first_digits", "whole_run",
                 "max_separators", "after_capitals", "ends_run"},
                unknown_field("digit_run "));
  DigitRunSpec run;
  parse_digit_counts(in, dr, run);
  if (dr["separators"]) {
    run.separators = in.string(dr["separators"], "digit_run.separators");
    for (char ch : run.separators)
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')
        in.fail(dr["separators"], "digit_run.separators must not be letters, digits or '_'");
  }
  if (dr["first_digits"]) {
    run.first_digits = in.string(dr["first_digits"], "digit_run.first_digits");
    if (run.first_digits.empty() || !std::all_of(run.first_digits.begin(), run.first_digits.end(),
                                                 [](char ch) { return ch >= '0' && ch <= '9'; }))
      in.fail(dr["first_digits"], "digit_run.first_digits must be digits, e.g. '23456'");
  }
  if (dr["whole_run"])
    run.whole_run = in.scalar<bool>(dr["whole_run"], "digit_run.whole_run must be true or false");
  if (dr["ends_run"])
    run.ends_run = in.scalar<bool>(dr["ends_run"], "digit_run.ends_run must be true or false");
  if (dr["after_capitals"]) {
    auto caps =
        in.scalar<int64_t>(dr["after_capitals"], "digit_run.after_capitals must be a number");
    if (caps < 0 || caps > 4)
      in.fail(dr["after_capitals"], "digit_run.after_capitals must be 0..4");
    run.after_capitals = static_cast<uint32_t>(caps);
  }
  return run;
}

bool valid_rule_id(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// `file_in` names the file only; once the id is read, messages name the rule too.
Rule parse_rule(const YamlReader& file_in, const YAML::Node& n, const std::string& pack) {
  Rule r;
  r.pack = pack;
  r.where = {file_in.file(), YamlReader::line_of(n)};
  if (!n.IsMap()) file_in.fail(n, "a rule must be a mapping");
  if (!n["id"]) file_in.fail(n, "rule without 'id'");
  r.id = file_in.string(n["id"], "id");
  const YamlReader in = file_in.about("rule '" + r.id + "'");
  if (!valid_rule_id(r.id)) in.fail(n["id"], "id must be lower-case letters, digits, '-' or '_'");
  in.check_keys(n, kRuleFields, unknown_field(""));
  r.category = required_enum(in, n, "category", parse_category, "credential|pii|phi|pci");
  r.severity = required_enum(in, n, "severity", parse_severity, "low|medium|high|critical");
  r.action = required_enum(in, n, "action", parse_action, "block|redact|tokenize|log");
  r.description = required(in, n, "description");
  r.pattern = required(in, n, "pattern");
  if (r.pattern.empty()) in.fail(n["pattern"], "empty pattern");
  if (n["prefilter"]) {
    r.prefilter = in.string(n["prefilter"], "prefilter");
    if (r.prefilter.empty()) in.fail(n["prefilter"], "empty prefilter");
  }
  if (auto v = n["validators"]) r.validators = parse_validators(in, v);
  if (auto v = n["min_entropy"]) {
    r.min_entropy = in.scalar<double>(v, "'min_entropy' must be a number");
    if (r.min_entropy < 0 || r.min_entropy > 8)
      in.fail(v, "min_entropy must be between 0 and 8 bits per byte");
  }
  if (auto v = n["max_length"]) {
    auto len = in.scalar<int64_t>(v, "'max_length' must be a whole number");
    if (len <= 0 || len > 65536) in.fail(v, "max_length must be 1..65536");
    r.max_length = static_cast<uint32_t>(len);
  }
  if (auto v = n["not_placeholder"]) r.not_placeholder = in.boolean(v, "not_placeholder");
  if (auto ctx = n["context"]) r.context = parse_context(in, ctx);
  if (auto an = n["anchor"]) parse_anchor(in, an, r);
  if (auto dr = n["digit_run"]) {
    r.digit_run = parse_digit_run(in, dr);
    // The line of this rule's conflicting key: `dr` may be an alias to another rule's anchor.
    if (!r.prefilter.empty() || r.anchor == Anchor::context)
      in.fail(n["prefilter"] ? n["prefilter"] : n["anchor"],
              "digit_run replaces the prefilter: it excludes 'prefilter' and 'anchor: context'");
  }
  if (auto ex = n["examples"]) {
    if (!ex.IsMap()) in.fail(ex, "'examples' must be {match: [...], no_match: [...]}");
    in.check_keys(ex, {"match", "no_match"}, unknown_field("examples "));
    r.match_examples = parse_examples(in, ex["match"], "match");
    r.no_match_examples = parse_examples(in, ex["no_match"], "no_match");
  }
  return r;
}

std::vector<AllowEntry> parse_allowlist(const YamlReader& in, const YAML::Node& list) {
  if (!list.IsSequence()) in.fail(list, "'allowlist' must be a list");
  std::vector<AllowEntry> out;
  for (const auto& e : list) {
    if (!e.IsMap()) in.fail(e, "an allowlist entry must be a mapping");
    AllowEntry a;
    a.where = {in.file(), YamlReader::line_of(e)};
    for (const auto& kv : e) {
      auto key = YamlReader::key_of(kv.first);
      auto val = in.string(kv.second, key);
      if (key == "fingerprint")
        a.fingerprint = val;
      else if (key == "rule")
        a.rule = val;
      else if (key == "pattern")
        a.pattern = val;
      else
        in.fail(kv.first, "unknown allowlist field '" + key + "' (fingerprint|rule|pattern)");
    }
    if (a.fingerprint.empty() && a.rule.empty() && a.pattern.empty())
      in.fail(e, "empty allowlist entry");
    out.push_back(std::move(a));
  }
  return out;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw RuleError(p.string() + ": cannot open rule file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void merge(RulePacks& into, RulePacks&& from,
           std::unordered_map<std::string, SourceLocation>& seen) {
  for (auto& r : from.rules) {
    auto [it, fresh] = seen.emplace(r.id, r.where);
    if (!fresh)
      throw RuleError(YamlError(r.where.file, r.where.line, "rule '" + r.id + "'",
                                "duplicate rule id (first defined at " + it->second.file + ":" +
                                    std::to_string(it->second.line) + ")")
                          .what());
    into.rules.push_back(std::move(r));
  }
  for (auto& a : from.allowlist) into.allowlist.push_back(std::move(a));
}

RulePacks parse_pack(const YamlReader& in, const std::string& yaml_text) {
  YAML::Node doc = in.load(yaml_text);
  RulePacks out;
  if (!doc || doc.IsNull()) return out;
  if (!doc.IsMap()) in.fail_at(1, "a rule pack must be a mapping with 'pack' and 'rules'");
  in.check_keys(doc, {"pack", "rules", "allowlist"}, unknown_field("top-level "));
  std::string pack = doc["pack"] ? in.string(doc["pack"], "pack") : std::string();
  if (auto rules = doc["rules"]) {
    if (!rules.IsSequence()) in.fail(rules, "'rules' must be a list");
    if (pack.empty()) in.fail(rules, "a file with rules needs 'pack:'");
    std::unordered_map<std::string, SourceLocation> seen;
    RulePacks local;
    for (const auto& r : rules) local.rules.push_back(parse_rule(in, r, pack));
    merge(out, std::move(local), seen);
  }
  if (auto allow = doc["allowlist"]) out.allowlist = parse_allowlist(in, allow);
  return out;
}

}  // namespace

const char* to_string(Category c) {
  return kCategoryNames[static_cast<int>(c)];
}
const char* to_string(Severity s) {
  return kSeverityNames[static_cast<int>(s)];
}
const char* to_string(Action a) {
  return kActionNames[static_cast<int>(a)];
}
std::optional<Category> parse_category(std::string_view s) {
  return parse_enum<Category>(s, kCategoryNames);
}
std::optional<Severity> parse_severity(std::string_view s) {
  return parse_enum<Severity>(s, kSeverityNames);
}
std::optional<Action> parse_action(std::string_view s) {
  return parse_enum<Action>(s, kActionNames);
}

RulePacks parse_rule_pack(const std::string& yaml_text, const std::string& name) {
  try {
    return parse_pack(YamlReader(name), yaml_text);
  } catch (const YamlError& e) {
    throw RuleError(e.what());
  }
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string source_names(const std::vector<RuleSource>& sources) {
  std::string names;
  for (const auto& s : sources) names += (names.empty() ? "" : ", ") + s.path;
  return names;
}

// Allowlist entries that name a rule no source defines: a misspelling would silently allow
// nothing. All of them, one per line.
void check_allowlist_rules(const RulePacks& packs) {
  std::string errors;
  for (const auto& a : packs.allowlist) {
    if (a.rule.empty() || std::any_of(packs.rules.begin(), packs.rules.end(),
                                      [&](const Rule& r) { return r.id == a.rule; }))
      continue;
    std::string message = "allowlist entry names unknown rule '" + a.rule + "'";
    if (auto near = closest_rule_id(packs, a.rule); !near.empty())
      message += " (did you mean '" + near + "'?)";
    errors += (errors.empty() ? "" : "\n") +
              std::string(YamlError(a.where.file, a.where.line, "", message).what());
  }
  if (!errors.empty()) throw RuleError(errors);
}

}  // namespace

std::string closest_rule_id(const RulePacks& packs, std::string_view id) {
  std::string best;
  size_t best_distance = id.size() / 3 + 1;
  for (const auto& r : packs.rules) {
    size_t d = edit_distance(id, r.id);
    if (d < best_distance) best_distance = d, best = r.id;
  }
  return best;
}

std::vector<RuleSource> rule_sources(const std::vector<std::string>& paths, bool keep_builtin) {
  std::vector<RuleSource> out;
  if (keep_builtin) out.push_back(RuleSource::builtin());
  for (const auto& p : paths)
    if (!(p == "builtin" && keep_builtin)) out.push_back({p});
  return out;
}

RulePacks load_rule_packs(const std::vector<RuleSource>& sources) {
  namespace fs = std::filesystem;
  RulePacks all;
  std::unordered_map<std::string, SourceLocation> seen;
  for (const auto& src : sources) {
    if (src.path == "builtin") {
      for (const auto& p : embedded_packs())
        merge(all, parse_rule_pack(p.text, std::string("builtin:") + p.name), seen);
      continue;
    }
    fs::path path(src.path);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(path)) {
        auto ext = e.path().extension();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) merge(all, parse_rule_pack(read_file(f), f.string()), seen);
    } else if (fs::exists(path, ec)) {
      merge(all, parse_rule_pack(read_file(path), path.string()), seen);
    } else {
      throw RuleError(src.path + ": no such rule file or directory");
    }
  }
  if (all.rules.empty())
    throw RuleError("no rules in " + source_names(sources) +
                    ": nothing would be detected. Rule files add to the built-in packs unless "
                    "told to replace them (scan --rules-only, config rules.builtin: replace); "
                    "leave that out, or give files with rules");
  check_allowlist_rules(all);
  return all;
}

}  // namespace promptgate

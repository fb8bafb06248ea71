#include "rules.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "validators.h"

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

int line_of(const YAML::Node& n) {
  return n.Mark().line + 1;
}

[[noreturn]] void fail(const std::string& file, int line, const std::string& rule_id,
                       const std::string& msg) {
  std::ostringstream os;
  os << file << ":" << line << ": ";
  if (!rule_id.empty()) os << "rule '" << rule_id << "': ";
  os << msg;
  throw RuleError(os.str());
}

std::string scalar(const YAML::Node& n, const std::string& file, const std::string& id,
                   const char* key) {
  if (!n.IsScalar()) fail(file, line_of(n), id, std::string("'") + key + "' must be a string");
  return n.as<std::string>();
}

std::vector<Example> parse_examples(const YAML::Node& list, const std::string& file,
                                    const std::string& id, const char* key) {
  std::vector<Example> out;
  if (!list) return out;
  if (!list.IsSequence())
    fail(file, line_of(list), id, std::string("examples.") + key + " must be a list of strings");
  for (const auto& item : list) {
    out.push_back({scalar(item, file, id, key), {file, line_of(item)}});
  }
  return out;
}

Rule parse_rule(const YAML::Node& n, const std::string& pack, const std::string& file) {
  Rule r;
  r.pack = pack;
  r.where = {file, line_of(n)};
  if (!n.IsMap()) fail(file, line_of(n), "", "a rule must be a mapping");
  if (!n["id"]) fail(file, line_of(n), "", "rule without 'id'");
  r.id = scalar(n["id"], file, "", "id");
  if (r.id.empty() || !std::all_of(r.id.begin(), r.id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      }))
    fail(file, line_of(n["id"]), r.id, "id must be lower-case letters, digits, '-' or '_'");
  static const std::set<std::string> known = {
      "id",      "category",        "severity",   "action",     "description",
      "pattern", "prefilter",       "anchor",     "validators", "min_entropy",
      "context", "not_placeholder", "max_length", "examples",   "digit_run"};
  for (const auto& kv : n) {
    auto key = kv.first.as<std::string>();
    if (!known.count(key)) fail(file, line_of(kv.first), r.id, "unknown field '" + key + "'");
  }
  auto required = [&](const char* key) {
    if (!n[key]) fail(file, line_of(n), r.id, std::string("missing '") + key + "'");
    return scalar(n[key], file, r.id, key);
  };
  auto cat = required("category");
  auto c = parse_category(cat);
  if (!c)
    fail(file, line_of(n["category"]), r.id,
         "unknown category '" + cat + "' (credential|pii|phi|pci)");
  r.category = *c;
  auto sev = required("severity");
  auto s = parse_severity(sev);
  if (!s)
    fail(file, line_of(n["severity"]), r.id,
         "unknown severity '" + sev + "' (low|medium|high|critical)");
  r.severity = *s;
  auto act = required("action");
  auto a = parse_action(act);
  if (!a)
    fail(file, line_of(n["action"]), r.id,
         "unknown action '" + act + "' (block|redact|tokenize|log)");
  r.action = *a;
  r.description = required("description");
  r.pattern = required("pattern");
  if (r.pattern.empty()) fail(file, line_of(n["pattern"]), r.id, "empty pattern");
  if (n["prefilter"]) {
    r.prefilter = scalar(n["prefilter"], file, r.id, "prefilter");
    if (r.prefilter.empty()) fail(file, line_of(n["prefilter"]), r.id, "empty prefilter");
  }

  if (auto v = n["validators"]) {
    if (!v.IsSequence()) fail(file, line_of(v), r.id, "'validators' must be a list");
    for (const auto& item : v) {
      auto name = scalar(item, file, r.id, "validators");
      if (!find_validator(name))
        fail(file, line_of(item), r.id,
             "unknown validator '" + name + "' (known: " + known_validator_names() + ")");
      r.validators.push_back(name);
    }
  }
  try {
    if (auto v = n["min_entropy"]) {
      r.min_entropy = v.as<double>();
      if (r.min_entropy < 0 || r.min_entropy > 8)
        fail(file, line_of(v), r.id, "min_entropy must be between 0 and 8 bits per byte");
    }
    if (auto v = n["max_length"]) {
      auto len = v.as<int64_t>();
      if (len <= 0 || len > 65536) fail(file, line_of(v), r.id, "max_length must be 1..65536");
      r.max_length = static_cast<uint32_t>(len);
    }
    if (auto v = n["not_placeholder"]) r.not_placeholder = v.as<bool>();
  } catch (const YAML::BadConversion& e) {
    fail(file, e.mark.line + 1, r.id, "bad value: " + e.msg);
  }
  if (auto ctx = n["context"]) {
    if (!ctx.IsMap() || !ctx["words"] || !ctx["words"].IsSequence())
      fail(file, line_of(ctx), r.id, "'context' must be {words: [...], within: N}");
    ContextRequirement req;
    for (const auto& w : ctx["words"]) {
      auto word = scalar(w, file, r.id, "context.words");
      if (word.empty()) fail(file, line_of(w), r.id, "empty context word");
      std::transform(word.begin(), word.end(), word.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      req.words.push_back(word);
    }
    if (req.words.empty()) fail(file, line_of(ctx), r.id, "context.words is empty");
    int64_t within = 64;
    if (ctx["within"]) {
      try {
        within = ctx["within"].as<int64_t>();
      } catch (const YAML::BadConversion&) {
        fail(file, line_of(ctx["within"]), r.id, "context.within must be a number");
      }
    }
    if (within <= 0 || within > 4096)
      fail(file, line_of(ctx), r.id, "context.within must be 1..4096 bytes");
    req.within = static_cast<uint32_t>(within);
    r.context = std::move(req);
  }
  if (auto an = n["anchor"]) {
    auto v = scalar(an, file, r.id, "anchor");
    if (v == "context") {
      r.anchor = Anchor::context;
    } else if (v != "pattern") {
      fail(file, line_of(an), r.id, "anchor must be 'pattern' or 'context'");
    }
    if (r.anchor == Anchor::context && !r.context)
      fail(file, line_of(an), r.id, "anchor: context needs a 'context' with words");
    if (r.anchor == Anchor::context && !r.prefilter.empty())
      fail(file, line_of(an), r.id, "anchor: context and prefilter exclude each other");
  }
  if (auto dr = n["digit_run"]) {
    if (!dr.IsMap() || !dr["digits"])
      fail(file, line_of(dr), r.id,
           "'digit_run' must be {digits: N, separators: ' -', min_group: G, first_group: F, "
           "first_digits: '23456', whole_run: true, max_separators: S}");
    for (const auto& kv : dr) {
      auto key = kv.first.as<std::string>();
      if (key != "digits" && key != "separators" && key != "min_group" && key != "first_group" &&
          key != "first_digits" && key != "whole_run" && key != "max_separators")
        fail(file, line_of(kv.first), r.id, "unknown digit_run field '" + key + "'");
    }
    DigitRunPrefilter run;
    try {
      auto digits = dr["digits"].as<int64_t>();
      if (digits < 2 || digits > 64)
        fail(file, line_of(dr["digits"]), r.id, "digit_run.digits must be 2..64");
      run.digits = static_cast<uint32_t>(digits);
      if (dr["min_group"]) {
        auto group = dr["min_group"].as<int64_t>();
        if (group < 1 || group > digits)
          fail(file, line_of(dr["min_group"]), r.id, "digit_run.min_group must be 1..digits");
        run.min_group = static_cast<uint32_t>(group);
      }
      run.first_group = run.min_group;
      if (dr["first_group"]) {
        auto group = dr["first_group"].as<int64_t>();
        if (group < run.min_group || group > digits)
          fail(file, line_of(dr["first_group"]), r.id,
               "digit_run.first_group must be min_group..digits");
        run.first_group = static_cast<uint32_t>(group);
      }
      if (dr["max_separators"]) {
        auto most = dr["max_separators"].as<int64_t>();
        if (most < 0 || most >= digits)
          fail(file, line_of(dr["max_separators"]), r.id,
               "digit_run.max_separators must be 0..digits-1");
        run.max_separators = static_cast<uint32_t>(most);
      }
    } catch (const YAML::BadConversion& e) {
      fail(file, e.mark.line + 1, r.id,
           "digit_run.digits, min_group, first_group and max_separators must be numbers");
    }
    if (dr["separators"]) {
      run.separators = scalar(dr["separators"], file, r.id, "digit_run.separators");
      for (char ch : run.separators)
        if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')
          fail(file, line_of(dr["separators"]), r.id,
               "digit_run.separators must not be letters, digits or '_'");
    }
    if (dr["first_digits"]) {
      run.first_digits = scalar(dr["first_digits"], file, r.id, "digit_run.first_digits");
      if (run.first_digits.empty() || !std::all_of(run.first_digits.begin(), run.first_digits.end(),
                                                   [](char ch) { return ch >= '0' && ch <= '9'; }))
        fail(file, line_of(dr["first_digits"]), r.id,
             "digit_run.first_digits must be digits, e.g. '23456'");
    }
    if (dr["whole_run"]) {
      try {
        run.whole_run = dr["whole_run"].as<bool>();
      } catch (const YAML::BadConversion&) {
        fail(file, line_of(dr["whole_run"]), r.id, "digit_run.whole_run must be true or false");
      }
    }
    // The line of this rule's conflicting key: `dr` may be an alias to another rule's anchor.
    if (!r.prefilter.empty() || r.anchor == Anchor::context)
      fail(file, line_of(n["prefilter"] ? n["prefilter"] : n["anchor"]), r.id,
           "digit_run replaces the prefilter: it excludes 'prefilter' and 'anchor: context'");
    r.digit_run = std::move(run);
  }
  if (auto ex = n["examples"]) {
    if (!ex.IsMap())
      fail(file, line_of(ex), r.id, "'examples' must be {match: [...], no_match: [...]}");
    for (const auto& kv : ex) {
      auto key = kv.first.as<std::string>();
      if (key != "match" && key != "no_match")
        fail(file, line_of(kv.first), r.id, "unknown examples field '" + key + "'");
    }
    r.match_examples = parse_examples(ex["match"], file, r.id, "match");
    r.no_match_examples = parse_examples(ex["no_match"], file, r.id, "no_match");
  }
  return r;
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
      fail(r.where.file, r.where.line, r.id,
           "duplicate rule id (first defined at " + it->second.file + ":" +
               std::to_string(it->second.line) + ")");
    into.rules.push_back(std::move(r));
  }
  for (auto& a : from.allowlist) into.allowlist.push_back(std::move(a));
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
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(name, e.mark.line + 1, "", "malformed YAML: " + e.msg);
  }
  RulePacks out;
  if (!doc || doc.IsNull()) return out;
  if (!doc.IsMap()) fail(name, 1, "", "a rule pack must be a mapping with 'pack' and 'rules'");
  for (const auto& kv : doc) {
    auto key = kv.first.as<std::string>();
    if (key != "pack" && key != "rules" && key != "allowlist")
      fail(name, line_of(kv.first), "", "unknown top-level field '" + key + "'");
  }
  std::string pack = doc["pack"] ? scalar(doc["pack"], name, "", "pack") : std::string();
  if (auto rules = doc["rules"]) {
    if (!rules.IsSequence()) fail(name, line_of(rules), "", "'rules' must be a list");
    if (pack.empty()) fail(name, line_of(rules), "", "a file with rules needs 'pack:'");
    std::unordered_map<std::string, SourceLocation> seen;
    RulePacks local;
    for (const auto& r : rules) local.rules.push_back(parse_rule(r, pack, name));
    merge(out, std::move(local), seen);
  }
  if (auto allow = doc["allowlist"]) {
    if (!allow.IsSequence()) fail(name, line_of(allow), "", "'allowlist' must be a list");
    for (const auto& e : allow) {
      if (!e.IsMap()) fail(name, line_of(e), "", "an allowlist entry must be a mapping");
      AllowEntry a;
      a.where = {name, line_of(e)};
      for (const auto& kv : e) {
        auto key = kv.first.as<std::string>();
        auto val = scalar(kv.second, name, "", key.c_str());
        if (key == "fingerprint")
          a.fingerprint = val;
        else if (key == "rule")
          a.rule = val;
        else if (key == "pattern")
          a.pattern = val;
        else
          fail(name, line_of(kv.first), "",
               "unknown allowlist field '" + key + "' (fingerprint|rule|pattern)");
      }
      if (a.fingerprint.empty() && a.rule.empty() && a.pattern.empty())
        fail(name, line_of(e), "", "empty allowlist entry");
      out.allowlist.push_back(std::move(a));
    }
  }
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
  return all;
}

}  // namespace promptgate

#include "detectors/yaml_reader.h"

#include <algorithm>

namespace promptgate {
namespace {

std::string describe(const std::string& file, int line, const std::string& context,
                     const std::string& message) {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!context.empty()) out += context + ": ";
  return out + message;
}

std::string quoted(std::string_view key) {
  return "'" + std::string(key) + "'";
}

}  // namespace

YamlError::YamlError(std::string file, int line, std::string context, std::string message)
    : std::runtime_error(describe(file, line, context, message)),
      file_(std::move(file)),
      line_(line),
      context_(std::move(context)),
      message_(std::move(message)) {}

YamlReader::YamlReader(std::string file, std::string context)
    : file_(std::move(file)), context_(std::move(context)) {}

YAML::Node YamlReader::load(const std::string& text) const {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail_at(e.mark.line + 1, "malformed YAML: " + e.msg);
  }
}

int YamlReader::line_of(const YAML::Node& n) {
  if (!n.IsDefined() || n.Mark().line < 0) return 0;
  return n.Mark().line + 1;
}

void YamlReader::fail(const YAML::Node& at, const std::string& message) const {
  fail_at(line_of(at), message);
}

void YamlReader::fail_at(int line, const std::string& message) const {
  throw YamlError(file_, line, context_, message);
}

std::string YamlReader::string(const YAML::Node& n, std::string_view key) const {
  return scalar<std::string>(n, quoted(key) + " must be a string");
}

bool YamlReader::boolean(const YAML::Node& n, std::string_view key) const {
  return scalar<bool>(n, quoted(key) + " must be true or false");
}

uint64_t YamlReader::whole_number_in(const YAML::Node& n, std::string_view key, uint64_t min,
                                     uint64_t max) const {
  uint64_t v = scalar<uint64_t>(n, quoted(key) + " must be a whole number");
  if (v < min || v > max)
    fail(n,
         quoted(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}

std::vector<std::string> YamlReader::strings(const YAML::Node& n, std::string_view key) const {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  for (auto& item : string_items(n, key)) out.push_back(std::move(item.value));
  return out;
}

std::vector<YamlStringItem> YamlReader::string_items(const YAML::Node& n, std::string_view key,
                                                     const std::string& not_a_list) const {
  if (!n.IsSequence()) fail(n, not_a_list.empty() ? quoted(key) + " must be a list" : not_a_list);
  std::vector<YamlStringItem> out;
  for (const auto& item : n) out.push_back({string(item, key), item});
  return out;
}

std::vector<YamlError> YamlReader::unknown_keys(const YAML::Node& map,
                                                const std::vector<std::string_view>& known,
                                                std::string_view what) const {
  std::vector<YamlError> out;
  if (!map.IsMap()) {
    out.emplace_back(file_, line_of(map), context_, std::string(what) + " must be a mapping");
    return out;
  }
  std::vector<std::string_view> names(known);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string list;
  for (auto name : names) list += (list.empty() ? "" : ", ") + std::string(name);
  for (const auto& kv : map) {
    std::string key = key_of(kv.first);
    if (std::find(known.begin(), known.end(), key) == known.end())
      out.emplace_back(
          file_, line_of(kv.first), context_,
          "unknown key " + quoted(key) + " in " + std::string(what) + " (known: " + list + ")");
  }
  return out;
}

void YamlReader::check_keys(const YAML::Node& map, const std::vector<std::string_view>& known,
                            std::string_view what) const {
  auto errors = unknown_keys(map, known, what);
  if (!errors.empty()) throw errors.front();
}

void YamlReader::check_keys(const YAML::Node& map, const std::vector<std::string_view>& known,
                            const std::function<std::string(const std::string&)>& unknown) const {
  for (const auto& kv : map) {
    std::string key = key_of(kv.first);
    if (std::find(known.begin(), known.end(), key) == known.end()) fail(kv.first, unknown(key));
  }
}

}  // namespace promptgate

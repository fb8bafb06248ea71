// Which tool call produced a finding's text, and the line; see tool_origin.h.
#include "detectors/tool_origin.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

namespace promptgate {

namespace {

// "messages[N].content[M]..." -> (N, M); the prefix's length in `len`.
struct BlockRef {
  size_t message = 0, block = 0, len = 0;
};

std::optional<size_t> index_after(std::string_view s, std::string_view head, size_t& at) {
  if (s.substr(at, head.size()) != head) return std::nullopt;
  at += head.size();
  size_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + at, s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data() + at || p == s.data() + s.size() || *p != ']')
    return std::nullopt;
  at = static_cast<size_t>(p - s.data()) + 1;
  return v;
}

std::optional<BlockRef> block_ref(std::string_view location) {
  size_t at = 0;
  auto m = index_after(location, "messages[", at);
  if (!m) return std::nullopt;
  auto b = index_after(location, ".content[", at);
  if (!b) return std::nullopt;
  if (at < location.size() && location[at] != '.' && location[at] != ' ') return std::nullopt;
  return BlockRef{*m, *b, at};
}

// At most `max` code points of `s`: the head, or the tail for a path (its file name matters).
std::string shortened(std::string s, bool keep_tail) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == '`') c = ' ';
  std::vector<size_t> starts;  // code point starts
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() <= kMaxInputChars) return s;
  if (keep_tail) return "…" + s.substr(starts[starts.size() - (kMaxInputChars - 1)]);
  return s.substr(0, starts[kMaxInputChars - 1]) + "…";
}

std::string describe(std::string_view name, const nlohmann::json& input) {
  std::string out(name.substr(0, 64));
  if (!input.is_object()) return out;
  struct Field {
    const char* key;
    bool path;
  };
  for (Field f : {Field{"file_path", true}, Field{"notebook_path", true}, Field{"path", true},
                  Field{"command", false}, Field{"pattern", false}, Field{"url", false},
                  Field{"query", false}}) {
    auto it = input.find(f.key);
    if (it == input.end() || !it->is_string()) continue;
    std::string v = it->get<std::string>();
    if (!f.path) v = v.substr(0, v.find('\n'));
    if (v.empty()) continue;
    return out + " " + shortened(std::move(v), f.path);
  }
  return out;
}

// A message's content blocks; null when the content is a string or missing.
const nlohmann::json* blocks_of(const nlohmann::json& message) {
  if (!message.is_object()) return nullptr;
  auto it = message.find("content");
  return it != message.end() && it->is_array() ? &*it : nullptr;
}

bool is_within(std::string_view location, std::string_view prefix) {
  return location.starts_with(prefix) &&
         (location.size() == prefix.size() || location[prefix.size()] == '.' ||
          location[prefix.size()] == ' ');
}

}  // namespace

uint32_t line_in_json_string(std::string_view json, uint64_t offset) {
  if (offset > json.size()) return 0;
  // The opening quote: the nearest '"' before `offset` that no odd run of backslashes escapes
  // (inside a string, every other '"' is escaped).
  size_t open = std::string_view::npos;
  for (size_t i = offset; i-- > 0;) {
    if (json[i] != '"') continue;
    size_t slashes = 0;
    while (slashes < i && json[i - slashes - 1] == '\\') ++slashes;
    if (slashes % 2 == 0) {
      open = i;
      break;
    }
  }
  if (open == std::string_view::npos) return 0;
  uint32_t line = 1;
  for (size_t i = open + 1; i < offset; ++i) {
    if (json[i] != '\\') continue;
    if (i + 1 < offset && json[i + 1] == 'n') ++line;
    ++i;  // the escaped character
  }
  return line;
}

std::string describe_tool_call(std::string_view name, std::string_view input_json) {
  try {
    return describe(name, nlohmann::json::parse(input_json));
  } catch (const nlohmann::json::exception&) {
    return std::string(name.substr(0, 64));
  }
}

void name_tool_origins(std::string_view body_json, std::vector<Finding>& findings) {
  bool any = false;
  for (auto& f : findings) {
    // The line within the string the value is in: a prompt, a file's text, a command's output.
    if (f.location.starts_with("messages[") && !f.derived && !f.in_base64 && !f.in_attachment)
      f.line = line_in_json_string(body_json, f.start);
    any = any || block_ref(f.location).has_value();
  }
  if (!any || body_json.size() > kMaxOriginParseBytes) return;
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(body_json);
  } catch (const nlohmann::json::exception&) {
    return;
  }
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array()) return;
  for (auto& f : findings) {
    auto ref = block_ref(f.location);
    if (!ref) continue;
    if (ref->message >= messages->size()) continue;
    const nlohmann::json* content = blocks_of((*messages)[ref->message]);
    if (!content || ref->block >= content->size()) continue;
    const auto& block = (*content)[ref->block];
    if (!block.is_object() || block.value("type", "") != "tool_result") continue;
    std::string id = block.value("tool_use_id", "");
    if (id.empty()) continue;
    // The call is in an earlier message (the assistant's), usually the one just before.
    for (size_t m = ref->message; m-- > 0;) {
      const nlohmann::json* earlier = blocks_of((*messages)[m]);
      if (!earlier) continue;
      for (size_t b = 0; b < earlier->size(); ++b) {
        const auto& use = (*earlier)[b];
        if (!use.is_object() || use.value("type", "") != "tool_use" || use.value("id", "") != id)
          continue;
        std::string name = use.value("name", "tool");
        std::string call = "messages[" + std::to_string(m) + "].content[" + std::to_string(b) + "]";
        bool input_has_finding = false;
        for (const auto& other : findings)
          input_has_finding = input_has_finding || is_within(other.location, call);
        f.origin = input_has_finding ? std::string(name.substr(0, 64))
                                     : describe(name, use.value("input", nlohmann::json()));
        m = 0;
        break;
      }
    }
  }
}

}  // namespace promptgate

// The one reader for the project's YAML files (the proxy configuration, the rule packs), so
// every file reports a mistake the same way: "FILE:LINE: [CONTEXT: ]MESSAGE". It parses, fails
// with a YamlError that carries the file, the line and what the error is about, reads typed
// scalars and lists of strings, and checks keys against the ones a map may have.
//
//   YamlReader in("gw.yaml");
//   YAML::Node root = in.load(text);                  // malformed: "gw.yaml:4: malformed YAML:
//   ..." in.check_keys(root, {"listen", "threads"}, "the configuration"); auto threads =
//   in.whole_number<unsigned>(root["threads"], "threads", 0, 256); YamlReader rule = in.about("rule
//   'aws-key'");     // "gw.yaml:9: rule 'aws-key': ..." rule.fail(node, "empty pattern");
//
// A reader is a file name and a context: cheap to copy, no state, safe to share. Callers turn a
// YamlError into their own error type at their public boundary (RuleError, ConfigError).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace promptgate {

class YamlError : public std::runtime_error {
 public:
  // `line` 0: unknown, left out of the message; `context` empty: none.
  YamlError(std::string file, int line, std::string context, std::string message);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& context() const { return context_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  std::string context_;
  std::string message_;
};

// An item of a sequence of strings, with its node, for errors about that one item.
struct YamlStringItem {
  std::string value;
  YAML::Node node;
};

class YamlReader {
 public:
  // `file` names the document in messages; `context`, when not empty, is named after the line.
  explicit YamlReader(std::string file, std::string context = {});

  // The same file, with `context` named in every message ("rule 'aws-key'").
  YamlReader about(std::string context) const { return YamlReader(file_, std::move(context)); }
  const std::string& file() const { return file_; }

  // Parses one document; a syntax error fails at its line as "malformed YAML: ...".
  YAML::Node load(const std::string& text) const;

  // 1-based; 0 for a node with no place in the text (undefined, or built in memory).
  static int line_of(const YAML::Node& n);
  // The text of a map's key (`kv.first`).
  static std::string key_of(const YAML::Node& key) { return key.as<std::string>(); }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const;
  [[noreturn]] void fail_at(int line, const std::string& message) const;

  // Typed scalars. `key` names the value in the standard messages: "'KEY' must be a string",
  // "'KEY' must be true or false", "'KEY' must be a whole number", "'KEY' must be between MIN and
  // MAX". scalar<T> says `message` instead, for files whose wording is their own.
  std::string string(const YAML::Node& n, std::string_view key) const;
  bool boolean(const YAML::Node& n, std::string_view key) const;
  template <typename T = uint64_t>
  T whole_number(const YAML::Node& n, std::string_view key, uint64_t min, uint64_t max) const {
    return static_cast<T>(whole_number_in(n, key, min, max));
  }
  // A map's optional whole number: `out` is left alone when `key` is absent.
  template <typename T>
  void optional_whole_number(const YAML::Node& map, const char* key, uint64_t min, uint64_t max,
                             T& out) const {
    if (const YAML::Node v = map[key]) out = whole_number<T>(v, key, min, max);
  }
  template <typename T>
  T scalar(const YAML::Node& n, const std::string& message) const {
    T value{};
    if (!n.IsScalar() || !YAML::convert<T>::decode(n, value)) fail(n, message);
    return value;
  }

  // A sequence of strings; null is an empty list. "'KEY' must be a list" otherwise.
  std::vector<std::string> strings(const YAML::Node& n, std::string_view key) const;
  // A sequence of strings, each with its node; null is not a list. Fails with `not_a_list`
  // (default: "'KEY' must be a list") or, for an item, "'KEY' must be a string".
  std::vector<YamlStringItem> string_items(const YAML::Node& n, std::string_view key,
                                           const std::string& not_a_list = {}) const;

  // Fails unless `map` is a mapping ("WHAT must be a mapping") whose keys are all `known`:
  // "unknown key 'K' in WHAT (known: a, b, c)".
  void check_keys(const YAML::Node& map, const std::vector<std::string_view>& known,
                  std::string_view what) const;
  // Every key of the mapping `map` that is not `known`, each as check_keys would fail on it: for
  // files that report all their mistakes at once.
  std::vector<YamlError> unknown_keys(const YAML::Node& map,
                                      const std::vector<std::string_view>& known,
                                      std::string_view what) const;
  // Fails at the first key of the mapping `map` that is not `known`, with `unknown(key)`.
  void check_keys(const YAML::Node& map, const std::vector<std::string_view>& known,
                  const std::function<std::string(const std::string&)>& unknown) const;

 private:
  uint64_t whole_number_in(const YAML::Node& n, std::string_view key, uint64_t min,
                           uint64_t max) const;

  std::string file_;
  std::string context_;
};

}  // namespace promptgate

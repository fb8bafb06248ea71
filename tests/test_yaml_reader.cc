// The YAML reader shared by the configuration and the rule packs: errors carry the file, the
// line and the context and read "FILE:LINE: CONTEXT: MESSAGE"; typed scalars, lists of strings
// and unknown keys fail with the standard messages, or with the caller's own.
#include <catch2/catch.hpp>

#include "detectors/yaml_reader.h"

using namespace promptgate;

namespace {

// Runs `f` and returns the YamlError it throws; fails the test when it throws none.
template <typename F>
YamlError error_of(F&& f) {
  try {
    f();
  } catch (const YamlError& e) {
    return e;
  }
  FAIL("no YamlError");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a YamlError names the file, the line and the context", "[yaml_reader]") {
  YamlError e("gw.yaml", 12, "rule 'aws-key'", "empty pattern");
  CHECK(std::string(e.what()) == "gw.yaml:12: rule 'aws-key': empty pattern");
  CHECK(e.file() == "gw.yaml");
  CHECK(e.line() == 12);
  CHECK(e.context() == "rule 'aws-key'");
  CHECK(e.message() == "empty pattern");
  CHECK(std::string(YamlError("gw.yaml", 0, "", "cannot read").what()) == "gw.yaml: cannot read");
  CHECK(std::string(YamlError("gw.yaml", 3, "", "x").what()) == "gw.yaml:3: x");
}

TEST_CASE("load parses, and a syntax error names its line", "[yaml_reader]") {
  YamlReader in("gw.yaml");
  YAML::Node root = in.load("a: 1\nb: [2, 3]\n");
  CHECK(root["b"].size() == 2);
  CHECK(YamlReader::line_of(root["b"]) == 2);
  CHECK(YamlReader::line_of(root["missing"]) == 0);
  CHECK(YamlReader::line_of(YAML::Node(5)) == 0);  // built in memory: no line

  auto e = error_of([&] { in.load("a: 1\nb: [2, 3\n"); });
  CHECK(e.file() == "gw.yaml");
  CHECK(e.line() > 1);
  CHECK(e.message().rfind("malformed YAML: ", 0) == 0);
}

TEST_CASE("about() adds a context to every message, fail and fail_at name the line",
          "[yaml_reader]") {
  YamlReader file("pack.yaml");
  YAML::Node root = file.load("rules:\n  - id: x\n    pattern: ''\n");
  YamlReader rule = file.about("rule 'x'");
  CHECK(rule.file() == "pack.yaml");
  const YAML::Node pattern = root["rules"][0]["pattern"];
  CHECK(std::string(error_of([&] { rule.fail(pattern, "empty pattern"); }).what()) ==
        "pack.yaml:3: rule 'x': empty pattern");
  CHECK(std::string(error_of([&] { file.fail(pattern, "empty pattern"); }).what()) ==
        "pack.yaml:3: empty pattern");
  CHECK(std::string(error_of([&] { file.fail_at(1, "not a pack"); }).what()) ==
        "pack.yaml:1: not a pack");
  // A node that is not in the file: the message has no line.
  CHECK(std::string(error_of([&] { file.fail(root["nothing"], "missing"); }).what()) ==
        "pack.yaml: missing");
}

TEST_CASE("typed scalars, with the standard messages", "[yaml_reader]") {
  YamlReader in("gw.yaml");
  YAML::Node root =
      in.load("name: gw\nlist: [a]\non: true\nbad_bool: maybe\nn: 42\nneg: -1\nword: many\n");
  CHECK(in.string(root["name"], "name") == "gw");
  CHECK(in.string(root["n"], "n") == "42");
  CHECK(error_of([&] { in.string(root["list"], "list"); }).message() == "'list' must be a string");

  CHECK(in.boolean(root["on"], "on"));
  CHECK(error_of([&] { in.boolean(root["bad_bool"], "bad_bool"); }).message() ==
        "'bad_bool' must be true or false");

  CHECK(in.whole_number(root["n"], "n", 1, 100) == 42);
  CHECK(in.whole_number<uint16_t>(root["n"], "n", 1, 100) == uint16_t{42});
  CHECK(error_of([&] { in.whole_number(root["n"], "n", 1, 10); }).message() ==
        "'n' must be between 1 and 10");
  CHECK(error_of([&] { in.whole_number(root["neg"], "neg", 0, 10); }).message() ==
        "'neg' must be a whole number");
  auto e = error_of([&] { in.whole_number(root["word"], "word", 0, 10); });
  CHECK(e.message() == "'word' must be a whole number");
  CHECK(e.line() == 7);

  CHECK(in.scalar<int64_t>(root["neg"], "no") == -1);
  CHECK(in.scalar<double>(root["n"], "no") == 42.0);
  CHECK(error_of([&] { in.scalar<int64_t>(root["word"], "digits must be numbers"); }).message() ==
        "digits must be numbers");
}

TEST_CASE("optional_whole_number leaves the value alone when the key is absent", "[yaml_reader]") {
  YamlReader in("gw.yaml");
  YAML::Node map = in.load("ttl: 30\nbig: 5000\n");
  uint32_t ttl = 7, grant = 9;
  in.optional_whole_number(map, "ttl", 1, 100, ttl);
  in.optional_whole_number(map, "grant", 1, 100, grant);
  CHECK(ttl == 30);
  CHECK(grant == 9);
  CHECK(error_of([&] { in.optional_whole_number(map, "big", 1, 100, ttl); }).message() ==
        "'big' must be between 1 and 100");
}

TEST_CASE("sequences of strings", "[yaml_reader]") {
  YamlReader in("gw.yaml");
  YAML::Node root = in.load(
      "hosts: [a.example, b.example]\nempty:\nscalar: x\nnested: [a, [b]]\nwords:\n  - one\n"
      "  - two\n");
  CHECK(in.strings(root["hosts"], "hosts") == std::vector<std::string>{"a.example", "b.example"});
  CHECK(in.strings(root["empty"], "empty").empty());  // null: an empty list
  CHECK(error_of([&] { in.strings(root["scalar"], "scalar"); }).message() ==
        "'scalar' must be a list");
  auto e = error_of([&] { in.strings(root["nested"], "nested"); });
  CHECK(e.message() == "'nested' must be a string");
  CHECK(e.line() == 4);

  auto items = in.string_items(root["words"], "words");
  REQUIRE(items.size() == 2);
  CHECK(items[1].value == "two");
  CHECK(YamlReader::line_of(items[1].node) == 7);
  // string_items is strict: null is not a list, and the caller may word the message.
  CHECK(error_of([&] { in.string_items(root["empty"], "empty"); }).message() ==
        "'empty' must be a list");
  CHECK(error_of([&] {
          in.string_items(root["scalar"], "match", "examples.match must be a list");
        }).message() == "examples.match must be a list");
}

TEST_CASE("unknown keys are errors at their line", "[yaml_reader]") {
  YamlReader in("gw.yaml");
  YAML::Node root = in.load("listen: x\nmode: y\nlisn: z\nlist: [1]\n");
  in.check_keys(root, {"listen", "mode", "lisn", "list"}, "the configuration");

  auto e = error_of([&] { in.check_keys(root, {"mode", "listen", "list"}, "the configuration"); });
  CHECK(e.line() == 3);
  // The known keys are listed sorted, whatever order the caller gave them in.
  CHECK(e.message() == "unknown key 'lisn' in the configuration (known: list, listen, mode)");
  CHECK(error_of([&] { in.check_keys(root["list"], {"a"}, "timeouts"); }).message() ==
        "timeouts must be a mapping");

  auto own = error_of([&] {
    in.check_keys(root, {"listen", "mode"},
                  [](const std::string& key) { return "unknown field '" + key + "'"; });
  });
  CHECK(own.message() == "unknown field 'lisn'");
  CHECK(own.line() == 3);
}

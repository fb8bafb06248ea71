// Locations people can act on: a finding in a tool_result is named by the tool call that
// produced it (matched by tool_use_id) and its line, without ever printing a value, including
// one that sits in the tool call's own input.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "detectors/tool_origin.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::testing;

namespace {

// A Claude Code-shaped body: the user asks, the assistant calls `tool` with `input`, the
// tool's output comes back in a tool_result.
std::string body_with_call(const std::string& tool, const nlohmann::json& input,
                           const std::string& output) {
  nlohmann::json body = {
      {"model", "claude-test"},
      {"messages",
       {{{"role", "user"}, {"content", "please check the deploy config"}},
        {{"role", "assistant"},
         {"content",
          {{{"type", "text"}, {"text", "Reading it."}},
           {{"type", "tool_use"}, {"id", "toolu_01"}, {"name", tool}, {"input", input}}}}},
        {{"role", "user"},
         {"content",
          {{{"type", "tool_result"}, {"tool_use_id", "toolu_01"}, {"content", output}}}}}}}};
  return body.dump();
}

Finding found_at(const std::string& body, const std::string& value, std::string location) {
  Finding f;
  f.rule_id = "test-rule";
  f.start = body.find(value);
  f.end = f.start + value.size();
  f.location = std::move(location);
  return f;
}

}  // namespace

TEST_CASE("tool origin: a Read result names the file and the line", "[tool-origin]") {
  std::string token = github_token(11);
  std::string body = body_with_call("Read", {{"file_path", "/home/dev/app/deploy.env"}},
                                    "APP=demo\nREGION=eu\nDEBUG=0\nGH_TOKEN=" + token + "\n");
  std::vector<Finding> fs = {found_at(body, token, "messages[2].content[0].content")};
  name_tool_origins(body, fs);
  CHECK(fs[0].origin == "Read /home/dev/app/deploy.env");
  CHECK(fs[0].line == 4);
}

TEST_CASE("tool origin: a Bash command, first line only and short", "[tool-origin]") {
  std::string token = github_token(12);
  std::string command = "cat ~/.config/gh/hosts.yml\necho done";
  std::string body = body_with_call("Bash", {{"command", command}}, "oauth_token: " + token);
  std::vector<Finding> fs = {found_at(body, token, "messages[2].content[0].content")};
  name_tool_origins(body, fs);
  CHECK(fs[0].origin == "Bash cat ~/.config/gh/hosts.yml");
  CHECK(fs[0].line == 1);

  std::string long_path = "/srv/" + std::string(100, 'd') + "/secrets.env";
  CHECK(describe_tool_call("Read", nlohmann::json{{"file_path", long_path}}.dump()) ==
        "Read …" + long_path.substr(long_path.size() - (kMaxInputChars - 1)));
  std::string long_cmd = "grep -r " + std::string(100, 'x');
  CHECK(describe_tool_call("Bash", nlohmann::json{{"command", long_cmd}}.dump()) ==
        "Bash " + long_cmd.substr(0, kMaxInputChars - 1) + "…");
  CHECK(describe_tool_call("TodoWrite", R"({"todos":[]})") == "TodoWrite");
}

TEST_CASE("tool origin: a tool input holding a value is never printed", "[tool-origin]") {
  std::string token = github_token(13);
  std::string body = body_with_call("Bash", {{"command", "echo " + token}}, token + "\n");
  size_t in_input = body.find(token);
  size_t in_output = body.find(token, in_input + 1);
  Finding input_finding = found_at(body, token, "messages[1].content[1].input.command");
  Finding output_finding = found_at(body, token, "messages[2].content[0].content");
  output_finding.start = in_output;
  output_finding.end = in_output + token.size();
  std::vector<Finding> fs = {input_finding, output_finding};
  name_tool_origins(body, fs);
  CHECK(fs[1].origin == "Bash");
  CHECK(fs[0].origin.empty());  // not in a tool_result
  for (const auto& f : fs) CHECK(f.origin.find(token) == std::string::npos);
}

TEST_CASE("tool origin: lines in JSON strings, escapes counted right", "[tool-origin]") {
  std::string json = R"({"a":"one\ntwo\\nstill two\n\"three\" X"})";
  CHECK(line_in_json_string(json, json.find('X')) == 3);
  CHECK(line_in_json_string(json, json.find("one")) == 1);
  CHECK(line_in_json_string("no string here", 5) == 0);
  // A typed prompt (content as a string): a line, no tool.
  std::string token = github_token(14);
  std::string body =
      nlohmann::json{{"messages", {{{"role", "user"}, {"content", "hi\nmy token is " + token}}}}}
          .dump();
  std::vector<Finding> fs = {found_at(body, token, "messages[0].content")};
  name_tool_origins(body, fs);
  CHECK(fs[0].origin.empty());
  CHECK(fs[0].line == 2);
}

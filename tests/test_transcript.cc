// Incremental transcript scanning: block extents, skipping in the JSON decoder, and the rule
// that a block is skipped only when the same bytes were scanned clean for the same identity by
// the same SeenBlocks.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "detectors/engine.h"
#include "detectors/transcript.h"
#include "tests/synthetic.h"

using namespace promptgate;
using json = nlohmann::ordered_json;  // keys in Claude Code's order: system, tools, messages

namespace {

std::string filler(size_t n, char c = 'x') {
  std::string s = "ordinary words about the build ";
  while (s.size() < n) s += std::string(1, c) + " lorem ipsum dolor sit amet ";
  return s.substr(0, n);
}

// A Messages API body shaped like Claude Code's: system blocks, tools, a growing conversation.
json claude_body(const std::vector<json>& messages) {
  return json{{"model", "claude-sonnet-4-5"},
              {"max_tokens", 1024},
              {"system", json::array({{{"type", "text"}, {"text", filler(600, 's')}},
                                      {{"type", "text"}, {"text", filler(900, 't')}}})},
              {"tools", json::array({{{"name", "Read"},
                                      {"description", filler(700, 'r')},
                                      {"input_schema", {{"type", "object"}}}},
                                     {{"name", "Bash"},
                                      {"description", "run \"quoted\" \\ commands"},
                                      {"input_schema", {{"type", "object"}}}}})},
              {"messages", messages},
              {"stream", true}};
}

json user_text(const std::string& text) {
  return {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", text}}})}};
}

Scanner make_scanner() {
  return Scanner(testing::builtin_rules(), testing::test_key());
}

}  // namespace

TEST_CASE("transcript blocks are the system, tools and content elements, byte-exact",
          "[transcript]") {
  json body = claude_body({user_text("hello"),
                           {{"role", "assistant"}, {"content", "a plain \"string\" answer"}},
                           user_text(filler(300))});
  std::string raw = body.dump();
  auto blocks = transcript_blocks(raw);
  REQUIRE(blocks.size() == 2 + 2 + 3);
  std::vector<json> expected = {body["system"][0],
                                body["system"][1],
                                body["tools"][0],
                                body["tools"][1],
                                body["messages"][0]["content"][0],
                                body["messages"][1]["content"],
                                body["messages"][2]["content"][0]};
  for (size_t i = 0; i < blocks.size(); ++i) {
    INFO("block " << i);
    CHECK(json::parse(raw.substr(blocks[i].begin, blocks[i].end - blocks[i].begin)) == expected[i]);
  }
  // Pretty-printed JSON (whitespace everywhere) gives the same blocks.
  std::string pretty = body.dump(2);
  auto pblocks = transcript_blocks(pretty);
  REQUIRE(pblocks.size() == blocks.size());
  for (size_t i = 0; i < pblocks.size(); ++i)
    CHECK(json::parse(pretty.substr(pblocks[i].begin, pblocks[i].end - pblocks[i].begin)) ==
          expected[i]);
}

TEST_CASE("anything that is not a Messages body has no blocks", "[transcript]") {
  CHECK(transcript_blocks("").empty());
  CHECK(transcript_blocks("[1,2,3]").empty());
  CHECK(transcript_blocks(R"({"messages": [{"role":"user","content":"unterminated)").empty());
  CHECK(transcript_blocks(R"({"messages": [{"role":"user","content":"x"}] )").empty());
  CHECK(transcript_blocks(R"({"prompt": "text completion"})").empty());
  CHECK(transcript_blocks(R"({"system": "s", "messages": []})").size() == 1);
}

TEST_CASE("a skipped value is not scanned: everything else keeps its offsets and paths",
          "[transcript]") {
  std::string token_a = testing::github_token(1), token_b = testing::github_token(2);
  json body = claude_body({user_text("first " + token_a), user_text("second " + token_b)});
  std::string raw = body.dump();
  auto blocks = transcript_blocks(raw);
  REQUIRE(blocks.size() == 6);
  Scanner scanner = make_scanner();
  ScanResult full = scanner.scan(raw, InputFormat::json);
  REQUIRE(full.findings.size() == 2);
  ScanResult partial = scanner.scan(raw, InputFormat::json, {blocks[4]});  // token_a's block
  REQUIRE(partial.ok());
  REQUIRE(partial.findings.size() == 1);
  CHECK(partial.findings[0].start == full.findings[1].start);
  CHECK(partial.findings[0].end == full.findings[1].end);
  CHECK(partial.findings[0].location == full.findings[1].location);
  CHECK(partial.findings[0].location == "messages[1].content[0].text");
  CHECK(partial.decoded_bytes < full.decoded_bytes);
  // A range that does not start at a value is ignored: nothing is skipped.
  ScanResult misaligned =
      scanner.scan(raw, InputFormat::json, {{blocks[4].begin + 1, blocks[4].end}});
  CHECK(misaligned.findings.size() == 2);
}

TEST_CASE("skipping works whatever the chunking of a JSON decoder's input", "[transcript]") {
  std::string token = testing::github_token(3);
  json body = claude_body({user_text(filler(400)), user_text("key " + token)});
  std::string raw = body.dump();
  auto blocks = transcript_blocks(raw);
  DecodedText full_text, skipped_text;
  {
    JsonTextExtractor x(full_text);
    REQUIRE(x.feed(raw));
    REQUIRE(x.finish());
  }
  for (size_t chunk : {1, 7, 64, 4096}) {
    skipped_text.reset();
    JsonTextExtractor x(skipped_text);
    x.skip_values({blocks[0], blocks[2], blocks[4]});
    for (size_t i = 0; i < raw.size(); i += chunk)
      REQUIRE(x.feed(std::string_view(raw).substr(i, chunk)));
    REQUIRE(x.finish());
    std::string_view v = skipped_text.view();
    CHECK(v.find(token) != std::string_view::npos);
    CHECK(v.find(body["system"][0]["text"].get<std::string>()) == std::string_view::npos);
    CHECK(v.find(body["system"][1]["text"].get<std::string>()) != std::string_view::npos);
    CHECK(skipped_text.end() < full_text.end());
  }
}

TEST_CASE("a block is skipped only after it was scanned clean for the same identity",
          "[transcript]") {
  Scanner scanner = make_scanner();
  SeenBlocks seen;
  std::string token = testing::github_token(4);
  std::vector<json> conversation = {user_text(filler(500))};

  TranscriptScan t1 = scan_transcript(scanner, claude_body(conversation).dump(), seen, "alice");
  CHECK(t1.skipped_blocks == 0);
  CHECK(t1.result.findings.empty());

  conversation.push_back({{"role", "assistant"}, {"content", filler(400, 'a')}});
  conversation.push_back(user_text("here is my token " + token + " " + filler(300)));
  std::string turn2 = claude_body(conversation).dump();
  TranscriptScan t2 = scan_transcript(scanner, turn2, seen, "alice");
  // system (2), Read tool, first message: the Bash tool is under the digest threshold.
  CHECK(t2.skipped_blocks == 4);
  REQUIRE(t2.result.findings.size() == 1);
  CHECK(t2.result.findings[0].location == "messages[2].content[0].text");

  // The block with the token was not clean: it is scanned, and found, on every later turn.
  conversation.push_back({{"role", "assistant"}, {"content", filler(400, 'b')}});
  TranscriptScan t3 = scan_transcript(scanner, claude_body(conversation).dump(), seen, "alice");
  CHECK(t3.skipped_blocks == 5);
  REQUIRE(t3.result.findings.size() == 1);
  CHECK(t3.result.findings[0].location == "messages[2].content[0].text");

  // Another identity, or a new rule set's memory, starts from nothing.
  CHECK(scan_transcript(scanner, turn2, seen, "bob").skipped_blocks == 0);
  SeenBlocks after_reload;
  CHECK(scan_transcript(scanner, turn2, after_reload, "alice").skipped_blocks == 0);
  // Same bytes, same findings as a full scan.
  ScanResult full = scanner.scan(turn2, InputFormat::json);
  REQUIRE(full.findings.size() == 1);
  CHECK(full.findings[0].start == t2.result.findings[0].start);
}

TEST_CASE("a malformed body is scanned in full and nothing is remembered", "[transcript]") {
  Scanner scanner = make_scanner();
  SeenBlocks seen;
  std::string raw = claude_body({user_text(filler(500))}).dump();
  raw.pop_back();  // truncated
  TranscriptScan t = scan_transcript(scanner, raw, seen, "alice");
  CHECK(!t.result.ok());
  CHECK(seen.blocks() == 0);
}

TEST_CASE("the memory of seen blocks is bounded per identity and in identities", "[transcript]") {
  SeenBlocks seen(SeenBlocks::Limits{3, 2});
  auto d = [&](int i) { return seen.digest(filler(300) + std::to_string(i)); };
  seen.remember("a", {d(1), d(2), d(3)});
  CHECK(seen.blocks() == 2);
  std::vector<bool> known;
  seen.lookup("a", {d(1), d(2), d(3)}, known);
  CHECK(known == std::vector<bool>{false, true, true});
  for (const char* who : {"b", "c", "d", "e"}) seen.remember(who, {d(9)});
  CHECK(seen.identities() == 3);
  seen.lookup("a", {d(3)}, known);
  CHECK(known == std::vector<bool>{false});  // the least recently used identity went first
  // Digests are keyed per instance: another instance's digest of the same bytes differs.
  SeenBlocks other;
  CHECK(other.digest("same bytes") != seen.digest("same bytes"));
}

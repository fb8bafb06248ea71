// Restoring stand-ins in answers: SSE text and tool-input deltas, any split of the byte stream,
// a stand-in split across events, JSON escaping, byte identity for everything else, bounded
// hold-back, and what happens when the stream ends inside a stand-in. Values are synthetic.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "proxy/sse_restorer.h"

using namespace promptgate::proxy;
using nlohmann::json;

namespace {

const std::string kToken = "ghp_Zq8Lw3Nv7Tx2pRk5Mb9Yc4Hd6Jf1Gs0Ua3We7i";  // a stand-in
const std::string kTokenOriginal = "ghp_SYNTHETICsyntheticSYNTHETICsynth0001";
const std::string kCard = "4929073518286625";  // a stand-in
const std::string kCardOriginal = "4000001234567899";
const std::string kConn = "tok_k3m9x2ab";  // a stand-in
const std::string kConnOriginal = "postgres://app:p\"w\\d@db.internal.test/x";

std::shared_ptr<const Substitutions> subs() {
  return std::make_shared<const Substitutions>(std::vector<std::pair<std::string, std::string>>{
      {kToken, kTokenOriginal}, {kCard, kCardOriginal}, {kConn, kConnOriginal}});
}

std::string event(const std::string& name, const json& data, const std::string& eol = "\n") {
  return "event: " + name + eol + "data: " + data.dump() + eol + eol;
}
std::string text_delta(int index, const std::string& text, const std::string& eol = "\n") {
  return event("content_block_delta",
               {{"type", "content_block_delta"},
                {"index", index},
                {"delta", {{"type", "text_delta"}, {"text", text}}}},
               eol);
}
std::string json_delta(int index, const std::string& partial) {
  return event("content_block_delta",
               {{"type", "content_block_delta"},
                {"index", index},
                {"delta", {{"type", "input_json_delta"}, {"partial_json", partial}}}});
}
std::string block_start_text(int index) {
  return event("content_block_start", {{"type", "content_block_start"},
                                       {"index", index},
                                       {"content_block", {{"type", "text"}, {"text", ""}}}});
}
std::string block_start_tool(int index) {
  return event(
      "content_block_start",
      {{"type", "content_block_start"},
       {"index", index},
       {"content_block",
        {{"type", "tool_use"}, {"id", "toolu_01"}, {"name", "Write"}, {"input", json::object()}}}});
}
std::string block_stop(int index, const std::string& eol = "\n") {
  return event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}}, eol);
}
std::string message_start() {
  return event("message_start",
               {{"type", "message_start"},
                {"message", {{"id", "msg_01"}, {"type", "message"}, {"role", "assistant"}}}});
}
std::string message_end() {
  return event("message_delta", {{"type", "message_delta"},
                                 {"delta", {{"stop_reason", "end_turn"}}},
                                 {"usage", {{"output_tokens", 12}}}}) +
         event("message_stop", {{"type", "message_stop"}});
}
std::string ping() {
  return event("ping", {{"type", "ping"}});
}

// What a client makes of a stream: per block index, the concatenated text and partial_json.
struct Seen {
  std::map<int, std::string> text;
  std::map<int, std::string> partial_json;
  std::vector<std::string> names;
};
Seen client_view(const std::string& stream) {
  Seen seen;
  size_t at = 0;
  while (at < stream.size()) {
    size_t end = stream.find("\n\n", at);
    size_t crlf = stream.find("\r\n\r\n", at);
    size_t stop = std::min(end == std::string::npos ? stream.size() : end + 2,
                           crlf == std::string::npos ? stream.size() : crlf + 4);
    std::string ev = stream.substr(at, stop - at);
    at = stop;
    std::string name, data;
    size_t p = 0;
    while (p < ev.size()) {
      size_t nl = ev.find('\n', p);
      std::string line = ev.substr(p, (nl == std::string::npos ? ev.size() : nl) - p);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("event: ", 0) == 0) name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) data = line.substr(6);
      p = nl == std::string::npos ? ev.size() : nl + 1;
    }
    if (name.empty()) continue;
    seen.names.push_back(name);
    if (name != "content_block_delta") continue;
    json j = json::parse(data);
    int index = j["index"];
    if (j["delta"]["type"] == "text_delta")
      seen.text[index] += j["delta"]["text"].get<std::string>();
    if (j["delta"]["type"] == "input_json_delta")
      seen.partial_json[index] += j["delta"]["partial_json"].get<std::string>();
  }
  return seen;
}

std::string run(StreamRestorer& r, const std::vector<std::string>& chunks) {
  std::string out;
  for (const auto& c : chunks) out += r.feed(c);
  return out + r.finish();
}

std::string run_whole(const std::string& stream, std::shared_ptr<const Substitutions> s = subs()) {
  StreamRestorer r(std::move(s));
  return run(r, {stream});
}

// The stream of a text block and a tool_use block whose text / JSON are cut at `cuts`.
std::string text_stream(const std::string& text, const std::vector<size_t>& cuts) {
  std::string s = message_start() + block_start_text(0);
  size_t from = 0;
  for (size_t c : cuts) {
    s += text_delta(0, text.substr(from, c - from));
    s += ping();  // unrelated events in between change nothing
    from = c;
  }
  s += text_delta(0, text.substr(from)) + block_stop(0) + message_end();
  return s;
}
std::string tool_stream(const std::string& partial, const std::vector<size_t>& cuts) {
  std::string s = message_start() + block_start_tool(1);
  size_t from = 0;
  for (size_t c : cuts) {
    s += json_delta(1, partial.substr(from, c - from));
    from = c;
  }
  s += json_delta(1, partial.substr(from)) + block_stop(1) + message_end();
  return s;
}

}  // namespace

TEST_CASE("with no substitutions every byte passes through at once", "[sse]") {
  std::string stream = message_start() + block_start_text(0) + text_delta(0, "hi " + kToken) +
                       block_stop(0) + message_end();
  StreamRestorer r(std::make_shared<const Substitutions>());
  for (size_t cut = 0; cut <= stream.size(); cut += 7) {
    StreamRestorer fresh(std::make_shared<const Substitutions>());
    CHECK(fresh.feed(stream.substr(0, cut)) == stream.substr(0, cut));
    CHECK(fresh.feed(stream.substr(cut)) == stream.substr(cut));
    CHECK(fresh.finish().empty());
    CHECK(fresh.max_held_bytes() == 0);
  }
  StreamRestorer null_subs(nullptr);
  CHECK(null_subs.feed("event: ping\n") == "event: ping\n");
}

TEST_CASE("events without stand-ins pass through byte for byte", "[sse]") {
  // Odd but valid formatting must survive: a comment, an id, spacing in the JSON.
  std::string odd =
      ": keep-alive\nid: 7\nevent: content_block_delta\ndata: {\"type\": "
      "\"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
      "\"text\": \"plain words\"}}\n\n";
  std::string stream = message_start() + block_start_text(0) + odd + ping() + block_stop(0) +
                       block_start_tool(1) + json_delta(1, "{\"a\": 1}") + block_stop(1) +
                       message_end();
  CHECK(run_whole(stream) == stream);
  // Other delta types (thinking, signatures) are not touched either.
  std::string thinking =
      event("content_block_delta", {{"type", "content_block_delta"},
                                    {"index", 0},
                                    {"delta", {{"type", "thinking_delta"}, {"thinking", kToken}}}});
  CHECK(run_whole(thinking) == thinking);
}

TEST_CASE("a delta whose type is not a string passes through", "[sse]") {
  // Found by fuzz_sse_restorer: {"type": []} made the restorer throw mid-answer, which cut the
  // client's stream. Whatever an upstream sends, the restorer passes what it does not read.
  for (json type : {json::array(), json(7), json(nullptr), json::object()}) {
    std::string odd = event("content_block_delta", {{"type", "content_block_delta"},
                                                    {"index", 0},
                                                    {"delta", {{"type", type}, {"text", kToken}}}});
    std::string stream = message_start() + block_start_text(0) + odd + block_stop(0);
    std::string out;
    REQUIRE_NOTHROW(out = run_whole(stream));
    CHECK(out == stream);
  }
}

TEST_CASE("a stand-in in a text delta and in tool input is restored", "[sse]") {
  StreamRestorer r(subs());
  std::string out = run(r, {text_stream("use " + kToken + " and card " + kCard + ".", {})});
  Seen seen = client_view(out);
  CHECK(seen.text[0] == "use " + kTokenOriginal + " and card " + kCardOriginal + ".");
  CHECK(r.restored() == 2);
  CHECK(out.find(kToken) == std::string::npos);

  // In partial_json the original is JSON-escaped: quotes and backslashes survive a parse.
  json input = {{"file_path", "/tmp/.env"}, {"content", "DATABASE_URL=" + kConn + "\n"}};
  StreamRestorer t(subs());
  Seen tool = client_view(run(t, {tool_stream(input.dump(), {})}));
  json parsed = json::parse(tool.partial_json[1]);
  CHECK(parsed["content"] == "DATABASE_URL=" + kConnOriginal + "\n");
  CHECK(t.restored() == 1);
}

TEST_CASE("the whole stream split at every byte into two feeds", "[sse]") {
  json input = {{"command", "deploy --token " + kToken + " --card " + kCard}};
  std::string stream = text_stream("token " + kToken + " then " + kConn + "!", {9, 30}) +
                       tool_stream(input.dump(), {20});
  std::string whole = run_whole(stream);
  Seen expected = client_view(whole);
  REQUIRE(expected.text[0] == "token " + kTokenOriginal + " then " + kConnOriginal + "!");
  REQUIRE(json::parse(expected.partial_json[1])["command"] ==
          "deploy --token " + kTokenOriginal + " --card " + kCardOriginal);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamRestorer r(subs());
    std::string out = run(r, {stream.substr(0, cut), stream.substr(cut)});
    INFO("cut at byte " << cut);
    REQUIRE(out == whole);
    CHECK(r.unrestorable() == 0);
  }
}

TEST_CASE("a stand-in split across two and three text deltas", "[sse]") {
  std::string text = "the key is " + kToken + " ok";
  size_t first = text.find(kToken), last = first + kToken.size();
  for (size_t i = first - 1; i <= last + 1; ++i) {
    StreamRestorer r(subs());
    Seen seen = client_view(run(r, {text_stream(text, {i})}));
    INFO("cut at " << i);
    CHECK(seen.text[0] == "the key is " + kTokenOriginal + " ok");
    CHECK(r.restored() == 1);
    CHECK(r.max_held_bytes() <= kToken.size() - 1);
  }
  for (size_t i = first; i <= last; ++i) {
    for (size_t j = i; j <= last; ++j) {
      StreamRestorer r(subs());
      Seen seen = client_view(run(r, {text_stream(text, {i, j})}));
      INFO("cuts at " << i << ", " << j);
      REQUIRE(seen.text[0] == "the key is " + kTokenOriginal + " ok");
      CHECK(r.restored() == 1);
      CHECK(r.unrestorable() == 0);
      CHECK(r.max_held_bytes() <= kToken.size() - 1);
    }
  }
}

TEST_CASE("a stand-in split across tool-input deltas, with JSON escaping", "[sse]") {
  json input = {{"file_path", "config.yaml"}, {"content", "url: " + kConn + "\ntoken: " + kToken}};
  std::string partial = input.dump();
  size_t a = partial.find(kConn), b = partial.find(kToken);
  for (size_t i = a; i <= a + kConn.size(); ++i) {
    for (size_t j : {b + 1, b + kToken.size() / 2, b + kToken.size() - 1}) {
      StreamRestorer r(subs());
      Seen seen = client_view(run(r, {tool_stream(partial, {i, j})}));
      INFO("cuts at " << i << ", " << j);
      json parsed = json::parse(seen.partial_json[1]);
      CHECK(parsed["content"] == "url: " + kConnOriginal + "\ntoken: " + kTokenOriginal);
      CHECK(r.restored() == 2);
      CHECK(r.max_held_bytes() <= kToken.size() - 1);
    }
  }
}

TEST_CASE("CRLF line endings", "[sse]") {
  std::string stream = "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n" +
                       text_delta(0, "a " + kToken.substr(0, 10), "\r\n") +
                       text_delta(0, kToken.substr(10) + " b", "\r\n") + block_stop(0, "\r\n");
  StreamRestorer r(subs());
  std::string out;
  for (char c : stream) out += r.feed(std::string(1, c));  // one byte at a time
  out += r.finish();
  CHECK(out.rfind("event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n", 0) == 0);
  CHECK(out.find("\n\n") == std::string::npos);  // every line still ends in CRLF
  CHECK(client_view(out).text[0] == "a " + kTokenOriginal + " b");
  CHECK(r.restored() == 1);
}

TEST_CASE("a stream that ends inside a stand-in", "[sse]") {
  StreamRestorer r(subs());
  std::string out = run(
      r, {message_start() + block_start_text(0) + text_delta(0, "cut " + kToken.substr(0, 12))});
  Seen seen = client_view(out);
  CHECK(seen.text[0] == "cut " + kToken.substr(0, 12));  // left as it came
  CHECK(r.unrestorable() == 1);
  CHECK(r.restored() == 0);

  // The block ended where text merely looked like the start of a stand-in: ordinary text.
  StreamRestorer s(subs());
  Seen ended = client_view(run(s, {text_stream("see ghp_", {}) + message_end()}));
  CHECK(ended.text[0] == "see ghp_");
  CHECK(s.unrestorable() == 0);
  CHECK(s.released_at_block_end() == 1);
  // The released text comes before the block's stop.
  std::string stream_out = run_whole(text_stream("see ghp_", {}));
  CHECK(stream_out.find("\"text\":\"ghp_\"") < stream_out.find("content_block_stop"));

  // An unterminated last event is passed on as it came.
  StreamRestorer t(subs());
  std::string tail = "event: ping\ndata: {\"type\":\"ping\"}";
  CHECK(run(t, {message_start(), tail}) == message_start() + tail);
}

TEST_CASE("interleaved blocks hold back independently", "[sse]") {
  std::string stream =
      message_start() + block_start_text(0) + block_start_tool(1) +
      text_delta(0, "a " + kToken.substr(0, 5)) + json_delta(1, "{\"x\":\"" + kCard.substr(0, 7)) +
      text_delta(0, kToken.substr(5) + " z") + json_delta(1, kCard.substr(7) + "\"}") +
      block_stop(0) + block_stop(1) + message_end();
  StreamRestorer r(subs());
  Seen seen = client_view(run(r, {stream}));
  CHECK(seen.text[0] == "a " + kTokenOriginal + " z");
  CHECK(json::parse(seen.partial_json[1])["x"] == kCardOriginal);
  CHECK(r.restored() == 2);
}

TEST_CASE("the longest stand-in wins, leftmost first", "[sse]") {
  auto s = std::make_shared<const Substitutions>(std::vector<std::pair<std::string, std::string>>{
      {"tok_abcdefgh", "SHORT"}, {"tok_abcdefgh12", "LONG"}, {"x", "ignored: shorter than 2"}});
  uint64_t n = 0;
  std::string out;
  s->restore("tok_abcdefgh12 tok_abcdefgh1 tok_abcdefgh", false, true, out, n);
  CHECK(out == "LONG SHORT1 SHORT");
  CHECK(n == 3);
  // Not final: a trailing prefix of the longer one is held even though the shorter is complete.
  out.clear();
  CHECK(s->restore("x tok_abcdefgh1", false, false, out, n) == 2);
  CHECK(out == "x ");
}

TEST_CASE("an oversized event passes through unparsed", "[sse]") {
  // Just over the bound (complete within one feed) and twice the bound (passed on while it
  // still arrives).
  size_t size = GENERATE(StreamRestorer::kMaxEventBytes + 10, 2 * StreamRestorer::kMaxEventBytes);
  std::string huge = text_delta(0, std::string(size, 'y') + kToken);
  std::string stream = message_start() + block_start_text(0) + text_delta(0, "a " + kToken) + huge +
                       text_delta(0, " b " + kToken) + block_stop(0) + message_end();
  StreamRestorer r(subs());
  std::string out;
  for (size_t at = 0; at < stream.size(); at += 65536) out += r.feed(stream.substr(at, 65536));
  out += r.finish();
  CHECK(r.oversized_events() == 1);
  CHECK(out.find(huge) != std::string::npos);  // untouched
  CHECK(r.restored() == 2);                    // before and after it
  Seen seen = client_view(out);
  CHECK(seen.text[0].rfind("a " + kTokenOriginal + "yyy", 0) == 0);
}

TEST_CASE("a non-streaming JSON answer", "[sse]") {
  json body = {{"id", "msg_01"},
               {"type", "message"},
               {"content",
                {{{"type", "text"}, {"text", "Saved " + kToken}},
                 {{"type", "tool_use"},
                  {"id", "toolu_01"},
                  {"name", "Write"},
                  {"input", {{"content", "DB=" + kConn}, {"card", kCard}}}}}}};
  uint64_t n = 0;
  std::string out = restore_json_body(body.dump(), *subs(), &n);
  json parsed = json::parse(out);
  CHECK(parsed["content"][0]["text"] == "Saved " + kTokenOriginal);
  CHECK(parsed["content"][1]["input"]["content"] == "DB=" + kConnOriginal);
  CHECK(parsed["content"][1]["input"]["card"] == kCardOriginal);
  CHECK(n == 3);
  std::string plain = json{{"content", "nothing here"}}.dump();
  CHECK(restore_json_body(plain, *subs()) == plain);
}

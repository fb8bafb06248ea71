// After a block, the session goes on: within one conversation (owner + first message), a value
// already shown blocked is redacted on later turns and the turn forwarded; a new blocking value
// still blocks; `after_block: block` keeps every turn blocked; values in attachments stay
// blocked; the memory is bounded and expires.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "proxy/blocked_values.h"
#include "proxy/config.h"
#include "proxy/pipeline/decide_stage.h"

using namespace promptgate;
using namespace promptgate::proxy;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  BlockedValues::Clock fn() {
    return [this] { return now; };
  }
};

// A conversation whose first message is `first`, with `turns` more user messages.
std::string conversation(const std::string& first, std::vector<std::string> turns = {},
                         bool cache_mark_on_first = false) {
  nlohmann::json first_msg = {{"role", "user"}, {"content", {{{"type", "text"}, {"text", first}}}}};
  if (cache_mark_on_first) first_msg["content"][0]["cache_control"] = {{"type", "ephemeral"}};
  nlohmann::json messages = nlohmann::json::array({first_msg});
  for (auto& t : turns) {
    messages.push_back({{"role", "assistant"}, {"content", "ok"}});
    messages.push_back({{"role", "user"}, {"content", t}});
  }
  return nlohmann::json{{"model", "claude-test"}, {"messages", messages}}.dump();
}

Finding blocking(const std::string& fp, std::string location = "messages[0].content[0].text") {
  Finding f;
  f.rule_id = "test-token";
  f.category = Category::credential;
  f.severity = Severity::critical;
  f.action = Action::block;
  f.length = 40;
  f.fingerprint = fp;
  f.location = std::move(location);
  return f;
}

struct Fixture {
  Snapshot snap;
  ProxyConfig cfg;
  Target target{"api.example", 443, true, Destination::intercept};
  std::string path = "/v1/messages";
  Identity identity;
  OverrideBook book{OverrideBook::Key{}};
  FakeClock clock;
  BlockedValues memory{BlockedValues::Limits{}, clock.fn()};
  int next_id = 1;
  AuditEvent ev;

  Decided turn(const std::string& body, const std::vector<Finding>& findings,
               std::string owner = "alice") {
    ev = AuditEvent{};
    ev.request_id = "pg-test-" + std::to_string(next_id++);
    RequestContext ctx{snap,    cfg,           target, path, identity, std::move(owner),
                       nullptr, Mode::enforce, true,   true, ev};
    DecideInputs in{"", "", body, &memory};
    return decide_request(ctx, findings, in, book);
  }
};

}  // namespace

TEST_CASE("after block: the known value is redacted, a new one still blocks", "[after-block]") {
  Fixture fx;
  std::string first = "deploy with token XXXX";
  // Turn 1: blocked, with what to do in Claude Code.
  Decided t1 = fx.turn(conversation(first), {blocking("fp_a")});
  REQUIRE(t1.block);
  CHECK_THAT(t1.block->message, Catch::Contains("/clear") && Catch::Contains("Esc Esc") &&
                                    Catch::Contains("just send your next message"));
  CHECK(fx.ev.after_block_values == 0);

  // Turn 2, same conversation (the client moved its cache mark): forwarded, the value redacted.
  Decided t2 = fx.turn(conversation(first, {"what does HEAD~1 mean"}, true), {blocking("fp_a")});
  CHECK_FALSE(t2.block);
  CHECK(t2.rewrite);
  CHECK(t2.decision.actions == std::vector<Action>{Action::redact});
  CHECK(fx.ev.decision == "redact");
  CHECK(fx.ev.after_block_values == 1);
  CHECK(fx.ev.after_block_first == "pg-test-1");
  std::string line = AuditLog::to_json_line(fx.ev);
  CHECK_THAT(line, Catch::Contains(R"("after_block":{"values":1,"first_block":"pg-test-1"})"));

  // Turn 3 brings a new value: blocked, naming only the new one; turn 4 goes on with both.
  Decided t3 = fx.turn(conversation(first, {"a", "b"}),
                       {blocking("fp_a"), blocking("fp_b", "messages[4].content")});
  REQUIRE(t3.block);
  CHECK_THAT(t3.block->message, Catch::Contains("fp_b") && !Catch::Contains("fp_a"));
  Decided t4 = fx.turn(conversation(first, {"a", "b", "c"}),
                       {blocking("fp_a"), blocking("fp_b", "messages[4].content")});
  CHECK_FALSE(t4.block);
  CHECK(fx.ev.after_block_values == 2);
  CHECK(fx.ev.after_block_first == "pg-test-1");

  // Another conversation (after /clear: another first message) or another owner starts afresh.
  CHECK(fx.turn(conversation("something else"), {blocking("fp_a")}).block);
  CHECK(fx.turn(conversation(first, {"x"}), {blocking("fp_a")}, "bob").block);
}

TEST_CASE("after block: block keeps today's behaviour, tokenize is honoured", "[after-block]") {
  Fixture fx;
  fx.cfg.after_block = Action::block;
  std::string body = conversation("token XXXX");
  REQUIRE(fx.turn(body, {blocking("fp_a")}).block);
  Decided again = fx.turn(conversation("token XXXX", {"next"}), {blocking("fp_a")});
  REQUIRE(again.block);
  CHECK_THAT(again.block->message, Catch::Contains("every turn that resends it is blocked"));
  CHECK(fx.memory.conversations() == 0);

  Fixture tk;
  tk.cfg.after_block = Action::tokenize;
  REQUIRE(tk.turn(body, {blocking("fp_a")}).block);
  Decided t2 = tk.turn(conversation("token XXXX", {"next"}), {blocking("fp_a")});
  CHECK_FALSE(t2.block);
  CHECK(t2.decision.actions == std::vector<Action>{Action::tokenize});
}

TEST_CASE("after block: values in attachments and headers are not carried on", "[after-block]") {
  Fixture fx;
  Finding in_pdf = blocking("fp_pdf", "messages[0].content[1] (pdf page 1)");
  in_pdf.in_attachment = true;
  std::string body = conversation("see the attached PDF");
  Decided pdf_block = fx.turn(body, {in_pdf});
  REQUIRE(pdf_block.block);
  CHECK_THAT(pdf_block.block->message,
             !Catch::Contains("just send your next message") && Catch::Contains("Esc Esc"));
  CHECK(fx.turn(conversation("see the attached PDF", {"and?"}), {in_pdf}).block);
  Finding in_header = blocking("fp_h", "header:x-api-key");
  REQUIRE(fx.turn(body, {in_header}).block);
  CHECK(fx.turn(body, {in_header}).block);
}

TEST_CASE("after block: the memory is bounded and forgets", "[after-block]") {
  FakeClock clock;
  BlockedValues m(BlockedValues::Limits{2, 2, std::chrono::seconds(60)}, clock.fn());
  std::string c1 = m.conversation_key("alice", conversation("one"));
  std::string c2 = m.conversation_key("alice", conversation("two"));
  std::string c3 = m.conversation_key("alice", conversation("three"));
  REQUIRE_FALSE(c1.empty());
  CHECK(c1 != c2);
  CHECK(m.conversation_key("alice", "{\"model\":\"x\"}").empty());
  CHECK(m.conversation_key("alice", conversation("one", {"more"}, true)) == c1);
  // Claude Code after a failed first turn: its reminder first, the prompt with a newline, and
  // the next prompt merged into the same message.
  nlohmann::json merged = {
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "<system-reminder>\ncontext\n</system-reminder>\n"}},
           {{"type", "text"}, {"text", "one\n"}},
           {{"type", "text"}, {"text", "Continue from where you left off."}}}}}}}};
  CHECK(m.conversation_key("alice", merged.dump()) == c1);
  CHECK(m.conversation_key("bob", conversation("one")) != c1);

  m.remember(c1, {"fp_1", "fp_2", "fp_3"}, "pg-1");  // two values per conversation: fp_1 goes
  CHECK_FALSE(m.blocked_before(c1, "fp_1"));
  CHECK(m.blocked_before(c1, "fp_3") == "pg-1");
  m.remember(c1, {"fp_3"}, "pg-9");  // the first block's id stays
  CHECK(m.blocked_before(c1, "fp_3") == "pg-1");
  m.remember(c2, {"fp_x"}, "pg-2");
  m.remember(c3, {"fp_y"}, "pg-3");  // two conversations: the least recently used (c1) goes
  CHECK(m.conversations() == 2);
  CHECK_FALSE(m.blocked_before(c1, "fp_3"));
  clock.now += std::chrono::seconds(61);
  CHECK_FALSE(m.blocked_before(c3, "fp_y"));
  m.forget(c2, {"fp_x"});
}

TEST_CASE("after block: configuration", "[after-block]") {
  CHECK(parse_config("listen: 127.0.0.1:1\n", "t").after_block == Action::redact);
  CHECK(parse_config("after_block: block\n", "t").after_block == Action::block);
  CHECK(parse_config("after_block: tokenize\n", "t").after_block == Action::tokenize);
  CHECK_THROWS_WITH(parse_config("after_block: log\n", "t"),
                    Catch::Contains("after_block must be redact, tokenize or block"));
  CHECK(parse_config("block_help_url: https://wiki.example.com/pg\n", "t").block_help_url ==
        "https://wiki.example.com/pg");
  CHECK_THROWS_WITH(parse_config("block_help_url: see the wiki\n", "t"),
                    Catch::Contains("block_help_url"));
  // The link ends the block message.
  Finding f;
  f.rule_id = "r";
  f.category = Category::credential;
  f.fingerprint = "fp_1";
  std::string msg = block_message({f}, {Action::block}, false, {true, "https://wiki.example.com"});
  CHECK_THAT(msg, Catch::EndsWith(" Help: https://wiki.example.com"));
}

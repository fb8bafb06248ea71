// The request pipeline's stages and the proxy logic that used to hide inside server.cc, tested
// without sockets: framing, the query string, hop-by-hop fields, internal addresses, the idle
// upstream pool, the audit scope, the body intake's budget, and the decision's rule that a
// finding outside the body blocks instead of being rewritten.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/audit_scope.h"
#include "proxy/http_fields.h"
#include "proxy/idle_pool.h"
#include "proxy/internal_address.h"
#include "proxy/pipeline/body_intake.h"
#include "proxy/pipeline/decide_stage.h"
#include "proxy/pipeline/head_stage.h"
#include "proxy/pipeline/scan_stage.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::proxy;

TEST_CASE("framing: only a plain chunked Transfer-Encoding on HTTP/1.1 is accepted", "[pipeline]") {
  CHECK_FALSE(check_framing({11, false, {}}));
  CHECK_FALSE(check_framing({11, true, {"chunked"}}));
  CHECK_FALSE(check_framing({11, true, {"Chunked , chunked"}}));
  auto gzip_chunked = check_framing({11, true, {"gzip, chunked"}});
  REQUIRE(gzip_chunked);
  CHECK(gzip_chunked->status == 400);
  CHECK_FALSE(gzip_chunked->keep_alive);
  CHECK(check_framing({10, true, {"chunked"}}));    // HTTP/1.0
  CHECK(check_framing({11, false, {"identity"}}));  // not read as chunked
  CHECK(trailer_refusal().message.find("trailer") != std::string::npos);
}

TEST_CASE("http fields: hop-by-hop names, query decoding, the model named in a body",
          "[pipeline]") {
  CHECK(is_hop_by_hop("Proxy-Authorization"));
  CHECK(is_hop_by_hop("content-length"));
  CHECK_FALSE(is_hop_by_hop("x-api-key"));
  CHECK(percent_decode("a%3Db+c%2") == "a=b c%2");
  CHECK(percent_decode("%zz%41") == "%zzA");
  CHECK(model_of(R"({"max_tokens":5,"model" : "claude-x-1"})") == "claude-x-1");
  CHECK(model_of(R"({"note":"\"model\": \"x\"","model":"m"})") == "m");
  CHECK(model_of(R"({"model":"bad name with spaces"})").empty());
  CHECK(host_header_for({"api.example", 443, true}) == "api.example");
  CHECK(host_header_for({"api.example", 8443, true}) == "api.example:8443");
  CHECK(host_header_for({"::1", 80, false}) == "[::1]");
}

TEST_CASE("internal addresses: private, loopback, link-local, mapped and zoned forms",
          "[pipeline]") {
  for (const char* ip :
       {"10.0.0.1", "127.0.0.1", "169.254.169.254", "172.16.5.4", "192.168.1.1", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1%eth0", "fc00::1",
        "fd12::1", "ff02::1", "::ffff:10.1.2.3", "[::1]"})
    CHECK(is_internal_address(ip));
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "2606:4700::1", "::ffff:1.1.1.1", "example.com",
                         "10.0.0.1.nip.io", ""})
    CHECK_FALSE(is_internal_address(ip));
  CHECK(is_ip_literal("[2001:db8::1]"));
  CHECK_FALSE(is_ip_literal("api.anthropic.com"));
  ProxyConfig cfg;
  CHECK(internal_destination_refusal(cfg, "svc.internal", {"93.184.216.34", "10.1.1.1"})
            .find("10.1.1.1") != std::string::npos);
  CHECK(internal_destination_refusal(cfg, "svc.public", {"93.184.216.34"}).empty());
}

namespace {
struct FakeConn {
  int id = 0;
  size_t unread = 0;
  bool* closed = nullptr;
  size_t unread_bytes() const { return unread; }
  void close() {
    if (closed) *closed = true;
  }
};
}  // namespace

TEST_CASE("idle pool: newest first, by target and generation, expiry and leftovers", "[pipeline]") {
  IdlePool<FakeConn> pool;
  auto now = std::chrono::steady_clock::now();
  pool.set_clock_for_tests([&] { return now; });
  Target a{"a.example", 443, true}, b{"b.example", 443, true};
  pool.give({1}, a, 1);
  pool.give({2}, a, 1);
  pool.give({3}, b, 1);
  CHECK(pool.take(a, 1)->id == 2);
  CHECK_FALSE(pool.take(a, 2));  // a connection made under another snapshot is not reused
  bool leftover_closed = false;
  pool.give({4, 10, &leftover_closed}, a, 1);  // bytes after the answer: never reused
  CHECK(leftover_closed);
  bool expired_closed = false;
  pool.give({5, 0, &expired_closed}, b, 1);
  now += IdlePool<FakeConn>::kMaxIdle + std::chrono::seconds(1);
  CHECK_FALSE(pool.take(b, 1));
  CHECK(expired_closed);
  pool.give({6}, a, 2);  // a newer generation sweeps the older ones
  CHECK(pool.idle_count() == 1);
}

TEST_CASE("audit scope: one line however the request ends, none when cancelled", "[pipeline]") {
  auto path = std::filesystem::temp_directory_path() / "promptgate_test_audit_scope.jsonl";
  std::filesystem::remove(path);
  {
    AuditLog log(path.string());
    Metrics metrics;
    AuditSinks sinks{log, metrics, nullptr};
    {
      AuditEvent ev;
      ev.request_id = "r1";
      AuditScope scope(sinks, ev);
      scope->decision = "block";
      scope.write();
      scope->decision = "changed after writing";  // not written twice
    }
    {
      AuditEvent ev;
      ev.request_id = "r2";
      AuditScope scope(sinks, ev);  // written by the destructor
    }
    {
      AuditEvent ev;
      ev.request_id = "r3";
      AuditScope scope(sinks, ev);
      scope.cancel();
    }
  }
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("\"r1\"") != std::string::npos);
  CHECK(lines[0].find("\"block\"") != std::string::npos);
  CHECK(lines[1].find("\"r2\"") != std::string::npos);
  std::filesystem::remove(path);
}

namespace {
// A RequestContext over a default config, for the stages that read one.
struct ContextFixture {
  Snapshot snap;
  ProxyConfig cfg;
  Target target{"api.example", 443, true, Destination::intercept};
  std::string path = "/v1/messages";
  Identity identity;
  AuditEvent ev;
  RequestContext ctx() {
    return RequestContext{snap,    cfg,           target, path, identity, "10.0.0.9:5000",
                          nullptr, Mode::enforce, true,   true, ev};
  }
};

Finding finding_at(std::string location, Action action) {
  Finding f;
  f.rule_id = "test-rule";
  f.category = Category::credential;
  f.severity = Severity::high;
  f.action = action;
  f.location = std::move(location);
  return f;
}
}  // namespace

TEST_CASE("decide: a finding outside the body blocks instead of being redacted", "[pipeline]") {
  ContextFixture fx;
  OverrideBook book(OverrideBook::Key{});
  auto ctx = fx.ctx();
  Decided in_body =
      decide_request(ctx, {finding_at("messages[0].content", Action::redact)}, {}, book);
  CHECK_FALSE(in_body.block);
  CHECK(in_body.rewrite);
  for (const char* where : {"query", "header:x-note"}) {
    Decided outside = decide_request(ctx, {finding_at(where, Action::redact)}, {}, book);
    REQUIRE(outside.block);
    CHECK(outside.block->decision == "block");
    CHECK(outside.block->audit_error.empty());
    CHECK(fx.ev.decision == "block");
  }
  Decided signed_body = decide_request(ctx, {finding_at("messages[0].content", Action::redact)},
                                       {"AWS4-HMAC-SHA256 Cred=x", "", ""}, book);
  CHECK(signed_body.block);
  ctx.mode = Mode::monitor;
  Decided monitored = decide_request(ctx, {finding_at("query", Action::block)}, {}, book);
  CHECK_FALSE(monitored.block);
  CHECK_FALSE(fx.ev.enforced);
}

TEST_CASE("body intake: over the budget answers 503 (413 when it could never fit)", "[pipeline]") {
  ProxyConfig cfg;
  cfg.max_buffered_body_bytes = 1000;
  BodyBudget budget;
  Scanner scanner(testing::test_rules(), testing::test_key());
  {
    BodyBudget::Hold other(budget);
    REQUIRE(other.try_grow_to(900, cfg.max_buffered_body_bytes));
    BodyIntake body(cfg, budget, scanner, InputFormat::text, true, nullptr);
    CHECK_FALSE(body.fits(200));
    CHECK(body.over_budget());
    Refusal r = body.over_budget_refusal(true);
    CHECK(r.status == 503);
    CHECK(r.retry_after_seconds == 1);
    CHECK(r.keep_alive);
  }
  BodyIntake alone(cfg, budget, scanner, InputFormat::text, true, nullptr);
  CHECK_FALSE(alone.fits(5000));
  CHECK(alone.over_budget_refusal(false).status == 413);
  CHECK(budget.in_use() == 0);
}

TEST_CASE("body intake: pieces are scanned as they arrive, decoded when encoded", "[pipeline]") {
  ProxyConfig cfg;
  BodyBudget budget;
  Scanner scanner(testing::test_rules(), testing::test_key());
  std::string text = "token " + testing::github_token(7) + " end";
  BodyIntake body(cfg, budget, scanner, InputFormat::text, true, nullptr);
  CHECK_FALSE(body.open_decoder("identity"));
  body.size_for(text.size());
  size_t half = text.size() / 2;  // the token crosses the two reads
  std::memcpy(body.free_space(), text.data(), half);
  body.take(half);
  std::memcpy(body.free_space(), text.data() + half, text.size() - half);
  body.take(text.size() - half);
  body.end_of_body();
  CHECK(body.text() == text);
  ContextFixture fx;
  ScanOutcome scanned = scan_request(scanner, body, fx.ctx(), {});
  REQUIRE(scanned.findings.size() == 1);
  CHECK(scanned.findings[0].start == 6);

  BodyIntake unknown(cfg, budget, scanner, InputFormat::text, true, nullptr);
  auto r = unknown.open_decoder("compress");
  REQUIRE(r);
  CHECK(r->status == 415);
}

TEST_CASE("scan stage: query and configured headers are scanned, located and decoded",
          "[pipeline]") {
  ProxyConfig cfg;
  BodyBudget budget;
  Scanner scanner(testing::test_rules(), testing::test_key());
  BodyIntake body(cfg, budget, scanner, InputFormat::text, true, nullptr);
  body.end_of_body();
  ContextFixture fx;
  std::string token = testing::github_token(11);
  fx.path = "/v1/x?key=" + token.substr(0, 3) + "%5F" + token.substr(4);  // '_' percent-encoded
  std::string header_value = "Bearer " + testing::github_token(12);
  ScanOutcome s = scan_request(scanner, body, fx.ctx(), {{"x-note", header_value}});
  REQUIRE(s.findings.size() == 2);
  CHECK(s.findings[0].location == "query");
  CHECK(s.findings[1].location == "header:x-note");
  CHECK(outside_body(s.findings[0]));
  CHECK(outside_body(s.findings[1]));
}

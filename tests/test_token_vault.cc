// The token vault: stable and distinct stand-ins per conversation, isolation between
// identities, the bounds (conversations, entries, bytes), idle expiry with an injected clock,
// LRU order, and concurrent use. Values are synthetic.
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "detectors/standin.h"
#include "detectors/validators.h"
#include "proxy/token_vault.h"
#include "tests/synthetic.h"

using namespace promptgate;
using namespace promptgate::proxy;
using namespace promptgate::testing;
using namespace std::chrono_literals;

namespace {

Rule github_rule() {
  Rule r;
  r.id = "github-pat-classic";
  r.pattern = R"(\bghp_[A-Za-z0-9]{36}\b)";
  r.validators = {"github_crc32"};
  return r;
}

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  TokenVault::Clock fn() {
    return [this] { return now; };
  }
};

std::string restored(const Substitutions& s, const std::string& text) {
  std::string out;
  uint64_t n = 0;
  s.restore(text, false, true, out, n);
  return out;
}

}  // namespace

TEST_CASE("a value keeps its stand-in in a conversation: values get distinct ones", "[vault]") {
  TokenVault vault(VaultLimits{});
  auto conv = vault.conversation("alice");
  Rule gh = github_rule();
  std::string a = github_token(1), b = github_token(2);
  std::string sa = conv->standin_for(gh, a);
  CHECK(sa != a);
  CHECK(base62_crc32_valid(sa));
  CHECK(conv->standin_for(gh, a) == sa);
  CHECK(vault.conversation("alice")->standin_for(gh, a) == sa);  // a later turn
  std::string sb = conv->standin_for(gh, b);
  CHECK(sb != sa);
  auto subs = conv->restorations();
  CHECK(subs->size() == 2);
  CHECK(restored(*subs, "x " + sa + " y " + sb) == "x " + a + " y " + b);
  CHECK(conv->restorations() == subs);  // the snapshot is shared until something changes
  conv->standin_for(gh, github_token(3));
  CHECK(conv->restorations() != subs);
  CHECK(subs->size() == 2);  // an earlier snapshot does not change
  VaultStats st = vault.stats();
  CHECK(st.conversations == 1);
  CHECK(st.entries == 3);
  CHECK(st.bytes >= 3 * (40 + 40));
}

TEST_CASE("identities are isolated", "[vault]") {
  TokenVault vault(VaultLimits{});
  Rule gh = github_rule();
  std::string secret = github_token(4);
  auto alice = vault.conversation("alice");
  auto bob = vault.conversation("10.0.0.7");
  std::string sa = alice->standin_for(gh, secret);
  std::string sb = bob->standin_for(gh, secret);
  CHECK(sa != sb);  // different conversation keys
  CHECK(bob->restorations()->size() == 1);
  CHECK(restored(*bob->restorations(), sa) == sa);  // Alice's stand-in means nothing to Bob
  CHECK(restored(*alice->restorations(), sb) == sb);
}

TEST_CASE("a collision takes the next attempt: no free stand-in falls back to the marker",
          "[vault]") {
  TokenVault vault(VaultLimits{});
  auto conv = vault.conversation("carol");
  // Values whose only free character is one digit: their stand-ins can only be the other
  // values, so the last one finds every candidate taken (a stand-in never equals a value of
  // the conversation either) and gets the irreversible marker.
  Rule tight;
  tight.id = "tight";
  std::set<std::string> standins;
  size_t markers = 0;
  for (int i = 0; i < 10; ++i) {
    std::string v = "--------" + std::to_string(i);
    std::string s = conv->standin_for(tight, v);
    if (s == "[REDACTED:tight]") {
      ++markers;
    } else {
      CHECK(standins.insert(s).second);  // never a stand-in already taken
      CHECK(s != v);
      CHECK(s.size() == v.size());
    }
  }
  VaultStats st = vault.stats();
  CHECK(markers >= 1);
  CHECK(st.irreversible == markers);
  CHECK(st.collisions >= Conversation::kMaxAttempts);
  CHECK(standins.size() + markers == 10);
}

TEST_CASE("bounded entries per conversation, least recently used first", "[vault]") {
  VaultLimits limits;
  limits.max_entries_per_conversation = 3;
  TokenVault vault(limits);
  auto conv = vault.conversation("dave");
  Rule gh = github_rule();
  std::string s1 = conv->standin_for(gh, github_token(11));
  std::string s2 = conv->standin_for(gh, github_token(12));
  conv->standin_for(gh, github_token(13));
  conv->standin_for(gh, github_token(11));  // used again: now the most recent
  conv->standin_for(gh, github_token(14));  // evicts 12
  CHECK(conv->entries() == 3);
  auto subs = conv->restorations();
  CHECK(restored(*subs, s1) == github_token(11));
  CHECK(vault.stats().evicted_entries == 1);
  CHECK(vault.stats().entries == 3);
  // A value seen again after eviction gets the same stand-in: it is derived from the key.
  std::string again = conv->standin_for(gh, github_token(12));
  CHECK(again == s2);
}

TEST_CASE("bounded conversations, LRU, and idle expiry", "[vault]") {
  FakeClock clock;
  VaultLimits limits;
  limits.max_conversations = 2;
  limits.idle_ttl = 60s;
  TokenVault vault(limits, clock.fn());
  Rule gh = github_rule();
  auto a = vault.conversation("a");
  std::string sa = a->standin_for(gh, github_token(21));
  vault.conversation("b")->standin_for(gh, github_token(22));
  vault.conversation("a");  // a is now more recent than b
  vault.conversation("c");  // evicts b
  CHECK(vault.stats().conversations == 2);
  CHECK(vault.stats().evicted_conversations == 1);
  CHECK(vault.conversation("a")->standin_for(gh, github_token(21)) == sa);
  CHECK(vault.conversation("b")->entries() == 0);  // a new conversation

  clock.now += 61s;
  vault.sweep();
  CHECK(vault.stats().conversations == 0);
  CHECK(vault.stats().expired_conversations == 2);
  CHECK(vault.stats().entries == 0);
  CHECK(vault.stats().bytes == 0);
  // The holder of an evicted conversation sees it wiped; the identity starts afresh.
  CHECK(a->entries() == 0);
  CHECK(a->restorations()->empty());
  auto fresh = vault.conversation("a");
  CHECK(fresh != a);
  // Derived from (vault key, identity, value): the same stand-in again, so a stand-in the model
  // saw before the expiry is still restored once the value comes back in a request.
  CHECK(fresh->standin_for(gh, github_token(21)) == sa);

  clock.now += 30s;
  vault.conversation("a");  // use keeps it alive
  clock.now += 45s;
  vault.sweep();
  CHECK(vault.stats().conversations == 1);
}

TEST_CASE("the byte bound evicts other conversations first", "[vault]") {
  VaultLimits limits;
  size_t per_entry = 40 + 40 + Conversation::kEntryOverhead;
  limits.max_total_bytes = 5 * per_entry;
  TokenVault vault(limits);
  Rule gh = github_rule();
  auto old_conv = vault.conversation("old");
  for (int i = 0; i < 3; ++i) old_conv->standin_for(gh, github_token(100 + i));
  auto busy = vault.conversation("busy");
  for (int i = 0; i < 3; ++i) busy->standin_for(gh, github_token(200 + i));
  CHECK(vault.stats().bytes <= limits.max_total_bytes);
  CHECK(old_conv->entries() == 0);  // evicted as a whole
  CHECK(busy->entries() == 3);
  for (int i = 3; i < 10; ++i) busy->standin_for(gh, github_token(200 + i));
  CHECK(vault.stats().bytes <= limits.max_total_bytes);
  CHECK(busy->entries() == 5);  // then its own oldest entries
  CHECK(vault.stats().entries == 5);
}

TEST_CASE("concurrent conversations never see each other's values", "[vault]") {
  VaultLimits limits;
  limits.max_entries_per_conversation = 10000;
  TokenVault vault(limits);
  Rule gh = github_rule();
  constexpr int kThreads = 8, kValues = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string id = "user" + std::to_string(t);
      for (int i = 0; i < kValues; ++i) {
        std::string value = github_token(static_cast<uint64_t>(t * 100000 + i));
        std::string s = vault.conversation(id)->standin_for(gh, value);
        if (vault.conversation(id)->standin_for(gh, value) != s) ++failures[t];
      }
      auto subs = vault.conversation(id)->restorations();
      if (subs->size() != kValues) ++failures[t];
      for (int i = 0; i < kValues; ++i) {
        std::string value = github_token(static_cast<uint64_t>(t * 100000 + i));
        std::string s = vault.conversation(id)->standin_for(gh, value);
        if (restored(*subs, s) != value) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(failures[t] == 0);
  // Each conversation restores only its own stand-ins.
  for (int t = 0; t < kThreads; ++t) {
    auto mine = vault.conversation("user" + std::to_string(t))->restorations();
    auto other = vault.conversation("user" + std::to_string((t + 1) % kThreads));
    std::string theirs =
        other->standin_for(gh, github_token(static_cast<uint64_t>(((t + 1) % kThreads) * 100000)));
    CHECK(restored(*mine, theirs) == theirs);
  }
  CHECK(vault.stats().entries == kThreads * kValues);
}

TEST_CASE("stand-ins come from (key, identity, value): replicas and restarts agree", "[vault]") {
  TokenVault::Key key;
  key.fill(0x42);
  Rule gh = github_rule();
  std::string a = github_token(11), b = github_token(12);
  std::string sa, sb;
  {
    TokenVault first(VaultLimits{}, key);
    sa = first.conversation("user:alice")->standin_for(gh, a);
    sb = first.conversation("user:alice")->standin_for(gh, b);
  }
  // Another replica (or this one after a restart) with the same key, seeing the values in
  // another order: the same stand-ins, and its map restores them.
  TokenVault second(VaultLimits{}, key);
  auto conv = second.conversation("user:alice");
  CHECK(conv->standin_for(gh, b) == sb);
  CHECK(conv->standin_for(gh, a) == sa);
  CHECK(restored(*conv->restorations(), sa + " " + sb) == a + " " + b);
  // Another identity, or another key: different stand-ins.
  CHECK(second.conversation("user:bob")->standin_for(gh, a) != sa);
  TokenVault::Key other = key;
  other[0] ^= 1;
  TokenVault third(VaultLimits{}, other);
  CHECK(third.conversation("user:alice")->standin_for(gh, a) != sa);
  // Without a key each vault draws its own.
  TokenVault r1(VaultLimits{}), r2(VaultLimits{});
  CHECK(r1.conversation("user:alice")->standin_for(gh, a) !=
        r2.conversation("user:alice")->standin_for(gh, a));
}

// Justified overrides (docs/overrides.md). When every blocking finding of a request is eligible
// (config `overrides`), the block message offers a code bound to the identity, the blocking
// findings' fingerprints and its issue time by a MAC under the cluster key, so that every replica
// accepts it. The user repeats the request with
//     promptgate-override: CODE because <justification>
// as a line of the prompt (or the X-Promptgate-Override header); while the code is valid
// (max(ttl_seconds, grant_seconds) from its issue), requests of that identity carrying it whose
// blocking findings are the code's fingerprints are forwarded (agents resend the whole conversation
// on every turn, so the value and the override line come back on each of them, and any replica
// checks the line). Everything is recorded in the audit log.
//
// In the proxy, after decide() and before answering a block (enforce mode):
//   OverrideBook book(keys.derive(KeyPurpose::override_codes));   // one per process
//   auto marker = header.empty() ? find_override_marker(body) : parse_override_header(header);
//   OverrideOutcome o = apply_override(book, cfg.overrides, identity,
//                                      override_identity_key(identity, client), findings,
//                                      decision.actions, marker);
//   ev.override_record = o.record;
//   if (o.forward) { decision.verdict = o.verdict; /* forward */ } else { msg += o.message; }
// `body` is the request body after Content-Encoding decoding. Remove the X-Promptgate-Override
// header before forwarding; the block message carries the code, so it must not reach the log.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "detectors/engine.h"
#include "proxy/audit_log.h"
#include "proxy/config.h"
#include "proxy/policy.h"

namespace promptgate::proxy {

inline constexpr std::string_view kOverrideMarker = "promptgate-override:";
inline constexpr std::string_view kOverrideHeader = "X-Promptgate-Override";
inline constexpr size_t kOverrideCodeLength = 12;         // symbols, without the '-' separators
inline constexpr size_t kOverrideCodeDisplayLength = 14;  // as shown: XXXX-XXXX-XXXX

// What the user wrote. `code` is normalised (upper case, O->0, I/L->1, no '-'); empty when the
// token after the marker is not a well-formed code (`code_malformed`).
struct OverrideRequest {
  std::string code;
  bool code_malformed = false;
  std::string justification;  // trimmed, capped at kMaxJustificationBytes; may be empty
};

// The last marker line in `text`: a request body as sent (JSON; a line may end at an escaped
// "\n" and the justification is unescaped) or plain text. Occurrences not at the start of a line
// or a JSON string, and the placeholder form of the block message ("<code>"), are skipped.
std::optional<OverrideRequest> find_override_marker(std::string_view text);
// The X-Promptgate-Override header value: "CODE because <justification>".
std::optional<OverrideRequest> parse_override_header(std::string_view value);

// Normalises a typed code; nullopt when it is not kOverrideCodeLength symbols of the alphabet.
std::optional<std::string> normalize_override_code(std::string_view typed);
// First 8 hex digits of SHA-256 of the normalised code: how logs refer to a code.
std::string override_code_id(std::string_view code);
// Characters (UTF-8 code points) of the justification, for min_justification.
size_t justification_length(std::string_view text);

// Who a code is bound to: the authenticated user, or the client address without port.
std::string override_identity_key(const Identity& who, std::string_view client_address_port);

bool override_eligible(const OverridesConfig& config, const Identity& who, const Finding& finding);

// Issues and checks override codes. A code is stateless: 4 symbols of its issue time (seconds
// since the epoch, low 20 bits) and 8 symbols (40 bits) of HMAC-SHA256, under the cluster's
// override key, of (identity, issue time, the sorted blocking fingerprints). Any replica holding
// the same key checks it without asking anyone, on every turn it is resent; it is valid for
// max(ttl, grant) from its issue. What the book keeps in memory is only a convenience of this
// replica: which codes it has seen (so its first use here is logged `redeemed`, later ones
// `granted`), and grants that cover the same values for requests without the line. Bounded (the
// oldest entries go first) and thread-safe. docs/overrides.md says what this changes.
class OverrideBook {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using WallClock = std::function<int64_t()>;  // seconds since the Unix epoch
  using Key = std::array<unsigned char, 32>;
  // How far in the future a code's issue time may be (replicas' clocks differ a little).
  static constexpr int64_t kClockSkewSeconds = 300;

  // `key`: the override key the cluster key derives (detectors/cluster_key.h).
  explicit OverrideBook(const Key& key, size_t max_entries = 10'000,
                        Clock clock = &std::chrono::steady_clock::now, WallClock wall = {});
  ~OverrideBook();

  // A code for `identity` covering exactly `fingerprints` (sorted and deduplicated here), as
  // typed: "XXXX-XXXX-XXXX".
  std::string issue(const std::string& identity, std::vector<std::string> fingerprints) const;

  enum class Redeem { ok, invalid, expired, no_justification };
  struct Checked {
    Redeem result = Redeem::invalid;
    bool first_here = false;  // ok, and this replica had not seen the code before
  };
  // Checks `code` for `identity` and exactly the fingerprints of `needed`, valid for
  // `valid_for` from its issue, with a justification of at least `min_justification`
  // characters. When ok and `grant` > 0, requests of `identity` whose blocking findings are all
  // covered stay allowed on this replica until issue + grant (see granted()).
  Checked redeem(const std::string& identity, const std::string& code,
                 const std::vector<std::string>& needed, const std::string& justification,
                 size_t min_justification, std::chrono::seconds valid_for,
                 std::chrono::seconds grant);

  struct Grant {
    std::string code_id;
    std::string justification;
    std::vector<std::string> fingerprints;
  };
  // A live grant of `identity` on this replica covering every fingerprint of `needed`.
  std::optional<Grant> granted(const std::string& identity,
                               const std::vector<std::string>& needed) const;

 private:
  struct GrantEntry {
    std::string identity;
    Grant grant;  // fingerprints sorted
    std::chrono::steady_clock::time_point expires;
  };
  std::string mac_symbols(const std::string& identity, int64_t issued,
                          const std::vector<std::string>& sorted_fps) const;
  Key key_;
  mutable std::mutex mu_;
  size_t max_entries_;
  Clock clock_;
  WallClock wall_;
  std::unordered_set<std::string> seen_;  // code ids this replica accepted
  std::deque<std::string> seen_order_;    // oldest first
  std::deque<GrantEntry> grants_;         // oldest first
};
const char* to_string(OverrideBook::Redeem r);

// The sentence appended to a block message that offers `code`.
std::string override_instructions(const std::string& code, std::chrono::seconds ttl,
                                  size_t min_justification);

struct OverrideOutcome {
  bool forward = false;              // every blocking finding is overridden: its action is now log
  Verdict verdict = Verdict::block;  // the request's verdict after the override
  std::string message;               // to append to the block message when !forward (may be empty)
  std::optional<OverrideRecord> record;  // for AuditEvent::override_record
};

// The whole override step for a request whose verdict is block. Changes `actions` (block -> log)
// only when it forwards. Issues a code when none was offered, the user's marker was not valid or
// not enough, and every blocking finding is eligible.
OverrideOutcome apply_override(OverrideBook& book, const OverridesConfig& config,
                               const Identity& who, const std::string& identity_key,
                               const std::vector<Finding>& findings, std::vector<Action>& actions,
                               const std::optional<OverrideRequest>& request);

}  // namespace promptgate::proxy

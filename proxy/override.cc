// Justified overrides: markers, codes, the book of codes and grants; see override.h.
#include "proxy/override.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace promptgate::proxy {

namespace {

// Crockford base32: no I, L, O or U, so a code read aloud or retyped survives.
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

char ascii_lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool starts_with_nocase(std::string_view text, size_t pos, std::string_view word) {
  if (text.size() - pos < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (ascii_lower(text[pos + i]) != word[i]) return false;
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool is_code_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<uint32_t> hex4(std::string_view s, size_t pos) {
  if (s.size() < pos + 4) return std::nullopt;
  uint32_t v = 0;
  for (size_t i = pos; i < pos + 4; ++i) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= static_cast<uint32_t>(c - 'A' + 10);
    else
      return std::nullopt;
  }
  return v;
}

// The rest of the marker's line from `pos`: in JSON a line also ends at an escaped newline or at
// the string's closing quote, and escapes are decoded.
std::string rest_of_line(std::string_view s, size_t pos, bool json) {
  std::string out;
  for (size_t i = pos; i < s.size() && out.size() < 4 * kMaxJustificationBytes; ++i) {
    char c = s[i];
    if (c == '\n' || c == '\r') break;
    if (!json) {
      out += c;
      continue;
    }
    if (c == '"') break;
    if (c != '\\' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    char e = s[++i];
    if (e == 'n' || e == 'r') break;
    if (e == 't') {
      out += ' ';
    } else if (e == 'u') {
      auto cp = hex4(s, i + 1);
      if (!cp) break;
      i += 4;
      if (*cp >= 0xD800 && *cp < 0xDC00 && i + 6 < s.size() && s[i + 1] == '\\' &&
          s[i + 2] == 'u') {
        auto low = hex4(s, i + 3);
        if (low && *low >= 0xDC00 && *low < 0xE000) {
          *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
          i += 6;
        }
      }
      append_utf8(out, *cp >= 0xD800 && *cp < 0xE000 ? 0xFFFD : *cp);
    } else if (e == 'b' || e == 'f') {
      out += ' ';
    } else {
      out += e;  // \" \\ \/
    }
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (is_space(s[b]))) ++b;
  while (e > b && (is_space(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// "CODE because <justification>" (the "because" is optional) from `pos` of `s`. Nullopt for the
// placeholder of the block message ("<code>"), which must never count as an attempt.
std::optional<OverrideRequest> parse_after_marker(std::string_view s, size_t pos, bool json) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  size_t end = pos;
  while (end < s.size() && is_code_char(s[end])) ++end;
  if (end == pos && pos < s.size() && s[pos] == '<') return std::nullopt;
  OverrideRequest r;
  if (auto code = normalize_override_code(s.substr(pos, end - pos)))
    r.code = *code;
  else
    r.code_malformed = true;
  std::string rest = trim(rest_of_line(s, end, json));
  if (starts_with_nocase(rest, 0, "because") &&
      (rest.size() == 7 || is_space(rest[7]) || rest[7] == ':'))
    rest = trim(std::string_view(rest).substr(rest.size() == 7 ? 7 : 8));
  // The block message's example ("because <your reason>") copied as is is not a reason.
  if (rest.size() >= 2 && rest.front() == '<' && rest.back() == '>') rest.clear();
  r.justification = std::string(utf8_prefix(rest, kMaxJustificationBytes));
  return r;
}

// Where a marker may start: the start of the text, of a line (also an escaped "\n" in JSON) or
// of a JSON string, after optional blanks.
bool at_line_start(std::string_view s, size_t pos) {
  while (pos > 0 && is_space(s[pos - 1])) --pos;
  if (pos == 0) return true;
  char c = s[pos - 1];
  if (c == '\n' || c == '\r' || c == '"') return true;
  return pos >= 2 && s[pos - 2] == '\\' && (c == 'n' || c == 'r');
}

}  // namespace

std::optional<std::string> normalize_override_code(std::string_view typed) {
  std::string code;
  for (char c : typed) {
    if (c == '-') continue;
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    if (kAlphabet.find(c) == std::string_view::npos) return std::nullopt;
    code += c;
  }
  if (code.size() != kOverrideCodeLength) return std::nullopt;
  return code;
}

std::optional<OverrideRequest> find_override_marker(std::string_view text) {
  // Backwards from the end: the user's newest line wins over older ones in the history.
  size_t pos = text.size();
  while (pos > 0) {
    size_t found = std::string_view::npos;
    for (size_t i = pos; i-- > 0;) {
      if (ascii_lower(text[i]) == 'p' && starts_with_nocase(text, i, kOverrideMarker)) {
        found = i;
        break;
      }
    }
    if (found == std::string_view::npos) return std::nullopt;
    pos = found;
    if (!at_line_start(text, found)) continue;
    if (auto r = parse_after_marker(text, found + kOverrideMarker.size(), /*json=*/true)) return r;
  }
  return std::nullopt;
}

std::optional<OverrideRequest> parse_override_header(std::string_view value) {
  std::string v = trim(value);
  if (v.empty()) return std::nullopt;
  std::string_view rest = v;
  // Accept the whole marker line pasted into the header too.
  if (starts_with_nocase(rest, 0, kOverrideMarker)) rest.remove_prefix(kOverrideMarker.size());
  return parse_after_marker(rest, 0, /*json=*/false);
}

std::string override_code_id(std::string_view code) {
  auto normalized = normalize_override_code(code);
  return sha256_hex(normalized ? std::string_view(*normalized) : code).substr(0, 8);
}

size_t justification_length(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string override_identity_key(const Identity& who, std::string_view client) {
  if (!who.user.empty()) return "user:" + who.user;
  // "address:port" as the server writes it (IPv6 without brackets): the port is after the last
  // colon, and it changes with every connection.
  size_t colon = client.rfind(':');
  return "addr:" + std::string(colon == std::string_view::npos ? client : client.substr(0, colon));
}

bool override_eligible(const OverridesConfig& config, const Identity& who, const Finding& f) {
  if (!config.enabled) return false;
  bool listed =
      std::find(config.rules.begin(), config.rules.end(), f.rule_id) != config.rules.end() ||
      std::find(config.categories.begin(), config.categories.end(), f.category) !=
          config.categories.end();
  if (!listed) return false;
  if (config.groups.empty()) return true;
  return std::any_of(config.groups.begin(), config.groups.end(), [&](const std::string& g) {
    return std::find(who.groups.begin(), who.groups.end(), g) != who.groups.end();
  });
}

namespace {

constexpr int kTimeSymbols = 4;  // 20 bits of the issue time
constexpr int64_t kTimeModulus = int64_t{1} << (5 * kTimeSymbols);
constexpr int kMacSymbols = static_cast<int>(kOverrideCodeLength) - kTimeSymbols;  // 40 bits

int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int symbol_value(char c) {
  auto at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// The full issue time of a code whose low bits are `low`: the latest such time not after
// now + skew. A code older than the modulus comes out as a later time and fails its MAC.
int64_t issue_time(int64_t low, int64_t now) {
  int64_t latest = now + OverrideBook::kClockSkewSeconds;
  return latest - (((latest - low) % kTimeModulus) + kTimeModulus) % kTimeModulus;
}

std::string display_form(const std::string& code) {
  return code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8);
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

OverrideBook::OverrideBook(const Key& key, size_t max_entries, Clock clock, WallClock wall)
    : key_(key),
      max_entries_(std::max<size_t>(max_entries, 1)),
      clock_(std::move(clock)),
      wall_(wall ? std::move(wall) : WallClock(&system_seconds)) {}

OverrideBook::~OverrideBook() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

std::string OverrideBook::mac_symbols(const std::string& identity, int64_t issued,
                                      const std::vector<std::string>& sorted_fps) const {
  std::string msg = "promptgate override v1";
  msg.push_back('\0');
  msg += identity;
  msg.push_back('\0');
  for (int i = 7; i >= 0; --i)
    msg.push_back(static_cast<char>((static_cast<uint64_t>(issued) >> (8 * i)) & 0xff));
  for (const auto& fp : sorted_fps) {
    msg += fp;
    msg.push_back('\0');
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len))
    throw std::runtime_error("override code: HMAC-SHA256 failed");
  // 40 bits, five at a time.
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i) bits = (bits << 8) | mac[i];
  std::string out;
  for (int i = kMacSymbols - 1; i >= 0; --i) out += kAlphabet[(bits >> (5 * i)) & 31];
  return out;
}

std::string OverrideBook::issue(const std::string& identity,
                                std::vector<std::string> fingerprints) const {
  fingerprints = sorted_unique(std::move(fingerprints));
  int64_t now = wall_();
  std::string code;
  for (int i = kTimeSymbols - 1; i >= 0; --i) code += kAlphabet[(now >> (5 * i)) & 31];
  code += mac_symbols(identity, now, fingerprints);
  return display_form(code);
}

OverrideBook::Checked OverrideBook::redeem(const std::string& identity, const std::string& code,
                                           const std::vector<std::string>& needed,
                                           const std::string& justification,
                                           size_t min_justification, std::chrono::seconds valid_for,
                                           std::chrono::seconds grant) {
  Checked out;
  auto normalized = normalize_override_code(code);
  if (!normalized) return out;
  int64_t low = 0;
  for (int i = 0; i < kTimeSymbols; ++i) low = (low << 5) | symbol_value((*normalized)[i]);
  int64_t now = wall_();
  int64_t issued = issue_time(low, now);
  std::vector<std::string> fps = sorted_unique(needed);
  std::string expected = mac_symbols(identity, issued, fps);
  if (CRYPTO_memcmp(expected.data(), normalized->data() + kTimeSymbols, expected.size()) != 0)
    return out;
  int64_t expires = issued + std::max(valid_for.count(), grant.count());
  if (now > expires) {
    out.result = Redeem::expired;
    return out;
  }
  if (justification_length(justification) < min_justification) {
    out.result = Redeem::no_justification;
    return out;
  }
  out.result = Redeem::ok;
  std::string id = override_code_id(*normalized);
  std::lock_guard lock(mu_);
  if (seen_.insert(id).second) {
    out.first_here = true;
    seen_order_.push_back(id);
    while (seen_order_.size() > max_entries_) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
  }
  int64_t grant_left = issued + grant.count() - now;
  if (grant.count() > 0 && grant_left > 0) {
    auto steady_now = clock_();
    while (!grants_.empty() &&
           (grants_.size() >= max_entries_ || grants_.front().expires <= steady_now))
      grants_.pop_front();
    grants_.push_back(GrantEntry{
        identity, Grant{id, std::string(utf8_prefix(justification, kMaxJustificationBytes)), fps},
        steady_now + std::chrono::seconds(grant_left)});
  }
  return out;
}

std::optional<OverrideBook::Grant> OverrideBook::granted(
    const std::string& identity, const std::vector<std::string>& needed) const {
  std::lock_guard lock(mu_);
  auto now = clock_();
  for (auto it = grants_.rbegin(); it != grants_.rend(); ++it) {
    if (it->identity != identity || it->expires <= now) continue;
    const auto& fps = it->grant.fingerprints;
    if (std::all_of(needed.begin(), needed.end(), [&](const std::string& fp) {
          return std::binary_search(fps.begin(), fps.end(), fp);
        }))
      return it->grant;
  }
  return std::nullopt;
}

const char* to_string(OverrideBook::Redeem r) {
  switch (r) {
    case OverrideBook::Redeem::ok:
      return "ok";
    case OverrideBook::Redeem::invalid:
      return "not valid for this identity and these values";
    case OverrideBook::Redeem::expired:
      return "expired";
    case OverrideBook::Redeem::no_justification:
      return "justification missing or too short";
  }
  return "?";
}

std::string override_instructions(const std::string& code, std::chrono::seconds ttl,
                                  size_t min_justification) {
  auto minutes = std::max<long long>(1, (ttl.count() + 59) / 60);
  return " If you must send it anyway, repeat the request with this line added to your "
         "message, replacing <your reason> with why (at least " +
         std::to_string(min_justification) + " characters): promptgate-override: " + code +
         " because <your reason> (API clients can send the header " + std::string(kOverrideHeader) +
         ": " + code +
         " because <your reason> on each request instead). The code works for you only, "
         "for these values only, for " +
         std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes") +
         "; your reason is recorded in the audit log.";
}

namespace {
std::string refusal_text(OverrideBook::Redeem r) {
  switch (r) {
    case OverrideBook::Redeem::invalid:
      // A MAC cannot tell which input differs: another identity, or other values.
      return "the code is not valid for you or for what this request contains";
    case OverrideBook::Redeem::expired:
      return "the code has expired";
    default:
      return to_string(r);
  }
}
}  // namespace

OverrideOutcome apply_override(OverrideBook& book, const OverridesConfig& config,
                               const Identity& who, const std::string& identity_key,
                               const std::vector<Finding>& findings, std::vector<Action>& actions,
                               const std::optional<OverrideRequest>& request) {
  OverrideOutcome out;
  std::vector<size_t> blocking;
  std::vector<std::string> needed;
  for (size_t i = 0; i < findings.size() && i < actions.size(); ++i) {
    if (actions[i] != Action::block) continue;
    blocking.push_back(i);
    needed.push_back(findings[i].fingerprint);
  }
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  if (blocking.empty()) {
    out.verdict = verdict_of(actions);
    return out;
  }

  auto refuse = [&](std::string reason, std::string code_id) {
    out.record = OverrideRecord{"refused", std::move(reason), std::move(code_id),
                                request ? request->justification : std::string(), needed};
  };
  bool eligible = std::all_of(blocking.begin(), blocking.end(), [&](size_t i) {
    return override_eligible(config, who, findings[i]);
  });
  if (!eligible) {
    if (request) {
      refuse(config.enabled ? "not eligible" : "overrides disabled",
             request->code.empty() ? "" : override_code_id(request->code));
      out.message =
          " The override line in this request was not applied: this request cannot "
          "be overridden.";
    }
    return out;
  }
  auto allow = [&](const char* status, std::string code_id, std::string justification) {
    // The override is for the values: every finding of a covered value goes through, also
    // where a rule that only redacts found it (elsewhere in the conversation, say).
    for (size_t i = 0; i < findings.size() && i < actions.size(); ++i)
      if (std::binary_search(needed.begin(), needed.end(), findings[i].fingerprint))
        actions[i] = Action::log;
    out.forward = true;
    out.verdict = verdict_of(actions);
    out.record = OverrideRecord{status, "", std::move(code_id), std::move(justification), needed};
  };

  // An earlier override of the same values: agents resend the conversation on every turn.
  if (auto g = book.granted(identity_key, needed)) {
    allow("granted", g->code_id, g->justification);
    return out;
  }
  if (request) {
    if (request->code_malformed) {
      refuse("malformed code", "");
      out.message =
          " The override line in this request was not applied: the code is not "
          "in the expected form (12 letters and digits).";
    } else {
      std::chrono::seconds ttl(config.ttl_seconds), grant(config.grant_seconds);
      auto checked = book.redeem(identity_key, request->code, needed, request->justification,
                                 config.min_justification, ttl, grant);
      auto r = checked.result;
      std::string code_id = override_code_id(request->code);
      if (r == OverrideBook::Redeem::ok) {
        allow(checked.first_here ? "redeemed" : "granted", code_id, request->justification);
        return out;
      }
      refuse(to_string(r), code_id);
      if (r == OverrideBook::Redeem::no_justification) {
        // The code is still valid: the user only has to add a reason.
        out.message = " The override code was not applied: give a reason of at least " +
                      std::to_string(config.min_justification) +
                      " characters after \"because\" on the same line.";
        return out;
      }
      out.message = " The override line in this request was not applied: " + refusal_text(r) + ".";
    }
  }
  std::chrono::seconds valid_for(std::max(config.ttl_seconds, config.grant_seconds));
  std::string code = book.issue(identity_key, needed);
  out.message += override_instructions(code, valid_for, config.min_justification);
  if (out.record)
    out.record->reason += "; new code " + override_code_id(code) + " offered";
  else
    out.record = OverrideRecord{"offered", "", override_code_id(code), "", needed};
  return out;
}

}  // namespace promptgate::proxy

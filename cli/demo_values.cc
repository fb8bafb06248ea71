// The generators and the check behind `promptgate demo`; see demo_values.h.
#include "cli/demo_values.h"

#include <zlib.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "detectors/same_value.h"
#include "proxy/policy.h"

namespace promptgate {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kDigits = "0123456789";
// Letters of a Medicare Beneficiary Identifier: A-Z without S, L, O, I, B, Z (CMS).
constexpr std::string_view kMbiLetters = "ACDEFGHJKMNPQRTUVWXY";

class Draw {
 public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  char from(std::string_view alphabet) { return alphabet[below(alphabet.size())]; }
  std::string from(std::string_view alphabet, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(from(alphabet));
    return out;
  }
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  // A number in [lo, hi], zero-padded to `width` digits.
  std::string number(unsigned lo, unsigned hi, int width) {
    std::string s = std::to_string(std::uniform_int_distribution<unsigned>(lo, hi)(rng_));
    return std::string(static_cast<size_t>(width) - std::min<size_t>(s.size(), width), '0') + s;
  }

 private:
  std::mt19937_64 rng_;
};

// GitHub's classic token format: ghp_ + 30 base62 characters + the CRC32 of those 30, as 6
// base62 digits.
std::string github_token(Draw& d) {
  std::string body = d.from(kBase62, 30);
  uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  std::string check(6, '0');
  for (int i = 5; i >= 0; --i, crc /= 62) check[static_cast<size_t>(i)] = kBase62[crc % 62];
  return "ghp_" + body + check;
}

// Anthropic's API key format: sk-ant-api03- + 93 base64url characters + AA.
std::string anthropic_key(Draw& d) {
  return "sk-ant-api03-" + d.from(kBase64Url, 93) + "AA";
}

// A US SSN as issued: area 001-899 but not 666, group 01-99, serial 0001-9999.
std::string us_ssn(Draw& d) {
  std::string area;
  do area = d.number(1, 899, 3);
  while (area == "666");
  return area + "-" + d.number(1, 99, 2) + "-" + d.number(1, 9999, 4);
}

// A 16-digit Visa number (prefix 4) whose last digit makes the Luhn sum a multiple of 10.
std::string visa_number(Draw& d) {
  std::string n = "4" + d.from(kDigits, 14);
  int sum = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    int digit = n[n.size() - 1 - i] - '0';
    if (i % 2 == 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return n + static_cast<char>('0' + (10 - sum % 10) % 10);
}

// A Medicare Beneficiary Identifier: 11 characters, each position from its CMS character class.
std::string medicare_mbi(Draw& d) {
  const std::string letter_or_digit = std::string(kMbiLetters) + std::string(kDigits);
  std::string m;
  m += d.from("123456789");
  m += d.from(kMbiLetters);
  m += d.from(letter_or_digit);
  m += d.from(kDigits);
  m += d.from(kMbiLetters);
  m += d.from(letter_or_digit);
  m += d.from(kDigits);
  m += d.from(kMbiLetters, 2);
  m += d.from(kDigits, 2);
  return m;
}

struct Kind {
  const char* category;
  const char* rule;
  std::function<std::string(Draw&)> make;
  const char* sentence;  // with {} where the value goes
  const char* made_of;
};

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = {
      {"credential", "github-pat-classic", github_token,
       "Please debug why git push fails with my token {}", "ghp_ + 30 base62 + CRC32 checksum"},
      {"credential", "anthropic-api-key", anthropic_key, "Use ANTHROPIC_API_KEY={} for the tests",
       "sk-ant-api03- + 93 base64url + AA"},
      {"pii", "us-ssn", us_ssn, "Update the record: SSN {} on file",
       "area 001-899 (not 666), group and serial not zero"},
      {"pci", "card-visa", visa_number, "Charge the card {} for the renewal",
       "prefix 4, 16 digits, Luhn check digit"},
      {"phi", "medicare-mbi", medicare_mbi, "Patient Medicare MBI {} is eligible for Part B",
       "CMS MBI format: 11 characters, per-position classes"},
  };
  return all;
}

std::string fill(std::string_view sentence, const std::string& value) {
  std::string out(sentence);
  out.replace(out.find("{}"), 2, value);
  return out;
}

// True when the request body carrying `text` is blocked, with `rule` among the blocking findings.
bool blocked(Scanner& scanner, const proxy::ProxyConfig& config, const std::string& rule,
             const std::string& text) {
  ScanResult r = scanner.scan(demo_request_body(text), InputFormat::json);
  const std::string host = "api.anthropic.com";
  proxy::RequestDecision d = proxy::decide(config, config.policy_for({}, host), host, r.findings,
                                           config.signed_body_host(host));
  if (d.verdict != proxy::Verdict::block) return false;
  for (size_t i = 0; i < r.findings.size(); ++i)
    if (matched_by(r.findings[i], rule) && d.actions[i] == Action::block) return true;
  return false;
}

}  // namespace

std::string demo_request_body(const std::string& text) {
  nlohmann::ordered_json body = {{"model", "claude-sonnet-4-5"},
                                 {"max_tokens", 64},
                                 {"messages", {{{"role", "user"}, {"content", text}}}}};
  return body.dump();
}

std::vector<DemoValue> make_demo_values(const std::shared_ptr<const RuleSet>& rules,
                                        const proxy::ProxyConfig& config, uint64_t seed) {
  Scanner scanner(rules, FingerprintKey::from_passphrase("promptgate demo"));
  Draw draw(seed);
  std::vector<DemoValue> out;
  for (const Kind& k : kinds()) {
    // A draw may look like a placeholder ("...todo...", a long sequential run) or be a published
    // example number; the rules skip those, so draw again. 200 misses in a row mean the rule
    // itself does not block under this config.
    bool made = false;
    for (int attempt = 0; attempt < 200 && !made; ++attempt) {
      std::string value = k.make(draw);
      std::string text = fill(k.sentence, value);
      if (!blocked(scanner, config, k.rule, text)) continue;
      out.push_back({k.category, k.rule, value, text, k.made_of});
      made = true;
    }
    if (!made)
      throw std::runtime_error(std::string("no value of rule '") + k.rule +
                               "' is blocked by this configuration (is the rule loaded, and its "
                               "action block?)");
  }
  return out;
}

}  // namespace promptgate

// Stand-ins of the same shape as a secret; see standin.h.
#include "detectors/standin.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

#include "detectors/validators.h"

namespace promptgate {
namespace {

// --- deterministic random choices ------------------------------------------------------------

// A byte stream keyed by the conversation key, the value and the attempt: seed = HMAC(key,
// label | attempt | value), block i = HMAC(seed, i). The value itself is only hashed once.
class ChoiceStream {
 public:
  ChoiceStream(std::span<const unsigned char> key, std::string_view original, uint32_t attempt) {
    std::string msg = "promptgate-standin-v1";
    msg.push_back('\0');
    for (int i = 0; i < 4; ++i) msg.push_back(static_cast<char>((attempt >> (8 * i)) & 0xff));
    msg.append(original);
    unsigned int len = 0;
    static const unsigned char kNoKey[1] = {0};
    const unsigned char* k = key.empty() ? kNoKey : key.data();
    bool ok = HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
                   reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), seed_.data(),
                   &len) != nullptr;
    OPENSSL_cleanse(msg.data(), msg.size());
    if (!ok) throw std::runtime_error("stand-in: HMAC-SHA256 failed");
  }
  ~ChoiceStream() {
    OPENSSL_cleanse(seed_.data(), seed_.size());
    OPENSSL_cleanse(block_.data(), block_.size());
  }
  ChoiceStream(const ChoiceStream&) = delete;
  ChoiceStream& operator=(const ChoiceStream&) = delete;

  uint8_t byte() {
    if (used_ == block_.size()) refill();
    return block_[used_++];
  }
  // Uniform in [0, n), n <= 256, by rejection so no value is favoured.
  uint32_t below(uint32_t n) {
    uint32_t limit = 256 - 256 % n;
    for (;;) {
      uint32_t b = byte();
      if (b < limit) return b % n;
    }
  }
  char pick(std::string_view alphabet) {
    return alphabet[below(static_cast<uint32_t>(alphabet.size()))];
  }

 private:
  void refill() {
    unsigned char counter[8];
    for (int i = 0; i < 8; ++i)
      counter[i] = static_cast<unsigned char>((blocks_ >> (8 * i)) & 0xff);
    ++blocks_;
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), seed_.data(), static_cast<int>(seed_.size()), counter, sizeof counter,
              block_.data(), &len))
      throw std::runtime_error("stand-in: HMAC-SHA256 failed");
    used_ = 0;
  }
  std::array<unsigned char, 32> seed_{};
  std::array<unsigned char, 32> block_{};
  size_t used_ = 32;
  uint64_t blocks_ = 0;
};

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kHexLower = "abcdef";
constexpr std::string_view kHexUpper = "ABCDEF";
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase32Lower = "abcdefghijklmnopqrstuvwxyz234567";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_alpha(char c) {
  return is_lower(c) || is_upper(c);
}
// Printable ASCII that JSON carries as is.
bool json_plain(char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}
char fold(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}

// --- the literal frame of a pattern ----------------------------------------------------------

struct Token {
  enum Kind { literal, zero_width, klass, group, other } kind = other;
  std::string_view text;  // the literal character, the class body or the group body
  bool quantified = false;
};

// Index one past the `]` closing the class that starts at `at` ('[').
size_t class_end(std::string_view re, size_t at) {
  size_t j = at + 1;
  if (j < re.size() && re[j] == '^') ++j;
  if (j < re.size() && re[j] == ']') ++j;
  while (j < re.size() && re[j] != ']') j += re[j] == '\\' ? 2 : 1;
  return std::min(j + 1, re.size());
}

// Index one past the `)` closing the group that starts at `at` ('(').
size_t group_end(std::string_view re, size_t at) {
  int depth = 0;
  size_t j = at;
  while (j < re.size()) {
    char c = re[j];
    if (c == '\\') {
      j += 2;
    } else if (c == '[') {
      j = class_end(re, j);
    } else {
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) return j + 1;
      ++j;
    }
  }
  return re.size();
}

// A flat token list of a (sub)pattern; `alternation` is set when it has a top-level `|`.
std::vector<Token> tokenize_pattern(std::string_view re, bool& alternation) {
  std::vector<Token> out;
  alternation = false;
  size_t i = 0;
  while (i < re.size()) {
    Token t;
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char n = re[i + 1];
      if (std::string_view("bBAz").find(n) != std::string_view::npos) {
        t.kind = Token::zero_width;
      } else if (is_alpha(n) || is_digit(n)) {
        t.kind = Token::other;  // \d, \w, \s, \x41, back-references...
      } else {
        t.kind = Token::literal;
        t.text = re.substr(i + 1, 1);
      }
      i += 2;
    } else if (c == '[') {
      size_t e = class_end(re, i);
      t.kind = Token::klass;
      t.text = re.substr(i + 1, e >= i + 2 ? e - i - 2 : 0);
      i = e;
    } else if (c == '(') {
      size_t e = group_end(re, i);
      t.kind = Token::group;
      t.text = re.substr(i + 1, e >= i + 2 ? e - i - 2 : 0);
      i = e;
    } else if (c == '^' || c == '$') {
      t.kind = Token::zero_width;
      ++i;
    } else if (c == '|') {
      alternation = true;
      t.kind = Token::other;
      ++i;
    } else if (c == '.' || c == '?' || c == '*' || c == '+' || c == '{' || c == ')') {
      t.kind = Token::other;
      ++i;
    } else {
      t.kind = Token::literal;
      t.text = re.substr(i, 1);
      ++i;
    }
    if (i < re.size() && (re[i] == '?' || re[i] == '*' || re[i] == '+' || re[i] == '{')) {
      t.quantified = true;
      if (re[i] == '{') {
        size_t close = re.find('}', i);
        i = close == std::string_view::npos ? re.size() : close + 1;
      } else {
        ++i;
      }
      if (i < re.size() && (re[i] == '?' || re[i] == '+')) ++i;
    }
    out.push_back(t);
  }
  return out;
}

// The literal text a pattern must match, or nullopt-like false when it is not pure literal.
bool pure_literal(std::string_view re, std::string& text) {
  bool alternation = false;
  text.clear();
  for (const auto& t : tokenize_pattern(re, alternation)) {
    if (t.kind != Token::literal || t.quantified) return false;
    text.append(t.text);
  }
  return !alternation && !text.empty();
}

// Splits a group body at its top-level `|`.
std::vector<std::string_view> alternatives(std::string_view body) {
  std::vector<std::string_view> out;
  size_t from = 0, i = 0;
  int depth = 0;
  while (i < body.size()) {
    char c = body[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '[') {
      i = class_end(body, i);
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == '|' && depth == 0) {
      out.push_back(body.substr(from, i - from));
      from = i + 1;
    }
    ++i;
  }
  out.push_back(body.substr(from));
  return out;
}

// A class that lists a few characters (`[baprs]`, `[sb]`): the choice names a token type.
bool enumerated_class_contains(std::string_view body, char c) {
  if (body.empty() || body.size() > 8 || body[0] == '^') return false;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\') return false;
    if (body[i] == '-' && i > 0 && i + 1 < body.size()) return false;  // a range
  }
  return body.find(c) != std::string_view::npos;
}

size_t literal_head(const std::vector<Token>& tokens, std::string_view original) {
  size_t pos = 0;
  for (const auto& t : tokens) {
    if (t.kind == Token::zero_width) continue;
    if (t.quantified || pos >= original.size()) break;
    if (t.kind == Token::literal) {
      if (fold(original[pos]) != fold(t.text[0])) break;
      ++pos;
    } else if (t.kind == Token::klass) {
      if (!enumerated_class_contains(t.text, original[pos])) break;
      ++pos;
    } else if (t.kind == Token::group) {
      std::string_view body = t.text;
      if (body.substr(0, 2) == "?:") {
        body.remove_prefix(2);
      } else if (body.substr(0, 3) == "?i:") {
        body.remove_prefix(3);
      } else if (!body.empty() && body[0] == '?') {
        break;
      }
      bool matched = false;
      std::string lit;
      for (auto alt : alternatives(body)) {
        if (!pure_literal(alt, lit) || original.size() - pos < lit.size()) continue;
        bool same = true;
        for (size_t k = 0; k < lit.size() && same; ++k)
          same = fold(original[pos + k]) == fold(lit[k]);
        if (same) {
          pos += lit.size();
          matched = true;
          break;
        }
      }
      if (!matched) break;
    } else {
      break;
    }
  }
  return pos;
}

size_t literal_tail(const std::vector<Token>& tokens, std::string_view original) {
  size_t kept = 0;
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    if (it->kind == Token::zero_width && !it->quantified) continue;
    if (it->kind != Token::literal || it->quantified || kept >= original.size()) break;
    if (fold(original[original.size() - 1 - kept]) != fold(it->text[0])) break;
    ++kept;
  }
  return kept;
}

// --- shapes ---------------------------------------------------------------------------------

// Replaces letters and digits of out[from, to) by random ones of the same class. Each run of
// letters and digits (a segment between punctuation) keeps its alphabet: hex stays hex, and
// upper-case base32 ([A-Z2-7], AWS key ids) keeps its digit range.
void fill_same_class(std::string& out, size_t from, size_t to, ChoiceStream& rng) {
  size_t i = from;
  while (i < to) {
    if (!is_alpha(out[i]) && !is_digit(out[i])) {
      if (!json_plain(out[i])) out[i] = rng.pick(kLower);  // a quote, backslash, control byte
      ++i;
      continue;
    }
    size_t end = i;
    bool hex = true, base32 = true;
    for (; end < to && (is_alpha(out[end]) || is_digit(out[end])); ++end) {
      char c = out[end];
      if (is_alpha(c) && fold(c) > 'f') hex = false;
      if (is_lower(c) || c == '0' || c == '1' || c == '8' || c == '9') base32 = false;
    }
    for (; i < end; ++i) {
      char c = out[i];
      if (is_digit(c)) {
        out[i] = rng.pick(base32 && !hex ? std::string_view("234567") : kDigits);
      } else if (is_lower(c)) {
        out[i] = rng.pick(hex ? kHexLower : kLower);
      } else {
        out[i] = rng.pick(hex ? kHexUpper : kUpper);
      }
    }
  }
}

std::vector<size_t> digit_positions(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i)
    if (is_digit(s[i])) out.push_back(i);
  return out;
}

// Luhn check digit for digits d[0..n) (the check digit itself not included).
int luhn_check_digit(const std::vector<int>& d) {
  int sum = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    int v = d[d.size() - 1 - i];
    if (i % 2 == 0) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return (10 - sum % 10) % 10;
}

bool luhn_shape(std::string& out, ChoiceStream& rng, const std::vector<int>& fixed_prefix,
                size_t keep) {
  auto pos = digit_positions(out);
  if (pos.size() < 2 || pos.size() <= keep) return false;
  std::vector<int> d;
  for (size_t k = 0; k + 1 < pos.size(); ++k) {
    if (k >= keep) out[pos[k]] = rng.pick(kDigits);
    d.push_back(out[pos[k]] - '0');
  }
  std::vector<int> full = fixed_prefix;
  full.insert(full.end(), d.begin(), d.end());
  out[pos.back()] = static_cast<char>('0' + luhn_check_digit(full));
  return true;
}

bool crc32_shape(std::string& out, ChoiceStream& rng) {
  auto underscore = out.find('_');
  if (underscore == std::string::npos || out.size() - underscore - 1 != 36) return false;
  size_t body = underscore + 1;
  for (size_t i = body; i < body + 30; ++i)
    out[i] = is_digit(out[i]) || is_alpha(out[i]) ? out[i] : rng.pick(kBase62);
  fill_same_class(out, body, body + 30, rng);
  uint32_t crc =
      static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(out.data() + body), 30));
  for (int i = 5; i >= 0; --i) {
    out[body + 30 + static_cast<size_t>(i)] = kBase62[crc % 62];
    crc /= 62;
  }
  return true;
}

// 9xx-GG-SSSS with GG in 01..49: never issued as an SSN (area 900-999) and outside every ITIN
// group, so the stand-in can be nobody's number.
bool ssn_shape(std::string& out, ChoiceStream& rng, bool itin) {
  auto pos = digit_positions(out);
  if (pos.size() != 9) return false;
  out[pos[0]] = '9';
  out[pos[1]] = rng.pick(kDigits);
  out[pos[2]] = rng.pick(kDigits);
  int group;
  if (itin) {
    static constexpr int kItinGroups[] = {
        50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 70, 71, 72, 73, 74, 75,
        76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 94, 95, 96, 97, 98, 99};
    group = kItinGroups[rng.below(std::size(kItinGroups))];
  } else {
    group = 1 + static_cast<int>(rng.below(49));
  }
  out[pos[3]] = static_cast<char>('0' + group / 10);
  out[pos[4]] = static_cast<char>('0' + group % 10);
  do {
    for (size_t k = 5; k < 9; ++k) out[pos[k]] = rng.pick(kDigits);
  } while (out[pos[5]] == '0' && out[pos[6]] == '0' && out[pos[7]] == '0' && out[pos[8]] == '0');
  return true;
}

bool dea_shape(std::string& out, ChoiceStream& rng) {
  if (out.size() != 9 || !is_alpha(out[0]) || !is_alpha(out[1])) return false;
  out[1] = rng.pick(kUpper);
  int d[7];
  for (int i = 0; i < 6; ++i) {
    if (!is_digit(out[2 + static_cast<size_t>(i)])) return false;
    out[2 + static_cast<size_t>(i)] = rng.pick(kDigits);
    d[i] = out[2 + static_cast<size_t>(i)] - '0';
  }
  if (!is_digit(out[8])) return false;
  d[6] = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10;
  out[8] = static_cast<char>('0' + d[6]);
  return true;
}

bool aba_shape(std::string& out, ChoiceStream& rng) {
  auto pos = digit_positions(out);
  if (pos.size() != 9) return false;
  int d[9];
  for (size_t k = 0; k < 8; ++k) {
    if (k >= 2) out[pos[k]] = rng.pick(kDigits);
    d[k] = out[pos[k]] - '0';
  }
  int sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5]);
  out[pos[8]] = static_cast<char>('0' + (10 - sum % 10) % 10);
  return true;
}

bool iban_shape(std::string& out, ChoiceStream& rng) {
  std::vector<size_t> pos;
  for (size_t i = 0; i < out.size(); ++i)
    if (is_digit(out[i]) || is_alpha(out[i])) pos.push_back(i);
  if (pos.size() < 15 || !is_alpha(out[pos[0]]) || !is_alpha(out[pos[1]])) return false;
  for (size_t k = 4; k < pos.size(); ++k) {
    char& c = out[pos[k]];
    c = is_digit(c) ? rng.pick(kDigits) : rng.pick(kUpper);
  }
  // Check digits: 98 - (BBAN + country + "00") mod 97.
  std::string rearranged;
  for (size_t k = 4; k < pos.size(); ++k) rearranged.push_back(out[pos[k]]);
  rearranged.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(out[pos[0]]))));
  rearranged.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(out[pos[1]]))));
  rearranged += "00";
  int rem = 0;
  for (char ch : rearranged)
    rem = is_digit(ch) ? (rem * 10 + (ch - '0')) % 97 : (rem * 100 + (ch - 'A' + 10)) % 97;
  int check = 98 - rem;
  out[pos[2]] = static_cast<char>('0' + check / 10);
  out[pos[3]] = static_cast<char>('0' + check % 10);
  return true;
}

bool nino_shape(std::string& out, ChoiceStream& rng) {
  if (out.size() < 9 || !is_alpha(out[0]) || !is_alpha(out[1])) return false;
  for (size_t i = 2; i < out.size(); ++i) {
    if (is_digit(out[i])) out[i] = rng.pick(kDigits);
  }
  if (is_alpha(out.back())) out.back() = rng.pick("ABCD");
  return true;
}

bool jwt_shape(std::string& out, ChoiceStream& rng) {
  auto dot = out.find('.');
  if (dot == std::string::npos) return false;
  // The header names the algorithm only; the payload keeps the `eyJ` that starts every JSON
  // object in base64url.
  size_t from = out.compare(dot + 1, 3, "eyJ") == 0 ? dot + 4 : dot + 1;
  fill_same_class(out, from, out.size(), rng);
  return true;
}

bool has_validator(const Rule& rule, std::string_view name) {
  return std::find(rule.validators.begin(), rule.validators.end(), name) != rule.validators.end();
}

std::string email_standin(ChoiceStream& rng) {
  std::string out = "user-";
  for (int i = 0; i < 10; ++i) out.push_back("0123456789abcdef"[rng.below(16)]);
  return out + "@example.com";
}

std::string short_standin(ChoiceStream& rng) {
  std::string out = "tok_";
  for (int i = 0; i < 8; ++i) out.push_back(rng.pick(kBase32Lower));
  return out;
}

// One candidate of the rule's shape, drawing from `rng`.
std::string shaped(const Rule& rule, std::string_view original, ChoiceStream& rng) {
  if (original.size() < kMinStandinLength) return short_standin(rng);
  if (rule.id.find("email") != std::string::npos && original.find('@') != std::string_view::npos)
    return email_standin(rng);
  std::string out(original);
  bool shaped_by_checksum = false;
  if (has_validator(rule, "github_crc32") || has_validator(rule, "base62_crc32")) {
    shaped_by_checksum = crc32_shape(out, rng);
  } else if (has_validator(rule, "npi_luhn")) {
    shaped_by_checksum = luhn_shape(out, rng, {8, 0, 8, 4, 0}, 1);
  } else if (has_validator(rule, "luhn")) {
    shaped_by_checksum = luhn_shape(out, rng, {}, 1);  // keep the first digit (card brand)
  } else if (has_validator(rule, "us_ssn_area")) {
    shaped_by_checksum = ssn_shape(out, rng, false);
  } else if (has_validator(rule, "us_itin")) {
    shaped_by_checksum = ssn_shape(out, rng, true);
  } else if (has_validator(rule, "dea_checksum")) {
    shaped_by_checksum = dea_shape(out, rng);
  } else if (has_validator(rule, "aba_routing")) {
    shaped_by_checksum = aba_shape(out, rng);
  } else if (has_validator(rule, "iban_mod97")) {
    shaped_by_checksum = iban_shape(out, rng);
  } else if (has_validator(rule, "uk_nino")) {
    shaped_by_checksum = nino_shape(out, rng);
  } else if (has_validator(rule, "jwt")) {
    shaped_by_checksum = jwt_shape(out, rng);
  }
  if (!shaped_by_checksum) {
    StandinFrame frame = standin_frame(rule.pattern, original);
    fill_same_class(out, frame.head, out.size() - frame.tail, rng);
  }
  for (char& c : out)
    if (!json_plain(c)) c = rng.pick(kLower);
  return out;
}

}  // namespace

StandinFrame standin_frame(const std::string& pattern, std::string_view original) {
  std::string_view re = pattern;
  static constexpr std::string_view kSecretGroup = "(?P<secret>";
  auto secret = re.find(kSecretGroup);
  if (secret != std::string_view::npos) {
    size_t end = group_end(re, secret);
    size_t body = secret + kSecretGroup.size();
    re = re.substr(body, end > body ? end - body - 1 : 0);
  }
  StandinFrame frame;
  bool alternation = false;
  auto tokens = tokenize_pattern(re, alternation);
  if (alternation) return frame;
  frame.head = literal_head(tokens, original);
  frame.tail = literal_tail(tokens, original);
  // At least half of the value (and at least kMinStandinLength characters, where it has them)
  // is drawn anew: the frame is format, the rest carries the stand-in's randomness.
  size_t drawn = std::max(original.size() / 2, std::min(original.size(), kMinStandinLength));
  if (frame.head + frame.tail + drawn > original.size()) frame.tail = 0;
  if (frame.head + drawn > original.size()) frame.head = original.size() - drawn;
  return frame;
}

std::string make_standin(const Rule& rule, std::string_view original,
                         std::span<const unsigned char> conversation_key, uint32_t attempt) {
  ChoiceStream rng(conversation_key, original, attempt);
  // A draw can reproduce the value only when it has very few free characters; drawing again
  // from the same stream keeps the result deterministic.
  for (int tries = 0; tries < 16; ++tries) {
    std::string out = shaped(rule, original, rng);
    if (out != original) return out;
    OPENSSL_cleanse(out.data(), out.size());
  }
  for (;;) {
    std::string out = short_standin(rng);
    if (out != original) return out;
  }
}

}  // namespace promptgate

#include "detectors/validators.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace promptgate {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Collects the digits of s, skipping spaces and dashes; false if anything else appears.
template <size_t N>
bool digits_of(std::string_view s, std::array<int, N>& out, size_t& count) {
  count = 0;
  for (char c : s) {
    if (is_digit(c)) {
      if (count == N) return false;
      out[count++] = c - '0';
    } else if (c != ' ' && c != '-') {
      return false;
    }
  }
  return true;
}

bool luhn_digits(const int* d, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = d[n - 1 - i];
    if (i % 2 == 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 == 0;
}

struct NamedValidator {
  const char* name;
  Validator fn;
};

constexpr NamedValidator kValidators[] = {
    {"luhn", luhn_valid},
    {"npi_luhn", npi_valid},
    {"dea_checksum", dea_valid},
    {"us_ssn_area", us_ssn_valid},
    {"us_itin", us_itin_valid},
    {"iban_mod97", iban_valid},
    {"aba_routing", aba_routing_valid},
    {"github_crc32", base62_crc32_valid},
    {"base62_crc32", base62_crc32_valid},
    {"jwt", jwt_valid},
    {"uk_nino", uk_nino_valid},
};

// ASCII lower-casing without the locale lookup std::tolower makes for every byte compared.
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

}  // namespace

Validator find_validator(std::string_view name) {
  for (const auto& v : kValidators)
    if (name == v.name) return v.fn;
  return nullptr;
}

std::string known_validator_names() {
  std::string out;
  for (const auto& v : kValidators) {
    if (!out.empty()) out += ", ";
    out += v.name;
  }
  return out;
}

bool luhn_valid(std::string_view s) {
  std::array<int, 32> d;
  size_t n;
  if (!digits_of(s, d, n) || n < 2) return false;
  return luhn_digits(d.data(), n);
}

bool npi_valid(std::string_view s) {
  std::array<int, 15> d;
  size_t n;
  if (!digits_of(s, d, n) || n != 10) return false;
  std::array<int, 15> full = {8, 0, 8, 4, 0};
  std::copy(d.begin(), d.begin() + 10, full.begin() + 5);
  return luhn_digits(full.data(), 15);
}

bool dea_valid(std::string_view s) {
  if (s.size() != 9 || !std::isalpha(static_cast<unsigned char>(s[0])) ||
      !std::isalpha(static_cast<unsigned char>(s[1])))
    return false;
  int d[7];
  for (int i = 0; i < 7; ++i) {
    if (!is_digit(s[2 + i])) return false;
    d[i] = s[2 + i] - '0';
  }
  int sum = d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5]);
  return sum % 10 == d[6];
}

bool us_ssn_valid(std::string_view s) {
  std::array<int, 9> d;
  size_t n;
  if (!digits_of(s, d, n) || n != 9) return false;
  int area = d[0] * 100 + d[1] * 10 + d[2];
  int group = d[3] * 10 + d[4];
  int serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
  // Numbers published in advertising and documentation.
  if ((area == 78 && group == 5 && serial == 1120) ||
      (area == 219 && group == 9 && serial == 9999) ||
      (area == 123 && group == 45 && serial == 6789))
    return false;
  return true;
}

bool us_itin_valid(std::string_view s) {
  std::array<int, 9> d;
  size_t n;
  if (!digits_of(s, d, n) || n != 9 || d[0] != 9) return false;
  int g = d[3] * 10 + d[4];
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) ||
         (g >= 94 && g <= 99);
}

bool iban_valid(std::string_view s) {
  struct CountryLength {
    const char cc[3];
    int len;
  };
  static constexpr CountryLength kLengths[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
      {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24},
      {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18},
      {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
      {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
      {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22},
      {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
      {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
      {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
  };
  std::string c;
  for (char ch : s) {
    if (ch == ' ' || ch == '-') continue;
    if (!std::isalnum(static_cast<unsigned char>(ch))) return false;
    c.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  if (c.size() < 15 || c.size() > 34) return false;
  int expected = 0;
  for (const auto& cl : kLengths)
    if (c.compare(0, 2, cl.cc) == 0) expected = cl.len;
  if (expected == 0 || static_cast<int>(c.size()) != expected) return false;
  std::string rearranged = c.substr(4) + c.substr(0, 4);
  int rem = 0;
  for (char ch : rearranged) {
    if (is_digit(ch)) {
      rem = (rem * 10 + (ch - '0')) % 97;
    } else {
      int v = ch - 'A' + 10;
      rem = (rem * 100 + v) % 97;
    }
  }
  return rem == 1;
}

bool aba_routing_valid(std::string_view s) {
  std::array<int, 9> d;
  size_t n;
  if (!digits_of(s, d, n) || n != 9) return false;
  int prefix = d[0] * 10 + d[1];
  if (!((prefix <= 12) || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) ||
        prefix == 80))
    return false;
  int sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
  return sum % 10 == 0;
}

bool base62_crc32_valid(std::string_view token) {
  static constexpr std::string_view kAlphabet =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  auto underscore = token.find('_');
  if (underscore == std::string_view::npos) return false;
  std::string_view body = token.substr(underscore + 1);
  if (body.size() != 36) return false;
  std::string_view random = body.substr(0, 30), check = body.substr(30);
  uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(random.data()), static_cast<uInt>(random.size())));
  char enc[6];
  for (int i = 5; i >= 0; --i) {
    enc[i] = kAlphabet[crc % 62];
    crc /= 62;
  }
  return std::string_view(enc, 6) == check;
}

bool jwt_valid(std::string_view s) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos || dot < 10) return false;
  std::string header(s.substr(0, dot));
  for (char& c : header) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (header.size() % 4) header.push_back('=');
  std::string decoded(header.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(header.data()),
                          static_cast<int>(header.size()));
  if (n <= 0) return false;
  decoded.resize(static_cast<size_t>(n));
  while (!decoded.empty() && decoded.back() == '\0') decoded.pop_back();
  auto j = nlohmann::json::parse(decoded, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("alg");
}

bool uk_nino_valid(std::string_view s) {
  if (s.size() < 2) return false;
  char a = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  char b = static_cast<char>(std::toupper(static_cast<unsigned char>(s[1])));
  if (std::string_view("DFIQUV").find(a) != std::string_view::npos) return false;
  if (std::string_view("DFIOQUV").find(b) != std::string_view::npos) return false;
  static constexpr const char* kBanned[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
  for (const char* p : kBanned)
    if (a == p[0] && b == p[1]) return false;
  return true;
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0, n = static_cast<double>(s.size());
  for (uint32_t c : counts) {
    if (!c) continue;
    double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool looks_like_placeholder(std::string_view s) {
  static constexpr std::string_view kMarkers[] = {
      "example",     "xxxx",       "****",       "....",          "<",         ">",
      "${",          "{{",         "}}",         "changeme",      "change_me", "change-me",
      "your_",       "your-",      "yourtoken",  "yourkey",       "yourpass",  "placeholder",
      "dummy",       "redact",     "os.environ", "process.env",   "getenv",    "env[",
      "secret_here", "token_here", "key_here",   "password_here", "insert_",   "replace_me",
      "replaceme",   "fixme",      "todo",       "sample",        "fake",      "not_a_real",
      "notreal"};
  for (auto m : kMarkers)
    if (icontains(s, m)) return true;
  if (s.size() >= 2 && (s.front() == '$' || s.front() == '%')) return true;  // $VAR, %VAR%
  // One character repeated, or mostly so.
  if (!s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return c == s.front(); }))
    return true;
  // A run of 8 or more sequential characters (01234567, abcdefgh).
  int run = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    run = (s[i] == s[i - 1] + 1) ? run + 1 : 1;
    if (run >= 8) return true;
  }
  // Very few distinct characters for a long value ("abababab...").
  if (s.size() >= 12) {
    std::array<bool, 256> seen{};
    int distinct = 0;
    for (unsigned char c : s)
      if (!seen[c]) seen[c] = true, ++distinct;
    if (distinct <= 3) return true;
  }
  return false;
}

}  // namespace promptgate

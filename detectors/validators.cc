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
    {"jwt_base64", jwt_base64_valid},
    {"us_mbi", us_mbi_valid},
};

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

bool jwt_base64_valid(std::string_view s) {
  // The whole token: a JWT has three parts, and a cut-off one is no credential.
  std::string in(s.substr(0, s.size() & ~size_t{3}));
  std::string decoded(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n <= 0) return false;
  decoded.resize(static_cast<size_t>(n));
  auto dot = decoded.find('.');
  if (dot == std::string::npos || decoded.find('.', dot + 1) == std::string::npos) return false;
  return jwt_valid(decoded);
}

bool us_mbi_valid(std::string_view s) {
  // CMS's positional alphabet: letters exclude S, L, O, I, B, Z; position 1 is 1-9.
  constexpr std::string_view kLetters = "ACDEFGHJKMNPQRTUVWXY";
  enum Kind { nonzero, letter, either, digit };
  constexpr Kind kPos[11] = {nonzero, letter, either, digit, letter, either,
                             digit,   letter, letter, digit, digit};
  size_t i = 0;
  for (char c : s) {
    if (c == '-' || c == ' ') continue;
    if (i == 11) return false;
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    bool dig = is_digit(u), let = kLetters.find(u) != std::string_view::npos;
    switch (kPos[i++]) {
      case nonzero:
        if (!dig || u == '0') return false;
        break;
      case letter:
        if (!let) return false;
        break;
      case either:
        if (!let && !dig) return false;
        break;
      case digit:
        if (!dig) return false;
        break;
    }
  }
  return i == 11;
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

}  // namespace promptgate

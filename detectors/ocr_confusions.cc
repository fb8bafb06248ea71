// OCR tolerance for the confirm stage; see ocr_confusions.h.
#include "detectors/ocr_confusions.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace promptgate {
namespace {

// Characters OCR reads for one another, one class per string (measured on rendered terminal
// screenshots read by Tesseract 5: 0/O/Q, 1/l/I/J, and letters whose capital has the same
// shape). A class that starts with a digit is also folded inside digit groups.
constexpr std::string_view kClasses[] = {"0OoQ", "1lIiLJ", "5Ss", "2Zz", "8B", "Cc", "Kk",
                                         "Pp",   "Uu",     "Vv",  "Ww",  "Xx", "Yy"};
constexpr int kMinBitsLeft = 18;
constexpr size_t kMinJoinedRun = 12;  // a space next to a run this long is dropped
constexpr size_t kMinTokenRun = 16;   // a run this long after short prefixes is a token
constexpr size_t kMaxPrefixRun = 10;  // odds a random value passes after all the variants tried

std::string_view class_of(char c) {
  for (std::string_view cls : kClasses)
    if (cls.find(c) != std::string_view::npos) return cls;
  return {};
}

struct Search {
  const Validator* validators;
  size_t count;
  std::vector<size_t> positions;  // where the confusable characters are
  std::string candidate;
  uint64_t budget;

  bool passes() {
    for (size_t i = 0; i < count; ++i)
      if (!validators[i](candidate)) return false;
    return true;
  }

  // Swaps exactly `changes` more characters at positions from index `from` on.
  bool vary(size_t from, int changes) {
    if (changes == 0) {
      if (budget == 0) return false;
      --budget;
      return passes();
    }
    for (size_t k = from; k + static_cast<size_t>(changes) <= positions.size(); ++k) {
      char& c = candidate[positions[k]];
      const char original = c;
      for (char alt : class_of(original)) {
        if (alt == original) continue;
        c = alt;
        if (vary(k + 1, changes - 1)) return true;
        if (budget == 0) break;
      }
      c = original;
      if (budget == 0) return false;
    }
    return false;
  }
};

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

int validator_check_bits(Validator v) {
  if (v == base62_crc32_valid) return 32;
  if (v == iban_valid) return 6;
  if (v == luhn_valid || v == npi_valid || v == dea_valid || v == aba_routing_valid) return 3;
  return 0;
}

bool undo_ocr_confusions(std::string_view secret, const Validator* validators, size_t count,
                         std::string& corrected) {
  int bits = 0;
  for (size_t i = 0; i < count; ++i) bits += validator_check_bits(validators[i]);
  if (count == 0 || bits <= kMinBitsLeft) return false;
  Search s{
      validators, count, {}, std::string(secret), uint64_t{1} << std::min(bits - kMinBitsLeft, 40)};
  for (size_t i = 0; i < secret.size(); ++i)
    if (!class_of(secret[i]).empty()) s.positions.push_back(i);
  for (int changes = 1; changes <= static_cast<int>(s.positions.size()) && s.budget > 0;
       ++changes) {
    if (s.vary(0, changes)) {
      corrected = std::move(s.candidate);
      return true;
    }
  }
  return false;
}

std::string fold_ocr_digits(std::string_view text) {
  std::string out;
  auto confusable = [](char c) {
    std::string_view cls = class_of(c);
    return !cls.empty() && is_digit(cls[0]) && !is_digit(c);
  };
  // Runs of digits and confusable letters that hold a digit and touch no other letter.
  for (size_t i = 0; i < text.size();) {
    if (!is_digit(text[i]) && !confusable(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    bool digit = false, letter = false;
    for (; end < text.size() && (is_digit(text[end]) || confusable(text[end])); ++end) {
      digit = digit || is_digit(text[end]);
      letter = letter || confusable(text[end]);
    }
    bool bordered =
        (i > 0 && is_letter(text[i - 1])) || (end < text.size() && is_letter(text[end]));
    if (digit && letter && !bordered) {
      if (out.empty()) out.assign(text);
      for (size_t k = i; k < end; ++k)
        if (confusable(text[k])) out[k] = class_of(text[k])[0];
    }
    i = end;
  }
  return out;
}

std::string join_ocr_splits(std::string_view text) {
  auto token_char = [](char c) { return is_letter(c) || is_digit(c) || c == '_' || c == '-'; };
  auto short_prefix = [](std::string_view run) {
    return run.size() >= 2 && run.size() <= kMaxPrefixRun &&
           std::all_of(run.begin(), run.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  };
  // Runs of token characters; `joins[k]` is what stands between run k and run k + 1 when a
  // single space does.
  struct Run {
    size_t begin, end;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < text.size();) {
    if (!token_char(text[i])) {
      ++i;
      continue;
    }
    size_t b = i;
    while (i < text.size() && token_char(text[i])) ++i;
    runs.push_back({b, i});
  }
  std::vector<bool> single(runs.size(), false);  // one space between run k and run k + 1
  std::vector<char> between(runs.size(), 0);     // 0: leave, '_': restore, 'x': drop the space
  for (size_t k = 0; k + 1 < runs.size(); ++k) {
    single[k] = runs[k + 1].begin == runs[k].end + 1 && text[runs[k].end] == ' ';
    size_t left = runs[k].end - runs[k].begin, right = runs[k + 1].end - runs[k + 1].begin;
    if (single[k] && std::max(left, right) >= kMinJoinedRun) between[k] = 'x';
  }
  // "ghp Xby7...", "github pat 11AB...": short lower-case prefixes before a long run had an
  // underscore between them.
  for (size_t k = 1; k < runs.size(); ++k) {
    if (runs[k].end - runs[k].begin < kMinTokenRun) continue;
    for (size_t p = k; p-- > 0 && single[p] &&
                       short_prefix(text.substr(runs[p].begin, runs[p].end - runs[p].begin));)
      between[p] = '_';
  }
  std::string joined;
  size_t from = 0;
  for (size_t k = 0; k + 1 < runs.size(); ++k) {
    if (!between[k]) continue;
    joined.append(text.substr(from, runs[k].end - from));
    if (between[k] == '_') joined.push_back('_');
    from = runs[k].end + 1;
  }
  if (from == 0) return {};
  joined.append(text.substr(from));
  return joined;
}

}  // namespace promptgate

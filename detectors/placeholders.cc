#include "detectors/placeholders.h"

#include <algorithm>
#include <array>

namespace promptgate {
namespace {

// ASCII lower-casing without the locale lookup std::tolower makes for every byte compared.
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == y; });
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_alpha(char c) {
  return is_upper(c) || (c >= 'a' && c <= 'z');
}

// Words and template syntax that only documentation and configuration templates contain.
constexpr std::string_view kMarkers[] = {"example",
                                         "xxxx",
                                         "****",
                                         "...",
                                         "\xE2\x80\xA6",
                                         "<",
                                         ">",
                                         "${",
                                         "{{",
                                         "}}",
                                         "changeme",
                                         "change_me",
                                         "change-me",
                                         "changeit",
                                         "your",
                                         "placeholder",
                                         "dummy",
                                         "redact",
                                         "os.environ",
                                         "process.env",
                                         "getenv",
                                         "env[",
                                         "secret_here",
                                         "token_here",
                                         "key_here",
                                         "password_here",
                                         "insert_",
                                         "replace_me",
                                         "replaceme",
                                         "fixme",
                                         "todo",
                                         "sample",
                                         "fake",
                                         "not_a_real",
                                         "notreal",
                                         "qwerty",
                                         "asdfgh",
                                         "foobar",
                                         "lorem",
                                         "[password",
                                         "[token",
                                         "[secret",
                                         "[key",
                                         "[api"};

constexpr size_t kBlob = 160;
constexpr std::string_view kBlobMarkers[] = {"example", "xxxxxxxx", "....", "${", "{{", "<", ">"};

// Whole values that name a type or an absent value, as API docs and schemas write them.
constexpr std::string_view kWholeWords[] = {
    "password", "passwd", "secret", "token", "apikey",    "api_key", "api-key",
    "string",   "null",   "none",   "nil",   "undefined", "empty",   "required",
    "optional", "true",   "false",  "value", "redacted",  "hidden",  "masked"};

// A name in capitals with an underscore that names a credential: a reference to a variable
// (`password = DB_PASSWORD`), not its value.
bool variable_name(std::string_view s) {
  if (s.size() < 4 || s.find('_') == std::string_view::npos) return false;
  for (char c : s)
    if (!is_upper(c) && !is_digit(c) && c != '_') return false;
  for (std::string_view w : {"PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "API"})
    if (s.find(w) != std::string_view::npos) return true;
  return false;
}

// One character repeated 6 times, a sequential run of 8 either way, or a long stretch that is a
// short cycle (`abab...`).
bool filler_run(std::string_view s) {
  int same = 1, up = 1, down = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    same = s[i] == s[i - 1] ? same + 1 : 1;
    up = s[i] == s[i - 1] + 1 ? up + 1 : 1;
    down = s[i] + 1 == s[i - 1] ? down + 1 : 1;
    if (same >= 6 || up >= 8 || down >= 8) return true;
  }
  return false;
}

bool short_cycle(std::string_view s) {
  if (s.size() < 12) return false;
  for (size_t p = 1; p <= 4; ++p) {
    size_t i = p;
    while (i < s.size() && s[i] == s[i - p]) ++i;
    if (i == s.size()) return true;
  }
  return false;
}

// Very few distinct characters for a long value, or one character making half of it; upper and
// lower case count as one (`aAAaAa1a` is filler).
bool low_variety(std::string_view s) {
  if (s.size() < 12) return false;
  std::array<int, 256> counts{};
  int distinct = 0, top = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(lower(ch));
    if (!counts[c]++) ++distinct;
    top = std::max(top, counts[c]);
  }
  return distinct <= 3 || (s.size() >= 16 && 2 * top >= static_cast<int>(s.size()));
}

// A start or an end of 9 or more letters and digits drawn from two characters (case folded):
// the filler after a fixed prefix (`FLWSECK_TEST111aaa1a11a1`) or before a fixed suffix.
bool two_symbol_end(std::string_view s) {
  auto span = [](auto first, auto last) {
    char a = 0, b = 0;
    size_t n = 0;
    for (auto it = first; it != last; ++it, ++n) {
      char c = lower(*it);
      if (!a || c == a) {
        a = c;
      } else if (!b || c == b) {
        b = c;
      } else {
        break;
      }
    }
    return n;
  };
  return s.size() >= 9 && (span(s.begin(), s.end()) >= 9 || span(s.rbegin(), s.rend()) >= 9);
}

// Letters and digits only, case kept; at most `out.size()` of them.
template <size_t N>
std::string_view alnum_only(std::string_view s, std::array<char, N>& out) {
  size_t n = 0;
  for (char c : s)
    if ((is_alpha(c) || is_digit(c)) && n < N) out[n++] = c;
  return std::string_view(out.data(), n);
}

// For blobs: a sequential run of 8, or one character 24 times in a row (binary zeros in base64
// give runs of A a dozen long, so shorter runs say nothing).
bool blob_filler(std::string_view s) {
  int same = 1, up = 1, down = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    same = s[i] == s[i - 1] ? same + 1 : 1;
    up = s[i] == s[i - 1] + 1 ? up + 1 : 1;
    down = s[i] + 1 == s[i - 1] ? down + 1 : 1;
    if (same >= 24 || up >= 8 || down >= 8) return true;
  }
  return false;
}

}  // namespace

bool looks_like_placeholder(std::string_view s) {
  if (s.empty()) return true;
  // A long blob (a private key, a session token, base64 of binary data) has runs of `A` and
  // any four-letter word somewhere: only template syntax and a mostly-filler body count.
  if (s.size() > kBlob) {
    for (auto m : kBlobMarkers)
      if (icontains(s, m)) return true;
    std::array<char, 4096> buf;
    std::string_view letters = alnum_only(s, buf);
    return low_variety(s) || low_variety(letters) || blob_filler(letters);
  }
  for (auto m : kMarkers)
    if (icontains(s, m)) return true;
  for (auto w : kWholeWords)
    if (iequals(s, w)) return true;
  if (s.front() == '$' || s.front() == '%') return true;  // $VAR, %VAR%
  if (variable_name(s) || filler_run(s) || low_variety(s)) return true;
  // The letters and digits alone: separators and symbols (`aa1a-A&aa+a`) must not hide filler.
  std::array<char, kBlob> buf;
  std::string_view letters = alnum_only(s, buf);
  if (filler_run(letters) || short_cycle(letters) || low_variety(letters) ||
      two_symbol_end(letters))
    return true;
  // The same tests on each alphanumeric run: a fixed prefix (`sk-ant-api03-`, `glsa_`) or a
  // check part (`_AAAAAAAA`) must not hide a filler body.
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (is_alpha(s[j]) || is_digit(s[j]))) ++j;
    if (j > i && (short_cycle(s.substr(i, j - i)) || low_variety(s.substr(i, j - i)))) return true;
    i = j + 1;
  }
  return false;
}

bool placeholder_in_context(std::string_view before, std::string_view s, std::string_view after) {
  if (looks_like_placeholder(s)) return true;
  auto starts = [](std::string_view t, std::string_view p) { return t.substr(0, p.size()) == p; };
  auto ends = [](std::string_view t, std::string_view p) {
    return t.size() >= p.size() && t.substr(t.size() - p.size()) == p;
  };
  // Cut off for display: `sk-ant-api03-AbCd...`, `...9f3c`.
  if (starts(after, "...") || starts(after, "\xE2\x80\xA6") || ends(before, "...") ||
      ends(before, "\xE2\x80\xA6"))
    return true;
  // A template expression: `${...}`, `{{ ... }}`, `$(...)`, `%(name)s`.
  for (std::string_view open : {"${", "{{", "{{ ", "$(", "%("})
    if (ends(before, open)) return true;
  // A bare word in brackets names what goes there: `<your-key>`, `[PASSWORD]`, `{token}`.
  bool bare = s.size() <= 48 && std::all_of(s.begin(), s.end(), [](char c) {
                return is_alpha(c) || c == '_' || c == '-' || c == '.' || c == ' ';
              });
  if (bare && !before.empty() && !after.empty()) {
    char o = before.back(), c = after.front();
    if ((o == '<' && c == '>') || (o == '[' && c == ']') || (o == '{' && c == '}')) return true;
  }
  return false;
}

}  // namespace promptgate

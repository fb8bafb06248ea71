#include "detectors/redactor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "detectors/lenient_base64.h"
#include "detectors/utf8.h"

namespace promptgate {
namespace {

struct Span {
  uint64_t start, end;
  const Finding* finding;  // the first finding of a merged span
  size_t part = 0;         // which of the finding's parts (joined text): only the first says it
};

// Sorted, overlap-free spans (a merged span keeps its first finding and part).
std::vector<Span> merge_spans(std::vector<Span> spans) {
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.start < b.start; });
  std::vector<Span> out;
  for (const auto& s : spans) {
    if (!out.empty() && s.start < out.back().end) {
      out.back().end = std::max(out.back().end, s.end);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

// Replaces spans of a decoded base64 document: no escaping applies there.
std::string apply_spans(std::string_view text, const std::vector<Span>& spans,
                        const ReplacementFn& replacement) {
  std::string out;
  out.reserve(text.size());
  uint64_t at = 0;
  for (const auto& s : spans) {
    if (s.start < at || s.end > text.size()) continue;
    out.append(text.substr(at, s.start - at));
    out += replacement(*s.finding, text.substr(s.start, s.end - s.start));
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

bool hex4(std::string_view raw, size_t at, uint32_t& v) {
  if (at + 4 > raw.size()) return false;
  v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = raw[i];
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    v = v * 16 + d;
  }
  return true;
}

// A base64 document with spans of its decoded text replaced, encoded again (standard alphabet,
// padded). It is decoded exactly as the detector decoded it (JSON escapes undone, then
// LenientBase64), so the spans mean the same bytes; empty when it does not decode at all.
std::string redact_base64(std::string_view raw_container, const std::vector<Span>& inner,
                          const ReplacementFn& replacement) {
  std::string text;
  if (!json_unescape(raw_container, text)) return {};
  std::string doc = decode_base64_leniently(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (doc.empty()) return {};
  std::string replaced = apply_spans(doc, inner, replacement);
  OPENSSL_cleanse(doc.data(), doc.size());
  std::string out(4 * ((replaced.size() + 2) / 3), '\0');
  int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(replaced.data()),
                          static_cast<int>(replaced.size()));
  out.resize(static_cast<size_t>(m));
  return out;
}

uint64_t string_end(std::string_view raw, uint64_t from) {
  for (uint64_t i = from; i < raw.size(); ++i) {
    if (raw[i] == '\\') {
      ++i;
    } else if (raw[i] == '"') {
      return i;
    }
  }
  return raw.size();
}

}  // namespace

std::string redaction_marker(std::string_view rule_id) {
  return "[REDACTED:" + std::string(rule_id) + "]";
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

bool json_unescape(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == raw.size()) return false;
    switch (raw[i]) {
      case '"':
      case '\\':
      case '/':
        out.push_back(raw[i]);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        uint32_t cp;
        if (!hex4(raw, i + 1, cp)) return false;
        i += 4;
        uint32_t low;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < raw.size() && raw[i + 1] == '\\' &&
            raw[i + 2] == 'u' && hex4(raw, i + 3, low) && low >= 0xDC00 && low < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        } else if (cp >= 0xD800 && cp < 0xE000) {
          cp = 0xFFFD;  // a lone surrogate reads as the replacement character
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

std::string redact(std::string_view raw, const std::vector<Finding>& findings) {
  return redact_with(
      raw, findings, [](const Finding& f, std::string_view) { return redaction_marker(f.rule_id); },
      InputFormat::text);  // markers need no escaping and the value is not looked at
}

std::string redact_with(std::string_view raw, const std::vector<Finding>& findings,
                        const ReplacementFn& replacement, InputFormat format) {
  std::vector<Span> spans;
  std::map<uint64_t, std::vector<Span>> base64_docs;  // container start -> spans inside
  for (const auto& f : findings) {
    if (f.in_base64) {
      base64_docs[f.container_start].push_back({f.inner_start, f.inner_end, &f});
    } else if (!f.parts.empty()) {
      for (size_t i = 0; i < f.parts.size(); ++i)
        spans.push_back({f.parts[i].begin, f.parts[i].end, &f, i});
    } else {
      spans.push_back({f.start, f.end, &f});
    }
  }
  std::vector<std::pair<Span, std::string>> docs;  // container span -> new content
  for (auto& [start, inner] : base64_docs) {
    uint64_t end = string_end(raw, start);
    // An undecodable document comes back empty: dropping it is safer than forwarding it.
    std::string content =
        redact_base64(raw.substr(start, end - start), merge_spans(inner), replacement);
    docs.push_back({{start, end, nullptr}, std::move(content)});
  }
  spans = merge_spans(std::move(spans));
  std::string out;
  out.reserve(raw.size());
  std::string value;
  uint64_t at = 0;
  size_t si = 0, di = 0;
  while (si < spans.size() || di < docs.size()) {
    bool take_doc =
        di < docs.size() && (si == spans.size() || docs[di].first.start <= spans[si].start);
    if (take_doc) {
      const auto& [span, content] = docs[di++];
      if (span.start < at) continue;
      out.append(raw.substr(at, span.start - at));
      out += content;
      at = span.end;
    } else {
      const Span& s = spans[si++];
      if (s.start < at || s.end > raw.size()) continue;
      out.append(raw.substr(at, s.start - at));
      at = s.end;
      if (s.part > 0) continue;  // a later part of a joined value: the first part says it all
      std::string_view raw_value = raw.substr(s.start, s.end - s.start);
      bool json = format == InputFormat::json ||
                  (format == InputFormat::automatic && !s.finding->location.empty());
      const auto& parts = s.finding->parts;
      if (parts.size() > 1 && s.start == parts[0].begin && s.end == parts[0].end) {
        // A value joined from several text blocks: the replacement is told all of it.
        std::string joined, piece;
        for (const RawRange& p : parts) {
          std::string_view r = raw.substr(std::min<uint64_t>(p.begin, raw.size()),
                                          p.end > p.begin ? p.end - p.begin : 0);
          if (json && json_unescape(r, piece)) {
            joined += piece;
            OPENSSL_cleanse(piece.data(), piece.size());
          } else {
            joined += r;
          }
        }
        std::string replaced = replacement(*s.finding, joined);
        out += json ? json_escape(replaced) : replaced;
        OPENSSL_cleanse(joined.data(), joined.size());
      } else if (json && json_unescape(raw_value, value)) {
        out += json_escape(replacement(*s.finding, value));
        OPENSSL_cleanse(value.data(), value.size());
      } else {
        out += replacement(*s.finding, raw_value);
      }
    }
  }
  out.append(raw.substr(at));
  return out;
}

}  // namespace promptgate

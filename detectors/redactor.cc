#include "redactor.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>

namespace promptgate {
namespace {

struct Span {
  uint64_t start, end;
  const std::string* rule;
};

// Sorted, overlap-free spans.
std::vector<Span> merge_spans(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(),
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

std::string apply_spans(std::string_view text, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(text.size());
  uint64_t at = 0;
  for (const auto& s : spans) {
    if (s.start < at || s.end > text.size()) continue;
    out.append(text.substr(at, s.start - at));
    out += redaction_marker(*s.rule);
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

// The JSON string content of a base64 document, unescaped (`\/`) and without line breaks.
std::string clean_base64(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      char n = raw[++i];
      if (n == '/') out.push_back('/');
      continue;  // \n, \r and others carry no base64 data
    }
    if (c != '\n' && c != '\r' && c != ' ') out.push_back(c);
  }
  return out;
}

std::string redact_base64(std::string_view raw_container, const std::vector<Span>& inner) {
  std::string b64 = clean_base64(raw_container);
  if (b64.size() % 4 != 0) return {};
  std::string doc(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(doc.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return {};
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  doc.resize(static_cast<size_t>(n) - pad);
  std::string replaced = apply_spans(doc, inner);
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

std::string redact(std::string_view raw, const std::vector<Finding>& findings) {
  std::vector<Span> spans;
  std::map<uint64_t, std::vector<Span>> base64_docs;  // container start -> spans inside
  for (const auto& f : findings) {
    if (f.in_base64) {
      base64_docs[f.container_start].push_back({f.inner_start, f.inner_end, &f.rule_id});
    } else {
      spans.push_back({f.start, f.end, &f.rule_id});
    }
  }
  std::vector<std::pair<Span, std::string>> docs;  // container span -> new content
  for (auto& [start, inner] : base64_docs) {
    uint64_t end = string_end(raw, start);
    // An undecodable document comes back empty: dropping it is safer than forwarding it.
    std::string content = redact_base64(raw.substr(start, end - start), merge_spans(inner));
    docs.push_back({{start, end, nullptr}, std::move(content)});
  }
  spans = merge_spans(std::move(spans));
  std::string out;
  out.reserve(raw.size());
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
      out += redaction_marker(*s.rule);
      at = s.end;
    }
  }
  out.append(raw.substr(at));
  return out;
}

}  // namespace promptgate

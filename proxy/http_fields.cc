#include "proxy/http_fields.h"

#include <cctype>

#include "proxy/target.h"

namespace promptgate::proxy {

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "proxy-authorization",
                                                "proxy-authenticate",
                                                "te",
                                                "trailer",
                                                "transfer-encoding",
                                                "upgrade",
                                                "expect",
                                                "content-length"};
  for (auto n : kNames)
    if (ascii_iequals(n, name)) return true;
  return false;
}

bool only_chunked(const std::vector<std::string_view>& transfer_encoding_values) {
  for (std::string_view list : transfer_encoding_values) {
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
        coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
        coding.remove_suffix(1);
      if (!coding.empty() && !ascii_iequals(coding, "chunked")) return false;
    }
  }
  return true;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

std::string model_of(std::string_view body) {
  size_t pos = 0;
  while ((pos = body.find("\"model\"", pos)) != std::string_view::npos) {
    size_t i = pos + 7;
    pos = i;
    if (pos > 7 && body[pos - 8] == '\\') continue;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t')) ++i;
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t')) ++i;
    if (i >= body.size() || body[i] != '"') continue;
    size_t end = body.find('"', i + 1);
    if (end == std::string_view::npos || end - i - 1 > 100) return {};
    std::string_view v = body.substr(i + 1, end - i - 1);
    for (char c : v)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
            c == ':' || c == '/' || c == '@'))
        return {};
    return std::string(v);
  }
  return {};
}

std::string host_header_for(const Target& target) {
  const bool bare_ipv6 = target.host.find(':') != std::string::npos && target.host[0] != '[';
  std::string host = bare_ipv6 ? "[" + target.host + "]" : target.host;
  if (target.port != (target.tls ? 443 : 80)) host += ":" + std::to_string(target.port);
  return host;
}

}  // namespace promptgate::proxy

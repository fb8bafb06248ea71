#include "proxy/internal_address.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>

namespace promptgate::proxy {
namespace {

struct ParsedIp {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

std::optional<ParsedIp> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  text = text.substr(0, text.find('%'));  // an IPv6 zone names an interface, not the address
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string copy(text);
  ParsedIp ip;
  if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) == 1) {
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

bool internal_v4(uint32_t v) {
  auto in = [&](uint32_t net_addr, int bits) {
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (v & mask) == (net_addr & mask);
  };
  return in(0x00000000, 8) || in(0x0A000000, 8) || in(0x7F000000, 8) || in(0xA9FE0000, 16) ||
         in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x64400000, 10) || in(0xE0000000, 4) ||
         v == 0xFFFFFFFF;
}

uint32_t v4_at(const std::array<uint8_t, 16>& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 |
         uint32_t{b[at + 3]};
}

bool internal(const ParsedIp& ip) {
  const auto& b = ip.bytes;
  if (!ip.v6) return internal_v4(v4_at(b, 0));
  bool zero_prefix = true;
  for (size_t i = 0; i < 10; ++i) zero_prefix = zero_prefix && b[i] == 0;
  if (zero_prefix && b[10] == 0xff && b[11] == 0xff) return internal_v4(v4_at(b, 12));  // mapped
  bool all_zero = zero_prefix && b[10] == 0 && b[11] == 0 && v4_at(b, 12) == 0;
  bool loopback = zero_prefix && b[10] == 0 && b[11] == 0 && v4_at(b, 12) == 1;
  bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;  // fe80::/10
  bool multicast = b[0] == 0xff;
  bool unique_local = (b[0] & 0xfe) == 0xfc;  // fc00::/7
  return all_zero || loopback || link_local || multicast || unique_local;
}

}  // namespace

bool is_internal_address(std::string_view ip) {
  auto parsed = parse_ip(ip);
  return parsed && internal(*parsed);
}

bool is_ip_literal(std::string_view host) {
  return parse_ip(host).has_value();
}

std::string internal_destination_refusal(const ProxyConfig& cfg, const std::string& host,
                                         const std::vector<std::string>& addresses) {
  if (cfg.private_destination_allowed(host)) return {};
  for (const auto& a : addresses)
    if (is_internal_address(a))
      return "promptgate: " + host + " resolves to an internal address (" + a +
             "); the gateway does not connect there unless allowed_private_hosts lists it.";
  return {};
}

}  // namespace promptgate::proxy

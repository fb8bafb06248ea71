// Which destinations a gateway must not reach on a client's behalf unless the operator allows
// it: loopback, private, link-local, CGNAT, multicast and unspecified addresses (v4, v6, and v4
// mapped into v6). Boost-free, so the rule is unit-tested on its own.
//
//   if (is_internal_address("10.1.2.3")) ...                 // true
//   std::string why = internal_destination_refusal(cfg, host, {"127.0.0.1"});  // "" = allowed
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/config.h"

namespace promptgate::proxy {

// True when `ip` is an IP address literal (an IPv6 zone such as "%eth0" allowed) in an
// internal range; false for a public address and for anything that is not an IP literal.
bool is_internal_address(std::string_view ip);

// True when `host` is an IP address literal (v4, or v6 with or without brackets or a zone).
bool is_ip_literal(std::string_view host);

// Why connecting to `host`, which resolved to `addresses`, is refused; empty when allowed
// (no internal address, or allowed_private_hosts lists the host).
std::string internal_destination_refusal(const ProxyConfig& cfg, const std::string& host,
                                         const std::vector<std::string>& addresses);

}  // namespace promptgate::proxy

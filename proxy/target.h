// Where a request goes: the host and port the destination policy judged (the CONNECT target or
// the absolute URL's authority, or the ClientHello's server name after a CONNECT to an IP
// address), whether the upstream speaks TLS, and what the policy said.
//
//   Target t{"api.anthropic.com", 443, true, Destination::intercept};
//   req.set(http::field::host, host_header_for(t));   // "api.anthropic.com"
#pragma once

#include <cstdint>
#include <string>

#include "proxy/config.h"

namespace promptgate::proxy {

struct Target {
  std::string host;
  uint16_t port = 443;
  bool tls = true;
  Destination destination = Destination::intercept;
  // The IP address the client CONNECTed to when `host` came from its ClientHello: the TCP
  // connection goes there (TLS still names and verifies `host`). Empty: `host` is resolved.
  std::string address{};  // (an initializer, so shorter brace-inits need not name it)
};

// The Host header for a target: the port only when it is not the scheme's default, an IPv6
// literal in brackets.
std::string host_header_for(const Target& target);

}  // namespace promptgate::proxy

// Reaching the upstream: the TLS client context (system trust plus upstream_ca, always
// verified), the TCP connection (directly, or through a parent proxy's CONNECT), the refusal of
// internal addresses a name resolves to, and the verified TLS handshake. Internal (Asio).
//
//   if (auto failure = co_await connect_upstream(conn, target)) answer(failure->status, ...);
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "proxy/shared_state.h"

namespace promptgate::proxy {

struct UpstreamFailure {
  unsigned status = 0;  // 502 or 504 (403: an internal address refused)
  std::string message;
  const char* kind = nullptr;  // set when the metric is still to be counted
};

// The upstream TLS client context for a config; throws ConfigError when upstream_ca is bad.
std::shared_ptr<ssl::context> make_upstream_tls(const ProxyConfig& config);

// Through a parent proxy: asks it to CONNECT to `target`; empty on success, else why not.
net::awaitable<std::string> connect_via_parent(beast::tcp_stream& stream, const HostPort& target);

// Connects conn.upstream to `t` (closing what it held); nullopt on success.
net::awaitable<std::optional<UpstreamFailure>> connect_upstream(Connection& conn, const Target& t);

// The addresses a resolver found, as text, for internal_destination_refusal().
template <class Endpoints>
std::vector<std::string> addresses_of(const Endpoints& endpoints) {
  std::vector<std::string> out;
  for (const auto& e : endpoints) out.push_back(e.endpoint().address().to_string());
  return out;
}

}  // namespace promptgate::proxy

// The Asio and Beast names the proxy's networking files share (connection, upstream, forward,
// request handler, admin, server). Heavy headers: include this only from those .cc files and
// their internal headers, never from a header the stages, the engine or the CLI include.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>

#include "proxy/direct_tls_stream.h"
#include "proxy/pipeline/body_bytes.h"

namespace promptgate::proxy {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
// OpenSSL on the socket itself: no BIO-pair copies, a few KB per idle session (see its header).
using TlsStream = DirectTlsStream;
using Clock = std::chrono::steady_clock;

// The request promptgate sends upstream; its body is the client's bytes, moved, not copied.
using ForwardRequest = http::request<http::vector_body<char, UninitializedAllocator<char>>>;

inline auto tok(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

inline std::chrono::milliseconds ms(uint32_t v) {
  return std::chrono::milliseconds(v);
}

}  // namespace promptgate::proxy

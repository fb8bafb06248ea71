// One client connection, start to end: reads request heads (under the header and idle
// timeouts), authenticates the user (proxy credentials or a client certificate), and then either
// handles a CONNECT (intercept with a minted leaf and serve the requests inside, tunnel the
// bytes untouched, or deny) or proxies plain-HTTP absolute-form requests. Each request goes to
// the pipeline driver (request_handler.h). Internal (Asio).
//
//   net::co_spawn(io, serve_client(shared, std::move(socket), state, pool), on_done);
#pragma once

#include <memory>

#include "proxy/shared_state.h"

namespace promptgate::proxy {

net::awaitable<void> serve_client(Shared& sh, tcp::socket socket, std::shared_ptr<ConnState> state,
                                  UpstreamPool& pool);

}  // namespace promptgate::proxy

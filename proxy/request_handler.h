// The request pipeline's driver: one request whose head has been read goes through the stages
// in order (pipeline/*.h: head, body, scan, decide, rewrite; forward.h: forward and answer),
// and its audit line is written once, whatever path it took. Internal (Asio).
//
//   bool keep = false;
//   co_await handle_request(conn, client, buf, parser, target, path, keep);
//   if (!keep) close();
#pragma once

#include <string>

#include "proxy/shared_state.h"

namespace promptgate::proxy {

// Reads and scans the body, decides, then answers or forwards. Sets `keep` when the client
// connection can carry another request. Instantiated for the plain and the TLS client stream.
template <class Client>
net::awaitable<void> handle_request(Connection& conn, Client& client, beast::flat_buffer& buf,
                                    http::request_parser<http::buffer_body>& parser,
                                    const Target& target, std::string path, bool& keep);

// True when `ec` means the client went away (closed, reset, cut TLS short), so there is no one
// to answer.
bool client_went_away(const beast::error_code& ec);

}  // namespace promptgate::proxy

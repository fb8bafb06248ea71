// Stage 6, forward and answer: writes the request upstream (on a warm pooled connection when
// there is one, retrying once on a fresh one if a kept-alive connection was closed under it),
// reads the response header, then streams the body back to the client piece by piece as it
// arrives (an SSE event is written as soon as it is read). With action tokenize, stand-ins are
// put back into the answer (SSE as it streams, JSON once complete). Internal (Asio).
//
//   co_await forward_request(conn, client, target, out, keep_alive, ev, keep, &held, restore);
#pragma once

#include <memory>

#include "proxy/body_budget.h"
#include "proxy/shared_state.h"
#include "proxy/sse_restorer.h"

namespace promptgate::proxy {

// Sends `out` to `target` and relays the answer; on failure answers 502/504 (403 for an
// internal address). Fills ev's upstream fields and status; sets `keep` when the client
// connection can carry another request. Instantiated for the plain and the TLS client stream.
template <class Client>
net::awaitable<void> forward_request(Connection& conn, Client& client, const Target& target,
                                     ForwardRequest& out, bool keep_alive, AuditEvent& ev,
                                     bool& keep, BodyBudget::Hold* held,
                                     std::shared_ptr<const Substitutions> restore);

}  // namespace promptgate::proxy

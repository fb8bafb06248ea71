// Answers promptgate writes to a client itself (as opposed to the upstream's answers it relays):
// model-API-shaped JSON errors, so clients print them as they print the API's own, and the
// sending of a pipeline stage's Refusal with its audit fields. Internal (includes Beast).
//
//   co_await send_response(client, error_response(403, "permission_error", msg, false));
//   co_await send_refusal(client, refusal, audit.event(), keep);
#pragma once

#include <string>

#include "proxy/asio_aliases.h"
#include "proxy/audit_log.h"
#include "proxy/pipeline/request_context.h"

namespace promptgate::proxy {

http::response<http::string_body> error_response(unsigned status, const char* type,
                                                 const std::string& message, bool keep_alive);

template <class Client>
net::awaitable<void> send_response(Client& client, http::response<http::string_body> res) {
  beast::error_code ec;
  beast::get_lowest_layer(client).expires_after(std::chrono::seconds(30));
  co_await http::async_write(client, res, tok(ec));
}

// Sends `r`, records its status, decision and error in `ev`, and sets `keep` to whether the
// connection may carry another request.
template <class Client>
net::awaitable<void> send_refusal(Client& client, Refusal r, AuditEvent& ev, bool& keep) {
  ev.status = r.status;
  ev.decision = r.decision;
  ev.error = r.audit_error;
  keep = r.keep_alive;
  auto res = error_response(r.status, r.type.c_str(), r.message, r.keep_alive);
  if (r.retry_after_seconds)
    res.set(http::field::retry_after, std::to_string(r.retry_after_seconds));
  co_await send_response(client, std::move(res));
}

}  // namespace promptgate::proxy

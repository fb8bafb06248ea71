#include "proxy/shared_state.h"

#include <nlohmann/json.hpp>

#include "proxy/client_answer.h"

namespace promptgate::proxy {
namespace {

ssl::context make_client_tls(CertificateAuthority& ca) {
  SSL_CTX* ctx = ca.client_facing_context();
  SSL_CTX_up_ref(ctx);  // asio's context frees what it wraps; the CA keeps its own reference
  // Idle connections give their TLS record buffers back (about 34 KB per connection).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ssl::context(ctx);
}

}  // namespace

Shared::Shared(ServerSetup s)
    : setup(std::move(s)), client_tls(make_client_tls(*setup.ca)), overrides(setup.override_key) {}

AuditEvent new_event(Connection& conn) {
  AuditEvent ev;
  ev.request_id = conn.sh.request_id_prefix + std::to_string(conn.sh.next_request_id++);
  ev.replica = conn.sh.setup.replica;
  ev.client = conn.client;
  ev.user = conn.identity.user;
  ev.groups = conn.identity.groups;
  ev.mode = to_string(conn.cfg().mode);
  return ev;
}

http::response<http::string_body> error_response(unsigned status, const char* type,
                                                 const std::string& message, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.set("x-promptgate", "1");
  nlohmann::ordered_json body = {{"type", "error"},
                                 {"error", {{"type", type}, {"message", message}}}};
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace promptgate::proxy

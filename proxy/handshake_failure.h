// Why a client's TLS handshake with the proxy failed, in words a user can act on: the OpenSSL
// reason behind the error (the alert the client sent, or what the proxy refused) sorted into a
// few kinds, each with what to do. Used for the one stderr line and the audit event of a failed
// handshake (connection.cc); Boost-free so that it can be tested without a network.
#pragma once

#include <string>

namespace promptgate::proxy {

struct HandshakeFailure {
  std::string kind;    // "unknown CA", "no certificate", "protocol version", ... (short, stable)
  std::string advice;  // what to do about it, one clause
};

// `ssl_error`: the packed OpenSSL error (ERR_get_error) when the failure came from OpenSSL,
// else 0. `closed`: the client closed the connection mid-handshake; `timed_out`: it sent no
// handshake in time. `message`: the error's own text, kept when nothing better is known.
HandshakeFailure classify_client_handshake(unsigned long ssl_error, bool closed, bool timed_out,
                                           const std::string& message);

// A short line for stderr: "client TLS handshake failed: 127.0.0.1:5123 -> api.anthropic.com:
// unknown CA (...)". At most `per_minute` lines a minute are said; the rest are counted and the
// count said with the next line that is.
class HandshakeLogLimiter {
 public:
  explicit HandshakeLogLimiter(unsigned per_minute = 20) : per_minute_(per_minute) {}
  // Returns whether to print now, and how many were held back since the last printed one.
  bool allow(long long now_seconds, unsigned& suppressed);

 private:
  unsigned per_minute_;
  long long minute_ = -1;
  unsigned said_ = 0, held_ = 0;
};

}  // namespace promptgate::proxy

// Sorting failed client handshakes into kinds; see handshake_failure.h.
#include "proxy/handshake_failure.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace promptgate::proxy {

HandshakeFailure classify_client_handshake(unsigned long ssl_error, bool closed, bool timed_out,
                                           const std::string& message) {
  const char* trust =
      "the client does not trust the promptgate CA: point it at the CA (NODE_EXTRA_CA_CERTS, "
      "promptgate ca export) or check it is this proxy's CA";
  if (timed_out) return {"timeout", "the client sent no TLS handshake in time"};
  if (ssl_error && ERR_GET_LIB(ssl_error) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(ssl_error)) {
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        return {"unknown CA", trust};
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
        return {"certificate rejected", trust};
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return {"no certificate",
                "the proxy requires a client certificate (auth.client_ca) and got none"};
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return {"client certificate not trusted",
                "the client's certificate is not signed by a CA in auth.client_ca"};
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_VERSION_TOO_LOW:
      case SSL_R_VERSION_TOO_HIGH:
        return {"protocol version", "the client and the proxy share no TLS version (1.2 or 1.3)"};
      case SSL_R_NO_SHARED_CIPHER:
        return {"no shared cipher", "the client offers no cipher the proxy accepts"};
      case SSL_R_HTTP_REQUEST:
      case SSL_R_HTTPS_PROXY_REQUEST:
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
      case SSL_R_RECORD_LENGTH_MISMATCH:
        return {"not TLS", "the client sent something other than TLS after CONNECT"};
      default:
        break;
    }
  }
  if (closed)
    return {"closed by the client",
            "it closed the connection during the handshake, most often because it does not "
            "trust the promptgate CA (NODE_EXTRA_CA_CERTS)"};
  return {message, "does the client trust the promptgate CA (NODE_EXTRA_CA_CERTS)?"};
}

bool HandshakeLogLimiter::allow(long long now_seconds, unsigned& suppressed) {
  long long minute = now_seconds / 60;
  if (minute != minute_) minute_ = minute, said_ = 0;
  if (said_ >= per_minute_) {
    ++held_;
    return false;
  }
  ++said_;
  suppressed = held_;
  held_ = 0;
  return true;
}

}  // namespace promptgate::proxy

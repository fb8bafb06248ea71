// Failed client handshakes sorted into kinds a user can act on, from the OpenSSL reason, and the
// limit on how many a minute reach stderr.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include "proxy/handshake_failure.h"

using promptgate::proxy::classify_client_handshake;
using promptgate::proxy::HandshakeLogLimiter;

namespace {
unsigned long ssl_reason(int reason) {
  return ERR_PACK(ERR_LIB_SSL, 0, reason);
}
std::string kind_of(int reason) {
  return classify_client_handshake(ssl_reason(reason), false, false, "x").kind;
}
}  // namespace

TEST_CASE("a failed client handshake is named by the alert or error behind it", "[handshake]") {
  CHECK(kind_of(SSL_R_TLSV1_ALERT_UNKNOWN_CA) == "unknown CA");
  CHECK(kind_of(SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN) == "certificate rejected");
  CHECK(kind_of(SSL_R_SSLV3_ALERT_BAD_CERTIFICATE) == "certificate rejected");
  CHECK(kind_of(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) == "no certificate");
  CHECK(kind_of(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) == "no certificate");
  CHECK(kind_of(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) == "protocol version");
  CHECK(kind_of(SSL_R_UNSUPPORTED_PROTOCOL) == "protocol version");
  CHECK(kind_of(SSL_R_NO_SHARED_CIPHER) == "no shared cipher");
  CHECK(kind_of(SSL_R_HTTP_REQUEST) == "not TLS");
  CHECK(kind_of(SSL_R_WRONG_VERSION_NUMBER) == "not TLS");
  // The trust problems say what to do about the CA.
  CHECK(classify_client_handshake(ssl_reason(SSL_R_TLSV1_ALERT_UNKNOWN_CA), false, false, "x")
            .advice.find("NODE_EXTRA_CA_CERTS") != std::string::npos);
  CHECK(classify_client_handshake(0, true, false, "stream truncated").kind ==
        "closed by the client");
  CHECK(classify_client_handshake(0, false, true, "timeout").kind == "timeout");
  // Nothing known: the error's own words.
  CHECK(classify_client_handshake(0, false, false, "odd failure").kind == "odd failure");
  CHECK(kind_of(SSL_R_BAD_PACKET) == "x");
}

TEST_CASE("stderr hears of a few failed handshakes a minute, then how many were held",
          "[handshake]") {
  HandshakeLogLimiter limit(2);
  unsigned held = 99;
  CHECK(limit.allow(60, held));
  CHECK(held == 0);
  CHECK(limit.allow(61, held));
  CHECK_FALSE(limit.allow(62, held));
  CHECK_FALSE(limit.allow(119, held));
  CHECK(limit.allow(120, held));  // a new minute
  CHECK(held == 2);
}

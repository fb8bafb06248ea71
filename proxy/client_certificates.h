// Client TLS certificates as a way to authenticate to the gateway (mTLS), next to
// `Proxy-Authorization: Basic`.
//
// A client that presents a certificate does so inside the intercepted TLS connection, the one
// promptgate terminates for the model API: that is where the Claude Code CLI sends the
// certificate named by CLAUDE_CODE_CLIENT_CERT / CLAUDE_CODE_CLIENT_KEY, and where curl sends
// `--cert`. So a CONNECT without proxy credentials to an intercepted host is let through to the
// TLS handshake, which then demands a certificate signed by the configured client CA.
//
//   auto trust = ClientCertificateTrust::load("/etc/promptgate/client-ca.pem");  // throws
//   trust->require_on(ssl);                      // before the server-side handshake
//   ... handshake ...
//   CertificateIdentity who = ClientCertificateTrust::identity_of(ssl);
//   if (!who.user.empty()) ... else log who.refusal
//
// The user is the certificate's subject common name; groups come from the config, as for Basic
// users. The certificate must chain to the client CA, be within its validity period, and allow
// client authentication (extended key usage clientAuth, or none at all).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace promptgate::proxy {

struct ClientCaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CertificateIdentity {
  std::string user;     // subject CN of a verified certificate; empty when refused
  std::string refusal;  // why not, for logs and the audit line (never key material)
};

class ClientCertificateTrust {
 public:
  // Reads every certificate in the PEM file `path` as a trusted client CA. Throws ClientCaError
  // naming the file when it cannot be read or holds no certificate.
  static std::shared_ptr<const ClientCertificateTrust> load(const std::string& path);
  static std::shared_ptr<const ClientCertificateTrust> parse(const std::string& pem,
                                                             const std::string& source_name);
  ~ClientCertificateTrust();
  ClientCertificateTrust(const ClientCertificateTrust&) = delete;
  ClientCertificateTrust& operator=(const ClientCertificateTrust&) = delete;

  // Makes the server side of `ssl` ask for a client certificate, refuse the handshake without
  // one, and verify it against these CAs only (not the system store).
  void require_on(SSL* ssl) const;
  // After a handshake on a connection that `require_on` was applied to (or after it failed).
  static CertificateIdentity identity_of(SSL* ssl);
  size_t certificates() const;

  struct Impl;

 private:
  explicit ClientCertificateTrust(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptgate::proxy

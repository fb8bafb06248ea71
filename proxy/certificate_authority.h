// The local certificate authority that lets promptgate terminate TLS for intercepted hosts.
//
//   auto ca = CertificateAuthority::load_or_create(home_dir);  // ca.pem + ca-key.pem (0600)
//   SSL_CTX* ctx = ca->client_facing_context();                // owned by ca; shared by threads
//   SSL* ssl = ...SSL_new(ctx)...;
//   CertificateAuthority::set_fallback_host(ssl, "api.anthropic.com");  // the CONNECT host
//   ... handshake: the certificate callback picks the SNI name (or the fallback) and installs a
//   leaf certificate minted for it, signed by the CA, cached (bounded) and shared across threads.
//
// Leaf certificates share one EC P-256 key generated at start (as mitmproxy does): only
// certificates differ per host. The client-facing context offers TLS 1.2 and 1.3 and selects
// ALPN "http/1.1" (the proxy speaks HTTP/1.1 only). Thread-safe.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace promptgate::proxy {

struct CaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CaInfo {
  std::string cert_path;           // <dir>/ca.pem
  std::string key_path;            // <dir>/ca-key.pem
  std::string subject;             // e.g. "CN=promptgate local CA (host), O=promptgate"
  std::string sha256_fingerprint;  // "AB:CD:..." as openssl x509 -fingerprint prints it
  std::string not_after;           // ISO 8601 UTC
};

class CertificateAuthority {
 public:
  // Loads <dir>/ca.pem and <dir>/ca-key.pem. When absent and `create` is true, makes a new CA
  // (EC P-256, 10 years, CA:TRUE, keyUsage keyCertSign+cRLSign, nameConstraints none), writing
  // the key with mode 0600 and creating `dir` (0700) if needed. `rotate` replaces an existing CA.
  // Throws CaError with a clear message (path and reason) on any failure, e.g. a key that does
  // not match the certificate or a key file readable by others.
  static std::shared_ptr<CertificateAuthority> load_or_create(const std::string& dir,
                                                              bool create = true,
                                                              bool rotate = false);
  ~CertificateAuthority();
  CertificateAuthority(const CertificateAuthority&) = delete;
  CertificateAuthority& operator=(const CertificateAuthority&) = delete;

  const CaInfo& info() const;
  const std::string& cert_pem() const;  // the CA certificate, PEM
  // True when `load_or_create` made a new CA (first run), so `run` can print the setup lines.
  bool created() const;

  // Server-side TLS context for intercepted client connections (see the top of this file).
  SSL_CTX* client_facing_context() const;
  static void set_fallback_host(SSL* ssl, const std::string& host);

  // A leaf certificate (PEM) for `host` (DNS name or IP literal), for tests and `ca show`.
  std::string leaf_pem_for(const std::string& host);
  uint64_t leaf_cache_hits() const;
  uint64_t leaf_cache_misses() const;

 private:
  struct Impl;
  explicit CertificateAuthority(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptgate::proxy

// Client certificate trust (see client_certificates.h).
#include "proxy/client_certificates.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "proxy/openssl_handles.h"

namespace promptgate::proxy {

namespace {
void free_name_stack(STACK_OF(X509_NAME) * names) {
  sk_X509_NAME_pop_free(names, X509_NAME_free);
}
using NameStackPtr = OpenSslPtr<STACK_OF(X509_NAME), free_name_stack>;
}  // namespace

struct ClientCertificateTrust::Impl {
  X509StorePtr store{X509_STORE_new()};
  // The CA names sent in the CertificateRequest, so a client holding several certificates
  // picks the right one.
  std::vector<X509NamePtr> names;
  size_t count = 0;
  unsigned char session_context[SHA256_DIGEST_LENGTH] = {};  // digest of the bundle
};

ClientCertificateTrust::ClientCertificateTrust(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ClientCertificateTrust::~ClientCertificateTrust() = default;

std::shared_ptr<const ClientCertificateTrust> ClientCertificateTrust::load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ClientCaError("auth.client_ca: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::shared_ptr<const ClientCertificateTrust> ClientCertificateTrust::parse(
    const std::string& pem, const std::string& source_name) {
  auto impl = std::make_unique<Impl>();
  if (!impl->store) throw ClientCaError("auth.client_ca: out of memory");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (X509_check_ca(cert.get()) == 0)
      throw ClientCaError("auth.client_ca: " + source_name + ": certificate " +
                          std::to_string(impl->count + 1) + " is not a CA certificate");
    if (X509_STORE_add_cert(impl->store.get(), cert.get()) != 1)
      throw ClientCaError("auth.client_ca: " + source_name + ": cannot add certificate " +
                          std::to_string(impl->count + 1));
    impl->names.emplace_back(X509_NAME_dup(X509_get_subject_name(cert.get())));
    ++impl->count;
  }
  // The loop ends on "no start line" at the end of the file; anything else is a broken PEM.
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (impl->count == 0)
    throw ClientCaError("auth.client_ca: " + source_name + " holds no PEM certificate");
  if (!clean_end && err != 0)
    throw ClientCaError("auth.client_ca: " + source_name + ": certificate " +
                        std::to_string(impl->count + 1) + " is not valid PEM");
  SHA256(reinterpret_cast<const unsigned char*>(pem.data()), pem.size(), impl->session_context);
  return std::shared_ptr<const ClientCertificateTrust>(new ClientCertificateTrust(std::move(impl)));
}

size_t ClientCertificateTrust::certificates() const {
  return impl_->count;
}

void ClientCertificateTrust::require_on(SSL* ssl) const {
  SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_set1_verify_cert_store(ssl, impl_->store.get());
  X509_VERIFY_PARAM_set_purpose(SSL_get0_param(ssl), X509_PURPOSE_SSL_CLIENT);
  // A resumed session brings back the old verification result without checking again (a CA
  // removed since, a certificate expired since). So these connections issue no tickets, and
  // resume only sessions made under this same CA bundle (TLS 1.2 session ids, for minutes).
  SSL_set_options(ssl, SSL_OP_NO_TICKET);
  SSL_set_num_tickets(ssl, 0);
  SSL_set_session_id_context(ssl, impl_->session_context, sizeof impl_->session_context);
  NameStackPtr names(sk_X509_NAME_new_null());
  for (const auto& n : impl_->names) {
    X509_NAME* copy = X509_NAME_dup(n.get());
    if (copy && !sk_X509_NAME_push(names.get(), copy)) X509_NAME_free(copy);
  }
  SSL_set_client_CA_list(ssl, names.release());  // takes ownership
}

CertificateIdentity ClientCertificateTrust::identity_of(SSL* ssl) {
  // A certificate that failed verification is not kept, so the verify result comes first.
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    return {{},
            std::string("client certificate refused: ") + X509_verify_cert_error_string(verify)};
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return {{}, "no client certificate"};
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return {{}, "client certificate has no subject common name"};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len <= 0) return {{}, "client certificate common name is not readable"};
  std::string user(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  // The name lands in audit lines and policy matching: keep it to what a user name can be.
  for (char c : user)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ':')
      return {{}, "client certificate common name has characters a user name cannot have"};
  return {user, {}};
}

}  // namespace promptgate::proxy

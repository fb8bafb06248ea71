// RAII owners for OpenSSL handles: `OpenSslPtr<X509, X509_free>` is a std::unique_ptr that frees
// with the right OpenSSL function. The common ones have aliases below.
//
//   X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace promptgate::proxy {

template <auto Free>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
template <class T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<Free>>;

using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using SslCtxPtr = OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = OpenSslPtr<SSL, SSL_free>;
using BioPtr = OpenSslPtr<BIO, BIO_free_all>;

}  // namespace promptgate::proxy

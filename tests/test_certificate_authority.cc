// The local CA: files and modes on disk, reload and rotation, refusal of a readable key, leaf
// certificates that verify for DNS names and IP literals, the leaf cache, and real in-memory TLS
// handshakes against the client-facing context (SNI, fallback host, ALPN, untrusted CA).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/certificate_authority.h"
#include "proxy/openssl_handles.h"

using namespace promptgate::proxy;
namespace fs = std::filesystem;

namespace {

using StorePtr = X509StorePtr;
using StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using CtxPtr = SslCtxPtr;
using NamesPtr = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;

// A fresh directory per test, removed when the test ends however it ends.
struct TempDir {
  fs::path path;
  TempDir() {
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof rnd);
    char name[64];
    std::snprintf(name, sizeof name, "promptgate-ca-test-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
                  rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    path = fs::temp_directory_path() / name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string ca_dir() const { return (path / "home").string(); }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// No Catch assertions in these two: Catch is not thread-safe and the cache test calls them from
// several threads.
X509Ptr try_parse_pem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert for a TLS server certificate, trusting only `ca`; -1 when it cannot run.
int verify_leaf(X509* leaf, X509* ca) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!leaf || !store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1)
    return -1;
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

X509Ptr parse_pem(const std::string& pem) {
  X509Ptr cert = try_parse_pem(pem);
  REQUIRE(cert);
  return cert;
}

struct San {
  std::string dns;
  std::string ip;  // raw bytes
};

San san_of(X509* cert) {
  San out;
  NamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  REQUIRE(names);
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(gen, &type));
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
    if (type == GEN_DNS) out.dns = text;
    if (type == GEN_IPADD) out.ip = text;
  }
  return out;
}

struct HandshakeResult {
  bool completed = false;
  long verify_result = -1;
  std::string alpn;
  std::string peer_cn;
  std::string peer_dns;
  int version = 0;
};

// A client and the proxy's server SSL joined by a BIO pair, pumped until both sides finish.
struct ClientOptions {
  // Length-prefixed ALPN list as SSL_set_alpn_protos takes it; empty offers no ALPN.
  std::string alpn = std::string("\x02h2\x08http/1.1", 12);
  int max_version = 0;  // 0: the library's highest
};

HandshakeResult handshake(CertificateAuthority& ca, const std::string& client_trusts_pem,
                          const char* sni, const char* verify_host, const char* fallback_host,
                          const ClientOptions& options = {}) {
  CtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  REQUIRE(client_ctx);
  {
    X509Ptr trusted = parse_pem(client_trusts_pem);
    REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), trusted.get()) == 1);
  }
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

  SslPtr client(SSL_new(client_ctx.get()));
  SslPtr server(SSL_new(ca.client_facing_context()));
  REQUIRE(client);
  REQUIRE(server);
  if (sni) REQUIRE(SSL_set_tlsext_host_name(client.get(), sni) == 1);
  if (verify_host) REQUIRE(SSL_set1_host(client.get(), verify_host) == 1);
  if (!options.alpn.empty()) {
    REQUIRE(SSL_set_alpn_protos(client.get(),
                                reinterpret_cast<const unsigned char*>(options.alpn.data()),
                                static_cast<unsigned>(options.alpn.size())) == 0);
  }
  if (options.max_version)
    REQUIRE(SSL_set_max_proto_version(client.get(), options.max_version) == 1);
  if (fallback_host) CertificateAuthority::set_fallback_host(server.get(), fallback_host);

  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
  SSL_set_bio(client.get(), client_bio, client_bio);  // each SSL owns its end
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  bool client_done = false;
  bool server_done = false;
  bool failed = false;
  for (int round = 0; round < 100 && !(client_done && server_done) && !failed; ++round) {
    for (auto [ssl, done] : {std::pair{client.get(), &client_done}, {server.get(), &server_done}}) {
      if (*done) continue;
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
      } else {
        int err = SSL_get_error(ssl, rc);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) failed = true;
      }
    }
  }
  ERR_clear_error();

  HandshakeResult result;
  result.completed = client_done && server_done && !failed;
  result.version = SSL_version(client.get());
  result.verify_result = SSL_get_verify_result(client.get());
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(client.get(), &alpn, &alpn_len);
  if (alpn) result.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* peer = SSL_get0_peer_certificate(client.get())) {
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    result.peer_cn = cn;
    result.peer_dns = san_of(peer).dns;
  }
  return result;
}

}  // namespace

TEST_CASE("CA: created with the right files and modes, reloaded, rotated", "[ca]") {
  TempDir tmp;
  const std::string dir = tmp.ca_dir();
  std::string first_fingerprint;
  {
    auto ca = CertificateAuthority::load_or_create(dir);
    CHECK(ca->created());
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(ca->info().cert_path) == 0644);
    CHECK(mode_of(ca->info().key_path) == 0600);
    CHECK(ca->info().cert_path == dir + "/ca.pem");
    CHECK(ca->info().key_path == dir + "/ca-key.pem");
    CHECK(ca->info().subject.rfind("CN=promptgate local CA (", 0) == 0);
    CHECK(ca->info().subject.find("O=promptgate") != std::string::npos);
    CHECK(ca->info().sha256_fingerprint.size() == 32 * 3 - 1);
    CHECK(ca->info().not_after.size() == 20);  // 2036-01-01T00:00:00Z
    first_fingerprint = ca->info().sha256_fingerprint;

    X509Ptr cert = parse_pem(ca->cert_pem());
    CHECK(X509_check_ca(cert.get()) != 0);
    CHECK((X509_get_extension_flags(cert.get()) & EXFLAG_CRITICAL) == 0);  // all understood
    CHECK(X509_get_pathlen(cert.get()) == 0);
    CHECK((X509_get_key_usage(cert.get()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ==
          (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    CHECK(X509_get0_subject_key_id(cert.get()) != nullptr);
    // Ten years, give or take leap days and the backdating.
    int days = 0;
    int seconds = 0;
    REQUIRE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                           X509_get0_notAfter(cert.get())) == 1);
    CHECK(days >= 3650);
    CHECK(days <= 3653);
  }
  {
    auto again = CertificateAuthority::load_or_create(dir);
    CHECK_FALSE(again->created());
    CHECK(again->info().sha256_fingerprint == first_fingerprint);
  }
  {
    auto rotated = CertificateAuthority::load_or_create(dir, true, true);
    CHECK(rotated->created());
    CHECK(rotated->info().sha256_fingerprint != first_fingerprint);
    CHECK(mode_of(rotated->info().key_path) == 0600);
    auto reloaded = CertificateAuthority::load_or_create(dir, false);
    CHECK(reloaded->info().sha256_fingerprint == rotated->info().sha256_fingerprint);
  }
  // No stray temporary files are left behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  CHECK(files == 2);
}

TEST_CASE("CA: missing CA without create, readable key and mismatched pair are refused", "[ca]") {
  TempDir tmp;
  const std::string dir = tmp.ca_dir();
  CHECK_THROWS_AS(CertificateAuthority::load_or_create(dir, false), CaError);

  auto ca = CertificateAuthority::load_or_create(dir);
  const std::string key_path = ca->info().key_path;
  const std::string cert_path = ca->info().cert_path;

  REQUIRE(::chmod(key_path.c_str(), 0640) == 0);
  try {
    CertificateAuthority::load_or_create(dir);
    FAIL("a group-readable key was accepted");
  } catch (const CaError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(key_path) != std::string::npos);
    CHECK(msg.find("chmod 600") != std::string::npos);
  }
  REQUIRE(::chmod(key_path.c_str(), 0600) == 0);

  // A certificate from another CA next to this key.
  TempDir other_tmp;
  auto other = CertificateAuthority::load_or_create(other_tmp.ca_dir());
  fs::copy_file(other->info().cert_path, cert_path, fs::copy_options::overwrite_existing);
  try {
    CertificateAuthority::load_or_create(dir);
    FAIL("a key that does not match the certificate was accepted");
  } catch (const CaError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(key_path) != std::string::npos);
    CHECK(msg.find(cert_path) != std::string::npos);
  }
}

TEST_CASE("CA: leaf certificates verify, carry the SAN, and are cached", "[ca]") {
  TempDir tmp;
  auto ca = CertificateAuthority::load_or_create(tmp.ca_dir());
  X509Ptr ca_cert = parse_pem(ca->cert_pem());

  X509Ptr leaf = parse_pem(ca->leaf_pem_for("API.Anthropic.com"));
  CHECK(verify_leaf(leaf.get(), ca_cert.get()) == X509_V_OK);
  CHECK(san_of(leaf.get()).dns == "api.anthropic.com");
  CHECK(X509_check_host(leaf.get(), "api.anthropic.com", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "evil.example", 0, 0, nullptr) == 0);
  CHECK(X509_check_ca(leaf.get()) == 0);
  CHECK((X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER) != 0);
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf.get());
  REQUIRE(akid != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(ca_cert.get())) == 0);
  int days = 0;
  int seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(leaf.get()),
                         X509_get0_notAfter(leaf.get())) == 1);
  CHECK(days <= 397);

  X509Ptr ip_leaf = parse_pem(ca->leaf_pem_for("127.0.0.1"));
  CHECK(verify_leaf(ip_leaf.get(), ca_cert.get()) == X509_V_OK);
  CHECK(san_of(ip_leaf.get()).ip == std::string("\x7f\x00\x00\x01", 4));
  CHECK(san_of(ip_leaf.get()).dns.empty());
  CHECK(X509_check_ip_asc(ip_leaf.get(), "127.0.0.1", 0) == 1);
  X509Ptr ip6_leaf = parse_pem(ca->leaf_pem_for("[::1]"));
  CHECK(X509_check_ip_asc(ip6_leaf.get(), "::1", 0) == 1);

  // A name too long for a CN still gets a verifiable certificate.
  std::string long_name(70, 'a');
  long_name += ".example";
  X509Ptr long_leaf = parse_pem(ca->leaf_pem_for(long_name));
  CHECK(verify_leaf(long_leaf.get(), ca_cert.get()) == X509_V_OK);
  CHECK(X509_check_host(long_leaf.get(), long_name.c_str(), 0, 0, nullptr) == 1);

  CHECK_THROWS_AS(ca->leaf_pem_for("bad host"), CaError);
  CHECK_THROWS_AS(ca->leaf_pem_for(std::string(254, 'a')), CaError);
  CHECK_THROWS_AS(ca->leaf_pem_for(""), CaError);

  const uint64_t hits = ca->leaf_cache_hits();
  const uint64_t misses = ca->leaf_cache_misses();
  const std::string again = ca->leaf_pem_for("api.anthropic.com");
  CHECK(ca->leaf_cache_hits() == hits + 1);
  CHECK(ca->leaf_cache_misses() == misses);
  X509Ptr again_cert = parse_pem(again);
  CHECK(X509_cmp(again_cert.get(), leaf.get()) == 0);  // the same certificate, not a re-mint
}

TEST_CASE("CA: the leaf cache is bounded and safe to share between threads", "[ca]") {
  TempDir tmp;
  auto ca = CertificateAuthority::load_or_create(tmp.ca_dir());
  X509Ptr ca_cert = parse_pem(ca->cert_pem());

  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        X509Ptr leaf = try_parse_pem(ca->leaf_pem_for("host" + std::to_string(i % 10) + ".test"));
        if (verify_leaf(leaf.get(), ca_cert.get()) != X509_V_OK) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(4, 0));
  CHECK(ca->leaf_cache_hits() + ca->leaf_cache_misses() == 200);
  CHECK(ca->leaf_cache_misses() >= 10);

  // Past its capacity the cache drops the oldest host, so that one is minted again.
  for (int i = 0; i < 1100; ++i) ca->leaf_pem_for("fill" + std::to_string(i) + ".test");
  const uint64_t misses = ca->leaf_cache_misses();
  ca->leaf_pem_for("fill1099.test");
  CHECK(ca->leaf_cache_misses() == misses);
  ca->leaf_pem_for("fill0.test");
  CHECK(ca->leaf_cache_misses() == misses + 1);
}

TEST_CASE("CA: TLS handshakes through the client-facing context", "[ca]") {
  TempDir tmp;
  auto ca = CertificateAuthority::load_or_create(tmp.ca_dir());

  SECTION("SNI picks the certificate, ALPN selects http/1.1") {
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr);
    CHECK(r.completed);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.alpn == "http/1.1");
    CHECK(r.peer_dns == "api.anthropic.com");
    CHECK(r.version == TLS1_3_VERSION);
  }
  SECTION("TLS 1.2 works the same way") {
    ClientOptions tls12;
    tls12.max_version = TLS1_2_VERSION;
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr, tls12);
    CHECK(r.completed);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.version == TLS1_2_VERSION);
    CHECK(r.alpn == "http/1.1");
    CHECK(r.peer_dns == "api.anthropic.com");
  }
  SECTION("TLS 1.1 is refused") {
    ClientOptions tls11;
    tls11.max_version = TLS1_1_VERSION;
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr, tls11);
    CHECK_FALSE(r.completed);
  }
  SECTION("a client offering only h2 connects without ALPN") {
    ClientOptions h2_only;
    h2_only.alpn = std::string("\x02h2", 3);
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr, h2_only);
    CHECK(r.completed);
    CHECK(r.alpn.empty());
  }
  SECTION("an SNI that cannot be a host name is refused") {
    HandshakeResult r = handshake(*ca, ca->cert_pem(), "bad\\name", nullptr, nullptr);
    CHECK_FALSE(r.completed);
  }
  SECTION("without SNI the fallback host is used") {
    HandshakeResult r = handshake(*ca, ca->cert_pem(), nullptr, "example.test", "example.test");
    CHECK(r.completed);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.peer_cn == "example.test");
    CHECK(r.peer_dns == "example.test");
  }
  SECTION("SNI wins over the fallback host") {
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.openai.com", "api.openai.com", "example.test");
    CHECK(r.completed);
    CHECK(r.peer_dns == "api.openai.com");
  }
  SECTION("a client offering no ALPN still connects") {
    ClientOptions no_alpn;
    no_alpn.alpn.clear();
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr, no_alpn);
    CHECK(r.completed);
    CHECK(r.alpn.empty());
  }
  SECTION("neither SNI nor fallback: the handshake fails") {
    HandshakeResult r = handshake(*ca, ca->cert_pem(), nullptr, nullptr, nullptr);
    CHECK_FALSE(r.completed);
  }
  SECTION("a client that does not trust the CA rejects the certificate") {
    TempDir other_tmp;
    auto other = CertificateAuthority::load_or_create(other_tmp.ca_dir());
    HandshakeResult r =
        handshake(*ca, other->cert_pem(), "api.anthropic.com", "api.anthropic.com", nullptr);
    CHECK_FALSE(r.completed);
    CHECK(r.verify_result != X509_V_OK);
  }
  SECTION("the host check fails for a different name") {
    HandshakeResult r =
        handshake(*ca, ca->cert_pem(), "api.anthropic.com", "api.openai.com", nullptr);
    CHECK_FALSE(r.completed);
    CHECK(r.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
  }
}

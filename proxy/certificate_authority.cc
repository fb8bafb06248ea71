// The local certificate authority: creates or loads the CA key pair on disk, mints per-host leaf
// certificates on demand and builds the server-side TLS context for intercepted connections.
#include "proxy/certificate_authority.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "proxy/openssl_handles.h"

namespace promptgate::proxy {
namespace {

using NamePtr = X509NamePtr;
using CtxPtr = SslCtxPtr;
using BnPtr = OpenSslPtr<BIGNUM, BN_free>;
using ExtPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using GenNamesPtr = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using GenNamePtr = OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;

constexpr int kCaValidityDays = 3652;
// Well under the 397-day ceiling browsers enforce; leaves are cheap to re-mint.
constexpr int kLeafValidityDays = 30;
constexpr long kBackdateSeconds = 3600;  // tolerates clients whose clocks run slightly behind
constexpr size_t kLeafCacheCapacity = 1024;
constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxCommonNameLength = 64;  // ub-common-name in RFC 5280

// The queued OpenSSL errors, as text, so a CaError says what OpenSSL objected to.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

[[noreturn]] void fail(const std::string& what) {
  std::string detail = openssl_errors();
  throw CaError(detail.empty() ? what : what + ": " + detail);
}

PkeyPtr generate_p256_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot generate an EC P-256 key");
  return key;
}

// 128 random bits, top bit cleared so the DER INTEGER stays positive and at most 16 bytes.
void set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) fail("cannot draw a random serial number");
  bytes[0] = (bytes[0] & 0x7f) | 0x40;  // never zero, and a fixed length
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    fail("cannot set the serial number");
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1))
    fail(std::string("cannot add extension ") + OBJ_nid2sn(nid));
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) fail("cannot encode a certificate as PEM");
  return bio_string(bio.get());
}

std::string key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    fail("cannot encode the CA key as PEM");
  return bio_string(bio.get());
}

std::string name_to_string(const X509_NAME* name) {
  std::string out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) continue;
    if (!out.empty()) out += ", ";
    out += OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)));
    out += '=';
    out.append(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

std::string sha256_fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &len)) fail("cannot hash the CA certificate");
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string iso8601(const ASN1_TIME* t) {
  struct tm tm {};
  if (!ASN1_TIME_to_tm(t, &tm)) return {};
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string local_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

X509Ptr make_ca_cert(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) fail("cannot create the CA");
  set_random_serial(cert.get());
  NamePtr name(X509_NAME_new());
  const std::string cn = "promptgate local CA (" + local_hostname() + ")";
  // A hostname long enough to overflow the 64-character CN limit is cut, not fatal.
  const std::string cn_fit = cn.size() <= kMaxCommonNameLength ? cn : cn.substr(0, 63) + ")";
  if (!name ||
      !X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn_fit.c_str()), -1, -1,
                                  0) ||
      !X509_NAME_add_entry_by_NID(name.get(), NID_organizationName, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>("promptgate"), -1, -1, 0))
    fail("cannot build the CA subject");
  if (!X509_set_subject_name(cert.get(), name.get()) ||
      !X509_set_issuer_name(cert.get(), name.get()) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCaValidityDays, 0, nullptr) ||
      !X509_set_pubkey(cert.get(), key))
    fail("cannot fill in the CA certificate");
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(cert.get(), key, EVP_sha256())) fail("cannot sign the CA certificate");
  return cert;
}

// Reads a whole file through an already open descriptor, so the mode checked is the mode of the
// file read (no race with a rename in between).
std::string read_fd(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw CaError("cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string read_file(const std::string& path, bool private_key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CaError("cannot open " + path + ": " + std::strerror(errno));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw CaError("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw CaError(path + " is not a regular file");
  if (private_key && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw CaError("refusing to use the CA private key " + path + ": its mode " + mode +
                  " lets other users read it; run `chmod 600 " + path + "` and try again");
  }
  return read_fd(fd, path);
}

// Writes `data` to a temporary file created with `mode` in the same directory, then renames it
// over `path`, so a crash leaves either the old file or the new one, never a partial one, and
// the key is never readable by others, not even briefly.
void write_file_atomically(const std::string& path, const std::string& data, mode_t mode) {
  unsigned char rnd[8];
  if (RAND_bytes(rnd, sizeof rnd) != 1) fail("cannot draw a temporary file name");
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%02x%02x%02x%02x%02x%02x%02x%02x.tmp", rnd[0], rnd[1],
                rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  const std::string tmp = path + suffix;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw CaError("cannot create " + tmp + ": " + std::strerror(errno));
  auto abandon = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw CaError(what + " " + tmp + ": " + std::strerror(err));
  };
  // The umask may have narrowed `mode`; the certificate should still be world readable.
  if (::fchmod(fd, mode) != 0) abandon("cannot set the mode of");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("cannot sync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw CaError("cannot write " + tmp + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw CaError("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
}

void ensure_private_dir(const std::string& dir) {
  std::filesystem::path p(dir);
  std::error_code ec;
  if (p.has_parent_path() && !p.parent_path().empty())
    std::filesystem::create_directories(p.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw CaError("cannot create directory " + dir + ": " + std::strerror(errno));
  if (!std::filesystem::is_directory(p, ec)) throw CaError(dir + " is not a directory");
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A host as a leaf certificate names it: lowercase DNS name or IP literal, or nullopt when it
// cannot be a hostname (so a hostile SNI cannot put arbitrary text into a certificate).
struct HostName {
  std::string text;  // cache key and CN
  bool is_ip = false;
  unsigned char ip[16] = {};
  int ip_len = 0;
};

std::optional<HostName> normalize_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxHostLength) return std::nullopt;
  HostName out;
  std::string text(host);
  if (inet_pton(AF_INET, text.c_str(), out.ip) == 1) {
    out.is_ip = true;
    out.ip_len = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), out.ip) == 1) {
    out.is_ip = true;
    out.ip_len = 16;
  }
  if (out.is_ip) {
    char canon[INET6_ADDRSTRLEN];
    inet_ntop(out.ip_len == 4 ? AF_INET : AF_INET6, out.ip, canon, sizeof canon);
    out.text = canon;
    return out;
  }
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return std::nullopt;
  }
  if (text.front() == '.' || text.find("..") != std::string::npos) return std::nullopt;
  out.text = std::move(text);
  return out;
}

int fallback_host_index() {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::string*>(ptr);
      });
  return index;
}

const unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

}  // namespace

struct CertificateAuthority::Impl {
  CaInfo info;
  std::string cert_pem;
  bool created = false;
  PkeyPtr ca_key;
  X509Ptr ca_cert;
  PkeyPtr leaf_key;
  CtxPtr ctx;

  std::mutex cache_mu;
  std::unordered_map<std::string, X509Ptr> cache;  // guarded by cache_mu
  std::list<std::string> cache_order;              // oldest first, guarded by cache_mu
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};

  X509Ptr mint_leaf(const HostName& host);
  X509Ptr leaf_for(const HostName& host);  // a new reference, owned by the caller
  void build_context();
};

X509Ptr CertificateAuthority::Impl::mint_leaf(const HostName& host) {
  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) fail("cannot create a leaf");
  set_random_serial(cert.get());
  NamePtr name(X509_NAME_new());
  if (!name) fail("cannot create a leaf subject");
  // A CN may hold at most 64 characters; longer names live in the SAN alone (which is what
  // clients check anyway), with the SAN made critical as RFC 5280 asks for an empty subject.
  const bool with_cn = host.text.size() <= kMaxCommonNameLength;
  if (with_cn && !X509_NAME_add_entry_by_NID(
                     name.get(), NID_commonName, MBSTRING_UTF8,
                     reinterpret_cast<const unsigned char*>(host.text.c_str()), -1, -1, 0))
    fail("cannot set the leaf subject for " + host.text);
  if (!X509_set_subject_name(cert.get(), name.get()) ||
      !X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), kLeafValidityDays, 0, nullptr) ||
      !X509_set_pubkey(cert.get(), leaf_key.get()))
    fail("cannot fill in the leaf certificate for " + host.text);

  // Built as GENERAL_NAMEs rather than a config string, so no host text is ever parsed as
  // OpenSSL configuration syntax.
  GenNamesPtr names(sk_GENERAL_NAME_new_null());
  GenNamePtr gen(GENERAL_NAME_new());
  if (!names || !gen) fail("cannot build the subjectAltName");
  if (host.is_ip) {
    ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
    if (!ip || !ASN1_OCTET_STRING_set(ip, host.ip, host.ip_len)) {
      ASN1_OCTET_STRING_free(ip);
      fail("cannot build the subjectAltName");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (!dns || !ASN1_STRING_set(dns, host.text.data(), static_cast<int>(host.text.size()))) {
      ASN1_IA5STRING_free(dns);
      fail("cannot build the subjectAltName");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_DNS, dns);
  }
  if (!sk_GENERAL_NAME_push(names.get(), gen.get())) fail("cannot build the subjectAltName");
  gen.release();  // owned by `names` now
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), with_cn ? 0 : 1,
                        X509V3_ADD_DEFAULT) != 1)
    fail("cannot add the subjectAltName for " + host.text);

  add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256()))
    fail("cannot sign the leaf certificate for " + host.text);
  return cert;
}

X509Ptr CertificateAuthority::Impl::leaf_for(const HostName& host) {
  {
    std::lock_guard lock(cache_mu);
    auto it = cache.find(host.text);
    if (it != cache.end()) {
      hits.fetch_add(1, std::memory_order_relaxed);
      X509_up_ref(it->second.get());
      return X509Ptr(it->second.get());
    }
  }
  misses.fetch_add(1, std::memory_order_relaxed);
  // Signed outside the lock, so one slow mint does not stall handshakes for cached hosts. Two
  // threads racing on the same new host both mint; the first insert wins.
  X509Ptr fresh = mint_leaf(host);
  std::lock_guard lock(cache_mu);
  auto [it, inserted] = cache.try_emplace(host.text);
  if (inserted) {
    it->second = std::move(fresh);
    cache_order.push_back(host.text);
    if (cache_order.size() > kLeafCacheCapacity) {
      cache.erase(cache_order.front());
      cache_order.pop_front();
    }
  }
  X509_up_ref(it->second.get());
  return X509Ptr(it->second.get());
}

void CertificateAuthority::Impl::build_context() {
  ctx.reset(SSL_CTX_new(TLS_server_method()));
  if (!ctx) fail("cannot create the client-facing TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  static const unsigned char kSessionContext[] = "promptgate";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);

  // Only the SNI check lives here: it rejects names that cannot be hosts with a proper alert.
  // The certificate itself is chosen in the cert callback, which also runs without SNI.
  SSL_CTX_set_tlsext_servername_callback(
      ctx.get(), +[](SSL* ssl, int* alert, void*) -> int {
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (sni && !normalize_host(sni)) {
          *alert = SSL_AD_UNRECOGNIZED_NAME;
          return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        return SSL_TLSEXT_ERR_OK;
      });

  SSL_CTX_set_cert_cb(
      ctx.get(),
      [](SSL* ssl, void* arg) -> int {
        auto* self = static_cast<Impl*>(arg);
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        std::string name;
        if (sni && *sni) {
          name = sni;
        } else if (auto* fallback =
                       static_cast<std::string*>(SSL_get_ex_data(ssl, fallback_host_index()))) {
          name = *fallback;
        }
        auto host = normalize_host(name);
        if (!host) return 0;
        try {
          X509Ptr leaf = self->leaf_for(*host);
          if (SSL_use_certificate(ssl, leaf.get()) != 1 ||
              SSL_use_PrivateKey(ssl, self->leaf_key.get()) != 1)
            return 0;
        } catch (const CaError&) {
          return 0;  // the handshake fails; OpenSSL's error queue holds the cause
        }
        return 1;
      },
      this);

  // HTTP/1.1 only: a client offering just h2 gets no ALPN answer and may still speak HTTP/1.1,
  // which is better than a failed handshake.
  SSL_CTX_set_alpn_select_cb(
      ctx.get(),
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) -> int {
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kAlpnHttp11, sizeof kAlpnHttp11, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
          return SSL_TLSEXT_ERR_NOACK;
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
}

std::shared_ptr<CertificateAuthority> CertificateAuthority::load_or_create(const std::string& dir,
                                                                           bool create,
                                                                           bool rotate) {
  auto impl = std::make_unique<Impl>();
  const std::string cert_path = (std::filesystem::path(dir) / "ca.pem").string();
  const std::string key_path = (std::filesystem::path(dir) / "ca-key.pem").string();
  impl->info.cert_path = cert_path;
  impl->info.key_path = key_path;

  const bool have_cert = file_exists(cert_path);
  const bool have_key = file_exists(key_path);
  if (rotate || (!have_cert && !have_key)) {
    if (!create && !rotate)
      throw CaError("no CA found in " + dir + " (expected " + cert_path + ")");
    ensure_private_dir(dir);
    impl->ca_key = generate_p256_key();
    impl->ca_cert = make_ca_cert(impl->ca_key.get());
    // Key first: a crash between the renames leaves a mismatch that load reports, never a
    // certificate whose key is lost.
    write_file_atomically(key_path, key_to_pem(impl->ca_key.get()), 0600);
    write_file_atomically(cert_path, cert_to_pem(impl->ca_cert.get()), 0644);
    impl->created = true;
  } else {
    if (!have_cert)
      throw CaError("CA key " + key_path + " exists but its certificate " + cert_path +
                    " is missing; restore it or rotate the CA");
    if (!have_key)
      throw CaError("CA certificate " + cert_path + " exists but its key " + key_path +
                    " is missing; restore it or rotate the CA");
    const std::string key_pem = read_file(key_path, true);
    const std::string pem = read_file(cert_path, false);
    BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    impl->ca_key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!impl->ca_key) fail("cannot parse the CA key " + key_path);
    BioPtr cert_bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    impl->ca_cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (!impl->ca_cert) fail("cannot parse the CA certificate " + cert_path);
    if (X509_check_private_key(impl->ca_cert.get(), impl->ca_key.get()) != 1) {
      ERR_clear_error();
      throw CaError("the CA key " + key_path + " does not match the certificate " + cert_path +
                    "; restore the matching pair or rotate the CA");
    }
    if (X509_check_ca(impl->ca_cert.get()) == 0)
      throw CaError(cert_path + " is not a CA certificate");
  }

  impl->cert_pem = cert_to_pem(impl->ca_cert.get());
  impl->info.subject = name_to_string(X509_get_subject_name(impl->ca_cert.get()));
  impl->info.sha256_fingerprint = sha256_fingerprint(impl->ca_cert.get());
  impl->info.not_after = iso8601(X509_get0_notAfter(impl->ca_cert.get()));
  impl->leaf_key = generate_p256_key();
  impl->build_context();
  return std::shared_ptr<CertificateAuthority>(new CertificateAuthority(std::move(impl)));
}

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CertificateAuthority::~CertificateAuthority() = default;

const CaInfo& CertificateAuthority::info() const {
  return impl_->info;
}
const std::string& CertificateAuthority::cert_pem() const {
  return impl_->cert_pem;
}
bool CertificateAuthority::created() const {
  return impl_->created;
}
SSL_CTX* CertificateAuthority::client_facing_context() const {
  return impl_->ctx.get();
}

void CertificateAuthority::set_fallback_host(SSL* ssl, const std::string& host) {
  const int index = fallback_host_index();
  auto fresh = std::make_unique<std::string>(host);
  auto* old = static_cast<std::string*>(SSL_get_ex_data(ssl, index));
  if (SSL_set_ex_data(ssl, index, fresh.get()) != 1) throw CaError("cannot store the host name");
  fresh.release();
  delete old;
}

std::string CertificateAuthority::leaf_pem_for(const std::string& host) {
  auto name = normalize_host(host);
  if (!name) throw CaError("not a valid host name: '" + host + "'");
  return cert_to_pem(impl_->leaf_for(*name).get());
}

uint64_t CertificateAuthority::leaf_cache_hits() const {
  return impl_->hits.load(std::memory_order_relaxed);
}
uint64_t CertificateAuthority::leaf_cache_misses() const {
  return impl_->misses.load(std::memory_order_relaxed);
}

}  // namespace promptgate::proxy

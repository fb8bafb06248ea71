// ClientCertificateTrust: loading the client CA bundle (what is refused, and how the error reads).
// Handshakes with real client certificates are in tests/proxy/client_cert_test.mjs.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "proxy/certificate_authority.h"
#include "proxy/client_certificates.h"

using namespace promptgate::proxy;
namespace fs = std::filesystem;

namespace {

struct CaDir {
  fs::path path = fs::temp_directory_path() /
                  ("promptgate-client-ca-test-" + std::to_string(std::random_device{}()));
  ~CaDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string message_of(const std::string& pem, const std::string& name) {
  try {
    ClientCertificateTrust::parse(pem, name);
  } catch (const ClientCaError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("client CA: a bundle of CA certificates loads", "[client_cert]") {
  CaDir one, two;
  auto a = CertificateAuthority::load_or_create(one.path.string());
  auto b = CertificateAuthority::load_or_create(two.path.string());
  CHECK(ClientCertificateTrust::parse(a->cert_pem(), "a.pem")->certificates() == 1);
  CHECK(ClientCertificateTrust::parse(a->cert_pem() + "\n# comment\n" + b->cert_pem(), "ab.pem")
            ->certificates() == 2);
  CHECK(ClientCertificateTrust::load(a->info().cert_path)->certificates() == 1);
}

TEST_CASE("client CA: unusable files are refused with the file named", "[client_cert]") {
  CaDir dir;
  auto ca = CertificateAuthority::load_or_create(dir.path.string());
  CHECK_THAT(message_of("", "empty.pem"),
             Catch::Contains("empty.pem") && Catch::Contains("no PEM certificate"));
  // A leaf (server) certificate is not a CA: trusting it would trust nothing it signs.
  CHECK_THAT(message_of(ca->leaf_pem_for("api.anthropic.com"), "leaf.pem"),
             Catch::Contains("leaf.pem") && Catch::Contains("not a CA certificate"));
  std::string broken = ca->cert_pem() +
                       "-----BEGIN CERTIFICATE-----\nnot base64!\n"
                       "-----END CERTIFICATE-----\n";
  CHECK_THAT(message_of(broken, "broken.pem"),
             Catch::Contains("broken.pem") && Catch::Contains("certificate 2"));
  try {
    ClientCertificateTrust::load((dir.path / "missing.pem").string());
    FAIL("a missing file was accepted");
  } catch (const ClientCaError& e) {
    CHECK_THAT(e.what(), Catch::Contains("missing.pem") && Catch::Contains("cannot read"));
  }
}

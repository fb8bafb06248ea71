// promptgate ca init [--force] | show | export: manage the local CA in $PROMPTGATE_HOME (init
// also creates the home's cluster key when it has none).
#include <iostream>
#include <span>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "detectors/fingerprint.h"
#include "proxy/certificate_authority.h"

namespace promptgate {

extern const char kCaUsage[] =
    R"(usage: promptgate ca init [--force] | promptgate ca show | promptgate ca export
  init    create the local CA in $PROMPTGATE_HOME (default ~/.config/promptgate);
          --force replaces it (clients must then trust the new certificate)
  show    print its path, subject, SHA-256 fingerprint and expiry
  export  print the CA certificate (PEM), e.g. for NODE_EXTRA_CA_CERTS
)";

namespace {
const cli::ArgumentSpec kInitArgs{.options = {{"--force"}}};
}  // namespace

int ca_command(const Args& args) {
  constexpr const char* kUsage = kCaUsage;
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  std::string home = default_home_dir();
  try {
    const std::string& sub = args[0];
    if (sub == "init") {
      bool force = false;
      try {
        force = cli::parse_arguments(std::span(args).subspan(1), kInitArgs).has("--force");
      } catch (const cli::ArgumentError&) {
        std::cerr << kUsage;
        return 2;
      }
      auto ca = proxy::CertificateAuthority::load_or_create(home, true, force);
      std::cout << (ca->created() ? (force ? "rotated" : "created") : "exists") << ": "
                << ca->info().cert_path << "\n"
                << "sha256 fingerprint: " << ca->info().sha256_fingerprint << "\n";
      if (!ca->created())
        std::cout << "(use `promptgate ca init --force` to replace it; clients must then trust "
                     "the new certificate)\n";
      ensure_home_key(home, std::cout);
      return 0;
    }
    if (sub == "show" || sub == "export") {
      try {
        cli::parse_arguments(std::span(args).subspan(1), {});
      } catch (const cli::ArgumentError& e) {
        std::cerr << "promptgate ca: " << e.what() << "\n" << kUsage;
        return 2;
      }
      auto ca = proxy::CertificateAuthority::load_or_create(home, false);
      if (sub == "export") {
        std::cout << ca->cert_pem();
        return 0;
      }
      const auto& info = ca->info();
      std::cout << "certificate: " << info.cert_path << "\n"
                << "private key: " << info.key_path << "\n"
                << "subject:     " << info.subject << "\n"
                << "sha256:      " << info.sha256_fingerprint << "\n"
                << "not after:   " << info.not_after << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "promptgate ca: " << e.what() << "\n";
    return 2;
  }
  std::cerr << kUsage;
  return 2;
}

}  // namespace promptgate

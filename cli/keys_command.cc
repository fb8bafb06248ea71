// promptgate keys init [--force] | show-id [--key-file FILE] | rotate: the cluster key in
// $PROMPTGATE_HOME, from which fingerprints, stand-ins and override codes derive their keys
// (detectors/cluster_key.h, docs/keys.md).
#include <filesystem>
#include <iostream>
#include <span>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "detectors/cluster_key.h"

namespace promptgate {

extern const char kKeysUsage[] =
    "usage: promptgate keys init [--force] | promptgate keys show-id [--key-file FILE] |\n"
    "       promptgate keys rotate\n"
    "  init     create $PROMPTGATE_HOME/cluster.key (64 hex digits, mode 0600) if the home has\n"
    "           no key; --force replaces an old fingerprint.key (fingerprints then change)\n"
    "  show-id  print the key's id (compare it across replicas; it reveals nothing of the key)\n"
    "  rotate   write a new cluster.key, keeping the old one as cluster.key.previous\n"
    "Copy cluster.key to every replica or machine that must agree (docs/keys.md).\n";

namespace {

const char* const kUsage = kKeysUsage;

const cli::ArgumentSpec kInitArgs{.options = {{"--force"}}};
const cli::ArgumentSpec kShowArgs{.options = {{"--key-file", cli::OptionKind::value}}};
const cli::ArgumentSpec kRotateArgs{};

void describe(const ClusterKey& k, std::ostream& out) {
  out << "id " << k.id() << "  " << k.path()
      << (k.legacy() ? "  (legacy fingerprint.key: fingerprints as before it)" : "") << "\n";
}

int init(bool force, const std::string& home) {
  std::error_code ec;
  std::string cluster = home + "/cluster.key", legacy = home + "/fingerprint.key";
  if (std::filesystem::exists(cluster, ec)) {
    std::cout << "exists: ";
    describe(ClusterKey::load_file(cluster), std::cout);
    std::cout << "(use `promptgate keys rotate` to replace it)\n";
    return 0;
  }
  if (std::filesystem::exists(legacy, ec) && !force) {
    std::cout << "this home's key is its fingerprint.key (made before cluster keys): ";
    describe(ClusterKey::load_file(legacy), std::cout);
    std::cout << "Copy that file to the machines that must agree, or run `promptgate keys init "
                 "--force` for a cluster.key (finding fingerprints then change).\n";
    return 0;
  }
  std::cout << "created: ";
  describe(ClusterKey::create_file(cluster), std::cout);
  return 0;
}

int rotate(const std::string& home) {
  std::string cluster = home + "/cluster.key";
  std::error_code ec;
  if (std::filesystem::exists(cluster, ec)) {
    std::string previous = cluster + ".previous";
    std::filesystem::copy_file(cluster, previous,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(
        previous, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::cout << "previous: ";
    describe(ClusterKey::load_file(previous), std::cout);
  }
  std::cout << "new:      ";
  describe(ClusterKey::create_file(cluster, /*replace=*/true), std::cout);
  std::cout << "Restart or roll every replica with the new key. Finding fingerprints, open "
               "override codes and stand-ins change; regenerate known-secrets digest files.\n";
  return 0;
}

}  // namespace

void ensure_home_key(const std::string& home, std::ostream& out) {
  std::error_code ec;
  bool had = std::filesystem::exists(home + "/cluster.key", ec) ||
             std::filesystem::exists(home + "/fingerprint.key", ec);
  ClusterKey k = had ? ClusterKey::load_file(std::filesystem::exists(home + "/cluster.key", ec)
                                                 ? home + "/cluster.key"
                                                 : home + "/fingerprint.key")
                     : ClusterKey::create_file(home + "/cluster.key");
  out << "cluster key " << (had ? "exists" : "created") << ": ";
  describe(k, out);
}

int keys_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string home = default_home_dir();
  const std::string& sub = args[0];
  auto rest = std::span(args).subspan(1);
  try {
    if (sub == "init" || sub == "show-id" || sub == "rotate") {
      const cli::ArgumentSpec& spec = sub == "init"      ? kInitArgs
                                      : sub == "show-id" ? kShowArgs
                                                         : kRotateArgs;
      // --help here throws cli::HelpRequested: main.cc prints kKeysUsage and exits 0.
      cli::Arguments parsed = cli::parse_arguments(rest, spec);
      if (sub == "init") return init(parsed.has("--force"), home);
      if (sub == "rotate") return rotate(home);
      describe(ClusterKey::resolve(home, parsed.last("--key-file").value_or(""), false), std::cout);
      return 0;
    }
  } catch (const cli::ArgumentError& e) {
    std::cerr << "promptgate keys: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "promptgate keys: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "promptgate keys: unknown subcommand '" << sub << "'\n" << kUsage;
  return 2;
}

}  // namespace promptgate

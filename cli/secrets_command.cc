// `promptgate secrets`: turns the organisation's own secret values (.env files, vault exports,
// one value per line) into a known-secrets digest file for the gateway, and checks such a file
// against this install's key. Values live only in this process's memory, are wiped after use,
// and are never printed: messages name files, lines and variable names only.
#include <openssl/crypto.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>

#include "cli/arguments.h"
#include "cli/commands.h"
#include "detectors/cluster_key.h"
#include "detectors/known_secrets.h"

namespace promptgate {

extern const char kSecretsUsage[] =
    "usage: promptgate secrets digest [--key-file FILE] [--format auto|env|lines|json]\n"
    "                                 [--keep-plain] FILE... | -\n"
    "         Print a known-secrets digest file (no values) for the values in FILEs.\n"
    "       promptgate secrets check [--key-file FILE] DIGEST_FILE\n"
    "         Check that a digest file is well formed and made under this key.\n"
    "  --key-file FILE  the gateway's cluster key (default $PROMPTGATE_KEY_FILE, else\n"
    "                   $PROMPTGATE_HOME/cluster.key or its older fingerprint.key)\n"
    "  --format         env: KEY=VALUE lines; lines: one value per line; json: a vault export\n"
    "                   ({\"data\":{\"data\":{...}}}) or a flat object of strings. auto (default)\n"
    "                   goes by the file name: *.json, .env, .env.*, *.env.\n"
    "  --keep-plain     also digest values made only of letters or only of digits\n"
    "Exit status: 0 done, 2 error.\n";

namespace {
constexpr const char* kUsage = kSecretsUsage;

[[noreturn]] void usage_error(const std::string& msg) {
  throw std::invalid_argument(msg);
}

struct Options {
  std::string key_file;
  std::string format = "auto";
  bool keep_plain = false;
  std::vector<std::string> paths;
};

const cli::ArgumentSpec kArgs{
    .options = {{"--key-file", cli::OptionKind::value},
                {"--format", cli::OptionKind::value, {"auto", "env", "lines", "json"}},
                {"--keep-plain"}},
    .positionals = true};

// The words after the subcommand. Throws cli::ArgumentError (an invalid_argument).
Options parse(std::span<const std::string> words) {
  cli::Arguments parsed = cli::parse_arguments(words, kArgs);
  Options o;
  o.key_file = parsed.last("--key-file").value_or("");
  o.format = parsed.last("--format").value_or("auto");
  o.keep_plain = parsed.has("--keep-plain");
  o.paths = std::move(parsed.positionals);
  return o;
}

FingerprintKey key_for(const Options& o) {
  // A fresh key would make digests that no gateway can use: never create one here.
  try {
    return ClusterKey::resolve(default_home_dir(), o.key_file, /*create=*/false).fingerprint_key();
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) +
                             ". Digests must be made with the gateway's key: pass it with "
                             "--key-file, or set PROMPTGATE_HOME to its directory");
  }
}

SecretInputFormat format_for(const std::string& format, const std::string& path) {
  if (format == "env") return SecretInputFormat::env;
  if (format == "lines") return SecretInputFormat::lines;
  if (format == "json") return SecretInputFormat::json;
  std::string name = std::filesystem::path(path).filename().string();
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".json")) return SecretInputFormat::json;
  if (name == ".env" || name.rfind(".env.", 0) == 0 || ends_with(".env"))
    return SecretInputFormat::env;
  usage_error("cannot tell the format of " + path + "; pass --format env, lines or json");
}

// Reads a whole input; the caller wipes it.
std::string read_input(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return text;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": cannot read");
  return text;
}

// "PORT, DEBUG (line 7)": where skipped values came from, never what they were.
class SkipList {
 public:
  void add(std::string_view label, size_t line) {
    ++count_;
    if (count_ > 10) return;
    if (!where_.empty()) where_ += ", ";
    if (!label.empty()) where_ += label;
    if (line)
      where_ +=
          label.empty() ? "line " + std::to_string(line) : " (line " + std::to_string(line) + ")";
  }
  size_t count() const { return count_; }
  std::string describe() const { return where_ + (count_ > 10 ? ", ..." : ""); }

 private:
  size_t count_ = 0;
  std::string where_;
};

int digest(const Options& o) {
  if (o.paths.empty()) usage_error("secrets digest needs a FILE or - for stdin");
  if (o.format == "auto")
    for (const auto& p : o.paths)
      if (p == "-") usage_error("reading stdin needs --format env, lines or json");
  FingerprintKey key = key_for(o);
  KnownSecretsDigester digester(key);
  size_t values = 0, duplicates = 0;
  for (const auto& path : o.paths) {
    std::string name = path == "-" ? "stdin" : path;
    SecretInputFormat format = format_for(o.format, path);
    std::string text = read_input(path);
    SkipList too_short, too_long, edge_space, plain;
    SecretInputStats stats;
    try {
      stats = read_secret_input(text, format,
                                [&](std::string_view value, std::string_view label, size_t line) {
                                  switch (digester.add(value, label, o.keep_plain)) {
                                    case KnownSecretsDigester::Outcome::added:
                                      break;
                                    case KnownSecretsDigester::Outcome::duplicate:
                                      ++duplicates;
                                      break;
                                    case KnownSecretsDigester::Outcome::too_short:
                                      too_short.add(label, line);
                                      break;
                                    case KnownSecretsDigester::Outcome::too_long:
                                      too_long.add(label, line);
                                      break;
                                    case KnownSecretsDigester::Outcome::edge_whitespace:
                                      edge_space.add(label, line);
                                      break;
                                    case KnownSecretsDigester::Outcome::plain:
                                      plain.add(label, line);
                                      break;
                                  }
                                });
    } catch (const std::runtime_error& e) {
      OPENSSL_cleanse(text.data(), text.size());
      throw std::runtime_error(name + ": " + e.what());
    }
    OPENSSL_cleanse(text.data(), text.size());
    values += stats.values;
    auto report = [&](const SkipList& list, const std::string& why) {
      if (list.count())
        std::cerr << "promptgate secrets: " << name << ": skipped " << list.count() << " " << why
                  << ": " << list.describe() << "\n";
    };
    report(too_short, "shorter than " + std::to_string(KnownSecrets::kMinLength) + " bytes");
    report(too_long, "longer than " + std::to_string(KnownSecrets::kMaxLength) + " bytes");
    report(edge_space, "starting or ending with whitespace");
    report(plain,
           "made only of letters or only of digits (they would match ordinary text; "
           "--keep-plain keeps them)");
    if (stats.non_string)
      std::cerr << "promptgate secrets: " << name << ": skipped " << stats.non_string
                << " values that are not JSON strings\n";
  }
  std::cout << digester.file_text() << std::flush;
  if (!std::cout) throw std::runtime_error("cannot write to stdout");
  std::cerr << "promptgate secrets: " << digester.size() << " known secrets from " << values
            << " values (" << duplicates << " duplicates), key-id " << KnownSecrets::key_id(key)
            << "\n";
  return 0;
}

int check(const Options& o) {
  if (o.paths.size() != 1) usage_error("secrets check needs one DIGEST_FILE");
  FingerprintKey key = key_for(o);
  auto known = KnownSecrets::load(o.paths.front(), key);
  std::cout << o.paths.front() << ": OK, " << known->size() << " known secrets";
  if (known->size())
    std::cout << ", lengths " << known->min_length() << ".." << known->max_length();
  std::cout << ", key-id " << KnownSecrets::key_id(key) << "\n";
  return 0;
}

}  // namespace

int secrets_command(const Args& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (args[0] == "help") {
    std::cout << kUsage;
    return 0;
  }
  try {
    Options o = parse(std::span(args).subspan(1));
    if (args[0] == "digest") return digest(o);
    if (args[0] == "check") return check(o);
    usage_error("unknown subcommand '" + args[0] + "'");
  } catch (const std::invalid_argument& e) {
    std::cerr << "promptgate secrets: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "promptgate secrets: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace promptgate

// The cluster key: HKDF gives each purpose its own stable key, distinct across purposes and
// keys; key files in both formats (64 hex digits, a legacy 32-byte fingerprint.key), where
// resolve() looks and what it creates; a legacy key keeps its fingerprints.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "detectors/cluster_key.h"

using namespace promptgate;
namespace fs = std::filesystem;

namespace {

ClusterKey::Bytes bytes(unsigned char fill) {
  ClusterKey::Bytes b;
  b.fill(fill);
  return b;
}

struct TempHome {
  fs::path path;
  TempHome() {
    char tmpl[] = "/tmp/pg-keys-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempHome() { fs::remove_all(path); }
  std::string str() const { return path.string(); }
};

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

std::string hex(const ClusterKey::Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

}  // namespace

TEST_CASE("cluster key: one stable key per purpose, distinct across purposes and keys", "[keys]") {
  ClusterKey k = ClusterKey::from_bytes(bytes(1));
  std::set<std::string> seen;
  for (KeyPurpose p : {KeyPurpose::fingerprints, KeyPurpose::standins, KeyPurpose::override_codes,
                       KeyPurpose::transcript_digests, KeyPurpose::key_id}) {
    auto d = k.derive(p);
    CHECK(d == k.derive(p));                                 // stable
    CHECK(d == ClusterKey::from_bytes(bytes(1)).derive(p));  // a copy of the key agrees
    CHECK(d != ClusterKey::from_bytes(bytes(2)).derive(p));  // another key does not
    CHECK(hex(d) != hex(bytes(1)));                          // never the secret itself
    seen.insert(hex(d));
  }
  CHECK(seen.size() == 5);
  // Pinned (computed with Python's hmac as RFC 5869 describes): a change of salt, label or hash
  // would silently change every fingerprint and stand-in of every install.
  CHECK(hex(ClusterKey::from_bytes(bytes(0)).derive(KeyPurpose::fingerprints)) ==
        "b57fdf43ecf93864d18d2bf82c36300577d9db6f3980773ba4bb896b6321445e");
  CHECK(k.id().size() == 16);
  CHECK(k.id() != ClusterKey::from_bytes(bytes(2)).id());
  CHECK(k.fingerprint_key().fingerprint("v") !=
        FingerprintKey::from_bytes(bytes(1)).fingerprint("v"));
}

TEST_CASE("cluster key: a legacy fingerprint.key keeps its fingerprints", "[keys]") {
  TempHome home;
  std::string raw(32, '\0');
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i * 7 + 3);
  write_file(home.path / "fingerprint.key", raw);
  ClusterKey k = ClusterKey::resolve(home.str(), "", false);
  CHECK(k.legacy());
  CHECK(k.path() == (home.path / "fingerprint.key").string());
  FingerprintKey old = FingerprintKey::load_file((home.path / "fingerprint.key").string());
  CHECK(k.fingerprint_key().fingerprint("synthetic value") == old.fingerprint("synthetic value"));
  CHECK_FALSE(fs::exists(home.path / "cluster.key"));  // nothing written
  // A cluster.key, once there, wins.
  ClusterKey made = ClusterKey::create_file((home.path / "cluster.key").string());
  CHECK(ClusterKey::resolve(home.str(), "", false).id() == made.id());
  CHECK_FALSE(ClusterKey::resolve(home.str(), "", false).legacy());
}

TEST_CASE("cluster key: files, creation and the explicit path", "[keys]") {
  TempHome home;
  CHECK_THROWS_WITH(ClusterKey::resolve(home.str(), "", false), Catch::Contains("no cluster key"));
  ClusterKey created = ClusterKey::resolve(home.str(), "", true);
  CHECK(created.created());
  fs::path file = home.path / "cluster.key";
  CHECK((fs::status(file).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.size() == 65);  // 64 hex digits and a newline
  ClusterKey again = ClusterKey::resolve(home.str(), "", true);
  CHECK_FALSE(again.created());
  CHECK(again.id() == created.id());

  // Another home given the same file by path agrees; blanks around the digits are fine.
  TempHome other;
  write_file(other.path / "shared.key", "  " + text.substr(0, 64) + "\r\n");
  ClusterKey shared = ClusterKey::resolve(other.str(), (other.path / "shared.key").string(), true);
  CHECK(shared.id() == created.id());
  CHECK(shared.fingerprint_key().fingerprint("x") == created.fingerprint_key().fingerprint("x"));
  CHECK_FALSE(fs::exists(other.path / "cluster.key"));

  // Bad files are refused, naming the path; a missing explicit file is never created.
  write_file(other.path / "bad.key", "not a key");
  CHECK_THROWS_WITH(ClusterKey::load_file((other.path / "bad.key").string()),
                    Catch::Contains("bad.key: not a promptgate key"));
  write_file(other.path / "odd.key", std::string(63, 'a'));
  CHECK_THROWS(ClusterKey::load_file((other.path / "odd.key").string()));
  CHECK_THROWS_WITH(ClusterKey::resolve(other.str(), (other.path / "none.key").string(), true),
                    Catch::Contains("none.key"));
  CHECK_FALSE(fs::exists(other.path / "none.key"));

  // Rotation replaces the file: a new key.
  ClusterKey rotated = ClusterKey::create_file(file.string(), /*replace=*/true);
  CHECK(rotated.id() != created.id());
  CHECK(ClusterKey::resolve(home.str(), "", false).id() == rotated.id());
}

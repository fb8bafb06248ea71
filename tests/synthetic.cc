#include "tests/synthetic.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <random>

namespace promptgate::testing {
namespace {
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

std::string github_token(uint64_t seed, const char* prefix) {
  std::mt19937_64 rng(seed);
  std::string random;
  for (int i = 0; i < 30; ++i) random.push_back(kBase62[rng() % 62]);
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(random.data()), 30));
  std::string check(6, '0');
  for (int i = 5; i >= 0; --i) {
    check[static_cast<size_t>(i)] = kBase62[crc % 62];
    crc /= 62;
  }
  return std::string(prefix) + "_" + random + check;
}

std::string aws_key_id(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string id = "AKIA";
  for (int i = 0; i < 16; ++i) id.push_back("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng() % 32]);
  return id;
}

std::string visa_number(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string n = "4";
  for (int i = 0; i < 14; ++i) n.push_back(static_cast<char>('0' + rng() % 10));
  int sum = 0;
  for (int i = 0; i < 15; ++i) {
    int d = n[static_cast<size_t>(14 - i)] - '0';
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  n.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return n;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

const char* const kTestPack = R"(pack: test
rules:
  - id: test-github-pat
    category: credential
    severity: high
    action: block
    description: GitHub classic token with CRC32
    pattern: '\bghp_[A-Za-z0-9]{36}\b'
    validators: [github_crc32]
  - id: test-aws-key-id
    category: credential
    severity: high
    action: block
    description: AWS access key id
    pattern: '\bAKIA[A-Z2-7]{16}\b'
    not_placeholder: true
  - id: test-password
    category: credential
    severity: high
    action: redact
    description: password assignment
    pattern: '(?i)\bpassword\b["'']?\s*[:=]\s*["'']?(?P<secret>[^\s"'']{8,64})'
    prefilter: '(?i)password'
    min_entropy: 2.5
    not_placeholder: true
  - id: test-card
    category: pci
    severity: critical
    action: block
    description: Visa card number
    pattern: '\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b'
    validators: [luhn]
  - id: test-pem
    category: credential
    severity: critical
    action: block
    description: RSA private key block
    pattern: '-----BEGIN RSA PRIVATE KEY-----[\r\n]+(?:[A-Za-z0-9+/=]{1,80}[\r\n]+)+-----END RSA PRIVATE KEY-----'
    prefilter: '-----BEGIN RSA PRIVATE KEY-----'
    max_length: 8192
  - id: test-ssn-context
    category: pii
    severity: high
    action: block
    description: nine digits near the word ssn
    pattern: '\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b'
    validators: [us_ssn_area]
    context: {words: [ssn, social security], within: 32}
    anchor: context
)";

std::shared_ptr<const RuleSet> test_rules() {
  static auto rules = RuleSet::compile(parse_rule_pack(kTestPack, "test-pack.yaml"));
  return rules;
}

std::shared_ptr<const RuleSet> builtin_rules() {
  static auto rules = RuleSet::compile(load_rule_packs({RuleSource::builtin()}));
  return rules;
}

FingerprintKey test_key() {
  return FingerprintKey::from_passphrase("unit tests");
}

}  // namespace promptgate::testing

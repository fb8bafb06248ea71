// Checksums and heuristics of the confirm stage, on synthetic values built from the public
// definitions of each format.
#include <catch2/catch.hpp>

#include "detectors/validators.h"
#include "tests/synthetic.h"

using namespace promptgate;

TEST_CASE("luhn") {
  std::string v = testing::visa_number(1);
  CHECK(luhn_valid(v));
  std::string bad = v;
  bad.back() = bad.back() == '9' ? '0' : static_cast<char>(bad.back() + 1);
  CHECK_FALSE(luhn_valid(bad));
  CHECK(luhn_valid(v.substr(0, 4) + " " + v.substr(4, 4) + "-" + v.substr(8)));
  CHECK_FALSE(luhn_valid("4x11"));
}

TEST_CASE("NPI uses the 80840 prefix") {
  CHECK(npi_valid("1234567893"));  // the check digit from the CMS worked example
  CHECK_FALSE(npi_valid("1234567890"));
  CHECK_FALSE(npi_valid("123456789"));
}

TEST_CASE("DEA number checksum") {
  CHECK(dea_valid("AB1234563"));  // 1+3+5 + 2*(2+4+6) = 33 -> 3
  CHECK_FALSE(dea_valid("AB1234567"));
  CHECK_FALSE(dea_valid("A11234563"));
}

TEST_CASE("US SSN ranges") {
  CHECK(us_ssn_valid("212-45-1234"));
  CHECK(us_ssn_valid("212451234"));
  for (const char* bad : {"000-12-3456", "666-12-3456", "900-12-3456", "212-00-1234", "212-45-0000",
                          "078-05-1120", "123-45-6789"})
    CHECK_FALSE(us_ssn_valid(bad));
}

TEST_CASE("US ITIN group ranges") {
  CHECK(us_itin_valid("912-70-1234"));
  CHECK(us_itin_valid("900-94-0000"));
  CHECK_FALSE(us_itin_valid("912-93-1234"));
  CHECK_FALSE(us_itin_valid("812-70-1234"));
}

TEST_CASE("IBAN length and mod-97") {
  CHECK(iban_valid("GB82WEST12345698765432"));  // the ECBS documentation example
  CHECK(iban_valid("GB82 WEST 1234 5698 7654 32"));
  CHECK_FALSE(iban_valid("GB82WEST12345698765433"));
  CHECK_FALSE(iban_valid("GB82WEST1234569876543"));   // wrong length for GB
  CHECK_FALSE(iban_valid("QQ82WEST12345698765432"));  // unknown country
}

TEST_CASE("ABA routing number") {
  CHECK(aba_routing_valid("011000015"));
  CHECK_FALSE(aba_routing_valid("011000016"));
  CHECK_FALSE(aba_routing_valid("991000015"));
}

TEST_CASE("base62 CRC32 token checksum") {
  std::string t = testing::github_token(3);
  CHECK(base62_crc32_valid(t));
  CHECK(base62_crc32_valid(testing::github_token(4, "npm")));
  std::string bad = t;
  bad[10] = bad[10] == 'a' ? 'b' : 'a';
  CHECK_FALSE(base62_crc32_valid(bad));
  CHECK_FALSE(base62_crc32_valid("ghp_short"));
}

TEST_CASE("JWT header must be JSON with alg") {
  // {"alg":"HS256","typ":"JWT"} . {"sub":"synthetic"} . signature
  CHECK(jwt_valid("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzeW50aGV0aWMifQ.c2lnbmF0dXJl"));
  // {"typ":"JWT"} has no alg
  CHECK_FALSE(jwt_valid("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzeW50aGV0aWMifQ.c2lnbmF0dXJl"));
  CHECK_FALSE(jwt_valid("eyJnot-base64-json!!.x.y"));
}

TEST_CASE("UK NINO prefixes") {
  CHECK(uk_nino_valid("AB123456C"));
  CHECK_FALSE(uk_nino_valid("GB123456C"));
  CHECK_FALSE(uk_nino_valid("DA123456C"));
  CHECK_FALSE(uk_nino_valid("AO123456C"));
}

TEST_CASE("entropy") {
  CHECK(shannon_entropy("aaaaaaaa") == Approx(0.0));
  CHECK(shannon_entropy("abcdabcd") == Approx(2.0));
  CHECK(shannon_entropy(testing::github_token(5)) > 4.0);
}

// Synthetic secrets for the tests, built from public format facts (prefix, length, alphabet,
// checksum) with a seeded generator. None of them is, or was, a real credential.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "detectors/engine.h"

namespace promptgate::testing {

// ghp_ + 30 random base62 + 6-char base62 CRC32, as GitHub's format documents.
std::string github_token(uint64_t seed, const char* prefix = "ghp");
// AKIA + 16 random characters from [A-Z2-7].
std::string aws_key_id(uint64_t seed);
// A 16-digit Visa-range number with a valid Luhn check digit.
std::string visa_number(uint64_t seed);

// Standard base64 (with padding), for documents in request bodies.
std::string base64_encode(std::string_view bytes);

// A small rule pack used by the engine tests (independent of the shipped packs).
extern const char* const kTestPack;
std::shared_ptr<const RuleSet> test_rules();
std::shared_ptr<const RuleSet> builtin_rules();
FingerprintKey test_key();

}  // namespace promptgate::testing

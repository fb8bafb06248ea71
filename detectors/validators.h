// Confirmers that run on a candidate's secret span after Hyperscan has found it: checksums
// (Luhn, mod-97, CRC32, ...) and Shannon entropy; placeholders.h holds the placeholder model.
// Pure functions on bytes, no allocation on the common path. Rules name validators in YAML
// (`validators: [luhn]`); `find_validator` maps that name to the function.
#pragma once

#include <string>
#include <string_view>

#include "detectors/placeholders.h"

namespace promptgate {

using Validator = bool (*)(std::string_view span);

// nullptr when the name is unknown.
Validator find_validator(std::string_view name);
// "luhn, npi_luhn, ..." for error messages.
std::string known_validator_names();

bool luhn_valid(std::string_view digits_with_separators);
bool npi_valid(std::string_view s);
bool dea_valid(std::string_view s);
bool us_ssn_valid(std::string_view s);
bool us_itin_valid(std::string_view s);
bool iban_valid(std::string_view s);
bool aba_routing_valid(std::string_view s);
bool base62_crc32_valid(std::string_view token);
bool jwt_valid(std::string_view s);
bool uk_nino_valid(std::string_view s);
// Standard base64 whose decoded text is a JWT (header with "alg", two dots).
bool jwt_base64_valid(std::string_view s);
// A US Medicare Beneficiary Identifier: 11 characters in CMS's positional alphabet.
bool us_mbi_valid(std::string_view s);

// Shannon entropy in bits per byte.
double shannon_entropy(std::string_view s);

}  // namespace promptgate

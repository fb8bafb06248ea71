// OCR tolerance for the confirm stage: OCR reads 0/O/o and 1/l/I for one another, so a token
// read from a picture may fail its checksum by one or two characters. The engine, scanning text
// read by OCR (Scanner::scan_extracted), tries such a value again with some of those characters
// swapped, fewest swaps first, and accepts the first variant every validator passes.
//
// The number of variants tried is paid for by the validators' strength: at most
// 2^(check bits - 18) of them, so a random value passes by chance with odds below 1 in 2^18
// per candidate. A CRC32 token checksum (32 bits) allows 16384 variants; Luhn or mod-97 (3 to
// 7 bits) allow none, so card and account numbers are not loosened (their digits hold no
// letters to swap anyway; fold_ocr_digits() handles letters read inside digit groups).
#pragma once

#include <string>
#include <string_view>

#include "validators.h"

namespace promptgate {

// Bits of check a validator adds: how unlikely it is that a random value of the right shape
// passes (32 for the CRC32 token checksums, 3 for Luhn, ...; 0 for structural checks).
int validator_check_bits(Validator v);

// True, with the first passing variant in `corrected`, when swapping confusable characters
// makes `secret` pass every one of `validators` (within the budget above).
bool undo_ocr_confusions(std::string_view secret, const Validator* validators, size_t count,
                         std::string& corrected);

// `text` with O/o read as 0 and l/I read as 1 inside runs of digits and those letters that hold
// a digit and touch no other letter: "4O12 l234" -> "4012 1234", "Hello1" unchanged. Same
// length; empty when nothing changed.
std::string fold_ocr_digits(std::string_view text);

}  // namespace promptgate

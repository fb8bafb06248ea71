// OCR tolerance for the confirm stage: OCR reads 0/O/o/Q, 1/l/I/J, 5/S, c/C (and other letters
// whose capital has the same shape) for one another, so a token read from a picture may fail
// its checksum by one or two characters. The engine, scanning text
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

#include "detectors/validators.h"

namespace promptgate {

// Bits of check a validator adds: how unlikely it is that a random value of the right shape
// passes (32 for the CRC32 token checksums, 3 for Luhn, ...; 0 for structural checks).
int validator_check_bits(Validator v);

// True, with the first passing variant in `corrected`, when swapping confusable characters
// makes `secret` pass every one of `validators` (within the budget above).
bool undo_ocr_confusions(std::string_view secret, const Validator* validators, size_t count,
                         std::string& corrected);

// `text` with O/o/Q read as 0, l/I/i/L/J as 1, S/s as 5, Z/z as 2 and B as 8 inside runs of digits
// and those letters that hold a digit and touch no other letter: "4O12 l234" -> "4012 1234",
// "Hello1" unchanged. Same length; empty when nothing changed.
std::string fold_ocr_digits(std::string_view text);

// OCR puts spaces inside long runs (monospace letters are spaced evenly) and reads an
// underscore as a space: `text` with a single space dropped wherever one of the runs of token
// characters ([A-Za-z0-9_-]) it separates is 12 or longer ("ghp_ Axrvb04dsiQ16B" ->
// "ghp_Axrvb04dsiQ16B"), and turned back into an underscore between short lower-case prefixes
// and a run of 16 or more ("ghp Xby7PJP6wGgTEUpuxBTE" -> "ghp_Xby7PJP6wGgTEUpuxBTE",
// "github pat 11ABCDEFGHIJKLMNOP" -> "github_pat_11ABCDEFGHIJKLMNOP"). Scanned as a second view
// of the text; empty when nothing changed.
std::string join_ocr_splits(std::string_view text);

}  // namespace promptgate

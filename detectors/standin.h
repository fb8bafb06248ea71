// Stand-ins for action `tokenize`: a value of the same shape as a secret that replaces it in the
// request, so the model can work with it, and that the proxy maps back to the secret in the
// answer (proxy/token_vault.h keeps the map, proxy/sse_restorer.h restores).
//
//   std::string s = make_standin(rule, "ghp_...", conversation_key, /*attempt=*/0);
//   // s == "ghp_" + 30 other base62 characters + their CRC32: GitHub's format, checksum valid
//
// A stand-in is deterministic: the same value under the same conversation key and attempt gives
// the same stand-in (HMAC-SHA256 of the value under the key drives every random choice), so a
// value keeps its stand-in across turns. Distinct values almost always get distinct stand-ins;
// the caller checks and retries with attempt + 1 on a collision. Shapes (docs/tokenize.md):
//   - token formats keep the literal head and tail of the rule's pattern (`ghp_`, `sk-ant-api03-`,
//     `AKIA`, `xoxb-`, `dckr_pat_`, a trailing `AA`), the length, every punctuation character in
//     place, and the class of every other character (digit, lower, upper; hex stays hex);
//   - checksums are made valid again: CRC32 of GitHub-style tokens, Luhn (cards keep their first
//     digit), NPI, DEA, IBAN mod-97, ABA routing numbers; a JWT keeps its header;
//   - US SSNs move to the never-issued 9xx area (outside the ITIN groups), so no stand-in is a
//     possible SSN; ITINs stay valid ITINs;
//   - emails become `user-<10 hex>@example.com` (RFC 2606 reserved domain);
//   - values shorter than kMinStandinLength become `tok_` + 8 base32 characters, because a short
//     stand-in (a CVV, an expiry date) would match unrelated text in the answer.
// Every stand-in is printable ASCII with no `"` or `\`, so it needs no JSON escaping, and it
// never equals the value it stands for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "detectors/rules.h"

namespace promptgate {

// Values shorter than this get a `tok_` stand-in instead of one of their own shape.
inline constexpr size_t kMinStandinLength = 8;

// `rule` supplies the shape: its id, pattern and validators (a Rule with only `id` set works
// too, with only character classes kept). `conversation_key` should be 32 random bytes.
std::string make_standin(const Rule& rule, std::string_view original,
                         std::span<const unsigned char> conversation_key, uint32_t attempt);

// How many characters at the start and at the end of `original` are literal text of the rule's
// pattern (kept as they are in a stand-in). Exposed for the tests.
struct StandinFrame {
  size_t head = 0;
  size_t tail = 0;
};
StandinFrame standin_frame(const std::string& pattern, std::string_view original);

}  // namespace promptgate

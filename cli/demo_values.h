// Synthetic values that promptgate blocks, for `promptgate demo`: one per kind (a GitHub token
// and an Anthropic key, a US SSN, a Visa card number, a Medicare MBI), made at run time from
// public format facts (prefix, length, alphabet, checksum, issuing rules) with a seeded
// generator, and checked before they are shown: the request body carrying each one is scanned
// with the given rules and judged by the given config, and a value that would not be blocked
// (a placeholder-looking draw, a published example number) is drawn again. None is, or was, a
// real credential, card or person.
//
//   auto values = make_demo_values(rules, proxy::load_config(""), /*seed=*/42);
//   for (const DemoValue& v : values) std::cout << v.rule << " " << v.value << "\n";
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "detectors/engine.h"
#include "proxy/config.h"

namespace promptgate {

struct DemoValue {
  std::string category;  // credential | pii | phi | pci
  std::string rule;      // the rule that blocks it
  std::string value;     // the synthetic value alone
  std::string text;      // a prompt carrying it, with the context words its rule wants
  std::string made_of;   // the format facts it was made from, in a few words
};

// The Messages API request body promptgate demo's curl lines send: `text` as the user's turn.
std::string demo_request_body(const std::string& text);

// One value per kind, each blocked by `config` under `rules` when sent to api.anthropic.com.
// Throws std::runtime_error when a kind cannot be made to block (say, its rule is switched off
// or its action overridden), naming the rule.
std::vector<DemoValue> make_demo_values(const std::shared_ptr<const RuleSet>& rules,
                                        const proxy::ProxyConfig& config, uint64_t seed);

}  // namespace promptgate

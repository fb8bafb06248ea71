// Synthetic, deterministic corpora for the benchmarks: Claude-Code-like JSON request bodies
// (system prompt, tool schemas, a conversation of prose, code, logs and tool results) with a
// planted synthetic secret about every `bytes_per_finding` bytes, and a dense worst case full
// of near misses. Every planted value is generated from public format facts; none is real.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace promptgate::bench {

struct Corpus {
  std::vector<std::string> bodies;
  size_t total_bytes = 0;
  size_t planted = 0;  // secrets planted on purpose
};

// JSON request bodies until `total_bytes` is reached.
Corpus prompt_corpus(size_t total_bytes, size_t bytes_per_finding, uint64_t seed);
// A Claude Code session of `turns` turns: body i is the whole conversation so far, as the CLI
// resends it (system prompt, tools, every message); each turn adds a user prompt, an assistant
// tool call and its tool result (a file or a log of 1-8 KB). A secret is planted every 25 turns.
Corpus session_corpus(size_t turns, uint64_t seed);
// Text dense with candidates: digit runs, emails, phone-like numbers, key=value lines, prefixes.
Corpus dense_corpus(size_t total_bytes, uint64_t seed);

}  // namespace promptgate::bench

// Per-rule cost: compiles each rule alone into a Hyperscan block database and times it over the
// prompt corpus, slowest first, after the speed of all rules together. Use it when the detector
// bench drops: one careless pattern (a leading character class, a huge bounded repeat) can cost
// more than the rest together. Each rule is timed by what Hyperscan actually runs for it (its
// prefilter, its pattern, or its context words).
//
// With --marginal it also times the combined database without each expression in turn, which
// shows what each one costs in company (a rule fast alone can still slow the whole set down).
//
// usage: rule_cost [--corpus-mb N] [--top N] [--marginal] [--rules PATH]... [--input FILE]
#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bench/corpus.h"
#include "detectors/engine.h"
#include "detectors/rules.h"

namespace {

struct Timing {
  double mbps = 0;  // best of `reps`
  size_t matches = 0;
};

// Compiles `exprs` into one block database and times it over the corpus; false (and the
// Hyperscan message in `error`) when the expressions do not compile.
bool time_database(const std::vector<std::string>& exprs, const promptgate::bench::Corpus& corpus,
                   int reps, Timing& out, std::string& error) {
  std::vector<const char*> ptrs;
  std::vector<unsigned> ids, flags(exprs.size(), 0);
  for (size_t i = 0; i < exprs.size(); ++i) {
    ptrs.push_back(exprs[i].c_str());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    error = err->message;
    hs_free_compile_error(err);
    return false;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
    ++*static_cast<size_t*>(ctx);
    return 0;
  };
  // Hyperscan 5.4's VBMI Teddy may read past a buffer's end (see DecodedText::kScanReadSlack), so
  // each body is scanned from a copy with readable room after it.
  std::vector<std::string> padded;
  for (const auto& b : corpus.bodies) {
    padded.emplace_back(b).reserve(b.size() + 64);
  }
  for (int rep = 0; rep < reps; ++rep) {
    out.matches = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& b : padded)
      hs_scan(db, b.data(), static_cast<unsigned>(b.size()), 0, scratch, on_match, &out.matches);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.mbps = std::max(out.mbps, corpus.total_bytes / 1e6 / s);
  }
  hs_free_scratch(scratch);
  hs_free_database(db);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t corpus_mb = 4, top = 25;
  bool marginal = false;
  std::string input_file;
  std::vector<promptgate::RuleSource> sources;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--corpus-mb") && i + 1 < argc)
      corpus_mb = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--top") && i + 1 < argc)
      top = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--rules") && i + 1 < argc)
      sources.push_back({argv[++i]});
    else if (!std::strcmp(argv[i], "--marginal"))
      marginal = true;
    else if (!std::strcmp(argv[i], "--input") && i + 1 < argc)
      input_file = argv[++i];
  }
  if (sources.empty()) sources.push_back(promptgate::RuleSource::builtin());
  auto packs = promptgate::load_rule_packs(sources);
  auto corpus = promptgate::bench::prompt_corpus(corpus_mb << 20, 100 * 1024, 42);
  if (!input_file.empty()) {  // time the rules over a given file instead
    std::ifstream in(input_file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    corpus.bodies = {data};
    corpus.total_bytes = data.size();
  }

  // All rules together, as the engine runs them (shared prefilters compiled once).
  std::vector<std::string> unique;
  for (const auto& r : packs.rules) {
    std::string e = promptgate::hyperscan_expression(r);
    if (e.empty()) continue;  // digit_run: the engine's own finder, not Hyperscan
    if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(e);
  }
  Timing all;
  std::string error;
  if (time_database(unique, corpus, 5, all, error)) {
    std::printf("all %zu rules (%zu expressions) in one database: %.0f MB/s, %zu matches\n",
                packs.rules.size(), unique.size(), all.mbps, all.matches);
  } else {
    std::printf("combined database does not compile: %s\n", error.c_str());
  }

  struct Cost {
    Timing timing;
    std::string id;
  };
  if (marginal) {
    std::vector<Cost> without;
    for (size_t i = 0; i < unique.size(); ++i) {
      std::vector<std::string> rest = unique;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      Cost c{{}, unique[i]};
      if (time_database(rest, corpus, 3, c.timing, error)) without.push_back(std::move(c));
    }
    std::sort(without.begin(), without.end(),
              [](const Cost& a, const Cost& b) { return a.timing.mbps > b.timing.mbps; });
    std::printf("%10s  %s\n", "MB/s without", "expression");
    for (size_t i = 0; i < std::min(top, without.size()); ++i)
      std::printf("%10.0f  %.100s\n", without[i].timing.mbps, without[i].id.c_str());
  }
  std::vector<Cost> costs;
  for (const auto& r : packs.rules) {
    if (r.digit_run) continue;
    Cost c{{}, r.id};
    if (!time_database({promptgate::hyperscan_expression(r)}, corpus, 1, c.timing, error)) {
      std::printf("%s: %s\n", r.id.c_str(), error.c_str());
      continue;
    }
    costs.push_back(std::move(c));
  }
  std::sort(costs.begin(), costs.end(),
            [](const Cost& a, const Cost& b) { return a.timing.mbps < b.timing.mbps; });
  std::printf("%-45s %10s %10s\n", "rule", "MB/s", "matches");
  for (size_t i = 0; i < std::min(top, costs.size()); ++i)
    std::printf("%-45s %10.0f %10zu\n", costs[i].id.c_str(), costs[i].timing.mbps,
                costs[i].timing.matches);
  return 0;
}

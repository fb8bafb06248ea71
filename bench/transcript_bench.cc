// Incremental transcript scanning over a synthetic 200-turn Claude Code session (each body the
// whole conversation so far, as the CLI resends it): total bytes scanned and scan time with the
// seen-blocks memory (scan_transcript) and without it (a full scan of every body, the baseline),
// in the same run on one core, best of --repeat runs. Also checks that both find the same
// secrets. Last line:
//   bench: turns=N body_mb=X full_scanned_mb=X incr_scanned_mb=Y full_ms=A incr_ms=B speedup=R
//
// usage: transcript_bench [--turns N] [--repeat N] [--rules PATH]...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/corpus.h"
#include "detectors/engine.h"
#include "detectors/transcript.h"

using namespace promptgate;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  size_t turns = 200;
  int repeat = 3;
  std::vector<RuleSource> sources;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--turns" && i + 1 < argc)
      turns = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--rules" && i + 1 < argc)
      sources.push_back(RuleSource{argv[++i]});
    else {
      std::fprintf(stderr, "usage: transcript_bench [--turns N] [--repeat N] [--rules PATH]...\n");
      return 2;
    }
  }
  if (sources.empty()) sources.push_back(RuleSource::builtin());
  auto rules = RuleSet::compile(load_rule_packs(sources));
  Scanner scanner(rules, FingerprintKey::from_passphrase("transcript-bench"));
  bench::Corpus session = bench::session_corpus(turns, 42);

  double best_full = 1e300, best_incr = 1e300;
  uint64_t full_bytes = 0, incr_bytes = 0, last_full_us = 0, last_incr_us = 0;
  size_t full_findings = 0, incr_findings = 0;
  for (int r = 0; r < repeat; ++r) {
    // Baseline: every body scanned in full.
    full_bytes = 0;
    full_findings = 0;
    auto t0 = Clock::now();
    for (size_t i = 0; i < session.bodies.size(); ++i) {
      auto ti = Clock::now();
      ScanResult res = scanner.scan(session.bodies[i], InputFormat::json);
      if (i + 1 == session.bodies.size())
        last_full_us = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ti).count());
      full_bytes += res.raw_bytes;
      full_findings += res.findings.size();
    }
    best_full =
        std::min(best_full, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());

    // Incremental: one identity, a fresh memory per run (as after a reload).
    SeenBlocks seen;
    incr_bytes = 0;
    incr_findings = 0;
    t0 = Clock::now();
    for (size_t i = 0; i < session.bodies.size(); ++i) {
      auto ti = Clock::now();
      TranscriptScan t = scan_transcript(scanner, session.bodies[i], seen, "developer");
      if (i + 1 == session.bodies.size())
        last_incr_us = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ti).count());
      incr_bytes += t.result.raw_bytes - t.skipped_bytes;
      incr_findings += t.result.findings.size();
    }
    best_incr =
        std::min(best_incr, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double mb = 1e6;
  std::printf("session: %zu turns, %zu planted secrets, last body %.2f MB, all bodies %.1f MB\n",
              turns, session.planted, static_cast<double>(session.bodies.back().size()) / mb,
              static_cast<double>(session.total_bytes) / mb);
  std::printf("%-28s %14s %12s %14s %10s\n", "", "bytes scanned", "time ms", "last turn ms",
              "findings");
  std::printf("%-28s %14.1f %12.1f %14.2f %10zu\n", "full scan (baseline)",
              static_cast<double>(full_bytes) / mb, best_full,
              static_cast<double>(last_full_us) / 1000, full_findings);
  std::printf("%-28s %14.1f %12.1f %14.2f %10zu\n", "incremental (seen blocks)",
              static_cast<double>(incr_bytes) / mb, best_incr,
              static_cast<double>(last_incr_us) / 1000, incr_findings);
  if (full_findings != incr_findings)
    std::printf("WARNING: the two runs found different numbers of secrets\n");
  std::printf(
      "bench: turns=%zu body_mb=%.1f full_scanned_mb=%.1f incr_scanned_mb=%.1f full_ms=%.1f "
      "incr_ms=%.1f speedup=%.1f\n",
      turns, static_cast<double>(session.total_bytes) / mb, static_cast<double>(full_bytes) / mb,
      static_cast<double>(incr_bytes) / mb, best_full, best_incr, best_full / best_incr);
  return full_findings == incr_findings ? 0 : 1;
}

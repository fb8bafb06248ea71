// A Google Benchmark console reporter that also keeps each benchmark's throughput (MB/s, from
// SetBytesProcessed) by name, so a bench can print its summary line and ratios at the end.
//
//   CapturingReporter reporter;
//   benchmark::RunSpecifiedBenchmarks(&reporter);
//   double mbps = reporter.mbps["BM_Scan"];
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace promptgate::bench {

class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> mbps;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("bytes_per_second");
      std::string name = r.benchmark_name();
      name = name.substr(0, name.find("/min_time"));
      if (it != r.counters.end()) mbps[name] = it->second.value / 1e6;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace promptgate::bench

// Detector-loop benchmark: the full rule pack over (a) Claude-Code-like JSON request bodies and
// (b) a dense worst case, against baselines measured side by side in the same run on one core:
// RE2::Set with the same patterns, a memchr pass (the memory ceiling) and AES-128-GCM through
// OpenSSL EVP (what a TLS-intercepting proxy pays per byte anyway). The last line is the summary
// the issue tracker asks for:
//   bench: promptgate_mbps=X re2set_mbps=Y memchr_mbps=Z aesgcm_mbps=W ratio_re2set=R
//   ratio_aesgcm=Q
//
// usage: detector_bench [--corpus-mb N] [--rules PATH]... [google-benchmark flags]
//        detector_bench --passes N [--stream] ...: only N passes of the engine over corpus (a),
//        then exit; for `perf stat -e instructions:u,cycles:u`, whose difference between two
//        values of N is the cost of a pass, which (unlike time) other load on a shared machine
//        does not change.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>

#include "bench/capturing_reporter.h"
#include "bench/corpus.h"
#include "detectors/engine.h"

namespace {

using promptgate::bench::Corpus;

using promptgate::bench::CapturingReporter;

void run_over(benchmark::State& state, const Corpus& c,
              const std::function<void(const std::string&)>& fn) {
  for (auto _ : state)
    for (const auto& body : c.bodies) fn(body);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(c.total_bytes));
}

}  // namespace

int main(int argc, char** argv) {
  size_t corpus_mb = 32;
  long passes = -1;  // -1: the benchmarks
  bool passes_stream = false;
  std::vector<promptgate::RuleSource> sources;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--corpus-mb") && i + 1 < argc) {
      corpus_mb = std::stoul(argv[++i]);
    } else if (!std::strcmp(argv[i], "--passes") && i + 1 < argc) {
      passes = std::stol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--stream")) {
      passes_stream = true;
    } else if (!std::strcmp(argv[i], "--rules") && i + 1 < argc) {
      sources.push_back({argv[++i]});
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (sources.empty()) sources.push_back(promptgate::RuleSource::builtin());
  auto packs = promptgate::load_rule_packs(sources);
  auto rules = promptgate::RuleSet::compile(packs);
  promptgate::Scanner scanner(rules, promptgate::FingerprintKey::from_passphrase("bench"));

  Corpus prompts = promptgate::bench::prompt_corpus(corpus_mb << 20, 100 * 1024, 42);
  Corpus dense = promptgate::bench::dense_corpus(std::max<size_t>(corpus_mb / 4, 1) << 20, 7);
  // RE2::Set is two orders of magnitude slower: it gets a 2 MiB slice of the same corpora.
  auto slice = [](const Corpus& c) {
    Corpus s;
    for (const auto& b : c.bodies) {
      if (s.total_bytes >= (2u << 20)) break;
      s.bodies.push_back(b);
      s.total_bytes += b.size();
    }
    return s;
  };
  Corpus prompts_slice = slice(prompts), dense_slice = slice(dense);

  size_t credential_rules = 0;
  for (size_t i = 0; i < rules->size(); ++i)
    credential_rules += rules->rule(i).category == promptgate::Category::credential;
  size_t findings = 0, candidates = 0;
  for (const auto& b : prompts.bodies) {
    auto r = scanner.scan(b, promptgate::InputFormat::json);
    findings += r.findings.size();
    candidates += r.candidates;
  }
  size_t max_stream_memory = 0;
  {
    auto s = scanner.open_stream(promptgate::InputFormat::json);
    const std::string& big = prompts.bodies.front();
    for (size_t at = 0; at < big.size(); at += 16384) {
      s->write(std::string_view(big).substr(at, 16384));
      max_stream_memory = std::max(max_stream_memory, s->memory_bytes());
    }
    s->finish();
  }
  std::cout << "rules: " << rules->size() << " (" << credential_rules << " credential)\n"
            << "corpus (a): " << prompts.bodies.size() << " JSON bodies, "
            << (prompts.total_bytes >> 20) << " MiB, " << prompts.planted << " planted secrets, "
            << findings << " findings, " << candidates << " candidates\n"
            << "corpus (b): " << (dense.total_bytes >> 20) << " MiB dense text\n"
            << "memory per stream: hyperscan state " << rules->stream_state_bytes()
            << " B, whole stream peak " << max_stream_memory << " B (16 KiB chunks, lookbehind "
            << rules->max_lookbehind() << " B)\n";

  auto engine_json = [&](const std::string& b) {
    benchmark::DoNotOptimize(scanner.scan(b, promptgate::InputFormat::json));
  };
  auto engine_text = [&](const std::string& b) {
    benchmark::DoNotOptimize(scanner.scan(b, promptgate::InputFormat::text));
  };
  auto engine_stream = [&](const std::string& b) {
    auto s = scanner.open_stream(promptgate::InputFormat::json);
    for (size_t at = 0; at < b.size(); at += 16384) s->write(std::string_view(b).substr(at, 16384));
    benchmark::DoNotOptimize(s->finish());
  };

  if (passes >= 0) {
    // Thread CPU time per pass, the fastest pass: the least disturbed by other load.
    auto cpu_now = [] {
      timespec t{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
    };
    double best = 1e9;
    for (long i = 0; i < passes; ++i) {
      double started = cpu_now();
      for (const auto& b : prompts.bodies) passes_stream ? engine_stream(b) : engine_json(b);
      best = std::min(best, cpu_now() - started);
    }
    if (passes > 0)
      std::cout << "passes: " << passes << ", fastest " << best * 1e3 << " ms CPU, "
                << static_cast<double>(prompts.total_bytes) / best / 1e6 << " MB/s\n";
    return 0;
  }

  // RE2::Set over the same patterns (the secret group names are irrelevant to a set).
  RE2::Options opts;
  opts.set_encoding(RE2::Options::EncodingLatin1);
  opts.set_log_errors(false);
  opts.set_max_mem(256 << 20);
  RE2::Set set(opts, RE2::UNANCHORED);
  for (const auto& r : packs.rules) set.Add(r.pattern, nullptr);
  set.Compile();

  std::vector<unsigned char> key(16, 7), iv(12, 9), out((8 << 20) + 64);
  EVP_CIPHER_CTX* aes = EVP_CIPHER_CTX_new();

  auto re2set = [&](const std::string& b) {
    std::vector<int> ids;
    RE2::Set::ErrorInfo info;
    benchmark::DoNotOptimize(set.Match(b, &ids, &info));
  };
  auto mem = [&](const std::string& b) {
    benchmark::DoNotOptimize(std::memchr(b.data(), 1, b.size()));
  };
  auto aesgcm = [&](const std::string& b) {
    int len = 0;
    EVP_EncryptInit_ex(aes, EVP_aes_128_gcm(), nullptr, key.data(), iv.data());
    for (size_t at = 0; at < b.size(); at += 8 << 20) {
      size_t n = std::min<size_t>(b.size() - at, 8 << 20);
      EVP_EncryptUpdate(aes, out.data(), &len,
                        reinterpret_cast<const unsigned char*>(b.data() + at), static_cast<int>(n));
    }
    EVP_EncryptFinal_ex(aes, out.data(), &len);
  };

  auto reg = [&](const char* name, const Corpus& c, std::function<void(const std::string&)> fn) {
    benchmark::RegisterBenchmark(name, [&c, fn](benchmark::State& st) { run_over(st, c, fn); })
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
  };
  reg("a/promptgate_json", prompts, engine_json);
  reg("a/promptgate_json_stream16k", prompts, engine_stream);
  reg("a/re2set", prompts_slice, re2set);
  reg("a/memchr", prompts, mem);
  reg("a/aes128gcm", prompts, aesgcm);
  reg("b/promptgate_text", dense, engine_text);
  reg("b/re2set", dense_slice, re2set);

  int bargc = static_cast<int>(rest.size());
  benchmark::Initialize(&bargc, rest.data());
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  EVP_CIPHER_CTX_free(aes);

  double pg = reporter.mbps["a/promptgate_json"], rs = reporter.mbps["a/re2set"],
         mc = reporter.mbps["a/memchr"], ag = reporter.mbps["a/aes128gcm"];
  std::printf("dense (b): promptgate_mbps=%.0f re2set_mbps=%.0f ratio_re2set=%.1f\n",
              reporter.mbps["b/promptgate_text"], reporter.mbps["b/re2set"],
              reporter.mbps["b/re2set"] > 0
                  ? reporter.mbps["b/promptgate_text"] / reporter.mbps["b/re2set"]
                  : 0);
  std::printf(
      "bench: promptgate_mbps=%.0f re2set_mbps=%.0f memchr_mbps=%.0f aesgcm_mbps=%.0f "
      "ratio_re2set=%.1f ratio_aesgcm=%.2f\n",
      pg, rs, mc, ag, rs > 0 ? pg / rs : 0, ag > 0 ? pg / ag : 0);
  return 0;
}

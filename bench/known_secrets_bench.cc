// Known-secrets matcher benchmark: KnownSecrets::find over Claude-Code-like request bodies with
// 0, 100 and 10,000 known secrets of mixed lengths, against the engine's Scanner::scan of the
// same bodies measured in the same run on one core. find runs over the decoded text (JSON
// strings unescaped, what the scanner's rules see) and over the raw body. The last lines give
// the added cost as a share of the scan:
//   known-secrets: N=10000 decoded_mbps=X scan_mbps=Y added=Z%
//
// usage: known_secrets_bench [--corpus-mb N] [google-benchmark flags]
#include <benchmark/benchmark.h>

#include <cctype>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <random>

#include "bench/capturing_reporter.h"
#include "bench/corpus.h"
#include "detectors/engine.h"
#include "detectors/json_text.h"
#include "detectors/known_secrets.h"

namespace {

using promptgate::bench::Corpus;

using promptgate::bench::CapturingReporter;

// Synthetic values shaped like what organisations keep in .env files and vaults: passwords of
// 8-24 bytes, internal tokens of 20-64, a few long ones up to 256. None is real.
std::vector<std::string> synthetic_values(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::string alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const std::string symbols = "!#%&*+-.:=?@_~";
  std::vector<std::string> out;
  while (out.size() < count) {
    size_t kind = rng() % 10, length;
    if (kind < 5)
      length = 8 + rng() % 17;  // passwords
    else if (kind < 9)
      length = 20 + rng() % 45;  // tokens
    else
      length = 65 + rng() % 192;  // long ones
    std::string v;
    for (size_t i = 0; i < length; ++i)
      v.push_back(rng() % 6 == 0 && kind < 5 ? symbols[rng() % symbols.size()]
                                             : alnum[rng() % alnum.size()]);
    out.push_back(std::move(v));
  }
  return out;
}

std::string decode(const std::string& body) {
  promptgate::DecodedText text;
  promptgate::JsonTextExtractor extractor(text);
  extractor.feed(body);
  extractor.finish();
  return std::string(text.view());
}

}  // namespace

int main(int argc, char** argv) {
  size_t corpus_mb = 16;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--corpus-mb") && i + 1 < argc)
      corpus_mb = std::stoul(argv[++i]);
    else
      rest.push_back(argv[i]);
  }
  auto key = promptgate::FingerprintKey::from_passphrase("bench");
  auto rules = promptgate::RuleSet::compile(
      promptgate::load_rule_packs({promptgate::RuleSource::builtin()}));
  promptgate::Scanner scanner(rules, key);

  Corpus raw = promptgate::bench::prompt_corpus(corpus_mb << 20, 100 * 1024, 42);
  const std::vector<size_t> set_sizes = {0, 100, 10000};
  std::vector<std::string> all_values = synthetic_values(set_sizes.back(), 7);

  // Decoded text with a known secret planted as a token about every 64 KB, so the confirm path
  // (HMAC on a prefilter hit) is part of the figure.
  std::mt19937_64 rng(3);
  Corpus decoded;
  size_t planted = 0;
  for (const auto& body : raw.bodies) {
    std::string text = decode(body);
    for (size_t n = text.size() / 65536 + 1; n > 0; --n, ++planted) {
      const std::string& v = all_values[rng() % 100];  // in every non-empty set
      text.insert(rng() % (text.size() + 1), " " + v + " ");
    }
    decoded.total_bytes += text.size();
    decoded.bodies.push_back(std::move(text));
  }

  std::map<size_t, std::shared_ptr<const promptgate::KnownSecrets>> sets;
  for (size_t n : set_sizes) {
    promptgate::KnownSecretsDigester d(key);
    for (size_t i = 0; i < n; ++i) d.add(all_values[i], "V" + std::to_string(i), true);
    sets[n] = promptgate::KnownSecrets::parse(d.file_text(), "bench", key);
  }

  size_t starts = 0;
  for (const auto& t : decoded.bodies)
    for (size_t i = 0; i + 8 <= t.size(); ++i)
      starts += (i == 0 || promptgate::KnownSecrets::is_boundary(t[i - 1])) &&
                !std::isspace(static_cast<unsigned char>(t[i]));
  std::printf("token starts (prefilter windows): %.1f per 100 decoded bytes\n",
              100.0 * static_cast<double>(starts) / static_cast<double>(decoded.total_bytes));
  size_t findings = 0;
  for (const auto& b : raw.bodies)
    findings += scanner.scan(b, promptgate::InputFormat::json).findings.size();
  std::cout << "corpus: " << raw.bodies.size() << " JSON bodies, " << (raw.total_bytes >> 20)
            << " MiB raw, " << (decoded.total_bytes >> 20) << " MiB decoded, " << findings
            << " rule findings, " << planted << " known secrets planted in the decoded text\n";
  for (size_t n : set_sizes) {
    std::vector<promptgate::KnownSecretMatch> hits;
    for (const auto& t : decoded.bodies) sets[n]->find(t, hits);
    std::cout << "known secrets " << n << ": " << hits.size() << " found in the decoded text\n";
  }

  auto reg = [](const std::string& name, const Corpus& c,
                std::function<void(const std::string&)> fn) {
    benchmark::RegisterBenchmark(name.c_str(),
                                 [&c, fn](benchmark::State& st) {
                                   for (auto _ : st)
                                     for (const auto& b : c.bodies) fn(b);
                                   st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                                                        static_cast<int64_t>(c.total_bytes));
                                 })
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
  };
  reg("scan_json", raw, [&](const std::string& b) {
    benchmark::DoNotOptimize(scanner.scan(b, promptgate::InputFormat::json));
  });
  std::vector<promptgate::KnownSecretMatch> hits;
  for (size_t n : set_sizes) {
    const auto* ks = sets[n].get();
    reg("find_decoded/" + std::to_string(n), decoded, [ks, &hits](const std::string& t) {
      hits.clear();
      ks->find(t, hits);
      benchmark::DoNotOptimize(hits.data());
    });
    reg("find_raw/" + std::to_string(n), raw, [ks, &hits](const std::string& t) {
      hits.clear();
      ks->find(t, hits);
      benchmark::DoNotOptimize(hits.data());
    });
  }

  int bargc = static_cast<int>(rest.size());
  benchmark::Initialize(&bargc, rest.data());
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  // Added cost relative to the scan: time(find) / time(scan) for the same request. The decoded
  // text is a little shorter than the raw body, so time is compared per request, not per byte.
  double scan = reporter.mbps["scan_json"];
  for (size_t n : set_sizes) {
    std::string suffix = "/" + std::to_string(n);
    double dec = reporter.mbps["find_decoded" + suffix],
           raw_mbps = reporter.mbps["find_raw" + suffix];
    double scan_s = static_cast<double>(raw.total_bytes) / (scan * 1e6);
    double dec_s = static_cast<double>(decoded.total_bytes) / (dec * 1e6);
    double raw_s = static_cast<double>(raw.total_bytes) / (raw_mbps * 1e6);
    std::printf(
        "known-secrets: N=%zu decoded_mbps=%.0f raw_mbps=%.0f scan_mbps=%.0f "
        "added_decoded=%.1f%% added_raw=%.1f%%\n",
        n, dec, raw_mbps, scan, 100 * dec_s / scan_s, 100 * raw_s / scan_s);
  }
  return 0;
}

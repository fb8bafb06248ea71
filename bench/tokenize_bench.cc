// Action tokenize, the answer side: StreamRestorer over a synthetic Messages API event stream
// (text deltas of 10-40 bytes, tool-input deltas, a stand-in about every 2 KB, some split across
// two events), fed in 16 KB pieces as they come off the network, with 0, 10 and 1000 stand-ins
// in the conversation. Baseline, in the same run: copying the same bytes (what passing an answer
// through costs at the least). Best of --repeat runs on one core. Last line:
//   bench: stream_mb=X copy_mbps=A restore0_mbps=B restore10_mbps=C restore1000_mbps=D
//
// usage: tokenize_bench [--mb N] [--repeat N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proxy/sse_restorer.h"

using promptgate::proxy::StreamRestorer;
using promptgate::proxy::Substitutions;
using Clock = std::chrono::steady_clock;

namespace {

std::string token(std::mt19937_64& rng, const char* prefix, size_t n) {
  static const char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s = prefix;
  for (size_t i = 0; i < n; ++i) s.push_back(kAlnum[rng() % 62]);
  return s;
}

std::string event(const std::string& delta_type, const std::string& field,
                  const std::string& text) {
  return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
         "\"delta\":{\"type\":\"" +
         delta_type + "\",\"" + field + "\":\"" + text + "\"}}\n\n";
}

}  // namespace

int main(int argc, char** argv) {
  size_t mb = 16;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mb" && i + 1 < argc)
      mb = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: tokenize_bench [--mb N] [--repeat N]\n");
      return 2;
    }
  }
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::string, std::string>> all;  // stand-in -> original
  for (int i = 0; i < 1000; ++i) all.push_back({token(rng, "ghp_", 36), token(rng, "ghp_", 36)});

  // The stream: mostly prose deltas; stand-ins from the first 10 entries, some split in two.
  std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n";
  size_t since = 0, planted = 0;
  const char* words[] = {"the ",   "build ",  "passed ", "and ", "deploy ",
                         "reads ", "config ", "from ",   "env ", "file "};
  while (stream.size() < mb << 20) {
    std::string text;
    size_t n = 10 + rng() % 30;
    while (text.size() < n) text += words[rng() % 10];
    since += text.size();
    if (since > 2048) {
      const std::string& s = all[planted++ % 10].first;
      if (planted % 2) {
        text += s.substr(0, 17);
        stream += event("text_delta", "text", text);
        text = s.substr(17) + " ok ";
      } else {
        text += s;
      }
      since = 0;
    }
    if (since > 0 && rng() % 8 == 0)
      stream += event("input_json_delta", "partial_json", "{\\\"k\\\":\\\"" + text + "\\\"}");
    else
      stream += event("text_delta", "text", text);
  }
  stream += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";

  const size_t piece = 16 * 1024;
  auto best = [&](auto&& fn) {
    double b = 1e300;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      fn();
      b = std::min(b, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return static_cast<double>(stream.size()) / 1e6 / b;
  };
  size_t sink = 0;
  double copy_mbps = best([&] {
    std::string out;
    for (size_t i = 0; i < stream.size(); i += piece) {
      out.assign(stream, i, piece);
      sink += out.size();
    }
  });
  std::printf("stream: %.1f MB, %zu stand-ins planted\n", static_cast<double>(stream.size()) / 1e6,
              planted);
  std::printf("%-34s %10s %10s %10s %12s\n", "", "MB/s", "vs copy", "restored", "max held B");
  std::printf("%-34s %10.0f %10s %10s %12s\n", "copy (baseline)", copy_mbps, "1.00", "-", "-");
  double mbps[3];
  size_t sizes[3] = {0, 10, 1000};
  for (int k = 0; k < 3; ++k) {
    auto subs = std::make_shared<const Substitutions>(
        std::vector<std::pair<std::string, std::string>>(all.begin(), all.begin() + sizes[k]));
    uint64_t restored = 0;
    size_t held = 0;
    mbps[k] = best([&] {
      StreamRestorer r(subs);
      for (size_t i = 0; i < stream.size(); i += piece)
        sink += r.feed(std::string_view(stream).substr(i, piece)).size();
      sink += r.finish().size();
      restored = r.restored();
      held = r.max_held_bytes();
    });
    char label[64];
    std::snprintf(label, sizeof label, "restorer, %zu stand-ins", sizes[k]);
    std::printf("%-34s %10.0f %10.2f %10llu %12zu\n", label, mbps[k], mbps[k] / copy_mbps,
                static_cast<unsigned long long>(restored), held);
  }
  std::printf(
      "bench: stream_mb=%.1f copy_mbps=%.0f restore0_mbps=%.0f restore10_mbps=%.0f "
      "restore1000_mbps=%.0f\n",
      static_cast<double>(stream.size()) / 1e6, copy_mbps, mbps[0], mbps[1], mbps[2]);
  return sink == 42 ? 1 : 0;
}

// libFuzzer target: the SSE restorer (proxy/sse_restorer.h) over a model's answer with a
// fuzzer-chosen stand-in map, fed whole and in pieces of fuzzer-chosen sizes. The output and
// the counters must not depend on where the stream was split, and with nothing to restore the
// answer passes through byte for byte. The same bytes also go through restore_json_body.
// Input: [piece-size seed] then "standin\toriginal\n" lines (at most 8), an empty line, and the
// answer's bytes.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/sse_restorer.h"
#include "tests/fuzz/fuzz_util.h"

using promptgate::fuzz::Splitter;
using promptgate::proxy::StreamRestorer;
using promptgate::proxy::Substitutions;

namespace {

struct Run {
  std::string out;
  uint64_t restored = 0, unrestorable = 0, released = 0;
};

Run restore(std::shared_ptr<const Substitutions> subs, std::string_view stream, Splitter* split) {
  StreamRestorer restorer(std::move(subs));
  Run r;
  while (!stream.empty()) {
    size_t n = split ? std::min(split->next(), stream.size()) : stream.size();
    r.out += restorer.feed(stream.substr(0, n));
    stream.remove_prefix(n);
  }
  r.out += restorer.finish();
  r.restored = restorer.restored();
  r.unrestorable = restorer.unrestorable();
  r.released = restorer.released_at_block_end();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::pair<std::string, std::string>> map;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.empty() || map.size() == 8) break;
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    map.emplace_back(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)));
  }
  auto subs = std::make_shared<const Substitutions>(std::move(map));
  Run whole = restore(subs, rest, nullptr);
  Splitter split(data[0], 48);
  Run pieces = restore(subs, rest, &split);
  FUZZ_CHECK(whole.out == pieces.out, "the same answer however the stream was split");
  FUZZ_CHECK(whole.restored == pieces.restored && whole.unrestorable == pieces.unrestorable &&
                 whole.released == pieces.released,
             "the same counts however the stream was split");
  if (subs->empty()) FUZZ_CHECK(whole.out == rest, "nothing to restore: bytes pass through");
  uint64_t restored = 0;
  std::string body = promptgate::proxy::restore_json_body(rest, *subs, &restored);
  if (subs->empty()) FUZZ_CHECK(body == rest, "nothing to restore: the body is unchanged");
  std::string out;
  size_t stop = subs->restore(rest, /*json=*/true, /*final=*/true, out, restored);
  FUZZ_CHECK(stop == rest.size(), "a final restore consumes all of its text");
  return 0;
}

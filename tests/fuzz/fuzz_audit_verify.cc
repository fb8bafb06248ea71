// libFuzzer target: `promptgate audit verify` (AuditChainVerifier, proxy/audit_log.h) over
// arbitrary audit files: the input is cut into two files checked as one chain (a rotated file and
// its successor). Whatever the bytes, the verifier throws nothing and every line it reports lies
// in the file it read.
// Input: [cut selector] then the bytes of both files.
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

#include "proxy/audit_log.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

uint64_t lines_in(std::string_view file) {
  uint64_t n = 0;
  for (char c : file) n += c == '\n';
  return n + (!file.empty() && file.back() != '\n');
}

void check(promptgate::proxy::AuditChainVerifier& verifier, std::string_view file,
           bool have_previous) {
  std::istringstream in{std::string(file)};
  auto r = verifier.check(in);
  const uint64_t lines = lines_in(file);
  FUZZ_CHECK(r.events <= lines, "no more events than lines");
  if (r.error && (r.error->line < 1 || r.error->line > lines))  // to tell what broke
    std::fprintf(stderr, "error at line %llu of %llu: %s\n",
                 static_cast<unsigned long long>(r.error->line),
                 static_cast<unsigned long long>(lines), r.error->message.c_str());
  if (r.error)
    FUZZ_CHECK(r.error->line <= lines && !r.error->message.empty() &&
                   (r.error->line >= 1 ||
                    (have_previous && r.error->message.find("previous file") != std::string::npos)),
               "an error names a line of the file (0: the previous file's last line)");
  for (const auto& w : r.warnings)
    FUZZ_CHECK(w.line >= 1 && w.line <= lines && !w.message.empty(),
               "a warning names a line of the file");
  if (!r.error && r.events > 0 && r.first_seq && r.last_seq)
    FUZZ_CHECK(r.first_seq <= r.last_seq, "a valid chain's seq does not go back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view files(reinterpret_cast<const char*>(data + 1), size - 1);
  // Cut at the n-th newline (0: one file only), so each file is whole lines, as rotation leaves.
  size_t cut = files.size();
  for (size_t at = 0, n = data[0] % 8; n > 0 && at < files.size(); --n) {
    size_t nl = files.find('\n', at);
    if (nl == std::string_view::npos) break;
    cut = at = nl + 1;
  }
  promptgate::proxy::AuditChainVerifier verifier;
  check(verifier, files.substr(0, cut), false);
  if (cut < files.size()) check(verifier, files.substr(cut), cut > 0);
  return 0;
}

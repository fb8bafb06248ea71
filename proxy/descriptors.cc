// Descriptor counts and the note naming exhaustion; see descriptors.h.
#include "proxy/descriptors.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>

namespace promptgate::proxy {

uint64_t open_descriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  uint64_t n = 0;
  while (const dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

uint64_t descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
  return lim.rlim_cur;
}

std::optional<std::string> descriptor_exhaustion_note(bool saw_emfile) {
  const uint64_t limit = descriptor_limit();
  const uint64_t open = open_descriptors();
  // Within 2 % of the limit, or 8 descriptors for small limits.
  const bool near = limit > 0 && open > 0 && open + std::max<uint64_t>(8, limit / 50) >= limit;
  if (!near && !saw_emfile) return std::nullopt;
  std::string note = "no file descriptors left: ";
  if (limit > 0 && open > 0)
    note += std::to_string(open) + " of the open-file limit " + std::to_string(limit) + " in use";
  else
    note += "too many open files";
  return note + "; raise it (ulimit -n, LimitNOFILE=) or lower max_connections";
}

}  // namespace promptgate::proxy

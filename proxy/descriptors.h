// Open file descriptors against the process's limit, to name the cause when a socket cannot be
// opened. Out of descriptors, Asio reports what the failing operation saw (EMFILE from
// socket(), "Operation canceled" from a connect whose socket never opened, a resolver error),
// and a 502 with that text sends an operator looking at the network instead of at LimitNOFILE.
//
//   if (auto note = descriptor_exhaustion_note()) message += " (" + *note + ")";
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace promptgate::proxy {

// Descriptors open now (entries of /proc/self/fd), or 0 when that cannot be read.
uint64_t open_descriptors();
// RLIMIT_NOFILE's soft limit (0 when unlimited or unknown).
uint64_t descriptor_limit();
// Within 2 % of the limit (8 descriptors for a small one), or when `saw_emfile`: "no file descriptors left: 1021
// of the open-file limit 1024 in use; raise it (ulimit -n, LimitNOFILE=) or lower
// max_connections"; nullopt otherwise.
std::optional<std::string> descriptor_exhaustion_note(bool saw_emfile = false);

}  // namespace promptgate::proxy

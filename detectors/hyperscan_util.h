// Hyperscan's C API made safe to call from C++: failures become a HyperscanError that names
// the call and Hyperscan's error code, and scratch space is owned by a unique_ptr even while
// Hyperscan grows it, so a failed allocation neither leaks nor loses why it failed.
//
//   HsScratch scratch;
//   alloc_scratch(scratch, block_db);    // one scratch serves both databases
//   alloc_scratch(scratch, stream_db);
//   if (hs_error_t rc = hs_scan(...); rc != HS_SUCCESS) [[unlikely]] throw_hs_error("hs_scan", rc);
//
// throw_hs_error is out of line so a scan loop pays only for the comparison.
#pragma once

#include <hs/hs.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace promptgate {

// The regex engine this build links: "Hyperscan" or "Vectorscan" (PROMPTGATE_ENGINE in
// cmake/regex_engine.cmake). Vectorscan keeps Hyperscan's API, library name and hs_version()
// format, so only the build can tell them apart.
const char* engine_name();
// The engine and the version its library reports at run time, for `promptgate --version`:
// "Hyperscan 5.4.0 2021-01-26", "Vectorscan 5.4.9".
std::string engine_version();
// "5.4.0": the version of the hs.h compiled against (HS_MAJOR.HS_MINOR.HS_PATCH). Both engines
// install libhs.so.5, so a build can load another one than it was compiled for; tests compare.
std::string engine_header_version();

// "HS_SCRATCH_IN_USE" for HS_SCRATCH_IN_USE; "unknown error" for a code this header lacks.
const char* hs_error_name(hs_error_t code);

class HyperscanError : public std::runtime_error {
 public:
  // what(): "CALL failed (NAME, CODE)", e.g. "hs_scan_stream failed (HS_SCRATCH_IN_USE, -10)".
  HyperscanError(const char* call, hs_error_t code);
  hs_error_t code() const { return code_; }

 private:
  hs_error_t code_;
};

[[noreturn]] void throw_hs_error(const char* call, hs_error_t code);

struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
using HsScratch = std::unique_ptr<hs_scratch_t, HsScratchDeleter>;

// Makes `scratch` (empty, or already sized for other databases) fit `db` too. Throws
// HyperscanError; `scratch` then still owns whatever Hyperscan left allocated.
void alloc_scratch(HsScratch& scratch, const hs_database_t* db);

}  // namespace promptgate

#include "detectors/hyperscan_util.h"

#include <string>

namespace promptgate {

const char* hs_error_name(hs_error_t code) {
  switch (code) {
    case HS_SUCCESS:
      return "HS_SUCCESS";
    case HS_INVALID:
      return "HS_INVALID";
    case HS_NOMEM:
      return "HS_NOMEM";
    case HS_SCAN_TERMINATED:
      return "HS_SCAN_TERMINATED";
    case HS_COMPILER_ERROR:
      return "HS_COMPILER_ERROR";
    case HS_DB_VERSION_ERROR:
      return "HS_DB_VERSION_ERROR";
    case HS_DB_PLATFORM_ERROR:
      return "HS_DB_PLATFORM_ERROR";
    case HS_DB_MODE_ERROR:
      return "HS_DB_MODE_ERROR";
    case HS_BAD_ALIGN:
      return "HS_BAD_ALIGN";
    case HS_BAD_ALLOC:
      return "HS_BAD_ALLOC";
    case HS_SCRATCH_IN_USE:
      return "HS_SCRATCH_IN_USE";
    case HS_ARCH_ERROR:
      return "HS_ARCH_ERROR";
    case HS_INSUFFICIENT_SPACE:
      return "HS_INSUFFICIENT_SPACE";
    case HS_UNKNOWN_ERROR:
      return "HS_UNKNOWN_ERROR";
  }
  return "unknown error";
}

HyperscanError::HyperscanError(const char* call, hs_error_t code)
    : std::runtime_error(std::string(call) + " failed (" + hs_error_name(code) + ", " +
                         std::to_string(code) + ")"),
      code_(code) {}

const char* engine_name() {
#if PROMPTGATE_ENGINE_IS_VECTORSCAN
  return "Vectorscan";
#else
  return "Hyperscan";
#endif
}

std::string engine_version() {
  std::string version = hs_version();  // Vectorscan's ends in a space where the date would be
  while (!version.empty() && version.back() == ' ') version.pop_back();
  return std::string(engine_name()) + " " + version;
}

std::string engine_header_version() {
  return std::to_string(HS_MAJOR) + "." + std::to_string(HS_MINOR) + "." + std::to_string(HS_PATCH);
}

void throw_hs_error(const char* call, hs_error_t code) {
  throw HyperscanError(call, code);
}

void alloc_scratch(HsScratch& scratch, const hs_database_t* db) {
  // Hyperscan may free and replace the scratch it is given, or free it and fail, or fail and
  // leave it alone: the pointer it leaves behind is the one to own, whatever it returns.
  hs_scratch_t* s = scratch.release();
  hs_error_t rc = hs_alloc_scratch(db, &s);
  scratch.reset(s);
  if (rc != HS_SUCCESS) throw_hs_error("hs_alloc_scratch", rc);
}

}  // namespace promptgate

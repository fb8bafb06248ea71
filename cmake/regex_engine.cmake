# The regex engine behind detectors/: Hyperscan (x86-64 only) or Vectorscan, its fork that also
# runs on ARM. Both ship the same C API, header (hs/hs.h), library name (libhs) and soname, so
# the code is the same; the build only says which one it links, so that `promptgate --version`
# can name it (Vectorscan's hs_version() does not say which it is).
#
#   -DPROMPTGATE_ENGINE=Hyperscan|Vectorscan   default: Hyperscan on x86, Vectorscan elsewhere
#   -DPROMPTGATE_VECTORSCAN_ROOT=DIR           Vectorscan from DIR (DIR/usr/include/hs/hs.h or
#                                              DIR/include/hs/hs.h), not from pkg-config
#
# The root is how CI builds against Vectorscan on a machine that has Hyperscan installed:
# scripts/build-vectorscan.sh unpacks Debian's libvectorscan packages into the build tree. The
# binaries find that libhs.so.5 by their build RPATH; an install (cpack) drops the RPATH, so a
# package must be built against a Vectorscan installed system-wide.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86)$")
  set(default_engine Hyperscan)
else()
  set(default_engine Vectorscan)
endif()
set(PROMPTGATE_ENGINE ${default_engine} CACHE STRING "Regex engine: Hyperscan or Vectorscan")
set_property(CACHE PROMPTGATE_ENGINE PROPERTY STRINGS Hyperscan Vectorscan)
set(PROMPTGATE_VECTORSCAN_ROOT "" CACHE PATH "Link the Vectorscan unpacked in this directory")
if(NOT PROMPTGATE_ENGINE MATCHES "^(Hyperscan|Vectorscan)$")
  message(FATAL_ERROR "PROMPTGATE_ENGINE is '${PROMPTGATE_ENGINE}': Hyperscan or Vectorscan")
endif()

add_library(hs_engine INTERFACE)
if(PROMPTGATE_VECTORSCAN_ROOT)
  if(NOT PROMPTGATE_ENGINE STREQUAL "Vectorscan")
    message(FATAL_ERROR "PROMPTGATE_VECTORSCAN_ROOT needs -DPROMPTGATE_ENGINE=Vectorscan")
  endif()
  set(root ${PROMPTGATE_VECTORSCAN_ROOT})
  # Looked up afresh on every configure, and only under the root: the system's Hyperscan has the
  # same file names, and a cached or default path would silently build against it.
  unset(VECTORSCAN_INCLUDE_DIR CACHE)
  unset(VECTORSCAN_LIBRARY CACHE)
  find_path(VECTORSCAN_INCLUDE_DIR hs/hs.h PATHS ${root}/usr/include ${root}/include
    NO_DEFAULT_PATH)
  find_library(VECTORSCAN_LIBRARY hs
    PATHS ${root}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} ${root}/usr/lib
          ${root}/lib/${CMAKE_LIBRARY_ARCHITECTURE} ${root}/lib
    NO_DEFAULT_PATH)
  if(NOT VECTORSCAN_INCLUDE_DIR OR NOT VECTORSCAN_LIBRARY)
    message(FATAL_ERROR "no Vectorscan (include/hs/hs.h and lib/libhs) under "
                        "PROMPTGATE_VECTORSCAN_ROOT=${root}")
  endif()
  # hs/hs.h resolves to this copy: -isystem directories come before /usr/include.
  target_include_directories(hs_engine SYSTEM INTERFACE ${VECTORSCAN_INCLUDE_DIR})
  # A full path: CMake puts its directory into the build RPATH.
  target_link_libraries(hs_engine INTERFACE ${VECTORSCAN_LIBRARY})
  set(hs_header ${VECTORSCAN_INCLUDE_DIR}/hs/hs.h)
  set(hs_from ${VECTORSCAN_LIBRARY})
else()
  pkg_check_modules(HYPERSCAN REQUIRED IMPORTED_TARGET libhs)
  target_link_libraries(hs_engine INTERFACE PkgConfig::HYPERSCAN)
  find_file(hs_header hs/hs.h HINTS ${HYPERSCAN_INCLUDEDIR} ${HYPERSCAN_INCLUDE_DIRS})
  set(hs_from "pkg-config libhs ${HYPERSCAN_VERSION}")
endif()
set(hs_version "?")
if(EXISTS "${hs_header}")
  file(STRINGS ${hs_header} hs_defines REGEX "^#define HS_(MAJOR|MINOR|PATCH) ")
  string(REGEX REPLACE ".*HS_MAJOR +([0-9]+).*HS_MINOR +([0-9]+).*HS_PATCH +([0-9]+).*"
         "\\1.\\2.\\3" hs_version "${hs_defines}")
endif()
message(STATUS "Regex engine: ${PROMPTGATE_ENGINE} ${hs_version} (${hs_from})")

#!/usr/bin/env bash
# Builds the engine (detectors/ and its readers) and its tests against Vectorscan instead of
# Hyperscan, and runs them: engine_tests, every shipped rule's examples among them. No proxy, no
# CLI, to keep CI short. scripts/test.sh runs it after the main suite.
#
# Debian's libvectorscan-dev conflicts with libhyperscan-dev, which the main build needs, so it
# is not installed: Debian's two packages are downloaded (apt-get download, from the configured
# mirror) and unpacked into BUILD/vectorscan-root, which CMake links
# (-DPROMPTGATE_VECTORSCAN_ROOT, cmake/regex_engine.cmake); the test binary loads that
# libhs.so.5 by its build RPATH, and a test checks that it did. A failed download fails the
# script: it does not fall back to Hyperscan or skip.
#
# Idempotent: the packages are downloaded and unpacked again only when the mirror's version
# changes. On a machine with Vectorscan installed system-wide (ARM, macOS) none of this is
# needed: cmake -DPROMPTGATE_ENGINE=Vectorscan (docs/install.md).
#
# usage: scripts/build-vectorscan.sh [BUILD_DIR [extra cmake -D options]]  (default build-vectorscan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-vectorscan}
shift $(($# > 0 ? 1 : 0))
packages=(libvectorscan5 libvectorscan-dev)
mkdir -p "$build"
build=$(cd "$build" && pwd)
root=$build/vectorscan-root
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
version=$(candidate libvectorscan5)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  # No package lists yet (a fresh root, or an image that deleted them).
  $sudo apt-get update -qq
  version=$(candidate libvectorscan5)
fi
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  echo "build-vectorscan: apt knows no libvectorscan5 package (Debian 12 has 5.4.9)" >&2
  exit 1
fi

stamp="${packages[*]} $version $(dpkg --print-architecture)"
if [ "$(cat "$root/.unpacked" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$root" "$build/vectorscan-debs"
  mkdir -p "$build/vectorscan-debs"
  # apt-get download saves into the current directory (as root it warns that it cannot drop
  # to the _apt user there; the download is the same).
  if ! (cd "$build/vectorscan-debs" && apt-get download -q "${packages[@]/%/=$version}"); then
    echo "build-vectorscan: apt-get download ${packages[*]} ($version) failed: network?" >&2
    exit 1
  fi
  for p in "${packages[@]}"; do
    dpkg-deb -x "$build/vectorscan-debs/${p}_"*.deb "$root"
  done
  echo "$stamp" > "$root/.unpacked"
fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMPTGATE_WERROR=ON \
  -DPROMPTGATE_ENGINE=Vectorscan -DPROMPTGATE_VECTORSCAN_ROOT="$root" -DPROMPTGATE_BENCH=OFF \
  "$@" >/dev/null
cmake --build "$build" -j "$(nproc)" --target engine_tests
# The test "engine_version names the engine ..." checks this build says Vectorscan; "the engine
# library loaded at run time ..." that it loaded the unpacked library, not the system's Hyperscan.
#
# Left out: one test that Debian's Vectorscan 5.4.9 fails on an x86 machine with AVX-512 (found
# by this script; Hyperscan 5.4.0 passes). Its small test rule set makes Vectorscan miss a match
# past the first 64 bytes of a buffer, in block and in stream mode alike: `4[0-9]{3}` alone is
# not found in 64 x's, a space and 4280. The shipped packs' examples pass (also each after 0-127
# bytes of prose), but docs/install.md says to prefer Hyperscan on x86 for this reason.
known_vectorscan_bug="stream mode equals block mode at every split of a JSON body"
PROMPTGATE_EXPECT_ENGINE=Vectorscan "$build/tests/engine_tests" "~$known_vectorscan_bug"
# Said, not failed on, so that a newer Vectorscan (or another CPU) shows when it can go back in.
if "$build/tests/engine_tests" "$known_vectorscan_bug" >/dev/null 2>&1; then
  echo "build-vectorscan: '$known_vectorscan_bug' passes here: put it back in (this script)"
else
  echo "build-vectorscan: known Vectorscan fault: '$known_vectorscan_bug' fails (docs/install.md)"
fi

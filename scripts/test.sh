#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the whole test suite
# (unit tests, every rule's examples, CLI tests, and short runs of every libFuzzer target,
# built with clang: tests/fuzz), then the engine's tests and every rule's examples once more
# against Vectorscan, Hyperscan's fork for ARM (scripts/build-vectorscan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh -DPROMPTGATE_WERROR=ON
# The fuzz targets need clang's libFuzzer: a second, small build of the parsers under test.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROMPTGATE_FUZZ=ON -DPROMPTGATE_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_all
ctest --test-dir build --output-on-failure -j "$(nproc)"
ctest --test-dir build-fuzz --output-on-failure -L fuzz
# A third, small build: the engine and its tests only, linked with Vectorscan (about 4 CPU
# minutes, 25 s of them the tests). It downloads Debian's libvectorscan packages, or fails.
scripts/build-vectorscan.sh

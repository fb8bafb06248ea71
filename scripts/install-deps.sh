#!/usr/bin/env bash
# Installs what promptgate needs to build and test on Debian 12 (bookworm), using sudo when not
# root. Installs only what is missing, so it is quick on a machine that already has everything.
set -euo pipefail
# Hyperscan is amd64-only in Debian; elsewhere its fork Vectorscan, which the build then links
# (cmake/regex_engine.cmake). The two -dev packages conflict: scripts/build-vectorscan.sh unpacks
# Vectorscan beside Hyperscan without installing it.
engine_dev=libhyperscan-dev
[ "$(dpkg --print-architecture)" = amd64 ] || engine_dev=libvectorscan-dev
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates python3
  "$engine_dev" libre2-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev zlib1g-dev
  libboost1.81-dev libbrotli-dev libzstd-dev libbenchmark-dev catch2 openssl prometheus-cpp-dev
  # attachment readers (detectors/readers): PDF text, OCR of pictures, office files
  libpoppler-cpp-dev libtesseract-dev tesseract-ocr-eng libleptonica-dev libzip-dev
  # text readers (detectors/text_readers): Unicode normalisation
  libicu-dev
)
if [ "${1:-}" = "--test" ]; then
  # clang and its runtime for the libFuzzer targets (libomp-14-dev: clang's omp.h, which the
  # picture reader includes; gcc has its own); curl, Node.js and npm for the proxy
  # integration tests and the Claude Code CLI end-to-end test; systemd for `systemd-analyze
  # verify` of deploy/systemd/promptgate.service.
  packages+=(clang libclang-rt-14-dev libomp-14-dev curl systemd)
  # HAProxy: the load balancer in front of two replicas in tests/proxy/replicas_test.mjs.
  packages+=(haproxy)
  # Universal Ctags: function lengths for scripts/check-limits.sh (ctest code_limits); file:
  # CPack's DEB generator runs it before dpkg-shlibdeps (ctest deb_package).
  packages+=(universal-ctags file)
  # A machine may already have Node.js from elsewhere (e.g. NodeSource, which bundles npm and
  # conflicts with Debian's npm package): only install Debian's when the commands are missing.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

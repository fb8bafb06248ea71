#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and starts the intercepting
# proxy on its embedded default config (127.0.0.1:8080). On first run it creates a local CA in
# $PROMPTGATE_HOME (default ~/.config/promptgate) and prints the two lines to paste into the
# shell that runs Claude Code. Extra arguments go to `promptgate run` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./build/promptgate run "$@"

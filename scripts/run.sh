#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs promptgate's main job
# on its embedded default rule packs. Until the proxy lands, that job is `promptgate scan` over a
# sample Claude Code request (synthetic secrets), printing one JSON line per finding.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo "--- promptgate scan docs/examples/claude-request.json (embedded rules)"
set +e
./build/promptgate scan --format text docs/examples/claude-request.json
status=$?
set -e
echo "--- exit status $status (0 = clean, 1 = findings, 2 = error)"
[ "$status" -le 1 ]

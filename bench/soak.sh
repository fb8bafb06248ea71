#!/usr/bin/env bash
# Soak: hours (or a minute) of mixed traffic through `promptgate run` while things go wrong on
# both sides; see bench/soak.mjs for what it sends, the faults and what it checks, and
# bench/README.md for figures. Exit status 0 when every check held.
# usage: SOAK_SECONDS=1800 SOAK_RATE=20 bench/soak.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$(realpath "${1:?usage: soak.sh PATH_TO_PROMPTGATE}")
here=$(cd "$(dirname "$0")" && pwd)
proxy_tests=$here/../tests/proxy
# shellcheck source=tests/lib/harness.sh
. "$here/../tests/lib/harness.sh"
harness_init promptgate-soak
start_fake_api "$proxy_tests" 100
case $? in
  1) echo "soak.sh: make_pki.sh failed"; exit 1 ;;
  2) echo "soak.sh: fake API did not start"; cat "$work/fake-api.err"; exit 1 ;;
esac
PROMPTGATE_BIN=$pg FAKE_API_PORT=$fake_port UPSTREAM_CA=$work/pki/upstream-ca.pem RECORD_FILE=$record \
WORKDIR=$work FAKE_API_PID=$fake_pid node "$here/soak.mjs"

#!/usr/bin/env bash
# Integration tests of `promptgate run`: makes a throwaway upstream PKI, starts the fake Anthropic
# API (fake_api.mjs) and runs every *_test.mjs here (node:test: proxy_test.mjs, gateway_test.mjs),
# which start their own promptgate processes and drive them with curl and Node's https/tls clients.
# usage: run_tests.sh PATH_TO_PROMPTGATE [TEST_FILE.mjs...]   (default: all *_test.mjs here)
set -uo pipefail
pg=$(realpath "${1:?usage: run_tests.sh PATH_TO_PROMPTGATE [TEST_FILE.mjs...]}")
shift
here=$(cd "$(dirname "$0")" && pwd)
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$here"/*_test.mjs)
# shellcheck source=tests/lib/harness.sh
. "$here/../lib/harness.sh"
harness_init promptgate-proxy-test

for tool in node curl openssl; do
  command -v $tool >/dev/null || { echo "run_tests.sh: $tool not found"; exit 1; }
done
start_fake_api "$here" 100
case $? in
  1) echo "run_tests.sh: make_pki.sh failed"; exit 1 ;;
  2) echo "run_tests.sh: fake API did not start"; cat "$work/fake-api.err"; exit 1 ;;
esac

PROMPTGATE_BIN=$pg FAKE_API_PORT=$fake_port UPSTREAM_CA=$work/pki/upstream-ca.pem RECORD_FILE=$record \
WORKDIR=$work node --test --test-reporter=spec "${tests[@]}"
status=$?
if [ -s "$work/fake-api.err" ]; then echo "--- fake API stderr:"; cat "$work/fake-api.err"; fi
exit $status

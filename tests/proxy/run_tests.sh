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
work=$(mktemp -d "${TMPDIR:-/tmp}/promptgate-proxy-test.XXXXXX")
fake_pid=
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
  [ -n "${KEEP_WORKDIR:-}" ] && echo "work dir kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in node curl openssl; do
  command -v $tool >/dev/null || { echo "run_tests.sh: $tool not found"; exit 1; }
done
"$here/make_pki.sh" "$work/pki" || { echo "run_tests.sh: make_pki.sh failed"; exit 1; }

record=$work/fake-api-record.jsonl
: > "$record"
node "$here/fake_api.mjs" --port 0 --cert "$work/pki/upstream.pem" --key "$work/pki/upstream-key.pem" \
  --record "$record" > "$work/fake-api.out" 2> "$work/fake-api.err" &
fake_pid=$!
fake_port=
for _ in $(seq 100); do
  fake_port=$(sed -n 's/^fake_api listening on [0-9.]*:\([0-9]*\)$/\1/p' "$work/fake-api.out")
  [ -n "$fake_port" ] && break
  kill -0 "$fake_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$fake_port" ]; then
  echo "run_tests.sh: fake API did not start"; cat "$work/fake-api.err"; exit 1
fi

PROMPTGATE_BIN=$pg FAKE_API_PORT=$fake_port UPSTREAM_CA=$work/pki/upstream-ca.pem RECORD_FILE=$record \
WORKDIR=$work node --test --test-reporter=spec "${tests[@]}"
status=$?
if [ -s "$work/fake-api.err" ]; then echo "--- fake API stderr:"; cat "$work/fake-api.err"; fi
exit $status

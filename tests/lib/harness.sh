# shellcheck shell=bash
# What the shell test scripts share (cli_test.sh, deploy/*.sh, e2e/claude_cli_test.sh,
# proxy/run_tests.sh): a work directory removed at exit, background processes stopped at exit,
# the pass / fail / skip counters behind `check`, and the fake Anthropic API as upstream.
#
#   set -uo pipefail
#   . "$(dirname "$0")/lib/harness.sh"
#   harness_init promptgate-cli-test [--quiet]   # sets $work; --quiet: no "ok: ..." lines
#   some_server & pids+=($!)                     # stopped at exit
#   check "what it tests" '[ $status -eq 0 ]'    # or: ok "what", bad "what", skip "what"
#   echo "cli: $passed passed, $failed failed"; [ "$failed" -eq 0 ]
#
# KEEP_WORKDIR=1 keeps $work after the run, for a look at what failed.

# The variables set here are the scripts' own: shellcheck cannot see them used.
# shellcheck disable=SC2034

harness_init() {  # harness_init NAME [--quiet]
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  harness_quiet=${2:-}
  pids=()
  passed=0 failed=0 skipped=0
  trap harness_cleanup EXIT
  # Turn a signal into an ordinary exit, so the EXIT trap cleans up.
  trap 'exit 130' INT TERM
}

harness_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "${KEEP_WORKDIR:-}" ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}

ok() { passed=$((passed + 1)); [ -n "$harness_quiet" ] || echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }
# gh_token [SEED]: a synthetic GitHub-format token with a valid CRC32; the same one for a SEED,
# a fresh one without. Drawn again when it happens to spell a placeholder marker ("todo",
# "xxxx", ...) that the rules ignore.
gh_token() {
  python3 -c '
import random, re, sys, zlib
a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
r = random.Random(int(sys.argv[1])) if len(sys.argv) > 1 else random.SystemRandom()
while True:
  body = "".join(r.choice(a) for _ in range(30))
  c = zlib.crc32(body.encode()); s = ""
  for _ in range(6): s = a[c % 62] + s; c //= 62
  t = "ghp_" + body + s
  if not re.search("example|xxxx|dummy|redact|fixme|todo|sample|fake|notreal|placeholder|changeme|replaceme", t, re.I): break
print(t)' "$@"
}

# For tests of the promptgate binary ($pg): pg_output_init starts $all_output, and `run ARGS...`
# runs "$pg" ARGS, setting out, err and status and appending both outputs to $all_output, which
# the test searches at the end for any planted value the program must never print.
pg_output_init() {
  all_output=$work/all-output.txt
  : > "$all_output"
}
run() {
  "$pg" "$@" > "$work/out" 2> "$work/err"
  status=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
  cat "$work/out" "$work/err" >> "$all_output"
}

# check NAME CONDITION: CONDITION is shell code, run with the caller's variables.
check() { if eval "$2"; then ok "$1"; else bad "$1"; return 1; fi; }

wait_port() {  # wait_port FILE REGEX-PREFIX [TRIES [PID]] -> prints the port
  # Polls every 0.1 s, TRIES times (150), for the "PREFIX ADDR:PORT" line a server prints when
  # it listens; gives up early once PID has exited.
  local port='' tries=${3:-150} pid=${4:-}
  for _ in $(seq "$tries"); do
    port=$(sed -n "s/^$2[0-9.]*:\([0-9]*\).*/\1/p" "$1" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

start_fake_api() {  # start_fake_api PROXY_TESTS_DIR TRIES -> sets record, fake_pid, fake_port
  # A throwaway upstream PKI in $work/pki and the fake Anthropic API (fake_api.mjs) on a free
  # port, recording every request to $record. Returns 1 when make_pki.sh failed, 2 when the API
  # did not start (its stderr is in $work/fake-api.err); the caller says which.
  "$1/make_pki.sh" "$work/pki" || return 1
  record=$work/fake-api-record.jsonl
  : > "$record"
  node "$1/fake_api.mjs" --port 0 --cert "$work/pki/upstream.pem" --key "$work/pki/upstream-key.pem" \
    --record "$record" > "$work/fake-api.out" 2> "$work/fake-api.err" &
  fake_pid=$!
  pids+=("$fake_pid")
  fake_port=$(wait_port "$work/fake-api.out" 'fake_api listening on ' "$2" "$fake_pid") || return 2
}

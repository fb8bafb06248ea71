#!/usr/bin/env bash
# Tests of the promptgate binary as a user and a CI job run it: exit codes, output formats,
# stdin, directories, errors with file/line/rule, huge files streamed in bounded memory, and
# that a planted secret never appears in anything the program prints.
# usage: cli_test.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PROMPTGATE_HOME=$work/home
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }

# Synthetic secrets: a GitHub-format token with a valid CRC32, an AWS-format key id, a password.
token=$(python3 -c '
import random, zlib
a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
r = random.Random(7); body = "".join(r.choice(a) for _ in range(30))
c = zlib.crc32(body.encode()); s = ""
for _ in range(6): s = a[c % 62] + s; c //= 62
print("ghp_" + body + s)')
awskey=AKIA$(python3 -c 'import random; r=random.Random(9); print("".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)))')
password='Zq8Lw3Nv7Tx2pR'
secrets=("$token" "$awskey" "$password" "${token:4:10}" "${awskey:4:10}")

mkdir -p "$work/repo/src" "$work/repo/.git"
printf 'const token = "%s";\n' "$token" > "$work/repo/src/app.js"
printf 'nothing to see here\n' > "$work/repo/src/clean.txt"
printf 'aws_access_key_id = %s\n' "$token" > "$work/repo/.git/config"  # .git is skipped
printf '{"messages":[{"role":"user","content":"key \\u0041%s and \\"password\\": \\"%s\\""}]}' \
  "${awskey:1}" "$password" > "$work/body.json"
printf 'clean' > "$work/clean.txt"
head -c 4096 /dev/urandom > "$work/binary.bin"
printf '{"truncated": "abc' > "$work/truncated.json"
: > "$work/empty.txt"

all_output=$work/all-output.txt
: > "$all_output"
run() {  # run ARGS... ; sets out, err, status; collects everything printed
  "$pg" "$@" > "$work/out" 2> "$work/err"
  status=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
  cat "$work/out" "$work/err" >> "$all_output"
}

run scan "$work/clean.txt"
check "clean file exits 0" '[ $status -eq 0 ] && [ -z "$out" ]'

run scan "$work/repo"
check "directory with a token exits 1" '[ $status -eq 1 ]'
check "jsonl names the file and rule" 'echo "$out" | grep -q "\"path\":\"$work/repo/src/app.js\".*\"rule\":\"github-pat-classic\""'
check "jsonl has exact byte offsets" 'python3 -c "
import json,sys
f = json.loads(sys.argv[1].splitlines()[0]); data = open(sys.argv[2]).read()
assert data[f[\"start\"]:f[\"end\"]] == sys.argv[3], f" "$out" "$work/repo/src/app.js" "$token"'
check ".git is skipped" '! echo "$out" | grep -q "\.git/config"'

run scan --format text "$work/body.json"
check "JSON body: escaped key and member password found" '[ $status -eq 1 ] && echo "$out" | grep -q "aws-access-key-id" && echo "$out" | grep -q "at messages\[0\].content"'
check "text format has line and column" 'echo "$out" | grep -q "body.json:1:"'

run scan --format sarif "$work/repo"
check "sarif is valid JSON with results" 'python3 -c "
import json,sys
d = json.loads(sys.argv[1]); r = [x for x in d[\"runs\"][0][\"results\"] if x[\"ruleId\"] == \"github-pat-classic\"]
assert d[\"version\"] == \"2.1.0\" and len(r) == 1
assert r[0][\"locations\"][0][\"physicalLocation\"][\"region\"][\"startLine\"] == 1" "$out"'

"$pg" scan - < "$work/repo/src/app.js" > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "stdin works" '[ $status -eq 1 ] && grep -q "\"path\":\"-\"" "$work/out"'

run scan --json on "$work/truncated.json"
check "truncated JSON with --json on is an error (exit 2)" '[ $status -eq 2 ] && echo "$err" | grep -q "invalid JSON"'
run scan "$work/truncated.json" "$work/binary.bin" "$work/empty.txt"
check "truncated JSON (auto), binary and empty files are scanned without error" '[ $status -le 1 ]'

run scan "$work/does-not-exist"
check "missing file exits 2" '[ $status -eq 2 ] && echo "$err" | grep -q "does-not-exist"'

cat > "$work/bad-rules.yaml" <<'YAML'
pack: mine
rules:
  - id: fine-rule
    category: credential
    severity: high
    action: block
    description: fine
    pattern: 'abc'
  - id: broken-rule
    category: credential
    severity: high
    action: block
    description: broken
    pattern: 'abc(['
YAML
run scan --rules "$work/bad-rules.yaml" "$work/clean.txt"
check "bad pattern: exit 2 naming file, line and rule" '[ $status -eq 2 ] && echo "$err" | grep -q "bad-rules.yaml:9: rule .broken-rule.: Hyperscan"'
run rules test "$work/bad-rules.yaml"
check "rules test on a bad pack exits 2" '[ $status -eq 2 ]'
run rules list
check "rules list prints the shipped rules" '[ $status -eq 0 ] && [ $(echo "$out" | wc -l) -ge 150 ]'
run scan --format xml "$work/clean.txt"
check "bad option exits 2" '[ $status -eq 2 ]'

# A file larger than the block limit is streamed: a 1 GiB sparse file with the token at the end,
# scanned with virtual memory capped far below the file size.
truncate -s 1G "$work/huge.txt"
printf ' %s \n' "$token" >> "$work/huge.txt"
(ulimit -v 786432; "$pg" scan "$work/huge.txt") > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "huge file streamed in bounded memory" '[ $status -eq 1 ] && grep -q "\"start\":1073741825" "$work/out"'

# The proxy's configuration: the embedded default, the shipped gateway example, and errors.
run run --check-config
check "embedded default config checks" '[ $status -eq 0 ] && echo "$out" | grep -q "OK (2[0-9][0-9] rules"'
run run --check-config --config "$(dirname "$0")/../deploy/promptgate-deny-by-default.yaml"
check "shipped deny-by-default config checks" '[ $status -eq 0 ]'
printf 'listen: 127.0.0.1:8080\nmode: observe\n' > "$work/bad.yaml"
run run --check-config --config "$work/bad.yaml"
check "bad config names file and line" '[ $status -eq 2 ] && echo "$err" | grep -q "bad.yaml:2: mode must be enforce or monitor"'
run ca init
check "ca init creates the CA" '[ $status -eq 0 ] && [ "$(stat -c %a "$PROMPTGATE_HOME/ca-key.pem")" = 600 ]'
run ca export
check "ca export prints the certificate" '[ $status -eq 0 ] && echo "$out" | grep -q "BEGIN CERTIFICATE" && ! echo "$out" | grep -q PRIVATE'
run ca show
check "ca show prints the fingerprint" '[ $status -eq 0 ] && echo "$out" | grep -q "sha256:"'

for s in "${secrets[@]}"; do
  check "secret never printed" '! grep -qF -- "$s" "$all_output"'
done
check "fingerprint key created with mode 0600" '[ "$(stat -c %a "$PROMPTGATE_HOME/fingerprint.key")" = 600 ]'

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Tests of the promptgate binary as a user and a CI job run it: exit codes, output formats,
# stdin, directories, errors with file/line/rule, huge files streamed in bounded memory, and
# that a planted secret never appears in anything the program prints.
# usage: cli_test.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$1
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
harness_init promptgate-cli-test --quiet
export PROMPTGATE_HOME=$work/home

# Synthetic secrets: a GitHub-format token with a valid CRC32, an AWS-format key id, a password.
token=$(gh_token 7)
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

pg_output_init

# Help: every command (and a subcommand's words) answers --help and -h with its usage on stdout,
# exit 0, and reads nothing else (rules test would look for a file, passwd would read stdin).
run help
top_help=$out
for words in run scan rules "rules test" "rules list" ca "ca init" "ca show" "ca export" passwd \
  "passwd alice" secrets "secrets digest" "secrets check" demo audit "audit verify" version help; do
  for h in --help -h; do
    # shellcheck disable=SC2086
    run $words $h < /dev/null
    check "'$words $h' prints its usage and exits 0" \
      '[ $status -eq 0 ] && [ -z "$err" ] && grep -q "promptgate ${words%% *}" "$work/out"' ||
      echo "  (status $status, stderr: $(head -c 300 "$work/err"), stdout: $(head -c 120 "$work/out"))"
  done
  # Every option a command's help names is in the top-level help too.
  # shellcheck disable=SC2086
  for flag in $("$pg" $words --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    check "top-level help lists $words $flag" 'grep -q -- "$flag\b" <<< "$top_help"'
  done
done
run --version
check "--version prints the version and the regex engine with the version its library reports" \
  '[ $status -eq 0 ] && grep -Eqx "promptgate [0-9]+\.[0-9]+\.[0-9]+ \((Hyperscan|Vectorscan) [0-9]+\.[0-9]+\.[0-9]+[^)]*\)" <<<"$out"'
check "'version' prints the same as --version" '[ "$("$pg" version)" = "$out" ]'
run scan --help
check "scan --help describes the formats and exit status" \
  'echo "$out" | grep -q "sarif" && echo "$out" | grep -q "Exit status"'
run help scan
check "'help scan' prints scan's usage" '[ $status -eq 0 ] && echo "$out" | grep -q "^usage: promptgate scan"'
run scan --bogus
check "a bad option still exits 2, with the usage on stderr" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "unknown option --bogus" && echo "$err" | grep -q "usage: promptgate scan"'

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
printf 'first line\n\n    key: %s\n' "$token" | "$pg" scan --format text - > "$work/out" 2>> "$all_output"
cat "$work/out" >> "$all_output"
check "stdin, text format: line and column, not a byte offset" 'grep -q "^-:3:10: github-pat-classic " "$work/out"'
printf 'first line\n\n    key: %s\n' "$token" | "$pg" scan - > "$work/out" 2>> "$all_output"
cat "$work/out" >> "$all_output"
check "stdin, jsonl: line and column next to the byte offsets" 'python3 -c "
import json,sys
f = json.loads(open(sys.argv[1]).readline())
assert (f[\"path\"], f[\"line\"], f[\"column\"], f[\"start\"]) == (\"-\", 3, 10, 21), f" "$work/out"'
printf 'first line\n\n    key: %s\n' "$token" | "$pg" scan --format sarif - > "$work/out" 2>> "$all_output"
cat "$work/out" >> "$all_output"
check "stdin, sarif: startLine and startColumn" 'python3 -c "
import json,sys
r = json.load(open(sys.argv[1]))[\"runs\"][0][\"results\"][0][\"locations\"][0][\"physicalLocation\"][\"region\"]
assert (r[\"startLine\"], r[\"startColumn\"], r[\"byteOffset\"]) == (3, 10, 21), r" "$work/out"'

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
# Rule files add to the built-in packs: a file holding only an allowlist keeps detection on.
printf 'allowlist:\n  - pattern: "^EXAMPLE"\n' > "$work/allow.yaml"
run scan --rules "$work/allow.yaml" "$work/repo"
check "scan --rules with an allowlist-only file still finds the token" \
  '[ $status -eq 1 ] && echo "$out" | grep -q "\"rule\":\"github-pat-classic\""'
run scan --rules "$work/allow.yaml" --rules-only "$work/repo"
check "scan --rules-only with no rules at all: exit 2, saying why" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "no rules in .*allow.yaml: nothing would be detected"'
run scan --rules-only "$work/repo"
check "scan --rules-only without --rules is a usage error" '[ $status -eq 2 ] && echo "$err" | grep -q "rules-only needs"'
printf 'allowlist:\n  - rule: github-pat-clasic\n  - rule: aws-acess-key-id\n' > "$work/allow-typo.yaml"
run scan --rules "$work/allow-typo.yaml" "$work/clean.txt"
check "an allowlist naming unknown rules: every entry named with its line and a suggestion" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "allow-typo.yaml:2: allowlist entry names unknown rule .github-pat-clasic. (did you mean .github-pat-classic.?)" &&
   echo "$err" | grep -q "allow-typo.yaml:3: .*aws-acess-key-id"'
printf 'rules: [%s]\n' "$work/allow.yaml" > "$work/rules-add.yaml"
run run --check-config --config "$work/rules-add.yaml"
check "config rules: [FILE] adds to the built-in packs" \
  '[ $status -eq 0 ] && echo "$out" | grep -Eq "OK \([1-9][0-9]{2,} rules: built-in packs \+ 1 file,"'
printf 'rules:\n  files: [%s]\n  builtin: replace\n' "$work/allow.yaml" > "$work/rules-replace.yaml"
run run --check-config --config "$work/rules-replace.yaml"
check "config rules.builtin: replace with no rules left is an error" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "no rules in"'
cat > "$work/typos.yaml" <<'YAML'
mode: enforce
actions:
  - rule: github-pat-clasic
    action: log
  - rule: aws-access-key-id
    action: redact
  - category: secrets
    action: log
overrides:
  enabled: true
  rules: [aws-acess-key-id]
  groups: [developers]
auth:
  groups:
    devs: [alice]
policies:
  - name: dev
    groups: [devs, contractors]
    hosts: [https://api.anthropic.com, "api.openai.com:443"]
    actions: [{rule: us-snn, action: log}]
destinations:
  intercept: [llm.example.internal, "llm..example"]
modee: monitor
YAML
run run --check-config --config "$work/typos.yaml"
check "check-config lists every mistake of the file, each with its line" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "typos.yaml:3: unknown rule .github-pat-clasic. in actions (did you mean .github-pat-classic.?)" &&
   echo "$err" | grep -q "typos.yaml:7: category must be credential, pii, phi or pci, not .secrets." &&
   echo "$err" | grep -q "typos.yaml:11: unknown rule .aws-acess-key-id. in overrides.rules (did you mean .aws-access-key-id.?)" &&
   echo "$err" | grep -q "typos.yaml:12: unknown group .developers. in overrides" &&
   echo "$err" | grep -q "typos.yaml:18: unknown group .contractors. in policy .dev." &&
   echo "$err" | grep -q "typos.yaml:19: host pattern .https://api.anthropic.com. can never match: .*without a scheme" &&
   echo "$err" | grep -q "typos.yaml:19: host pattern .api.openai.com:443. can never match: .*without a port" &&
   echo "$err" | grep -q "typos.yaml:20: unknown rule .us-snn. in policy .dev. actions (did you mean .us-ssn.?)" &&
   echo "$err" | grep -q "typos.yaml:22: host pattern .llm..example. can never match: it has an empty label" &&
   echo "$err" | grep -q "typos.yaml:23: unknown key .modee." && echo "$err" | grep -q "^promptgate run: 10 errors:"'
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
check "huge file streamed in bounded memory, with its line and column" \
  '[ $status -eq 1 ] && grep -q "\"column\":1073741826,.*\"line\":1,.*\"start\":1073741825" "$work/out"'

# A file over the 8 MiB text block limit that starts like JSON and is not: streamed as JSON,
# refused by the decoder, and read again as text, so the token at its end is still found.
{ printf '{ not json, a log that starts with a brace\n'; head -c 9000000 /dev/zero | tr '\0' 'a'
  printf '\ntoken = %s\n' "$token"; } > "$work/brace.log"
run scan "$work/brace.log"
check "a big file that only looks like JSON is rescanned as text" \
  '[ $status -eq 1 ] && echo "$out" | grep -q "\"line\":3,.*\"rule\":\"github-pat-classic\""'

# The proxy's configuration: the embedded default, the shipped gateway example, and errors.
run run --check-config
check "embedded default config checks" '[ $status -eq 0 ] && echo "$out" | grep -q "OK (4[0-9][0-9] rules"'
check "check-config prints the destination table: catalogue intercepted, default last" \
  'echo "$out" | grep -Eq "^  intercept  bedrock-runtime-fips\.\*\.amazonaws\.com +built-in: Amazon Bedrock$" &&
   echo "$out" | grep -Eq "^  intercept  aiplatform\.googleapis\.com +built-in: Google Vertex AI$" &&
   echo "$out" | tail -1 | grep -Eq "^  tunnel +\* +default$" && [ -z "$err" ]'
run run --check-config --config "$(dirname "$0")/../deploy/promptgate-deny-by-default.yaml"
check "shipped deny-by-default config checks" '[ $status -eq 0 ] && ! echo "$err" | grep -q warning'
# A config's intercept list adds to the catalogue; tunnelling a catalogued host is warned about.
printf 'destinations:\n  default: deny\n  intercept: [llm-gateway.example.internal]\n  tunnel: [chatgpt.com]\n' > "$work/gw.yaml"
run run --check-config --config "$work/gw.yaml"
check "check-config: own intercept entries added to the catalogue, a tunnelled model host warned" \
  '[ $status -eq 0 ] && echo "$out" | grep -Eq "^  intercept  llm-gateway\.example\.internal +intercept$" &&
   echo "$out" | grep -Eq "^  intercept  api\.openai\.com +built-in: OpenAI$" &&
   echo "$out" | grep -Eq "^  tunnel +chatgpt\.com +built-in: OpenAI ChatGPT back end \(tunnel entry .chatgpt\.com. comes first\)$" &&
   echo "$err" | grep -q "warning: .*gw.yaml: chatgpt.com (OpenAI ChatGPT back end) is a model API, tunnelled unread" &&
   echo "$err" | grep -q "promptgate_model_host_tunnelled_total" && [ $(echo "$err" | grep -c "is a model API") -eq 1 ]'
# The company-gateway recipe's example (docs/company-gateway.md), its upstream_ca given a real file.
gw_example=$(dirname "$0")/../docs/examples/company-gateway.yaml
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/corp-ca-key.pem" \
  -out "$work/corp-ca.pem" -subj "/CN=example company root CA" -days 1 2>/dev/null
run run --check-config --config "$gw_example" --upstream-ca "$work/corp-ca.pem"
check "company-gateway example: accepted, the gateway intercepted next to the catalogue" \
  '[ $status -eq 0 ] && [ -z "$err" ] && echo "$out" | grep -q "company-gateway.yaml: OK (" &&
   echo "$out" | sed -n 3p | grep -Eq "^  intercept  llm-gateway\.example\.internal +intercept$" &&
   echo "$out" | grep -Eq "^  intercept  api\.anthropic\.com +built-in: Anthropic$"'
run run --check-config --config "$gw_example"
check "company-gateway example: without the CA file the check names it" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "upstream_ca /etc/promptgate/company-root-ca.pem: no such file"'
printf 'destinations:\n  intercept_builtin: false\n  intercept: [api.anthropic.com]\n' > "$work/narrow.yaml"
run run --check-config --config "$work/narrow.yaml"
check "check-config: intercept_builtin false with default tunnel warns for each model host" \
  '[ $status -eq 0 ] && echo "$out" | grep -Eq "^  tunnel +api\.groq\.com +built-in: Groq \(intercept_builtin is false and the default is tunnel\)$" &&
   [ $(echo "$err" | grep -c "is a model API") -ge 30 ] && ! echo "$err" | grep -q "api.anthropic.com (Anthropic)"'
printf 'listen: 127.0.0.1:8080\nmode: observe\n' > "$work/bad.yaml"
run run --check-config --config "$work/bad.yaml"
check "bad config names file and line" '[ $status -eq 2 ] && echo "$err" | grep -q "bad.yaml:2: mode must be enforce or monitor"'
run run --check-config --threads two
check "a bad --threads value says what it wants" '[ $status -eq 2 ] && echo "$err" | grep -q "threads must be a number from 0 (one per core) to 256, not .two."'
# run: the export lines come once the port is bound, with the bound port; a busy port shows the
# error alone, naming the address and how to choose another.
# Not a terminal: no console lines, and the JSON audit log stays on stdout (containers).
"$pg" run --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --connect-to api.anthropic.com:443:127.0.0.1:9 > "$work/run.out" 2> "$work/run.err" &
run_pid=$!
pids+=("$run_pid")
run_port=$(wait_port "$work/run.err" 'promptgate listening on ' 150 "$run_pid")
for _ in $(seq 50); do grep -q NODE_EXTRA_CA_CERTS "$work/run.err" && break; sleep 0.1; done
check "run: the export lines follow 'listening on' and name the bound port" \
  '[ -n "$run_port" ] && grep -q "^  export HTTPS_PROXY=http://127.0.0.1:$run_port$" "$work/run.err" &&
   [ "$(grep -n "listening on" "$work/run.err" | cut -d: -f1)" -lt "$(grep -n "export HTTPS_PROXY" "$work/run.err" | cut -d: -f1)" ]'
# A client that does not trust the CA: one stderr line and an audit line, naming client, host
# and the reason OpenSSL gave (curl sends an "unknown CA" alert).
curl -sS -o /dev/null -x "http://127.0.0.1:$run_port" https://api.anthropic.com/v1/messages \
  2> "$work/curl.err"; curl_status=$?
for _ in $(seq 50); do grep -q "handshake failed" "$work/run.err" && grep -q tls_failure "$work/run.out" 2>/dev/null && break; sleep 0.1; done
check "untrusted CA: curl fails on the certificate" '[ $curl_status -eq 60 ]'
check "untrusted CA: one short stderr line naming client, host and reason" \
  '[ $(grep -c "handshake failed" "$work/run.err") -eq 1 ] &&
   grep -Eq "^promptgate: client TLS handshake failed: 127\.0\.0\.1:[0-9]+ -> api\.anthropic\.com: unknown CA \(the client does not trust the promptgate CA" "$work/run.err"'
check "untrusted CA: an audit line with the client, the host and tls_failure" 'python3 -c "
import json,sys
e = [json.loads(l) for l in open(sys.argv[1]) if \"tls_failure\" in l]
assert len(e) == 1 and e[0][\"tls_failure\"] == \"unknown CA\" and e[0][\"host\"] == \"api.anthropic.com\", e
assert e[0][\"client\"].startswith(\"127.0.0.1:\") and e[0][\"decision\"] == \"error\", e
assert \"unknown CA\" in e[0][\"error\"], e" "$work/run.out"'
check "not a terminal: no console lines on stderr" '! grep -q "one line per request" "$work/run.err"'
run run --listen "127.0.0.1:$run_port" --admin-listen 127.0.0.1:0
check "run on a busy port: exit 2, the address, the flag and the setting named, no export lines" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "cannot listen on 127.0.0.1:$run_port (listen): Address already in use.*--listen ADDR:PORT or .listen:. in the config" &&
   ! echo "$err" | grep -q "export "'
kill "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null

# Under a terminal (script(1) gives it a pseudo-terminal): one short line per request on stderr,
# the JSON audit log in $PROMPTGATE_HOME/audit.jsonl rather than on the terminal.
script -qfec "echo \$\$ > '$work/pty.pid'; exec '$pg' run --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --connect-to api.anthropic.com:443:127.0.0.1:9" \
  "$work/pty.log" > /dev/null 2>&1 < /dev/null &
pids+=($!)
pty_port=$(wait_port "$work/pty.log" 'promptgate listening on ' 150)
printf '{"model":"claude-x","messages":[{"role":"user","content":"my token %s"}]}' "$token" > "$work/block-body.json"
curl -sS -o /dev/null -x "http://127.0.0.1:$pty_port" --cacert "$PROMPTGATE_HOME/ca.pem" \
  -H 'content-type: application/json' --data-binary @"$work/block-body.json" \
  https://api.anthropic.com/v1/messages 2>> "$all_output"
for _ in $(seq 50); do grep -q "POST api" "$work/pty.log" && break; sleep 0.1; done
kill "$(cat "$work/pty.pid")" 2>/dev/null
for _ in $(seq 50); do kill -0 "$(cat "$work/pty.pid")" 2>/dev/null || break; sleep 0.1; done
cat "$work/pty.log" >> "$all_output"
check "terminal: one console line per request (time, method, host and path, verdict, status, rule)" \
  'grep -Eq "^[0-9]{2}:[0-9]{2}:[0-9]{2}  POST api\.anthropic\.com/v1/messages  block 400  github-pat-classic.?$" "$work/pty.log"'
check "terminal: the JSON audit goes to \$PROMPTGATE_HOME/audit.jsonl, not the terminal" \
  'grep -q "the JSON audit log is in $PROMPTGATE_HOME/audit.jsonl" "$work/pty.log" && ! grep -q "\"request_id\"" "$work/pty.log" &&
   grep -q "\"decision\":\"block\".*github-pat-classic" "$PROMPTGATE_HOME/audit.jsonl"'
run run --check-config --console sometimes
check "a bad --console value is refused" '[ $status -eq 2 ] && echo "$err" | grep -q "console must be auto, on or off"'

run ca init
check "ca init creates the CA" '[ $status -eq 0 ] && [ "$(stat -c %a "$PROMPTGATE_HOME/ca-key.pem")" = 600 ]'
run ca export
check "ca export prints the certificate" '[ $status -eq 0 ] && echo "$out" | grep -q "BEGIN CERTIFICATE" && ! echo "$out" | grep -q PRIVATE'
run ca show
check "ca show prints the fingerprint" '[ $status -eq 0 ] && echo "$out" | grep -q "sha256:"'

# promptgate secrets: .env, vault JSON and one-per-line inputs to a digest file with no values.
ks_pw='Vt7#qLm2Rx9p' ks_tok='itk_3b9f0c5e7a1d42f8b6c0e9d1' ks_quoted='sq uo:ted!9Xw' ks_short='k9Xw2'
ks_vault='vlt-Q8r2Zx7Lm4Np' ks_bare='Bare9Pw!x2Lq'
secrets+=("$ks_pw" "$ks_tok" "$ks_quoted" "$ks_short" "$ks_vault" "$ks_bare")
cat > "$work/app.env" <<ENV
# settings for the app
export DB_PASSWORD=$ks_pw
API_TOKEN="$ks_tok"   # quoted, with a comment
  QUOTED = '$ks_quoted'
PORT=5432
NODE_ENV=production
PIN=$ks_short
ENV
printf '{"request_id":"x","data":{"data":{"api_token":"%s","vault_only":"%s","n":5},"metadata":{}}}\n' \
  "$ks_tok" "$ks_vault" > "$work/vault.json"
entries() { grep -vc '^#\|^promptgate' "$@"; }
run secrets digest "$work/app.env"
check "secrets digest .env exits 0 with a header and 3 entries" '[ $status -eq 0 ] && echo "$out" | head -1 | grep -Eq "^promptgate-known-secrets v1 key-id=[0-9a-f]{16}$" && [ $(echo "$out" | entries) -eq 3 ]'
check "secrets digest labels entries with the variable names" 'echo "$out" | grep -Eq "^12 [0-9a-f]{8} [0-9a-f]{32} DB_PASSWORD$" && echo "$out" | grep -q " API_TOKEN$" && echo "$out" | grep -q " QUOTED$"'
check "secrets digest names skipped values, never shows them" 'echo "$err" | grep -q "skipped 2 shorter than 8 bytes: PORT (line 5), PIN (line 7)" && echo "$err" | grep -q "only of letters or only of digits.*NODE_ENV"'
cp "$work/out" "$work/app.ks"
run secrets check "$work/app.ks"
check "secrets check accepts the digest file" '[ $status -eq 0 ] && echo "$out" | grep -q "OK, 3 known secrets, lengths 12..28"'
run secrets digest "$work/app.env" "$work/vault.json"
cp "$work/out" "$work/merged.ks"
check "secrets digest merges .env and vault JSON, deduplicated" '[ $status -eq 0 ] && [ $(echo "$out" | entries) -eq 4 ] && echo "$out" | grep -q " API_TOKEN,api_token$" && echo "$err" | grep -q "1 values that are not JSON strings"'
run secrets digest "$work/vault.json" "$work/app.env"
check "secrets digest output does not depend on input order (labels aside)" '[ "$(cut -d" " -f1-3 "$work/out" | sort)" = "$(cut -d" " -f1-3 "$work/merged.ks" | sort)" ]'
printf '%s\n' "$ks_bare" | "$pg" secrets digest --format lines - > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "secrets digest reads stdin with --format lines" '[ $status -eq 0 ] && [ $(entries "$work/out") -eq 1 ]'
run secrets digest - < "$work/app.env"
check "secrets digest from stdin needs --format" '[ $status -eq 2 ] && echo "$err" | grep -q "needs --format"'
cp "$work/app.env" "$work/app.conf"
run secrets digest "$work/app.conf"
check "secrets digest refuses a file of unknown format" '[ $status -eq 2 ] && echo "$err" | grep -q "cannot tell the format of .*app.conf"'
printf 'GOOD=%s\n%s\n' "$ks_pw" "$ks_bare" > "$work/bad.env"
run secrets digest "$work/bad.env"
check "secrets digest: a malformed .env names file and line, prints no digest" '[ $status -eq 2 ] && echo "$err" | grep -q "bad.env: line 2: expected KEY=VALUE" && [ -z "$out" ]'
printf '{"data": {"a": "%s", "b": %s}}' "$ks_vault" "$ks_bare" > "$work/bad.json"
run secrets digest "$work/bad.json"
check "secrets digest: malformed JSON names file and line only" '[ $status -eq 2 ] && echo "$err" | grep -q "bad.json: line 1: invalid JSON$"'
head -c 32 /dev/urandom > "$work/other.key"
run secrets digest --key-file "$work/other.key" "$work/app.env"
cp "$work/out" "$work/other.ks"
run secrets check "$work/other.ks"
check "a digest file made under another key is refused, naming it" '[ $status -eq 2 ] && echo "$err" | grep -q "other.ks:1: made under another fingerprint key"'
run secrets check --key-file "$work/other.key" "$work/other.ks"
check "... and accepted with its own key" '[ $status -eq 0 ]'
head -c 16 /dev/urandom > "$work/short.key"
run secrets digest --key-file "$work/short.key" "$work/app.env"
check "a key file of the wrong size is refused" '[ $status -eq 2 ] && echo "$err" | grep -q "short.key: not a promptgate key"'
PROMPTGATE_HOME=$work/no-home run secrets digest "$work/app.env"
check "secrets digest never creates a key" '[ $status -eq 2 ] && echo "$err" | grep -q "no cluster key" && [ ! -e "$work/no-home/cluster.key" ]'
run secrets digest --bogus "$work/app.env"
check "secrets: bad option exits 2" '[ $status -eq 2 ]'
run secrets
check "secrets with no subcommand exits 2" '[ $status -eq 2 ]'

# promptgate audit verify: a chain written independently here (Python), then tampered with.
python3 - "$work/audit.jsonl" <<'PY'
import hashlib, json, sys
prev, lines = "0" * 64, []
for seq in range(1, 6):
    event = {"time": "2026-01-01T00:00:0%dZ" % seq, "request_id": "r%d" % seq, "decision": "allow",
             "seq": seq, "prev": prev}
    if seq == 1:
        event["chain"] = "start"
    line = json.dumps(event, separators=(",", ":"))
    prev = hashlib.sha256(line.encode()).hexdigest()
    lines.append(line)
open(sys.argv[1], "w").write("".join(l + "\n" for l in lines))
PY
run audit verify "$work/audit.jsonl"
check "audit verify: intact chain exits 0" '[ $status -eq 0 ] && echo "$out" | grep -q "audit.jsonl: 5 events, chain intact"'
sed 's/"r3"/"r9"/' "$work/audit.jsonl" > "$work/audit-edited.jsonl"
run audit verify "$work/audit-edited.jsonl"
check "audit verify: an edited line exits 1 naming it" '[ $status -eq 1 ] && echo "$out" | grep -q "audit-edited.jsonl:3: chain broken: line 3 was edited"'
sed '2d' "$work/audit.jsonl" > "$work/audit-deleted.jsonl"
run audit verify "$work/audit-deleted.jsonl"
check "audit verify: a deleted line exits 1" '[ $status -eq 1 ] && echo "$out" | grep -q "audit-deleted.jsonl:2: chain broken: .*deleted"'
head -c -20 "$work/audit.jsonl" > "$work/audit-torn.jsonl"
run audit verify "$work/audit-torn.jsonl"
check "audit verify: a torn last line is a warning" '[ $status -eq 0 ] && echo "$err" | grep -q "audit-torn.jsonl:5: warning: torn last line"'
run audit verify --strict "$work/audit-torn.jsonl"
check "audit verify --strict: warnings fail" '[ $status -eq 1 ]'
run audit verify "$work/no-such-audit.jsonl"
check "audit verify: a missing file exits 2" '[ $status -eq 2 ] && echo "$err" | grep -q "no-such-audit.jsonl"'
run audit verify
check "audit verify without a file exits 2" '[ $status -eq 2 ]'

# A shared cluster key (docs/keys.md): the same value has the same fingerprint under two homes
# sharing a key (--key-file or PROMPTGATE_KEY_FILE), and different ones under their own keys.
fp_of() { echo "$out" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["fingerprint"])'; }
PROMPTGATE_HOME=$work/team-a run keys init
check "keys init creates cluster.key" '[ $status -eq 0 ] && echo "$out" | grep -q "^created: id [0-9a-f]\{16\}" && [ "$(stat -c %a "$work/team-a/cluster.key")" = 600 ]'
team_id=$(echo "$out" | sed -n 's/.*id \([0-9a-f]\{16\}\).*/\1/p')
PROMPTGATE_HOME=$work/team-a run keys init
check "keys init keeps an existing key" '[ $status -eq 0 ] && echo "$out" | grep -q "^exists: id $team_id"'
cp "$work/team-a/cluster.key" "$work/team.key"
PROMPTGATE_HOME=$work/team-a run scan "$work/repo/src/app.js"; fp_a=$(fp_of)
PROMPTGATE_HOME=$work/team-b run scan --key-file "$work/team.key" "$work/repo/src/app.js"; fp_b=$(fp_of)
PROMPTGATE_HOME=$work/team-c PROMPTGATE_KEY_FILE=$work/team.key run scan "$work/repo/src/app.js"; fp_c=$(fp_of)
PROMPTGATE_HOME=$work/team-d run scan "$work/repo/src/app.js"; fp_d=$(fp_of)
check "same fingerprint under two homes sharing a key (--key-file, PROMPTGATE_KEY_FILE)" '[ -n "$fp_a" ] && [ "$fp_a" = "$fp_b" ] && [ "$fp_a" = "$fp_c" ] && [ ! -e "$work/team-b/cluster.key" ]'
check "another home without the key: another fingerprint" '[ -n "$fp_d" ] && [ "$fp_d" != "$fp_a" ]'
PROMPTGATE_HOME=$work/team-b run keys show-id --key-file "$work/team.key"
check "keys show-id names the shared key" '[ $status -eq 0 ] && echo "$out" | grep -q "^id $team_id "'
PROMPTGATE_HOME=$work/team-b run run --check-config --key-file "$work/team.key" --console off
check "run takes --key-file (a path, next to --console's choices)" '[ $status -eq 0 ] && echo "$out" | grep -q "OK ("'
run scan --key-file "$work/no-such.key" "$work/repo/src/app.js"
check "scan with a missing --key-file exits 2 and creates nothing" '[ $status -eq 2 ] && echo "$err" | grep -q "no-such.key" && [ ! -e "$work/no-such.key" ]'
# A home made before the cluster key: its fingerprint.key keeps its fingerprints.
mkdir -p "$work/legacy" && head -c 32 /dev/urandom > "$work/legacy/fingerprint.key"
fp_legacy=$(python3 -c 'import hmac,hashlib,sys; k=open(sys.argv[1],"rb").read(); print("fp_"+hmac.new(k,sys.argv[2].encode(),hashlib.sha256).hexdigest()[:16])' "$work/legacy/fingerprint.key" "$token")
PROMPTGATE_HOME=$work/legacy run scan "$work/repo/src/app.js"
check "a legacy fingerprint.key keeps its fingerprints and no cluster.key is made" '[ "$(fp_of)" = "$fp_legacy" ] && [ ! -e "$work/legacy/cluster.key" ]'
PROMPTGATE_HOME=$work/legacy run keys show-id
check "keys show-id says a legacy key is legacy" '[ $status -eq 0 ] && echo "$out" | grep -q "legacy fingerprint.key"'

# promptgate demo: synthetic values in every category, each blocked (tests/proxy/demo_test.mjs
# sends them through a running proxy), the same ones for the same seed.
run demo --seed 5 --proxy http://127.0.0.1:9999 --ca /tmp/pg-ca.pem
check "demo prints a value and a curl line in every category" \
  '[ $status -eq 0 ] && (for c in credential pii phi pci; do echo "$out" | grep -q "^$c  " || exit 1; done) &&
   [ $(echo "$out" | grep -c "^  curl -sS -w .\\\\n. -x .http://127.0.0.1:9999. --cacert ./tmp/pg-ca.pem. https://api.anthropic.com/v1/messages") -eq 5 ] &&
   echo "$out" | grep -q "docs/blocked.md#trying-it-out"'
demo_text=$out
run demo --seed 5 --proxy http://127.0.0.1:9999 --ca /tmp/pg-ca.pem
check "demo: the same seed gives the same values" '[ "$out" = "$demo_text" ]'
run demo --format json --seed 6
check "demo --format json: one object per value" \
  '[ $status -eq 0 ] && [ $(echo "$out" | wc -l) -eq 5 ] && echo "$out" | python3 -c "
import json, sys
for line in sys.stdin:
    v = json.loads(line)
    assert v[\"value\"] in v[\"text\"] and v[\"value\"] in v[\"curl\"], v
"'
echo "$out" | python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in sys.stdin]' > "$work/demo.txt"
run scan --format text "$work/demo.txt"
check "demo values are findings of their rules in scan" \
  '[ $status -eq 1 ] && (for r in github-pat-classic anthropic-api-key us-ssn card-visa medicare-mbi; do echo "$out" | grep -q " $r (" || exit 1; done)'
printf 'actions: [{rule: medicare-mbi, action: redact}]\n' > "$work/mbi-redacted.yaml"
run demo --config "$work/mbi-redacted.yaml"
check "demo under a config where a kind does not block exits 2 naming the rule" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "no value of rule .medicare-mbi. is blocked"'
run demo --format xml
check "demo: a bad --format exits 2" '[ $status -eq 2 ] && echo "$err" | grep -q "format"'

# cmake --install: the binary and the pre-commit hook, into a prefix and into a DESTDIR; the hook
# finds the installed binary from where it is installed, blocks a staged secret saying how to
# allow it, and lets the commit through once the finding is allowed by its fingerprint.
build_dir=$(dirname "$pg")
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.out" 2>&1; status=$?
check "cmake --install --prefix: binary in bin/, hook in share/promptgate/" \
  '[ $status -eq 0 ] && [ -x "$work/prefix/bin/promptgate" ] && [ -x "$work/prefix/share/promptgate/pre-commit" ] &&
   "$work/prefix/bin/promptgate" version | grep -q "^promptgate "'
DESTDIR=$work/destdir cmake --install "$build_dir" --prefix /usr/local > "$work/install.out" 2>&1; status=$?
check "cmake --install with DESTDIR stages under it" \
  '[ $status -eq 0 ] && [ -x "$work/destdir/usr/local/bin/promptgate" ] && [ -x "$work/destdir/usr/local/share/promptgate/pre-commit" ]'
hook_repo=$work/hook-repo
mkdir -p "$hook_repo" && git -C "$hook_repo" init -q
ln -s "$work/prefix/share/promptgate/pre-commit" "$hook_repo/.git/hooks/pre-commit"
printf 'const token = "%s";\n' "$token" > "$hook_repo/app.js"
printf 'hello\n' > "$hook_repo/README"
git -C "$hook_repo" add app.js README
commit() {  # a commit with no promptgate on PATH: the hook must find the installed one
  (cd "$hook_repo" && env PATH=/usr/bin:/bin git -c user.name=t -c user.email=t@example.invalid \
    commit -qm "$1") > "$work/out" 2> "$work/err"
  status=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
  cat "$work/out" "$work/err" >> "$all_output"
}
commit "with a token"
hook_fp=$(echo "$err" | grep -o "fingerprint: fp_[0-9a-f]*" | head -1 | cut -d" " -f2)
check "pre-commit hook: a staged token blocks the commit, naming file, line and rule" \
  '[ $status -ne 0 ] && echo "$out$err" | grep -q "^app.js:1:16: github-pat-classic" &&
   echo "$err" | grep -q "promptgate: commit blocked: [0-9]* finding(s) above" && [ -n "$hook_fp" ] &&
   [ -z "$(git -C "$hook_repo" log --oneline 2>/dev/null)" ]'
check "pre-commit hook: says how to allow the finding and how to skip once" \
  'echo "$err" | grep -q "\.promptgate/allow.yaml" && echo "$err" | grep -q "git commit --no-verify"'
mkdir -p "$hook_repo/.promptgate"
printf 'allowlist:\n  - fingerprint: %s\n' "$hook_fp" > "$hook_repo/.promptgate/allow.yaml"
git -C "$hook_repo" add .promptgate/allow.yaml
commit "token allowed by fingerprint"
check "pre-commit hook: with the fingerprint allowed, the commit goes through" \
  '[ $status -eq 0 ] && [ "$(git -C "$hook_repo" log --oneline | wc -l)" -eq 1 ]'

for s in "${secrets[@]}"; do
  check "secret never printed" '! grep -qF -- "$s" "$all_output"'
done
check "cluster key created with mode 0600" '[ "$(stat -c %a "$PROMPTGATE_HOME/cluster.key")" = 600 ]'

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

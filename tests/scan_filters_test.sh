#!/usr/bin/env bash
# What `promptgate scan` leaves out and what it reads from git, as CI jobs and pre-commit hooks
# use it: a baseline (an earlier jsonl output) round trip and its errors, the promptgate:allow
# comment (its own line only, files and stdin), .promptgateignore / --ignore-file globs (ignored
# paths not even opened), --staged in a temporary repository (staged content only, as the
# .pre-commit-hooks.yaml entry runs it) and --git RANGE (the commit that added a token, not the
# one that removed it). Planted tokens are never printed.
# usage: scan_filters_test.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")  # absolute: the tests cd into repositories
src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
harness_init promptgate-scan-filters-test --quiet
export PROMPTGATE_HOME=$work/home
# git must not read the user's configuration or ask for anything.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
command -v git >/dev/null || { skip "git not installed"; exit 0; }

tokens=()
for seed in 21 22 23 24 25 26 27; do tokens+=("$(gh_token $seed)"); done
t1=${tokens[0]} t2=${tokens[1]} t3=${tokens[2]} t4=${tokens[3]} t5=${tokens[4]} t6=${tokens[5]}
t7=${tokens[6]}

pg_output_init
lines() { if [ -z "$1" ]; then echo 0; else echo "$1" | wc -l; fi; }

# --- baseline ----------------------------------------------------------------------------------
mkdir -p "$work/base"
printf 'deploy:\n  token: %s\n' "$t1" > "$work/base/old.yaml"
run scan --format jsonl "$work/base"
cp "$work/out" "$work/baseline.jsonl"
check "a first scan finds the known token (its jsonl is the baseline)" '[ $status -eq 1 ] && [ "$(lines "$out")" -eq 1 ]'
run scan --baseline "$work/baseline.jsonl" "$work/base"
check "rescan with --baseline: nothing new, exit 0" '[ $status -eq 0 ] && [ -z "$out" ]'
printf 'token = "%s"\n' "$t2" > "$work/base/new.toml"
run scan --baseline "$work/baseline.jsonl" --format text "$work/base"
check "a new token is still found with --baseline, the known one is not" \
  '[ $status -eq 1 ] && [ "$(lines "$out")" -eq 1 ] && echo "$out" | grep -q "new.toml:1:"'
cp "$work/base/old.yaml" "$work/base/moved.yaml"
run scan --baseline "$work/baseline.jsonl" "$work/base/moved.yaml"
check "the baseline matches by fingerprint: the known token moved to another file stays known" '[ $status -eq 0 ]'
"$pg" keys init > /dev/null 2>&1 || true
PROMPTGATE_HOME=$work/other-home run keys init
run scan --key-file "$work/other-home/cluster.key" --baseline "$work/baseline.jsonl" "$work/base/old.yaml"
check "under another key the baseline's fingerprints do not match" '[ $status -eq 1 ]'
printf '%s\nnot json\n' "$(head -1 "$work/baseline.jsonl")" > "$work/bad-baseline.jsonl"
run scan --baseline "$work/bad-baseline.jsonl" "$work/base"
check "a malformed baseline exits 2 naming the file and line" '[ $status -eq 2 ] && [ -z "$out" ] && echo "$err" | grep -q "bad-baseline.jsonl:2: "'
echo '{"path": "x", "line": 1}' > "$work/no-fp.jsonl"
run scan --baseline "$work/no-fp.jsonl" "$work/base"
check "a baseline line without a fingerprint exits 2 naming the line" '[ $status -eq 2 ] && echo "$err" | grep -q "no-fp.jsonl:1: .*fingerprint"'
run scan --baseline "$work/missing.jsonl" "$work/base"
check "a missing baseline exits 2 naming it" '[ $status -eq 2 ] && echo "$err" | grep -q "missing.jsonl"'

# --- promptgate:allow ----------------------------------------------------------------------------
{
  printf 'api_token = "%s"  # test fixture, promptgate:allow\n' "$t3"
  printf 'other_token = "%s"\n' "$t4"
  printf 'third_token = "%s"\n' "$t5"
  printf '# promptgate:allow (a comment on its own line covers only itself)\n'
} > "$work/allow.py"
run scan --format text "$work/allow.py"
check "promptgate:allow: the finding on its line is left out" '! echo "$out" | grep -q "allow.py:1:"'
check "promptgate:allow: the next line and the line before a marker are still found" \
  '[ $status -eq 1 ] && [ "$(lines "$out")" -eq 2 ] && echo "$out" | grep -q "allow.py:2:" && echo "$out" | grep -q "allow.py:3:"'
"$pg" scan --format text - < "$work/allow.py" > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "promptgate:allow works on stdin (streamed) alike" \
  '[ $status -eq 1 ] && [ "$(wc -l < "$work/out")" -eq 2 ] && ! grep -q "^-:1:" "$work/out"'

# --- .promptgateignore and --ignore-file -----------------------------------------------------------
ign=$work/ign
mkdir -p "$ign/build" "$ign/logs" "$ign/sub/deep" "$ign/src"
for f in src/keep.txt build/out.txt logs/today.log sub/deep/creds.env src/notes.txt; do
  printf 'token: %s\n' "$t1" > "$ign/$f"
done
mkfifo "$ign/src/pipe.txt"  # opened, it would block the scan: ignored, it must not be opened
cat > "$ign/.promptgateignore" <<'IGN'
# build output and logs
build/
*.log
**/deep/
/src/pipe.txt
IGN
run scan --format text "$ign"
check ".promptgateignore: ignored directories, globs and ** paths are not reported" \
  '[ $status -eq 1 ] && [ "$(lines "$out")" -eq 2 ] && echo "$out" | grep -q "src/keep.txt:" && echo "$out" | grep -q "src/notes.txt:"'
printf 'src/*.txt\n!src/keep.txt\n' > "$work/extra-ignore"
run scan --format text --ignore-file "$work/extra-ignore" "$ign"
check "--ignore-file adds globs (with ! to re-include) to .promptgateignore" \
  '[ $status -eq 1 ] && [ "$(lines "$out")" -eq 1 ] && echo "$out" | grep -q "src/keep.txt:"'
(cd "$ign" && timeout 20 "$pg" scan --format text src/pipe.txt src/keep.txt) > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "a file named on the command line under an ignore glob (of the current directory) is not opened" \
  '[ $status -eq 1 ] && [ "$(wc -l < "$work/out")" -eq 1 ] && grep -q "^src/keep.txt:" "$work/out"'
run scan --ignore-file "$work/no-such-ignore" "$ign"
check "a missing --ignore-file exits 2 naming it" '[ $status -eq 2 ] && echo "$err" | grep -q "no-such-ignore"'

# --- --staged (pre-commit) -------------------------------------------------------------------------
repo=$work/repo
git init -q -b main "$repo"
git -C "$repo" config user.name "promptgate test"
git -C "$repo" config user.email "test@example.invalid"
mkdir -p "$repo/app"
printf 'legacy_token = "%s"\n' "$t1" > "$repo/committed.txt"
printf 'nothing here\n' > "$repo/app/clean.txt"
git -C "$repo" add -A && git -C "$repo" commit -qm "first"
printf 'first line\nnew_token = "%s"\n' "$t2" > "$repo/app/staged.txt"
git -C "$repo" add app/staged.txt
printf 'unstaged_token = "%s"\n' "$t3" >> "$repo/app/staged.txt"
printf 'edited_token = "%s"\n' "$t4" >> "$repo/app/clean.txt"
entry=$(sed -n 's/^ *entry: *//p' "$src/.pre-commit-hooks.yaml")
check ".pre-commit-hooks.yaml: hook id promptgate, entry promptgate scan --staged, no file names" \
  'grep -q "^- id: promptgate$" "$src/.pre-commit-hooks.yaml" && [[ "$entry" == "promptgate scan --staged"* ]] && grep -q "^ *pass_filenames: false" "$src/.pre-commit-hooks.yaml" && grep -q "^ *language: system" "$src/.pre-commit-hooks.yaml"'
# shellcheck disable=SC2086  # the entry's words
(cd "$repo/app" && "$pg" ${entry#promptgate }) > "$work/out" 2> "$work/err"; status=$?
out=$(cat "$work/out"); cat "$work/out" "$work/err" >> "$all_output"
check "--staged (the hook's entry, from a subdirectory): the staged token, with its repo path and staged line" \
  '[ $status -eq 1 ] && echo "$out" | grep -q "^app/staged.txt:2:"'
check "--staged: not the unstaged change, nor the committed file, nor an unstaged edit" \
  '[ "$(lines "$out")" -eq 1 ]'
(cd "$repo" && "$pg" scan --staged --format jsonl) > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "--staged jsonl: path from the top of the repository" 'python3 -c "
import json,sys
f = [json.loads(l) for l in open(sys.argv[1])]
assert [(x[\"path\"], x[\"line\"]) for x in f] == [(\"app/staged.txt\", 2)], f" "$work/out"'
git -C "$repo" commit -qm "second"
(cd "$repo" && "$pg" scan --staged) > "$work/out" 2>> "$all_output"; status=$?
check "--staged with nothing staged: exit 0" '[ $status -eq 0 ] && [ ! -s "$work/out" ]'
mkdir -p "$work/not-a-repo"
(cd "$work/not-a-repo" && GIT_CEILING_DIRECTORIES=$work "$pg" scan --staged) > "$work/out" 2> "$work/err"; status=$?
cat "$work/out" "$work/err" >> "$all_output"
check "--staged outside a repository exits 2 with git's message" '[ $status -eq 2 ] && grep -q "not a git repository" "$work/err"'

# --- --git RANGE -----------------------------------------------------------------------------------
hist=$work/hist
git init -q -b main "$hist"
git -C "$hist" config user.name "promptgate test"
git -C "$hist" config user.email "test@example.invalid"
printf 'one\ntwo\n' > "$hist/config.ini"
git -C "$hist" add -A && git -C "$hist" commit -qm "c1: clean"
printf 'one\ntwo\n[deploy]\ntoken = %s\n' "$t6" > "$hist/config.ini"
git -C "$hist" commit -qam "c2: adds a token"
c2=$(git -C "$hist" rev-parse --short HEAD)
printf 'one\ntwo\n[deploy]\ntoken = from the vault\nfixture = %s  # promptgate:allow\n' "$t7" > "$hist/config.ini"
git -C "$hist" commit -qam "c3: removes it"
(cd "$hist" && "$pg" scan --git HEAD) > "$work/out" 2> "$work/err"; status=$?
cat "$work/out" "$work/err" >> "$all_output"
check "--git HEAD: the token added in c2 found once, naming c2, the path and its line there" \
  '[ $status -eq 1 ] && python3 -c "
import json,sys
f = [json.loads(l) for l in open(sys.argv[1])]
assert [(x[\"commit\"], x[\"path\"], x[\"line\"]) for x in f] == [(sys.argv[2], \"config.ini\", 4)], f
assert all(\"start\" not in x for x in f), \"offsets in the added lines are not offsets in the file\"" "$work/out" "$c2"'
cp "$work/out" "$work/hist-baseline.jsonl"
(cd "$hist" && "$pg" scan --git HEAD~1..HEAD --format text) > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "--git over c3 alone: a removed token is not a finding (and the allowed line is left out)" '[ $status -eq 0 ] && [ ! -s "$work/out" ]'
(cd "$hist" && "$pg" scan --git HEAD~2..HEAD --format text) > "$work/out" 2>> "$all_output"; status=$?
cat "$work/out" >> "$all_output"
check "--git text: sha:path:line:column:" '[ $status -eq 1 ] && grep -q "^$c2:config.ini:4:9: github-pat-classic" "$work/out"'
(cd "$hist" && "$pg" scan --git HEAD --baseline "$work/hist-baseline.jsonl") > "$work/out" 2>> "$all_output"; status=$?
check "--git with its own output as the baseline: exit 0" '[ $status -eq 0 ] && [ ! -s "$work/out" ]'
(cd "$hist" && "$pg" scan --git no-such-branch..HEAD) > "$work/out" 2> "$work/err"; status=$?
cat "$work/out" "$work/err" >> "$all_output"
check "--git with a bad range exits 2 with git's message" '[ $status -eq 2 ] && grep -q "no-such-branch" "$work/err"'
(cd "$hist" && "$pg" scan --git --output=x) > "$work/out" 2> "$work/err"; status=$?
cat "$work/out" "$work/err" >> "$all_output"
check "--git refuses a range that git would read as an option" '[ $status -eq 2 ] && [ ! -e "$hist/x" ]'

leaked=0
for t in "${tokens[@]}"; do grep -qF -- "${t:4:20}" "$all_output" && leaked=1; done
check "the planted tokens are never printed" '[ $leaked -eq 0 ]'
echo "scan filters: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

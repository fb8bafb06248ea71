#!/usr/bin/env bash
# Runs every ```sh block of docs/quickstart.md, in order, in one shell, as a user would:
#  - `scripts/build.sh` runs for real when the binary under test is the repository's
#    build/promptgate (as in scripts/test.sh, where it is then a no-op); otherwise (a separate
#    build directory) it is skipped with a message and build/promptgate is the binary under test;
#  - `build/promptgate run` is started in the background, as in its own terminal;
#  - upstream is the local fake API (tests/proxy/fake_api.mjs): the proxy gets PROMPTGATE_CONNECT_TO
#    and PROMPTGATE_UPSTREAM_CA from the environment, so the documented commands stay verbatim,
#    except that 127.0.0.1:8080 becomes a free port;
#  - `claude` is the pinned CLI from tests/e2e/node_modules when installed (skipped otherwise).
# HOME is a temporary directory, so ~/.config/promptgate is a fresh CA.
# usage: quickstart_test.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$(realpath "${1:?usage: quickstart_test.sh PATH_TO_PROMPTGATE}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
doc=$repo/docs/quickstart.md
# shellcheck source=tests/lib/harness.sh
. "$repo/tests/lib/harness.sh"
harness_init promptgate-quickstart
for v in $(compgen -e | grep -E '^(PROMPTGATE_|HTTPS?_PROXY$|https?_proxy$|NO_PROXY$|no_proxy$)'); do unset "$v"; done

# --- the blocks ---------------------------------------------------------------------------------
mkdir -p "$work/blocks"
awk -v dir="$work/blocks" '
  /^```sh[[:space:]]*$/ { n++; inside = 1; next }
  /^```/ { inside = 0; next }
  inside { print > (dir "/" sprintf("%02d", n) ".sh") }' "$doc"
blocks=("$work"/blocks/*.sh)
check "the quick start has its blocks (build, start, export, two requests, claude)" '[ ${#blocks[@]} -ge 6 ]'

# --- fake upstream ------------------------------------------------------------------------------
start_fake_api "$repo/tests/proxy" 300
case $? in
  1) echo "FAIL: make_pki.sh"; exit 1 ;;
  2) echo "FAIL: fake API did not start"; exit 1 ;;
esac

# A free port for the proxy (the doc's 8080 may be taken on a shared machine).
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

# --- the user's environment ---------------------------------------------------------------------
cwd=$work/checkout
mkdir -p "$cwd/build" "$work/home" "$work/bin"
ln -s "$pg" "$cwd/build/promptgate"
real_build=0
[ "$pg" = "$(realpath "$repo/build/promptgate" 2>/dev/null)" ] && { real_build=1; cwd=$repo; }
pkg=${CLAUDE_CODE_PACKAGE_DIR:-$repo/tests/e2e/node_modules/@anthropic-ai/claude-code}
claude_bin=$pkg/bin/claude.exe
have_claude=0
if [ -x "$claude_bin" ] && "$claude_bin" --version >/dev/null 2>&1; then
  have_claude=1
elif [ -f "$pkg/cli-wrapper.cjs" ]; then
  printf '#!/bin/sh\nexec node %q "$@"\n' "$pkg/cli-wrapper.cjs" > "$work/claude-wrapper"
  chmod +x "$work/claude-wrapper"
  "$work/claude-wrapper" --version >/dev/null 2>&1 && { claude_bin=$work/claude-wrapper; have_claude=1; }
fi
[ $have_claude -eq 1 ] && ln -s "$claude_bin" "$work/bin/claude"
export HOME=$work/home PATH=$work/bin:$PATH
export ANTHROPIC_API_KEY=sk-ant-api03-promptgate-quickstart-not-a-real-key
export PROMPTGATE_CONNECT_TO=api.anthropic.com:443:127.0.0.1:$fake_port
export PROMPTGATE_UPSTREAM_CA=$work/pki/upstream-ca.pem
export PROMPTGATE_ADMIN_LISTEN=127.0.0.1:0
# Claude Code: no updater, telemetry or retries in a test.
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_MAX_RETRIES=0

# One shell for all blocks, so that exports carry over; each block's output to its own file.
script=$work/session.sh
{
  echo 'cd "$1" || exit 1'
  for b in "${blocks[@]}"; do
    n=$(basename "$b" .sh)
    body=$(sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" "$b")
    if grep -qE '^scripts/(build|run)\.sh' <<<"$body" && [ $real_build -eq 0 ]; then
      echo "echo 'skipped: $(head -1 <<<"$body") (the binary under test is not \$repo/build/promptgate)' > $work/$n.out; echo skip > $work/$n.status"
    elif grep -qE '^build/promptgate run' <<<"$body"; then
      echo "PROMPTGATE_LISTEN=127.0.0.1:$port $body > $work/proxy.out 2> $work/proxy.err &"
      echo "echo \$! > $work/proxy.pid; echo started > $work/$n.status"
      echo "for _ in \$(seq 300); do grep -q 'promptgate listening on' $work/proxy.err && break; sleep 0.1; done"
    elif grep -qE '^claude' <<<"$body" && [ $have_claude -eq 0 ]; then
      echo "echo skip > $work/$n.status"
    else
      printf '{\n%s\n} > %s 2>&1 < /dev/null\necho $? > %s\n' "$body" "$work/$n.out" "$work/$n.status"
      echo "[ \$(cat $work/$n.status) -eq 0 ] || echo 'block $n failed'"
    fi
  done
} > "$script"
timeout 600 bash "$script" "$cwd"
[ -f "$work/proxy.pid" ] && pids+=($(cat "$work/proxy.pid"))

status_of() { cat "$work/$1.status" 2>/dev/null || echo missing; }
out_of() { cat "$work/$1.out" 2>/dev/null; }
i=0
for b in "${blocks[@]}"; do
  n=$(basename "$b" .sh)
  first=$(head -1 "$b")
  s=$(status_of "$n")
  case "$first" in
    scripts/*)
      if [ "$s" = skip ]; then skip "block $n ($first): $(out_of "$n")"; else check "block $n: $first" '[ "$s" = 0 ]'; fi ;;
    "build/promptgate run"*)
      check "block $n: $first starts the proxy and prints the export lines" \
        'grep -q "promptgate listening on 127.0.0.1:$port" "$work/proxy.err" && grep -q "export NODE_EXTRA_CA_CERTS=$HOME/.config/promptgate/ca.pem" "$work/proxy.err"' ;;
    export*)
      check "block $n: the exports" '[ "$s" = 0 ] && [ -f "$HOME/.config/promptgate/ca.pem" ]' ;;
    claude*)
      if [ "$s" = skip ]; then
        skip "block $n ($first): the pinned Claude Code CLI is not installed in tests/e2e/node_modules (the claude_cli_e2e test installs it)"
      else
        check "block $n: $first answers through the proxy" '[ "$s" = 0 ] && grep -q "fake model says" "$work/$n.out" || { out_of "$n" | tail -5; false; }'
      fi ;;
    *)
      if grep -q 'promptgate demo.*| sh' "$b"; then
        check "block $n: every demo curl line is blocked, in every category, naming its rule" \
          '[ "$s" = 0 ] && [ $(grep -c "promptgate blocked this request" "$work/$n.out") -eq $(grep -c "^  curl" "$work/demo.out") ] &&
           (for c in credential pii phi pci; do grep -q "$c '"'"'" "$work/$n.out" || exit 1; done) || { out_of "$n"; false; }'
      elif grep -q '^build/promptgate demo' "$b"; then
        out_of "$n" > "$work/demo.out"
        check "block $n: demo prints a curl line per value" '[ "$s" = 0 ] && grep -q "^  curl -sS -w .\\\\n. -x \"\$HTTPS_PROXY\"" "$work/demo.out"'
      elif grep -q fake_key "$b"; then
        check "block $n: the request with a made-up key is blocked, naming the rule" \
          '[ "$s" = 0 ] && grep -q "promptgate blocked this request" "$work/$n.out" && grep -q "stripe-live-secret-key" "$work/$n.out" || { out_of "$n"; false; }'
        check "block $n: the made-up key never reached the model API" '! grep -q "sk_live_" "$record"'
      elif grep -q '^curl' "$b"; then
        check "block $n: the clean request gets the model's answer" \
          '[ "$s" = 0 ] && grep -q "fake model says" "$work/$n.out" && grep -q "Say hello" "$record" || { out_of "$n"; false; }'
      else
        check "block $n: $first" '[ "$s" = 0 ]'
      fi ;;
  esac
done
check "the proxy's audit log shows one allow and one block" \
  'grep -q "\"decision\":\"allow\"" "$work/proxy.out" && grep -q "\"decision\":\"block\"" "$work/proxy.out"'

echo "quickstart_test: $passed passed, $failed failed, $skipped skipped"
if [ $failed -ne 0 ]; then echo "--- proxy stderr:"; tail -20 "$work/proxy.err"; exit 1; fi

#!/usr/bin/env bash
# End-to-end test with the real Claude Code CLI (the version pinned in package.json): the CLI talks
# through `promptgate run` (HTTPS_PROXY, NODE_EXTRA_CA_CERTS) to the fake Anthropic API
# (tests/proxy/fake_api.mjs, reached with --connect-to api.anthropic.com:443:127.0.0.1:PORT).
# Cases: a clean prompt, a prompt with a synthetic GitHub token (blocked), a tool_result carrying a
# credential read from a file (blocked, naming Read, the file and the line), the next turn of a
# blocked session (--continue: answered with the value redacted), a .pdf and a .png read with the Read tool (their text
# read by promptgate: blocked; clean twins answered), redact mode (the upstream sees [REDACTED:...]), tokenize
# (the model sees a stand-in; the CLI's Write tool writes the real value) and a justified override
# (the block message's code repeated with a reason) and a client certificate (mTLS) as the
# developer's identity, a company LLM gateway reached with ANTHROPIC_BASE_URL, and two replicas
# behind HAProxy sharing a cluster key (stand-ins and override codes honoured by both).
# usage: claude_cli_test.sh PATH_TO_PROMPTGATE
set -uo pipefail
pg=$(realpath "${1:?usage: claude_cli_test.sh PATH_TO_PROMPTGATE}")
here=$(cd "$(dirname "$0")" && pwd)
proxy_tests=$here/../proxy
# shellcheck source=tests/lib/harness.sh
. "$here/../lib/harness.sh"
harness_init promptgate-e2e

# --- the pinned CLI, installed once into tests/e2e/node_modules ---------------------------------
want=$(node -p 'require(process.argv[1]).dependencies["@anthropic-ai/claude-code"]' "$here/package.json")
claude_bin=$here/node_modules/.bin/claude
have=$("$claude_bin" --version 2>/dev/null | awk '{print $1}')
if [ "$have" != "$want" ]; then
  echo "installing @anthropic-ai/claude-code@$want (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL: npm ci"; exit 1; }
  have=$("$claude_bin" --version 2>/dev/null | awk '{print $1}')
fi
if [ "$have" != "$want" ]; then
  # The native binary is copied over bin/claude.exe by a postinstall script; without it, the
  # package's wrapper finds the platform package itself.
  claude_bin=$work/claude
  printf '#!/bin/sh\nexec node %q "$@"\n' "$here/node_modules/@anthropic-ai/claude-code/cli-wrapper.cjs" > "$claude_bin"
  chmod +x "$claude_bin"
  have=$("$claude_bin" --version 2>/dev/null | awk '{print $1}')
fi
[ "$have" = "$want" ] || { echo "FAIL: claude --version says '$have', want $want"; exit 1; }
echo "Claude Code $have"

# --- upstream PKI and fake API ------------------------------------------------------------------
start_fake_api "$proxy_tests" 150
case $? in
  1) echo "FAIL: make_pki.sh"; exit 1 ;;
  2) echo "FAIL: fake API did not start"; cat "$work/fake-api.err"; exit 1 ;;
esac

# --- promptgate ---------------------------------------------------------------------------------
start_proxy() {  # start_proxy NAME [CONFIG_TEXT] -> sets proxy_port, proxy_home, audit
  local name=$1 config=${2:-}
  proxy_home=$work/$name/home
  audit=$work/$name/audit.jsonl
  mkdir -p "$proxy_home"
  local args=(run --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --upstream-ca "$work/pki/upstream-ca.pem"
    --connect-to "api.anthropic.com:443:127.0.0.1:$fake_port" --audit-log "$audit")
  if [ -n "$config" ]; then
    printf '%s\n' "$config" > "$work/$name/promptgate.yaml"
    args+=(--config "$work/$name/promptgate.yaml")
  fi
  PROMPTGATE_HOME=$proxy_home "$pg" "${args[@]}" > "$work/$name/stdout" 2> "$work/$name/stderr" &
  pids+=($!)
  proxy_port=$(wait_port "$work/$name/stderr" 'promptgate listening on ') || {
    echo "FAIL: promptgate ($name) did not start"; cat "$work/$name/stderr"; exit 1; }
}

# --- the CLI ------------------------------------------------------------------------------------
project=$work/project
mkdir -p "$project" "$work/claude-home"
# An Anthropic-looking key that matches no rule (the proxy never scans the client's own
# x-api-key header anyway).
api_key=sk-ant-api03-promptgate-e2e-not-a-real-key
claude_env=()  # extra environment for the next claude calls (case g)
claude() {  # claude OUTFILE ARGS... ; sets status
  local out=$1; shift
  (cd "$project" && env -u NO_PROXY -u no_proxy -u HTTP_PROXY -u http_proxy -u ANTHROPIC_BASE_URL \
    -u ANTHROPIC_AUTH_TOKEN -u CLAUDE_CODE_OAUTH_TOKEN \
    HOME="$work/claude-home" XDG_CONFIG_HOME="$work/claude-home/.config" \
    HTTPS_PROXY="http://127.0.0.1:$proxy_port" https_proxy="http://127.0.0.1:$proxy_port" \
    NODE_EXTRA_CA_CERTS="$proxy_home/ca.pem" ANTHROPIC_API_KEY="$api_key" \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 \
    DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_MAX_RETRIES=0 "${claude_env[@]}" \
    timeout 180 "$claude_bin" "$@" < /dev/null > "$out" 2>&1)
  status=$?
}
in_record() { grep -qF -- "$1" "$record"; }
# override_code FILE: the code a block message in the CLI's output FILE offers.
override_code() {
  sed -n 's/.*promptgate-override: \([0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}\) because <your reason>.*/\1/p' "$1" | head -1
}
messages_requests() { grep -c '"path":"/v1/messages' "$record"; }

# Synthetic secrets: gh_token (tests/lib/harness.sh), a fresh GitHub-format token each call.

start_proxy enforce

# (a) a clean prompt: the fake model's answer is printed.
claude "$work/a.out" -p "ECHO: hello from the promptgate e2e test"
check "(a) clean prompt exits 0" '[ $status -eq 0 ]'
check "(a) prints the fake model's answer" 'grep -q "fake model says: hello from the promptgate e2e test" "$work/a.out"'
check "(a) the request reached the fake API through the proxy" 'grep -q "\"host\":\"api.anthropic.com\"" "$record" && in_record "hello from the promptgate e2e test"'
check "(a) audit log: allow" 'grep -q "\"decision\":\"allow\"" "$audit"'

# (b) a prompt with a synthetic GitHub token: blocked, the CLI shows the error.
token_b=$(gh_token)
before=$(messages_requests)
claude "$work/b.out" -p "ECHO: deploy with $token_b now"
check "(b) the CLI shows API Error: 400" 'grep -q "API Error: 400" "$work/b.out"'
check "(b) the CLI shows the promptgate block message" 'grep -q "promptgate blocked" "$work/b.out"'
check "(b) the message names the rule" 'grep -q "github-pat-classic" "$work/b.out"'
check "(b) the token never reached the fake API" '! in_record "$token_b" && ! in_record "${token_b:4:12}"'
check "(b) audit log: block, no token" 'grep -q "\"decision\":\"block\"" "$audit" && ! grep -qF "${token_b:4:12}" "$audit"'

# (c) tool_result: the fake model asks to Read a file holding a credential; the CLI reads it and
# sends the tool_result, which promptgate blocks.
token_c=$(gh_token)
envfile=$project/x.env
printf 'APP_NAME=demo\nGITHUB_TOKEN=%s\n' "$token_c" > "$envfile"
before=$(messages_requests)
claude "$work/c.out" --allowedTools Read -p "please read the file $envfile"
check "(c) the fake API was asked once (the tool_use turn) and answered with tool_use" \
  '[ $(messages_requests) -gt $before ] && in_record "please read the file $envfile"'
check "(c) the CLI shows API Error: 400 and the block message" 'grep -q "API Error: 400" "$work/c.out" && grep -q "promptgate blocked" "$work/c.out"'
# A tool_result's text is at messages[N].content[M].content: the CLI did read the file.
check "(c) the block is on the tool_result (messages[N].content[M].content)" \
  'grep -q "messages\[[0-9]*\]\.content\[[0-9]*\]\.content" "$work/c.out" && grep -q "\"location\":\"messages\[[0-9]*\]\.content\[[0-9]*\]\.content\"" "$audit"'
check "(c) the file's token never reached the fake API" '! in_record "$token_c" && ! in_record "${token_c:4:12}"'
check "(c) the CLI did not get past the block (no 'I read the file.')" '! grep -q "I read the file." "$work/c.out"'
# The block names the tool call and the line within its result (the file's line 2).
check "(c) the block message names Read, the file and the line" \
  'grep -qE "in the output of .Read [^ ]*x\.env., line 2" "$work/c.out" && grep -q "\"origin\":\"Read [^\"]*x.env\",\"line\":2" "$audit"'

# (c3) after a block the session goes on: the next turn of the same session (--continue) resends
# the blocked prompt; promptgate redacts the value it has already shown blocked and forwards the
# turn, so the CLI gets its answer while the token never reaches the fake API.
token_c3=$(gh_token)
claude "$work/c3a.out" -p "ECHO: deploy with $token_c3 now"
check "(c3) the block message says what to do in Claude Code" \
  'grep -q "API Error: 400" "$work/c3a.out" && grep -q "/clear" "$work/c3a.out" && grep -q "Esc Esc" "$work/c3a.out"'
claude "$work/c3b.out" --continue -p "ECHO: ok, what does HEAD~1 mean"
check "(c3) the next turn of the session is answered" '[ $status -eq 0 ] && grep -q "fake model says: ok, what does HEAD~1 mean" "$work/c3b.out"'
check "(c3) the next turn carried the value redacted, and it never reached the fake API" \
  'grep "what does HEAD~1 mean" "$record" | grep -qF "[REDACTED:github-pat-classic]" && ! in_record "$token_c3" && ! in_record "${token_c3:4:12}"'
check "(c3) audit: the turn is a redact after the block, naming the first block" \
  'grep -q "\"decision\":\"redact\".*\"after_block\":{\"values\":1,\"first_block\":\"pg-" "$audit"'

# (c2) the Read tool on a .pdf and a .png: the CLI sends the file as a document / image block;
# promptgate reads the PDF's text and the picture's (OCR). A synthetic token drawn in each is
# blocked, naming the page or "picture, ocr"; the clean twin of each is answered.
make_attachment=$(dirname "$pg")/tests/make_attachment
# Seeded tokens: OCR misreads a character of some values (l/1/I, O/0), and then the checksum
# rule cannot match; seed 505 is read exactly at both OCR passes, so the test does not depend
# on the draw. docs/readers.md gives the measured OCR recall over random tokens.
for kind in pdf png; do
  token_f=$(gh_token 505)
  dirty=$project/report-$kind.$kind
  "$make_attachment" $kind "$dirty" "deploy notes" "export GITHUB_TOKEN=$token_f"
  claude "$work/c2-$kind.out" --allowedTools Read -p "please read the file $dirty"
  where='(pdf page 1)'
  [ $kind = png ] && where='(picture, ocr)'
  check "(c2 $kind) Read of a file with a token: API Error: 400 naming $where" \
    'grep -q "API Error: 400" "$work/c2-$kind.out" && grep -qF "$where" "$work/c2-$kind.out"'
  # The file travels base64-encoded: a slice of its encoding must not reach the fake API either.
  encoded=$(base64 -w0 "$dirty" | cut -c 200-260)
  check "(c2 $kind) the token never reached the fake API" \
    '! in_record "$token_f" && ! in_record "${token_f:4:12}" && ! in_record "$encoded"'
  clean=$project/notes-$kind.$kind
  "$make_attachment" $kind "$clean" "deploy notes" "export GITHUB_TOKEN=<from the vault>"
  claude "$work/c2-clean-$kind.out" --allowedTools Read -p "please read the file $clean"
  check "(c2 $kind) Read of a clean file: answered" 'grep -q "I read the file." "$work/c2-clean-$kind.out"'
done

# (d) redact mode: the fake API receives [REDACTED:github-pat-classic] instead of the token.
start_proxy redact 'destinations:
  default: tunnel
  intercept: [api.anthropic.com]
actions:
  - {category: credential, action: redact}'
token_d=$(gh_token)
claude "$work/d.out" -p "ECHO: here it is $token_d thanks"
check "(d) redact: exits 0 and the model echoes the marker" '[ $status -eq 0 ] && grep -q "\[REDACTED:github-pat-classic\]" "$work/d.out"'
check "(d) redact: the fake API received the marker" 'in_record "[REDACTED:github-pat-classic]"'
check "(d) redact: the token never reached the fake API" '! in_record "$token_d" && ! in_record "${token_d:4:12}"'
check "(d) audit log: redact" 'grep -q "\"decision\":\"redact\"" "$audit"'

# (e) tokenize: the model only ever sees a stand-in of the same shape; the stand-in in its Write
# tool call is restored in the stream, so the file the CLI writes holds the real token.
start_proxy tokenize 'destinations:
  default: tunnel
  intercept: [api.anthropic.com]
actions:
  - {category: credential, action: tokenize}'
token_e=$(gh_token)
target_e=$project/deploy.env
claude "$work/e.out" --allowedTools Write -p "please write the file $target_e with: GITHUB_TOKEN=$token_e"
check "(e) tokenize: the CLI exits 0" '[ $status -eq 0 ]'
check "(e) tokenize: the file the CLI's Write tool wrote holds the real token" 'grep -qxF "GITHUB_TOKEN=$token_e" "$target_e"'
check "(e) tokenize: the fake API saw a ghp_ stand-in instead" 'grep -Eq "GITHUB_TOKEN=ghp_[A-Za-z0-9]{36}" "$record"'
check "(e) tokenize: the token never reached the fake API (prompt, tool call, tool result)" '! in_record "$token_e" && ! in_record "${token_e:4:12}"'
check "(e) tokenize: the CLI sent the tool result back (second turn answered)" 'grep -q "I read the file." "$work/e.out"'
check "(e) audit: tokenized and restored, no token" 'grep -q "\"tokenized\":" "$audit" && grep -q "\"restored\":" "$audit" && ! grep -qF "${token_e:4:12}" "$audit"'

# (f) justified override: the block message offers a code; the developer repeats the prompt with
# "promptgate-override: CODE because <reason>" and it goes through, the reason in the audit log.
start_proxy override 'destinations:
  default: tunnel
  intercept: [api.anthropic.com]
overrides:
  enabled: true
  categories: [credential]
  grant_seconds: 0'
token_f=$(gh_token)
claude "$work/f1.out" -p "ECHO: rotate $token_f today"
code_f=$(override_code "$work/f1.out")
check "(f) override: the block message shown by the CLI offers a code" '[ -n "$code_f" ] && grep -q "API Error: 400" "$work/f1.out"'
claude "$work/f.out" -p "ECHO: rotate $token_f today
promptgate-override: $code_f because the e2e test rotates this synthetic token"
check "(f) override: the repeated prompt with the code and a reason goes through" '[ $status -eq 0 ] && grep -q "fake model says: rotate" "$work/f.out"'
check "(f) override: the audit log records the reason and not the code" 'grep -q "\"status\":\"redeemed\"" "$audit" && grep -q "rotates this synthetic token" "$audit" && ! grep -qF "$code_f" "$audit"'

# (g) client certificates: the gateway identifies the developer by the certificate the CLI
# presents (CLAUDE_CODE_CLIENT_CERT / CLAUDE_CODE_CLIENT_KEY), with no proxy credentials; without
# one the CLI gets nothing through.
(cd "$work/pki" &&
  openssl ecparam -name prime256v1 -genkey -noout -out client-ca-key.pem &&
  openssl req -x509 -new -key client-ca-key.pem -sha256 -days 30 -subj "/CN=e2e client CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -out client-ca.pem &&
  openssl ecparam -name prime256v1 -genkey -noout -out dev-key.pem &&
  openssl req -new -key dev-key.pem -subj "/CN=dev-e2e" -out dev.csr &&
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > dev.ext &&
  openssl x509 -req -in dev.csr -CA client-ca.pem -CAkey client-ca-key.pem -CAcreateserial -days 30 \
    -sha256 -extfile dev.ext -out dev.pem) > "$work/client-pki.log" 2>&1 ||
  { echo "FAIL: could not make the client certificate"; cat "$work/client-pki.log"; exit 1; }
start_proxy mtls "destinations:
  default: tunnel
  intercept: [api.anthropic.com]
auth:
  client_ca: $work/pki/client-ca.pem
  groups:
    developers: [dev-e2e]"
claude_env=(CLAUDE_CODE_CLIENT_CERT="$work/pki/dev.pem" CLAUDE_CODE_CLIENT_KEY="$work/pki/dev-key.pem")
claude "$work/g.out" -p "ECHO: hello with a client certificate"
check "(g) mTLS: the CLI with a client certificate gets its answer" '[ $status -eq 0 ] && grep -q "fake model says: hello with a client certificate" "$work/g.out"'
check "(g) mTLS: the audit line names the certificate's user and group" 'grep "/v1/messages" "$audit" | grep "\"user\":\"dev-e2e\"" | grep -q "\"developers\""'
claude_env=()
claude "$work/g2.out" -p "ECHO: hello without a certificate"
check "(g) mTLS: without a certificate the CLI fails and nothing reaches the API" '[ $status -ne 0 ] && ! in_record "hello without a certificate"'
check "(g) mTLS: the refusal is in the audit log" 'grep -q "client certificate authentication failed: no client certificate" "$audit"'

# (h) a company LLM gateway (docs/company-gateway.md): ANTHROPIC_BASE_URL names the gateway's
# host, promptgate runs the recipe's example config (the host renamed to one the fake API's
# certificate carries, connect_to in place of the company's DNS), and the fake API plays the
# gateway: a clean prompt is answered, a token is blocked before the gateway sees it.
gw_host=upstream.test
gw_config=$(sed -e "s/llm-gateway\.example\.internal/$gw_host/g" \
  -e "s|^upstream_ca: .*|upstream_ca: $work/pki/upstream-ca.pem|" "$here/../../docs/examples/company-gateway.yaml")
start_proxy gateway "$gw_config
connect_to: [\"$gw_host:443:127.0.0.1:$fake_port\"]"
claude_env=(ANTHROPIC_BASE_URL="https://$gw_host")
claude "$work/h.out" -p "ECHO: hello through the company gateway"
check "(h) gateway: the CLI gets its answer through promptgate" '[ $status -eq 0 ] && grep -q "fake model says: hello through the company gateway" "$work/h.out"'
check "(h) gateway: the request reached the gateway's host" 'grep "hello through the company gateway" "$record" | grep -q "\"host\":\"$gw_host\""'
check "(h) gateway: the audit line names the gateway, intercepted" 'grep -q "\"host\":\"$gw_host\".*\"destination\":\"intercept\"" "$audit"'
token_h=$(gh_token)
claude "$work/h2.out" -p "ECHO: deploy with $token_h via the gateway"
check "(h) gateway: a token is blocked before the gateway sees it" \
  'grep -q "API Error: 400" "$work/h2.out" && grep -q "github-pat-classic" "$work/h2.out" && ! in_record "$token_h" && ! in_record "${token_h:4:12}"'
claude_env=()

# (i) two replicas behind HAProxy (round robin per connection), sharing the cluster key
# (PROMPTGATE_KEY_FILE) and the CA, as two gateway pods: a session of several turns
# (claude --continue) keeps one stand-in for an e-mail address and gets it restored from either
# replica; an override code offered by one replica is accepted on the turns that follow,
# whichever replica serves them.
if command -v haproxy >/dev/null; then
  mkdir -p "$work/replica-a" "$work/replica-b/home"
  openssl rand -hex 32 > "$work/replicas.key" && chmod 600 "$work/replicas.key"
  replicas_config='destinations:
  default: tunnel
  intercept: [api.anthropic.com]
overrides:
  enabled: true
  categories: [credential]
actions:
  - {rule: email-address, action: tokenize}'
  PROMPTGATE_KEY_FILE=$work/replicas.key POD_NAME=replica-a start_proxy replica-a "$replicas_config"
  port_a=$proxy_port home_a=$proxy_home audit_a=$audit
  cp "$home_a/ca.pem" "$home_a/ca-key.pem" "$work/replica-b/home/" && chmod 600 "$work/replica-b/home/"*.pem
  PROMPTGATE_KEY_FILE=$work/replicas.key POD_NAME=replica-b start_proxy replica-b "$replicas_config"
  port_b=$proxy_port audit_b=$audit
  ha_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/haproxy.cfg" <<HAEOF
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
frontend proxy
  bind 127.0.0.1:$ha_port
  default_backend replicas
backend replicas
  balance roundrobin
  server a 127.0.0.1:$port_a
  server b 127.0.0.1:$port_b
HAEOF
  haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$ha_port") 2>/dev/null && break; sleep 0.1; done
  proxy_port=$ha_port proxy_home=$home_a
  served() { grep '"/v1/messages' "$1" | grep -c "$2"; }  # served AUDIT PATTERN
  # One extra connection through HAProxy shifts round robin by one: whether the CLI opens one or
  # two connections per run, a shift before a later turn puts the turns on both replicas.
  nudge() { (exec 3<>"/dev/tcp/127.0.0.1/$ha_port") 2>/dev/null; sleep 0.2; }

  mail_i="dana.$(openssl rand -hex 4)@northwind-mail.com"
  record_from=$(wc -c < "$record")
  claude "$work/i1.out" -p "ECHO: send the report to $mail_i"
  check "(i) replicas: turn 1 answered with the address restored" '[ $status -eq 0 ] && grep -qF "fake model says: send the report to $mail_i" "$work/i1.out"'
  for turn in 2 3 4; do
    [ $turn = 3 ] && nudge
    claude "$work/i$turn.out" --continue -p "ECHO: and copy $mail_i on turn $turn"
    check "(i) replicas: turn $turn (--continue) answered with the address restored" '[ $status -eq 0 ] && grep -qF "copy $mail_i on turn $turn" "$work/i$turn.out"'
  done
  upstream_i=$(tail -c +"$((record_from + 1))" "$record")
  check "(i) replicas: the address never reached the fake API" '! grep -qF "${mail_i%@*}" <<< "$upstream_i"'
  check "(i) replicas: one stand-in for it upstream in every turn" '[ "$(grep -oE "user-[0-9a-f]{10}@example\.com" <<< "$upstream_i" | sort -u | wc -l)" -eq 1 ]'
  check "(i) replicas: both replicas tokenized a turn and restored its answer" \
    '[ "$(served "$audit_a" "\"tokenized\":[1-9].*\"restored\":[1-9]")" -ge 1 ] && [ "$(served "$audit_b" "\"tokenized\":[1-9].*\"restored\":[1-9]")" -ge 1 ]'
  check "(i) replicas: audit lines name their replica" 'grep -q "\"replica\":\"replica-a\"" "$audit_a" && grep -q "\"replica\":\"replica-b\"" "$audit_b"'

  token_i=$(gh_token)
  claude "$work/i5.out" -p "ECHO: rotate $token_i today"
  code_i=$(override_code "$work/i5.out")
  check "(i) replicas: a blocked turn offers a code" '[ -n "$code_i" ] && grep -q "API Error: 400" "$work/i5.out"'
  claude "$work/i6.out" -p "ECHO: rotate $token_i today
promptgate-override: $code_i because the e2e test rotates this synthetic token"
  check "(i) replicas: the override line is accepted" '[ $status -eq 0 ] && grep -q "fake model says: rotate" "$work/i6.out"'
  for turn in 7 8; do
    [ $turn = 8 ] && nudge
    claude "$work/i$turn.out" --continue -p "ECHO: next step $turn"
    check "(i) replicas: turn $turn of the overridden session answered" '[ $status -eq 0 ] && grep -q "fake model says: next step $turn" "$work/i$turn.out"'
  done
  check "(i) replicas: both replicas accepted the code" \
    '[ "$(served "$audit_a" "\"status\":\"\\(redeemed\\|granted\\)\"")" -ge 1 ] && [ "$(served "$audit_b" "\"status\":\"\\(redeemed\\|granted\\)\"")" -ge 1 ]'
  check "(i) replicas: no code in either audit log" '! grep -qF "$code_i" "$audit_a" "$audit_b"'
  check "(i) replicas: audit verify checks both chains" '"$pg" audit verify "$audit_a" "$audit_b" | grep -q "replica-b.*chain intact"'
else
  echo "SKIP (i): haproxy is not installed (scripts/install-deps.sh --test)"
fi

for f in a b c c3a c3b d e; do check "($f) the CLI output has no token" '! grep -qE "ghp_[A-Za-z0-9]{36}" "$work/$f.out" || [ $f = b ]'; done

echo "claude_cli_e2e: $passed passed, $failed failed"
if [ $failed -ne 0 ]; then
  for f in a b c d e c2-pdf c2-png; do [ -f "$work/$f.out" ] && { echo "--- CLI output ($f):"; tail -20 "$work/$f.out"; }; done
  exit 1
fi

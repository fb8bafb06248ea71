#!/usr/bin/env bash
# The .deb as a user installs it: `apt-get install ./promptgate_*.deb` in a fresh Debian 12 root
# (../shared/tools/fresh-debian.sh: debootstrap minbase, nothing else installed), then
# `promptgate run --check-config` on the shipped config, the proxy started with the CA it makes,
# a clean request forwarded to a local TLS upstream (openssl s_server standing in for the API)
# and a request with a synthetic token (`promptgate demo`) blocked before it leaves.
# Needs root (chroot, mounts) and Debian's mirror; about 2 minutes, so not in ctest: run it by
# hand after changing packaging/ (docs/install.md).
# usage: deb_install_test.sh BUILD_DIR      (cpack makes the .deb from that build tree)
set -uo pipefail
build=$(realpath "${1:?usage: deb_install_test.sh BUILD_DIR}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
fresh=$repo/../shared/tools/fresh-debian.sh
# shellcheck source=tests/lib/harness.sh
. "$repo/tests/lib/harness.sh"
harness_init promptgate-deb-install-test
[ "$(id -u)" = 0 ] || { skip "needs root (chroot)"; exit 0; }
[ -x "$fresh" ] || { skip "$fresh not found"; exit 0; }

proj=$work/proj
mkdir -p "$proj"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" > "$work/cpack.log" 2>&1 ||
  { bad "cpack -G DEB"; tail -20 "$work/cpack.log"; exit 1; }
cp "$work"/pkg/promptgate_*.deb "$proj/"
# What runs inside the fresh root; each step prints "ok: ..." or "FAIL: ...".
cat > "$proj/inside.sh" <<'INSIDE'
set -uo pipefail
step() { if eval "$2" > /tmp/step.log 2>&1; then echo "ok: $1"; else echo "FAIL: $1"; tail -15 /tmp/step.log; fi; }
export DEBIAN_FRONTEND=noninteractive
step "apt-get install ./promptgate_*.deb (and curl, openssl for the test)" \
  'apt-get update -qq && apt-get install -y -qq --no-install-recommends ./promptgate_*.deb curl openssl'
step "promptgate is /usr/bin/promptgate and runs" '[ "$(command -v promptgate)" = /usr/bin/promptgate ] && promptgate --version'
step "man pages and units are installed" \
  '[ -f /usr/share/man/man1/promptgate-run.1 ] && [ -f /usr/lib/systemd/system/promptgate.service ] && [ -f /usr/lib/systemd/user/promptgate.service ]'
step "promptgate run --check-config on /etc/promptgate/promptgate.yaml" \
  'PROMPTGATE_HOME=/tmp/home promptgate run --check-config --config /etc/promptgate/promptgate.yaml'
# A throwaway upstream PKI: the API host's certificate from a CA the proxy is told to trust.
cd /tmp
openssl req -x509 -newkey rsa:2048 -nodes -keyout up-ca-key.pem -out up-ca.pem -days 1 -subj /CN=test-upstream-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout up-key.pem -out up.csr -subj /CN=api.anthropic.com 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com\n' > up.ext
openssl x509 -req -in up.csr -CA up-ca.pem -CAkey up-ca-key.pem -CAcreateserial -out up.pem -days 1 -extfile up.ext 2>/dev/null
openssl s_server -quiet -www -accept 127.0.0.1:18443 -cert up.pem -key up-key.pem > /tmp/upstream.log 2>&1 &
up=$!
PROMPTGATE_HOME=/tmp/home promptgate run --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:19090 \
  --upstream-ca /tmp/up-ca.pem --connect-to api.anthropic.com:443:127.0.0.1:18443 > /tmp/pg.out 2> /tmp/pg.err &
pg=$!
for _ in $(seq 100); do grep -q "promptgate listening on" /tmp/pg.err && break; sleep 0.1; done
step "the installed proxy starts and answers /healthz" 'curl -sf http://127.0.0.1:19090/healthz'
step "a clean request is forwarded to the upstream" \
  'curl -sS -x http://127.0.0.1:18080 --cacert /tmp/home/ca.pem https://api.anthropic.com/ | grep -q "s_server"'
body=$(PROMPTGATE_HOME=/tmp/home promptgate demo --format json --seed 7 | head -1 |
  sed 's/^{"body":"\(.*\)","category".*/\1/; s/\\"/"/g')
step "a request carrying a synthetic token is blocked with the rule named" \
  'code=$(curl -sS -o /tmp/blocked.json -w "%{http_code}" -x http://127.0.0.1:18080 --cacert /tmp/home/ca.pem \
     https://api.anthropic.com/v1/messages -H "content-type: application/json" --data-binary "$body") &&
   [ "$code" = 400 ] && grep -q "promptgate" /tmp/blocked.json'
kill $pg $up 2>/dev/null; wait $pg $up 2>/dev/null
INSIDE
git -C "$proj" init -q && git -C "$proj" add -A &&
  git -C "$proj" -c user.name=test -c user.email=test@example.invalid commit -qm deb
mkdir -p "$work/shared"
"$fresh" "$proj" "$work/shared" 'bash inside.sh' > "$work/fresh.log" 2>&1
grep -E '^(ok|FAIL): ' "$work/fresh.log" | while read -r line; do echo "$line"; done
passed=$(grep -c '^ok: ' "$work/fresh.log")
failed=$(grep -c '^FAIL: ' "$work/fresh.log")
[ "$passed" -ge 7 ] || { echo "FAIL: not every step ran"; tail -30 "$work/fresh.log"; failed=$((failed + 1)); }
grep -A15 '^FAIL: ' "$work/fresh.log" | grep -v '^ok: ' | head -40
echo "deb_install_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Tests of the deployment forms in deploy/ and the Dockerfile, with the built binary:
#  - every PROMPTGATE_* name and --flag the manifests, Dockerfile and systemd unit give promptgate
#    is one `promptgate run --help` lists, and the environment equivalents behave as documented;
#  - the ConfigMaps' content, laid out as the kubelet mounts it, passes `promptgate run
#    --check-config` (and a broken copy does not); the shipped example configs do too;
#  - the Dockerfile: base images, non-root user, entrypoint, its runtime packages cover every
#    library the binary links (ldd + dpkg), its HEALTHCHECK command works against a running proxy;
#    the image is built and started when a container engine can pull the base image, else skipped;
#  - the systemd unit passes `systemd-analyze verify` (and a broken copy does not) and its
#    hardening is present;
#  - the Claude Code managed settings are valid JSON with the env keys the CLI reads.
# (tests/test_deploy.cc checks the manifests' structure: probes, ports, grace, selectors.)
# usage: deploy_test.sh PATH_TO_PROMPTGATE PATH_TO_MANIFEST_TOOL
set -uo pipefail
pg=$(realpath "${1:?usage: deploy_test.sh PATH_TO_PROMPTGATE PATH_TO_MANIFEST_TOOL}")
tool=$(realpath "${2:?usage: deploy_test.sh PATH_TO_PROMPTGATE PATH_TO_MANIFEST_TOOL}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
deploy=$repo/deploy
# shellcheck source=tests/lib/harness.sh
. "$repo/tests/lib/harness.sh"
harness_init promptgate-deploy-test
# No PROMPTGATE_* from the caller's environment; a private PROMPTGATE_HOME.
for v in $(compgen -e | grep '^PROMPTGATE_'); do unset "$v"; done
pgrun() { PROMPTGATE_HOME="$work/home" "$pg" "$@"; }

k8s_files=("$deploy"/kubernetes/*/*.yaml)
unit=$deploy/systemd/promptgate.service

# --- env names and flags ------------------------------------------------------------------------
help=$("$pg" run --help)
accepted_env=$(grep -o 'PROMPTGATE_[A-Z_]*' <<<"$help" | sort -u)
accepted_flags=$(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u)
check "run --help lists the env names" '[ $(wc -l <<<"$accepted_env") -ge 9 ]'
# (-DPROMPTGATE_... in the Dockerfile are CMake options, not environment.)
used_env=$( (grep -hoE '(^|[^D])PROMPTGATE_[A-Z_]+' "${k8s_files[@]}" "$repo/Dockerfile" "$deploy"/systemd/* "$deploy"/systemd/user/* 2>/dev/null |
  grep -o 'PROMPTGATE_[A-Z_]*';
  "$tool" promptgate-args "${k8s_files[@]}" | grep '^PROMPTGATE_') | sort -u)
unknown_env=$(comm -23 <(echo "$used_env") <(echo "$accepted_env"))
check "every PROMPTGATE_* name in the manifests, Dockerfile and unit is one the binary accepts" '[ -z "$unknown_env" ] || { echo "  unknown: $unknown_env"; false; }'
used_flags=$( ("$tool" promptgate-args "${k8s_files[@]}" | grep '^--';
  sed -n 's/^Exec[A-Za-z]*=.*promptgate run//p' "$unit" "$deploy/systemd/user/promptgate.service" | grep -o -- '--[a-z][a-z-]*') | sort -u)
unknown_flags=$(comm -23 <(echo "$used_flags") <(echo "$accepted_flags"))
check "every --flag given to promptgate in the manifests and unit is one the binary accepts" '[ -n "$used_flags" ] && [ -z "$unknown_flags" ] || { echo "  unknown: $unknown_flags"; false; }'
check "the manifest tool sees env names (the check above is not vacuous)" 'grep -q PROMPTGATE_ADMIN_LISTEN <<<"$used_env"'

out=$(PROMPTGATE_LISTEN=127.0.0.1:1234 PROMPTGATE_MODE=monitor pgrun run --check-config 2>&1)
check "env: PROMPTGATE_LISTEN and PROMPTGATE_MODE apply" 'grep -q "listen 127.0.0.1:1234, mode monitor" <<<"$out"'
out=$(PROMPTGATE_LISTEN=127.0.0.1:1234 pgrun run --check-config --listen 127.0.0.1:4321 2>&1)
check "env: a command-line flag wins over its variable" 'grep -q "listen 127.0.0.1:4321" <<<"$out"'
out=$(PROMPTGATE_CONFIG=$work/missing.yaml pgrun run --check-config 2>&1); status=$?
check "env: PROMPTGATE_CONFIG is read" '[ $status -eq 2 ] && grep -q "missing.yaml" <<<"$out"'
out=$(PROMPTGATE_CONNECT_TO="api.anthropic.com:443:127.0.0.1:1, example.com:443:127.0.0.1:2" pgrun run --check-config 2>&1); status=$?
check "env: PROMPTGATE_CONNECT_TO takes a comma-separated list" '[ $status -eq 0 ]'
out=$(PROMPTGATE_CONNECT_TO="api.anthropic.com:443:127.0.0.1:1,not-a-mapping" pgrun run --check-config 2>&1); status=$?
check "env: every PROMPTGATE_CONNECT_TO entry is parsed" '[ $status -eq 2 ] && grep -q "not-a-mapping" <<<"$out"'
out=$(PROMPTGATE_MODE=loud pgrun run --check-config 2>&1); status=$?
check "env: a bad value is an error, as the flag's would be" '[ $status -eq 2 ] && grep -q "mode must be" <<<"$out"'

# --- the ConfigMaps, as a pod sees them ---------------------------------------------------------
# The manifests mount the config at /etc/promptgate/config and the users Secret at
# /etc/promptgate/auth (test_deploy.cc checks that the config names only files in its mounts);
# here those paths move under $work/root.
root=$work/root
"$tool" configmap "$deploy/kubernetes/gateway/configmap.yaml" promptgate-config "$root/etc/promptgate/config" ||
  bad "extract the gateway ConfigMap"
mkdir -p "$root/etc/promptgate/auth"
install -m 600 /dev/null "$root/etc/promptgate/auth/users"
secret=$(openssl rand -hex 24)
printf '%s\n' "$secret" | pgrun passwd ci-bot >> "$root/etc/promptgate/auth/users"
cfg_real=$(realpath "$root/etc/promptgate/config/promptgate.yaml")
sed -i "s|/etc/promptgate/|$root/etc/promptgate/|g" "$cfg_real"
check "the ConfigMap is mounted the kubelet's way (symlinks through ..data)" '[ -L "$root/etc/promptgate/config/promptgate.yaml" ]'
out=$(PROMPTGATE_LISTEN=0.0.0.0:8080 PROMPTGATE_ADMIN_LISTEN=0.0.0.0:9090 PROMPTGATE_THREADS=2 \
  pgrun run --check-config --config "$root/etc/promptgate/config/promptgate.yaml" 2>&1); status=$?
builtin_rules=$(pgrun run --check-config 2>&1 | sed -n 's/.*OK (\([0-9]*\) rules.*/\1/p')
gateway_rules=$(sed -n 's/.*OK (\([0-9]*\) rules.*/\1/p' <<<"$out")
check "gateway ConfigMap: promptgate run --check-config accepts it" '[ $status -eq 0 ] || { echo "$out"; false; }'
check "gateway ConfigMap: its own rule file is loaded once, next to the built-in packs" '[ "$gateway_rules" = $((builtin_rules + 1)) ]'
check "gateway ConfigMap: the users file is loaded" 'grep -q "1 users" <<<"$out"'
out=$(pgrun rules test "$root/etc/promptgate/config/acme-rules.yaml" 2>&1)
check "gateway ConfigMap: its rule's examples pass (promptgate rules test)" '[ $? -eq 0 ] || { echo "$out"; false; }'
printf 'listn: 0.0.0.0:8080\n' >> "$cfg_real"
out=$(pgrun run --check-config --config "$root/etc/promptgate/config/promptgate.yaml" 2>&1); status=$?
check "a broken ConfigMap is rejected (the check can fail)" '[ $status -eq 2 ] && grep -q "listn" <<<"$out"'

"$tool" configmap "$deploy/kubernetes/sidecar/configmap.yaml" promptgate-sidecar-config "$root/sidecar" ||
  bad "extract the sidecar ConfigMap"
out=$(PROMPTGATE_LISTEN=127.0.0.1:8080 PROMPTGATE_ADMIN_LISTEN=0.0.0.0:9090 \
  PROMPTGATE_CONFIG="$root/sidecar/promptgate.yaml" pgrun run --check-config 2>&1); status=$?
check "sidecar ConfigMap: promptgate run --check-config accepts it" '[ $status -eq 0 ] || { echo "$out"; false; }'
for f in "$deploy/container/promptgate.yaml" "$deploy/promptgate-deny-by-default.yaml"; do
  out=$(pgrun run --check-config --config "$f" 2>&1)
  check "$(basename "$f"): promptgate run --check-config accepts it" '[ $? -eq 0 ] || { echo "$out"; false; }'
done

# --- Dockerfile ---------------------------------------------------------------------------------
df=$repo/Dockerfile
check "Dockerfile: multi-stage, both stages from the base-image build arguments" \
  '[ "$(grep "^FROM " "$df" | tr "\n" " ")" = "FROM \${BASE_IMAGE} AS build FROM \${RUNTIME_IMAGE} AS runtime " ]'
check "Dockerfile: the base images default to Debian 12 (a digest can be given as a build argument)" \
  'grep -qx "ARG BASE_IMAGE=debian:12" "$df" && grep -qx "ARG RUNTIME_IMAGE=debian:12-slim" "$df"'
check "Dockerfile: no '# syntax=' line (BuildKit would fetch a frontend from a registry)" '! grep -qi "^# *syntax *=" "$df"'
check "Dockerfile: the build stage leaves tests/ out (PROMPTGATE_TESTS=OFF, no COPY tests)" \
  'grep -q -- "-DPROMPTGATE_TESTS=OFF" "$df" && ! grep -q "^COPY tests" "$df"'
# The build stage configures with PROMPTGATE_TESTS=OFF and BENCH=OFF: every other directory the
# top-level CMakeLists.txt adds, or includes a file from, must be copied in, or the image build
# fails at configure.
for sub in $( { sed -n 's/^ *add_subdirectory(\([a-z_]*\)).*/\1/p' "$repo/CMakeLists.txt"
                sed -n 's|^ *include(\([a-z_]*\)/.*|\1|p' "$repo/CMakeLists.txt"; } | grep -vx -e tests -e bench); do
  check "Dockerfile: the build stage copies $sub/ (CMakeLists.txt adds or includes it)" 'grep -qx "COPY $sub $sub" "$df"'
done
for label in title description source licenses version; do
  check "Dockerfile: OCI label org.opencontainers.image.$label" 'grep -q "org\.opencontainers\.image\.$label=" "$df"'
done
project_version=$(sed -n 's/^project(promptgate VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
check "Dockerfile: ARG VERSION is project()'s version ($project_version)" 'grep -qx "ARG VERSION=$project_version" "$df"'
check "Dockerfile: the final stage runs as a non-root user" '[ "$(grep "^USER " "$df" | tail -1 | awk "{print \$2}" | cut -d: -f1)" -gt 0 ]'
check "Dockerfile: the entrypoint is promptgate run" 'grep -q "^ENTRYPOINT \[\"/usr/local/bin/promptgate\", \"run\"\]" "$df"'
check "Dockerfile: the build stage uses scripts/install-deps.sh" 'grep -q "scripts/install-deps.sh" "$df"'
check "Dockerfile: listens on 0.0.0.0 and exposes those ports" \
  'grep -q "PROMPTGATE_LISTEN=0.0.0.0:8080" "$df" && grep -q "PROMPTGATE_ADMIN_LISTEN=0.0.0.0:9090" "$df" && grep -q "^EXPOSE 8080 9090" "$df"'
for src in $(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$df"); do
  check "Dockerfile: COPY source $src exists" '[ -e "$repo/$src" ]'
done
runtime_pkgs=$(sed -n '/^FROM .* AS runtime$/,$p' "$df" | sed -n '/apt-get install/,/rm -rf/p' |
  tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|y|no|recommends|DEBIAN_FRONTEND)$' | sort -u)
check "Dockerfile: the runtime stage installs no -dev package or compiler" '! grep -qE -- "-dev$|^(gcc|g\+\+|cmake|clang)" <<<"$runtime_pkgs"'
if command -v dpkg >/dev/null && command -v ldd >/dev/null; then
  missing=()
  # The listed packages and what they depend on (apt installs those too): a library of poppler's
  # own dependencies is covered by listing poppler.
  # shellcheck disable=SC2086
  runtime_closure=$( { echo "$runtime_pkgs"; apt-cache depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances $runtime_pkgs 2>/dev/null |
    sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: <\{0,1\}\([^ >:]*\).*/\2/p'; } | sort -u)
  for lib in $(ldd "$pg" | awk '$3 ~ /^\// {print $3}'); do
    pkg=
    for p in "$lib" "$(realpath "$lib")" "${lib#/usr}" "/usr$lib"; do
      pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    case "$pkg" in
      libc6 | libgcc-s1 | libstdc++6) ;;  # in debian:12-slim already
      "") missing+=("$lib(no package)") ;;
      *) grep -qx "$pkg" <<<"$runtime_closure" || missing+=("$lib($pkg)") ;;
    esac
  done
  check "Dockerfile: the runtime packages cover every library promptgate links" '[ ${#missing[@]} -eq 0 ] || { echo "  not installed: ${missing[*]}"; false; }'
else
  skip "Dockerfile library coverage: dpkg or ldd not available"
fi
if command -v apt-cache >/dev/null; then
  unknown=()
  for p in $runtime_pkgs; do apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p"); done
  check "Dockerfile: every runtime package exists in Debian 12" '[ ${#unknown[@]} -eq 0 ] || { echo "  unknown: ${unknown[*]}"; false; }'
fi
# The HEALTHCHECK command, run here against a real admin listener.
hc=$(sed -n 's/^  CMD \(\[.*\]\)$/\1/p' "$df")
port=$(( (RANDOM % 20000) + 30000 ))
# (Started directly, not through pgrun: $! of a backgrounded function is a subshell, and killing
# it at exit would leave the proxy running.)
PROMPTGATE_ADMIN_LISTEN=127.0.0.1:$port PROMPTGATE_HOME="$work/home" "$pg" run --listen 127.0.0.1:0 \
  > "$work/hc.out" 2> "$work/hc.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "promptgate listening on" "$work/hc.err" && break; sleep 0.1; done
run_hc() { node -e 'const {spawnSync}=require("child_process"); const a=JSON.parse(process.argv[1]);
  process.exit(spawnSync(a[0], a.slice(1), {stdio:"inherit", env:{...process.env, PROMPTGATE_ADMIN_LISTEN:process.argv[2]}}).status)' "$hc" "$1"; }
# A second proxy with its admin listener on one other loopback address, listening on all
# interfaces as in a container (container=docker): the HEALTHCHECK must dial that address, and
# the start-up hint must not tell clients 127.0.0.1.
port2=$(( port + 1 ))
container=docker PROMPTGATE_ADMIN_LISTEN=127.0.0.2:$port2 PROMPTGATE_HOME="$work/home" "$pg" run \
  --listen 0.0.0.0:0 > "$work/hc2.out" 2> "$work/hc2.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "promptgate listening on" "$work/hc2.err" && break; sleep 0.1; done
if command -v node >/dev/null && [ -n "$hc" ]; then
  check "Dockerfile: HEALTHCHECK passes against a running proxy (admin on 0.0.0.0, dialled on loopback)" 'run_hc 0.0.0.0:$port'
  check "Dockerfile: HEALTHCHECK passes with the admin listener on 127.0.0.1" 'run_hc 127.0.0.1:$port'
  check "Dockerfile: HEALTHCHECK dials the admin listener's own address (127.0.0.2)" 'run_hc 127.0.0.2:$port2'
  check "Dockerfile: HEALTHCHECK fails when the address has no listener (it does not fall back to 127.0.0.1)" \
    '! run_hc 127.0.0.2:$port 2>/dev/null'
  check "Dockerfile: HEALTHCHECK fails when nothing listens" '! run_hc 0.0.0.0:1 2>/dev/null'
else
  bad "Dockerfile: HEALTHCHECK command not found (or node missing)"
fi

check "start-up hint in a container on 0.0.0.0: HTTPS_PROXY=http://<this host>:PORT, not 127.0.0.1" \
  'grep -q "export HTTPS_PROXY=http://<this host>:" "$work/hc2.err" && ! grep -q "HTTPS_PROXY=http://127.0.0.1" "$work/hc2.err"'
check "start-up hint on 127.0.0.1: HTTPS_PROXY=http://127.0.0.1:PORT and the CA path" \
  'grep -q "export HTTPS_PROXY=http://127.0.0.1:" "$work/hc.err" && grep -q "export NODE_EXTRA_CA_CERTS=$work/home/ca.pem" "$work/hc.err"'

engine=
for e in docker podman; do
  command -v $e >/dev/null || continue
  if $e info >/dev/null 2>&1; then engine=$e; break; fi
  echo "note: $e is installed but not usable: $($e info 2>&1 | grep -iE 'cannot|error' | head -1)"
done
if [ -z "$engine" ]; then
  skip "image build: no usable container engine (docker/podman missing or its daemon is not running)"
elif ! { $engine image inspect debian:12 >/dev/null 2>&1 || $engine pull -q debian:12 >/dev/null 2>&1; } ||
  ! { $engine image inspect debian:12-slim >/dev/null 2>&1 || $engine pull -q debian:12-slim >/dev/null 2>&1; }; then
  skip "image build: $engine cannot pull the base images debian:12 / debian:12-slim (no registry access)"
else
  tag=promptgate:deploy-test-$$
  if $engine build -q -t "$tag" "$repo" > "$work/image-build.log" 2>&1; then
    ok "image builds with $engine"
    out=$($engine run --rm "$tag" --check-config 2>&1)
    check "image: promptgate run --check-config in the container" '[ $? -eq 0 ] || { echo "$out"; false; }'
    check "image: runs as a non-root user" '[ "$($engine run --rm --entrypoint id "$tag" -u)" != 0 ]'
    $engine rmi -f "$tag" >/dev/null 2>&1
  else
    bad "image builds with $engine"; tail -30 "$work/image-build.log"
  fi
fi

# --- systemd unit -------------------------------------------------------------------------------
for key in "User=promptgate" "ProtectSystem=strict" "PrivateTmp=yes" "NoNewPrivileges=yes" \
  "CapabilityBoundingSet=" "Restart=on-failure" 'ExecReload=/bin/kill -HUP $MAINPID' \
  "StateDirectory=promptgate" "ProtectHome=yes"; do
  check "systemd unit: $key" 'grep -qxF -- "$key" "$unit"'
done
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
check "systemd unit: TimeoutStopSec covers the default drain (30 s)" '[ "${stop:-0}" -gt 30 ]'
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/systemd"
  # verify wants ExecStart's binary to exist: point the copy at the one under test.
  sed "s|/usr/local/bin/promptgate|$pg|g" "$unit" > "$work/systemd/promptgate.service"
  out=$(systemd-analyze verify "$work/systemd/promptgate.service" 2>&1); status=$?
  check "systemd unit: systemd-analyze verify passes with no warning" '[ $status -eq 0 ] && [ -z "$out" ] || { echo "$out"; false; }'
  printf 'ProtectSytem=strict\n' >> "$work/systemd/promptgate.service"
  out=$(systemd-analyze verify "$work/systemd/promptgate.service" 2>&1)
  check "systemd unit: a misspelt key is reported (the check can fail)" 'grep -q "ProtectSytem" <<<"$out"'
  sed "s|/usr/local/bin/promptgate|$pg|g" "$unit" > "$work/systemd/promptgate.service"
  exposure=$(systemd-analyze security --offline=yes "$work/systemd/promptgate.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for promptgate.service: \([0-9.]*\).*/\1/p')
  check "systemd unit: systemd-analyze security exposure <= 2.0 (got ${exposure:-none})" \
    '[ -n "$exposure" ] && awk -v e="$exposure" "BEGIN{exit !(e <= 2.0)}"'
else
  skip "systemd-analyze not installed (apt-get install systemd): unit not verified"
fi
# What ExecStartPre runs, with the unit's environment and the example gateway config.
out=$(PROMPTGATE_CONFIG="$deploy/promptgate-deny-by-default.yaml" pgrun run --check-config 2>&1)
check "systemd unit: its ExecStartPre check passes on the example gateway config" '[ $? -eq 0 ] || { echo "$out"; false; }'

# --- Claude Code managed settings ---------------------------------------------------------------
settings=$deploy/claude-code/managed-settings.json
if command -v node >/dev/null; then
  out=$(node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const problems = [];
const known = new Set(["env", "permissions", "apiKeyHelper", "cleanupPeriodDays", "model",
  "forceLoginMethod", "disableBypassPermissionsMode", "includeCoAuthoredBy", "hooks"]);
for (const k of Object.keys(s)) if (!known.has(k)) problems.push("unknown top-level key " + k);
const env = s.env || {};
for (const [k, v] of Object.entries(env)) if (typeof v !== "string") problems.push(k + " is not a string");
if (!/^http:\/\/[^/]+:\d+$/.test(env.HTTPS_PROXY || "")) problems.push("HTTPS_PROXY is not http://host:port");
if (!(env.NODE_EXTRA_CA_CERTS || "").startsWith("/")) problems.push("NODE_EXTRA_CA_CERTS is not an absolute path");
if (env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC !== "1") problems.push("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is not \"1\"");
console.log(Object.keys(env).join(" "));
if (problems.length) { console.error(problems.join("\n")); process.exit(1); }' "$settings" 2>&1); status=$?
  check "managed settings: valid JSON, env block with HTTPS_PROXY, NODE_EXTRA_CA_CERTS, nonessential traffic off" '[ $status -eq 0 ] || { echo "$out"; false; }'
  env_keys=$(head -1 <<<"$out")
else
  skip "managed settings: node not installed"
  env_keys=
fi
# The env names the CLI really reads, from the pinned CLI when the e2e test has installed it.
cli_dir=${CLAUDE_CODE_PACKAGE_DIR:-$repo/tests/e2e/node_modules/@anthropic-ai/claude-code}
cli_files=$(ls "$cli_dir"/bin/claude.exe "$cli_dir"/cli.js 2>/dev/null | head -1)
if [ -n "$cli_files" ] && [ -n "$env_keys" ]; then
  for k in $env_keys; do
    check "managed settings: the pinned Claude Code CLI reads $k" 'grep -aqF "$k" "$cli_files"'
  done
  check "managed settings: the CLI reads managed settings from /etc/claude-code" 'grep -aqF "/etc/claude-code" "$cli_files"'
else
  skip "managed settings: the pinned CLI is not installed in tests/e2e/node_modules (the claude_cli_e2e test installs it)"
fi

echo "deploy_tests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# Proxy load benchmark: promptgate vs Squid ssl-bump (no scanning) vs mitmdump vs no proxy, all
# in one run against the same local TLS upstream. Builds nothing: expects build/promptgate and
# build/bench/proxy_load. Needs root (the upstream listens on 127.0.0.1:443 because Squid and
# mitmdump cannot change the port of a CONNECT target; mitmdump gets a private /etc/hosts through
# a mount namespace), taskset, openssl, squid-openssl and mitmproxy (apt-get install -y
# squid-openssl mitmproxy); a proxy whose program is missing is skipped.
#
#   bench/proxy_bench.sh [BUILD_DIR]
#   env: DURATION=5 WARMUP=1 SIZES="4096 102400 1048576" CONCS="1 32" IDLE=200
#        WAYS="direct promptgate promptgate-tiny squid mitmdump"
#
# Proxies run pinned to core 0 (taskset -c 0), the client and the upstream to core 1. CPU per
# request is the proxy process's own utime+stime (/proc/PID/stat, all threads) over the measured
# window divided by the requests completed in it. `promptgate-tiny` is promptgate with one rule
# that never matches (JSON decoding still runs): the difference to `promptgate` is the rule
# pack's cost. Keys and certificates live in a temp dir that is removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
PG=$BUILD/promptgate
PL=$BUILD/bench/proxy_load
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SIZES=${SIZES:-"4096 102400 1048576"}
CONCS=${CONCS:-"1 32"}
IDLE=${IDLE:-200}
WAYS=${WAYS:-"direct promptgate promptgate-tiny squid mitmdump"}
UP_PORT=443
PG_PORT=18480
PGT_PORT=18481
SQUID_PORT=18482
MITM_PORT=18483

for f in "$PG" "$PL"; do
  [[ -x $f ]] || { echo "proxy_bench: $f missing; build first (cmake --build build)" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "proxy_bench: run as root (upstream on port 443)" >&2; exit 2; }
if ! command -v taskset >/dev/null || ! command -v openssl >/dev/null; then
  echo "proxy_bench: needs taskset and openssl" >&2
  exit 2
fi
have() {
  case $1 in
    squid) command -v squid >/dev/null && [[ -x /usr/lib/squid/security_file_certgen ]] ;;
    mitmdump) command -v mitmdump >/dev/null && command -v unshare >/dev/null ;;
    *) true ;;
  esac
}
ways=()
for w in $WAYS; do
  if have "$w"; then ways+=("$w"); else echo "proxy_bench: $w not installed, skipped" >&2; fi
done

T=$(mktemp -d /tmp/proxy_bench.XXXXXX)
chmod 755 "$T"  # Squid drops to user proxy and must reach its files
# Run copies, so a rebuild during the run changes nothing.
mkdir "$T/bin"
cp "$PG" "$PL" "$T/bin/"
PG=$T/bin/promptgate
PL=$T/bin/proxy_load
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

wait_port() {  # port, pid, name
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "proxy_bench: $3 did not start; its log:" >&2
  cat "$T/$3.log" >&2 || true
  exit 1
}
for p in $UP_PORT $PG_PORT $PGT_PORT $SQUID_PORT $MITM_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "proxy_bench: port $p is in use" >&2
    exit 1
  fi
done

# --- throwaway PKI: the upstream's CA and server certificate, Squid's bumping CA ----------------
ec_ca() {  # dir, name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$1/ca.key" -out "$1/ca.crt" -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}
mkdir -p "$T/up" "$T/squid" "$T/mitm" "$T/pg" "$T/pgt"
ec_ca "$T/up" "proxy bench upstream CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/up/server.key" \
  -out "$T/up/server.csr" -subj "/CN=api.anthropic.com" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:api.anthropic.com,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$T/up/ext.cnf"
openssl x509 -req -in "$T/up/server.csr" -CA "$T/up/ca.crt" -CAkey "$T/up/ca.key" \
  -CAcreateserial -days 2 -extfile "$T/up/ext.cnf" -out "$T/up/server.crt" 2>/dev/null
UPCA=$T/up/ca.crt
printf '127.0.0.1 localhost\n127.0.0.1 api.anthropic.com\n' >"$T/hosts"

# --- the upstream, core 1 ------------------------------------------------------------------------
taskset -c 1 "$PL" serve --listen 127.0.0.1:$UP_PORT --cert "$T/up/server.crt" \
  --key "$T/up/server.key" >"$T/upstream.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
wait_port $UP_PORT $UP_PID upstream

# --- the proxies, core 0 -------------------------------------------------------------------------
declare -A PID PORT CA
PORT[direct]=0
CA[direct]=$UPCA
start_promptgate() {  # way, port, home, extra args...
  local way=$1 port=$2 home=$3
  shift 3
  PROMPTGATE_HOME=$home taskset -c 0 "$PG" run "$@" --listen 127.0.0.1:"$port" \
    --upstream-ca "$UPCA" --connect-to api.anthropic.com:443:127.0.0.1:$UP_PORT --audit-log "" \
    --threads 1 >"$T/$way.log" 2>&1 &
  PID[$way]=$!
  PIDS+=("${PID[$way]}")
  PORT[$way]=$port
  CA[$way]=$home/ca.pem
  wait_port "$port" "${PID[$way]}" "$way"
}
start_squid() {
  local S=$T/squid
  ec_ca "$S" "squid bench CA"
  cat "$S/ca.crt" "$S/ca.key" >"$S/ca.pem"
  /usr/lib/squid/security_file_certgen -c -s "$S/ssl_db" -M 4MB >/dev/null
  cat >"$S/squid.conf" <<EOF
http_port 127.0.0.1:$SQUID_PORT ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=$S/ca.pem
sslcrtd_program /usr/lib/squid/security_file_certgen -s $S/ssl_db -M 4MB
sslcrtd_children 2 startup=1 idle=1
ssl_bump bump all
tls_outgoing_options cafile=$UPCA
hosts_file $T/hosts
http_access allow all
server_pconn_for_nonretriable allow all
cache deny all
access_log none
cache_store_log none
cache_log $S/cache.log
pid_filename $S/squid.pid
coredump_dir $S
cache_effective_user proxy
pinger_enable off
shutdown_lifetime 1 seconds
EOF
  chown -R proxy:proxy "$S"
  taskset -c 0 squid -N -f "$S/squid.conf" >"$T/squid.log" 2>&1 &
  PID[squid]=$!
  PIDS+=("${PID[squid]}")
  PORT[squid]=$SQUID_PORT
  CA[squid]=$S/ca.crt
  wait_port $SQUID_PORT "${PID[squid]}" squid
}
start_mitmdump() {
  # A private /etc/hosts (mount namespace) maps api.anthropic.com to the upstream on :443.
  taskset -c 0 unshare --mount sh -c "mount --bind '$T/hosts' /etc/hosts && exec mitmdump \
    --listen-host 127.0.0.1 --listen-port $MITM_PORT --set confdir='$T/mitm' \
    --set ssl_verify_upstream_trusted_ca='$UPCA' --set flow_detail=0 -q" >"$T/mitmdump.log" 2>&1 &
  PID[mitmdump]=$!
  PIDS+=("${PID[mitmdump]}")
  PORT[mitmdump]=$MITM_PORT
  CA[mitmdump]=$T/mitm/mitmproxy-ca-cert.pem
  wait_port $MITM_PORT "${PID[mitmdump]}" mitmdump
}
cat >"$T/tiny.yaml" <<'EOF'
pack: bench-tiny
rules:
  - id: bench-never-matches
    category: credential
    severity: high
    action: block
    description: a literal no request contains, so only decoding and one trivial pattern run
    pattern: '\bzqxbenchnevermatch_[a-z]{8}\b'
    examples:
      match: ['zqxbenchnevermatch_abcdefgh', 'x zqxbenchnevermatch_qwertyui y']
      no_match: ['zqxbenchnevermatch_abc', 'hello world']
EOF
printf '%s\n' "rules: [$T/tiny.yaml]" "destinations: {default: tunnel, intercept: [api.anthropic.com]}" \
  >"$T/tiny-config.yaml"
for w in "${ways[@]}"; do
  case $w in
    promptgate) start_promptgate promptgate $PG_PORT "$T/pg" ;;
    promptgate-tiny) start_promptgate promptgate-tiny $PGT_PORT "$T/pgt" --config "$T/tiny-config.yaml" ;;
    squid) start_squid ;;
    mitmdump) start_mitmdump ;;
  esac
done

kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
declare -A R

echo "# proxy_bench $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# promptgate: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
  git -C "$ROOT" status --porcelain proxy detectors 2>/dev/null | grep -q . && echo ' + uncommitted changes in proxy/ or detectors/')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- idle intercepted connections: RSS growth per connection (fresh proxies, before any load) ---
echo "| proxy | idle conns | RSS before KiB | RSS after KiB | KiB per idle connection |"
echo "|---|---|---|---|---|"
for w in "${ways[@]}"; do
  [[ $w == direct || $w == promptgate-tiny ]] && continue
  if out=$(taskset -c 1 "$PL" idle --ca "${CA[$w]}" --proxy 127.0.0.1:"${PORT[$w]}" \
    --pid "${PID[$w]}" --idle "$IDLE" 2>"$T/idle-$w.err"); then
    R[idle_$w]=$(kv "$out" kb_per_conn)
    echo "| $w | $IDLE | $(kv "$out" rss_before_kb) | $(kv "$out" rss_after_kb) | ${R[idle_$w]} |"
  else
    echo "| $w | failed: $(head -c 200 "$T/idle-$w.err") | | | |"
  fi
done
sleep 1
echo

# --- load -------------------------------------------------------------------------------------
echo "| body | conns | way | req/s | p50 ms | p99 ms | proxy CPU ms/req | proxy CPU util | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
  for conc in $CONCS; do
    for w in "${ways[@]}"; do
      args=(--ca "${CA[$w]}" --body-bytes "$size" --concurrency "$conc" --warmup "$WARMUP"
        --duration "$DURATION")
      if [[ $w == direct ]]; then
        args+=(--target "127.0.0.1:$UP_PORT")
      else
        args+=(--proxy 127.0.0.1:"${PORT[$w]}" --pid "${PID[$w]}")
      fi
      if ! out=$(taskset -c 1 "$PL" load "${args[@]}" 2>"$T/load.err"); then
        echo "| $size | $conc | $w | failed: $(head -c 200 "$T/load.err") | | | | | |"
        continue
      fi
      k=${w}_${size}_${conc}
      R[cpu_$k]=$(kv "$out" cpu_ms_per_req)
      R[p50_$k]=$(kv "$out" p50_ms)
      cpu=${R[cpu_$k]:--}
      util=$(kv "$out" cpu_util)
      echo "| $(kv "$out" body_bytes) | $conc | $w | $(kv "$out" rps) | ${R[p50_$k]} |" \
        "$(kv "$out" p99_ms) | $cpu | ${util:--} | $(kv "$out" errors) |"
    done
  done
done
echo

# --- targets (issue 4) ----------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "-" || v == "") print "n/a"; else print (v <= lim ? "met" : "MISSED") }'; }
echo "| check | value | target | result |"
echo "|---|---|---|---|"
for size in $SIZES; do
  for conc in $CONCS; do
    pg=${R[cpu_promptgate_${size}_${conc}]:-}
    for base in squid mitmdump; do
      r=$(ratio "$pg" "${R[cpu_${base}_${size}_${conc}]:-}")
      if [[ $size == 1048576 ]]; then lim=""; else lim=$([[ $base == squid ]] && echo 1 || echo 0.05); fi
      echo "| CPU/req promptgate / $base, $size B, $conc conns | $r | ${lim:-(no target)} |" \
        "$([[ -n $lim ]] && verdict "$r" "$lim" || echo -) |"
    done
    tiny=${R[cpu_promptgate-tiny_${size}_${conc}]:-}
    if [[ -n $pg && -n $tiny ]]; then
      echo "| rule-pack share of promptgate CPU/req, $size B, $conc conns |" \
        "$(awk -v a="$pg" -v b="$tiny" 'BEGIN { printf "%.3f ms (%.0f%%)", a - b, 100 * (a - b) / a }') | - | - |"
    fi
  done
done
d=${R[p50_direct_102400_1]:-}
p=${R[p50_promptgate_102400_1]:-}
if [[ -n $d && -n $p ]]; then
  added=$(awk -v a="$p" -v b="$d" 'BEGIN { printf "%.3f", a - b }')
  echo "| added p50 latency over direct, 100 KB, 1 conn (ms) | $added | 1 | $(verdict "$added" 1) |"
fi
if [[ -n ${R[idle_promptgate]:-} ]]; then
  echo "| promptgate KiB per idle intercepted connection | ${R[idle_promptgate]} | 64 |" \
    "$(verdict "${R[idle_promptgate]}" 64) |"
fi
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

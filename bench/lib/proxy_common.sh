# shellcheck shell=bash disable=SC2034  # PID, PORT, CA, UPCA are read by the sourcing scripts
# Shared pieces of the proxy benchmarks (bench/proxy_bench.sh, bench/gateway_scale_bench.sh).
# Source it from a script that has run `set -euo pipefail`; then:
#
#   pb_init "${1:-}"             # checks, temp dir $T with copies of the binaries ($PG, $PL), trap
#   pb_check_ports 443 18480     # exits if one is taken
#   pb_upstream_pki              # $UPCA and the upstream's certificate, $T/hosts
#   pb_start_upstream CPUS       # proxy_load serve on 127.0.0.1:443 ($UP_PORT)
#   pb_start_promptgate WAY PORT HOME CPUS THREADS [promptgate run args...]
#   pb_start_squid CPUS; pb_start_mitmdump CPUS
#   pb_header NAME               # date, CPU, commit, load average
#   pb_wait_quiet                # waits (bounded) until the 1-minute load average is low
#
# Each start sets PID[WAY], PORT[WAY] and CA[WAY] (the CA the client must trust for that way).
# Everything lives in the temp dir $T, which is removed at exit with the processes started here.

PB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UP_PORT=443
declare -A PID PORT CA
PIDS=()

pb_die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# Whether a way's programs are installed (direct and promptgate always are).
pb_have() {
  case $1 in
    squid) command -v squid >/dev/null && [[ -x /usr/lib/squid/security_file_certgen ]] ;;
    mitmdump*) command -v mitmdump >/dev/null && command -v unshare >/dev/null ;;
    *) true ;;
  esac
}

pb_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

# BUILD_DIR (default $PB_ROOT/build): checks the tools, makes $T and copies the binaries there,
# so a rebuild during the run changes nothing.
pb_init() {
  BUILD=$(cd "${1:-$PB_ROOT/build}" && pwd)
  PG=$BUILD/promptgate
  PL=$BUILD/bench/proxy_load
  for f in "$PG" "$PL"; do
    [[ -x $f ]] || pb_die "$f missing; build first (cmake --build $BUILD)"
  done
  [[ $(id -u) == 0 ]] || pb_die "run as root (upstream on port 443)"
  if ! command -v taskset >/dev/null || ! command -v openssl >/dev/null; then
    pb_die "needs taskset and openssl"
  fi
  T=$(mktemp -d /tmp/proxy_bench.XXXXXX)
  chmod 755 "$T"  # Squid drops to user proxy and must reach its files
  mkdir "$T/bin"
  cp "$PG" "$PL" "$T/bin/"
  PG=$T/bin/promptgate
  PL=$T/bin/proxy_load
  trap pb_cleanup EXIT
}

pb_wait_port() {  # port, pid, name
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$(basename "$0"): $3 did not start; its log:" >&2
  cat "$T/$3.log" >&2 || true
  exit 1
}

pb_check_ports() {
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$(basename "$0"): port $p is in use" >&2
      exit 1
    fi
  done
}

# --- throwaway PKI: the upstream's CA and server certificate -------------------------------------
pb_ec_ca() {  # dir, name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$1/ca.key" -out "$1/ca.crt" -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}
pb_upstream_pki() {
  mkdir -p "$T/up"
  pb_ec_ca "$T/up" "proxy bench upstream CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/up/server.key" \
    -out "$T/up/server.csr" -subj "/CN=api.anthropic.com" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:api.anthropic.com,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$T/up/ext.cnf"
  openssl x509 -req -in "$T/up/server.csr" -CA "$T/up/ca.crt" -CAkey "$T/up/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/up/ext.cnf" -out "$T/up/server.crt" 2>/dev/null
  UPCA=$T/up/ca.crt
  printf '127.0.0.1 localhost\n127.0.0.1 api.anthropic.com\n' >"$T/hosts"
  PORT[direct]=0
  CA[direct]=$UPCA
}

pb_start_upstream() {  # cpus
  taskset -c "$1" "$PL" serve --listen 127.0.0.1:$UP_PORT --cert "$T/up/server.crt" \
    --key "$T/up/server.key" >"$T/upstream.log" 2>&1 &
  UP_PID=$!
  PIDS+=("$UP_PID")
  pb_wait_port "$UP_PORT" "$UP_PID" upstream
}

# --- the proxies -----------------------------------------------------------------------------------
# The admin port is left to the kernel (:0): two promptgates run side by side, and the default
# 127.0.0.1:9090 may be taken by someone else's test run.
pb_start_promptgate() {  # way, port, home, cpus, threads, extra args...
  local way=$1 port=$2 home=$3 cpus=$4 threads=$5
  shift 5
  mkdir -p "$home"
  PROMPTGATE_HOME=$home taskset -c "$cpus" "$PG" run "$@" --listen 127.0.0.1:"$port" \
    --admin-listen 127.0.0.1:0 --upstream-ca "$UPCA" \
    --connect-to api.anthropic.com:443:127.0.0.1:$UP_PORT --audit-log "" \
    --threads "$threads" >"$T/$way.log" 2>&1 &
  PID[$way]=$!
  PIDS+=("${PID[$way]}")
  PORT[$way]=$port
  CA[$way]=$home/ca.pem
  pb_wait_port "$port" "${PID[$way]}" "$way"
}

pb_start_squid() {  # cpus (port $SQUID_PORT)
  local S=$T/squid
  mkdir -p "$S"
  pb_ec_ca "$S" "squid bench CA"
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
  taskset -c "$1" squid -N -f "$S/squid.conf" >"$T/squid.log" 2>&1 &
  PID[squid]=$!
  PIDS+=("${PID[squid]}")
  PORT[squid]=$SQUID_PORT
  CA[squid]=$S/ca.crt
  pb_wait_port "$SQUID_PORT" "${PID[squid]}" squid
}

pb_start_mitmdump() {  # cpus [way] (port $MITM_PORT)
  local way=${2:-mitmdump}
  mkdir -p "$T/$way"
  # A private /etc/hosts (mount namespace) maps api.anthropic.com to the upstream on :443.
  # unshare (no --fork) and `exec` keep the PID: $! is mitmdump itself.
  taskset -c "$1" unshare --mount sh -c "mount --bind '$T/hosts' /etc/hosts && exec mitmdump \
    --listen-host 127.0.0.1 --listen-port $MITM_PORT --set confdir='$T/$way' \
    --set ssl_verify_upstream_trusted_ca='$UPCA' --set flow_detail=0 -q" >"$T/$way.log" 2>&1 &
  PID[$way]=$!
  PIDS+=("${PID[$way]}")
  PORT[$way]=$MITM_PORT
  CA[$way]=$T/$way/mitmproxy-ca-cert.pem
  pb_wait_port "$MITM_PORT" "${PID[$way]}" "$way"
}

# Stops one way's proxy (so the next one has the machine, and its port, to itself).
pb_stop() {  # way
  local p=${PID[$1]}
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# The value of KEY in a line of key=value pairs.
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

pb_header() {  # name
  echo "# $1 $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# promptgate: $(git -C "$PB_ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$(
    git -C "$PB_ROOT" status --porcelain proxy detectors 2>/dev/null | grep -q . &&
      echo ' + uncommitted changes in proxy/ or detectors/')"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Other people's compiles distort the figures: wait (up to QUIET_WAIT seconds, default 1800)
# until the 1-minute load average is at most QUIET_LOAD (0.7). Measures anyway after that, and
# says so on stderr. QUIET_LOAD=inf skips the wait.
pb_wait_quiet() {
  local limit=${QUIET_LOAD:-0.7} budget=${QUIET_WAIT:-1800} waited=0 load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$load" -v m="$limit" 'BEGIN { exit !(m == "inf" || l <= m) }' && return 0
    if ((waited >= budget)); then
      echo "$(basename "$0"): load average still $load after ${waited}s; measuring anyway" >&2
      return 0
    fi
    echo "$(basename "$0"): load average $load > $limit, waiting 60 s" >&2
    sleep 60
    waited=$((waited + 60))
  done
}

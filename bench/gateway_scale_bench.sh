#!/usr/bin/env bash
# Many clients at once (issue 5): promptgate as the corporate egress gateway, with 1 000 and
# 10 000 concurrent keep-alive intercepted connections, against mitmdump. Builds nothing: expects
# BUILD_DIR/promptgate and BUILD_DIR/bench/proxy_load. Needs root (the upstream listens on
# 127.0.0.1:443, see proxy_bench.sh), taskset, openssl, curl; mitmproxy for the comparison
# (apt-get install -y mitmproxy), skipped when missing.
#
#   bench/gateway_scale_bench.sh [BUILD_DIR]
#   env: SCALE="1000 10000" THREADS="1 2" WAYS="promptgate mitmdump" BODY=4096 WARMUP=2
#        DURATION=10 RATE=500 OPEN_PARALLEL=100 QUIET_LOAD=0.7 QUIET_WAIT=1800
#
# For each connection count, each way gets a fresh proxy process (so RSS growth is its own):
# `proxy_load scale` opens that many connections (CONNECT, TLS to the proxy's minted leaf, one
# ~4 KB Messages-API request each, scanned), at most OPEN_PARALLEL opens in flight; reads the
# proxy's VmRSS; drives requests over all of them for WARMUP + DURATION seconds (closed loop:
# each connection sends its next request when the answer is in), then for as long again paced
# at RATE requests/s in total (latency below saturation). Before each run it waits until the
# 1-minute load average is at most QUIET_LOAD (up to QUIET_WAIT seconds).
#
# Pinning: the client and the upstream share core 1. promptgate --threads 1 and mitmdump (one
# Python event loop) get core 0. promptgate --threads 2 gets cores 0-1: a second thread pinned
# to core 0 could only add switching, and on this 2-core machine any core it gains is shared
# with the client, so its fair figure is CPU per request, not requests/s.
#
# promptgate needs two descriptors per intercepted connection (the client's and its own
# upstream connection), so the script raises `ulimit -n` as far as the hard limit allows and
# says how many connections that leaves. Its config raises max_connections and
# max_connections_per_client (defaults 10 000 and 512): every connection here comes from
# 127.0.0.1.
set -euo pipefail

# shellcheck source=bench/lib/proxy_common.sh
source "$(dirname "$0")/lib/proxy_common.sh"
pb_init "${1:-}"
SCALE=${SCALE:-"1000 10000"}
THREADS=${THREADS:-"1 2"}
WAYS=${WAYS:-"promptgate mitmdump"}
BODY=${BODY:-4096}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-10}
RATE=${RATE:-500}
OPEN_PARALLEL=${OPEN_PARALLEL:-100}
PG_PORT=18490
MITM_PORT=18493
command -v curl >/dev/null || pb_die "needs curl (promptgate's /metrics)"

max_n=0
for n in $SCALE; do
  if ((n > max_n)); then max_n=$n; fi
done

# --- open files: the client holds N, the upstream N, a proxy 2N ---------------------------------
want_files=$((2 * max_n + 1024))
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < want_files)); then
  ulimit -Hn "$want_files" 2>/dev/null || true  # needs CAP_SYS_RESOURCE
fi
ulimit -Sn "$(ulimit -Hn)"
files=$(ulimit -Sn)
proxy_cap=$(((files - 64) / 2))

# --- kernel headroom ---------------------------------------------------------------------------
somaxconn=$(sysctl -n net.core.somaxconn)
syn_backlog=$(sysctl -n net.ipv4.tcp_max_syn_backlog)
read -r port_lo port_hi < <(sysctl -n net.ipv4.ip_local_port_range)
ports=$((port_hi - port_lo + 1))
tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse)

ways=()
for w in $WAYS; do
  if ! pb_have "$w"; then
    echo "gateway_scale_bench: $w not installed, skipped" >&2
  elif [[ $w == promptgate ]]; then
    for t in $THREADS; do ways+=("promptgate-t$t"); done
  else
    ways+=("$w")
  fi
done
pb_check_ports "$UP_PORT" $PG_PORT $MITM_PORT
pb_upstream_pki

# Limits for one client address holding thousands of connections. The idle timeout (default
# 120 s) is raised so that the first connections are still open when the last one is: opening
# 10 000 takes a minute or more on a busy 2-core machine (mitmdump has no idle timeout).
cat >"$T/scale-config.yaml" <<EOF
max_connections: $((max_n + 1000))
max_connections_per_client: $((max_n + 1000))
destinations: {default: tunnel, intercept: [api.anthropic.com]}
timeouts: {idle_ms: 900000}
EOF

pb_start_upstream 1

pb_header gateway_scale_bench
echo "# open files (ulimit -n): $files soft, $(ulimit -Hn) hard; wanted $want_files" \
  "(2 per proxied connection), so a proxy can hold about $proxy_cap connections"
echo "# kernel: somaxconn $somaxconn, tcp_max_syn_backlog $syn_backlog," \
  "ip_local_port_range $port_lo-$port_hi ($ports ports), tcp_tw_reuse $tw_reuse;" \
  "opens in flight $OPEN_PARALLEL"
((files >= want_files)) || echo "# WARNING: open-file limit below $want_files: a proxy runs out" \
  "of descriptors near $proxy_cap connections (no CAP_SYS_RESOURCE to raise the hard limit)"
((OPEN_PARALLEL <= somaxconn)) || echo "# WARNING: OPEN_PARALLEL above somaxconn: SYNs may be dropped"
((ports >= max_n + 1000)) || echo "# WARNING: ip_local_port_range has fewer than $max_n + 1000 ports"
echo "# body ~$BODY B; closed loop ${WARMUP}+${DURATION} s, then paced at $RATE req/s for" \
  "${WARMUP}+${DURATION} s; client and upstream on core 1"
echo

# promptgate's own counters of trouble, summed over labels: refused connections, upstream errors,
# failed handshakes.
pg_trouble() {  # way
  local admin
  admin=$(sed -n 's/^promptgate admin on \([0-9.:]*\) .*/\1/p' "$T/$1.log" | head -1)
  { curl -s --max-time 5 "http://$admin/metrics" || true; } | awk '
    /^promptgate_connections_refused_total/ { r += $NF }
    /^promptgate_upstream_errors_total/ { u += $NF }
    /^promptgate_tls_handshake_failures_total/ { h += $NF }
    END { printf "refused %d, upstream errors %d, handshake failures %d", r, u, h }'
}

# The proxy's descriptor count, sampled every 2 s into FILE (the peak is what matters).
sample_fds() {  # pid, file
  while kill -0 "$1" 2>/dev/null; do
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l >>"$2"
    sleep 2
  done
}

main_rows=()
mem_rows=()
notes=()
for n in $SCALE; do
  for w in "${ways[@]}"; do
    pb_wait_quiet
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    case $w in
      promptgate-t*)
        threads=${w#promptgate-t}
        cpus=$([[ $threads == 1 ]] && echo 0 || echo 0-1)
        pb_start_promptgate "$w" $PG_PORT "$T/$w" "$cpus" "$threads" --config "$T/scale-config.yaml"
        label="promptgate --threads $threads"
        ;;
      mitmdump)
        cpus=0
        pb_start_mitmdump 0
        label=mitmdump
        ;;
    esac
    pid=${PID[$w]}
    : >"$T/fds-$w-$n"
    sample_fds "$pid" "$T/fds-$w-$n" &
    sampler=$!
    args=(--ca "${CA[$w]}" --proxy 127.0.0.1:"${PORT[$w]}" --pid "$pid" --connections "$n"
      --open-parallel "$OPEN_PARALLEL" --body-bytes "$BODY" --warmup "$WARMUP"
      --duration "$DURATION" --rate "$RATE")
    if out=$(taskset -c 1 "$PL" scale "${args[@]}" 2>"$T/scale.err"); then
      hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo -)
      kill "$sampler" 2>/dev/null || true
      wait "$sampler" 2>/dev/null || true
      fds=$(sort -n "$T/fds-$w-$n" | tail -1)
      main_rows+=("| $n | $label | $cpus | $(kv "$out" warmup_s) | $(kv "$out" rps) | $(kv "$out" p50_ms) | $(kv "$out" p99_ms) |
 $(kv "$out" errors)/$(kv "$out" reopened) | $(kv "$out" cpu_ms_per_req) | $(kv "$out" cpu_util) | $(kv "$out" paced_rps) |
 $(kv "$out" paced_p50_ms) | $(kv "$out" paced_p99_ms) | $(kv "$out" paced_errors)/$(kv "$out" paced_reopened) |
 $(kv "$out" paced_cpu_ms_per_req) | $load_before |")
      mem_rows+=("| $n | $label | $(kv "$out" open_ok) | $(kv "$out" open_failed) | $(kv "$out" open_s) |
 $(kv "$out" open_cpu_ms_per_conn) |
 $(kv "$out" rss_before_kb) | $(kv "$out" rss_open_kb) | $(kv "$out" kb_per_conn) |
 $(kv "$out" kb_per_conn_load) | $hwm | ${fds:--} |")
    else
      kill "$sampler" 2>/dev/null || true
      wait "$sampler" 2>/dev/null || true
      main_rows+=("| $n | $label | $cpus | failed: $(tr '\n' ' ' <"$T/scale.err" | head -c 300) |")
    fi
    if [[ -s $T/scale.err ]]; then
      notes+=("$n, $label: $(tr '\n' ' ' <"$T/scale.err" | head -c 600)")
    fi
    if [[ $w == promptgate-t* ]]; then
      notes+=("$n, $label: promptgate counters: $(pg_trouble "$w")")
    fi
    if grep -qiE 'error|too many|exception' "$T/$w.log"; then
      notes+=("$n, $label: its log: $(grep -ciE 'error|too many|exception' "$T/$w.log") error lines;" \
        "first: $(grep -m1 -iE 'error|too many|exception' "$T/$w.log" | head -c 300)")
    fi
    pb_stop "$w"
    echo "gateway_scale_bench: $n connections, $label done" >&2
  done
done

# Row lines were wrapped for the source only.
echo "| conns | proxy | cores | warm-up s | req/s | p50 ms | p99 ms | errors/reopened | proxy CPU ms/req |" \
  "proxy CPU util | paced req/s | paced p50 ms | paced p99 ms | paced errors/reopened |" \
  "paced CPU ms/req | load avg |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${main_rows[@]}"; do tr -d '\n' <<<"$r"; echo; done
echo
echo "| conns | proxy | opened | failed to open | open s | proxy CPU ms/open | RSS before KiB |" \
  "RSS with conns KiB | KiB/conn idle | KiB/conn under load | peak RSS KiB | peak fds |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${mem_rows[@]}"; do tr -d '\n' <<<"$r"; echo; done
echo
for note in "${notes[@]}"; do echo "- $note"; done
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

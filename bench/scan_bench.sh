#!/usr/bin/env bash
# `promptgate scan` end to end over a large tree of real text, against AES-128-GCM measured in the
# same run (issue 20's second target: >= 0.3x AES-128-GCM). Builds nothing: expects
# BUILD_DIR/promptgate and BUILD_DIR/bench/detector_bench.
#
#   bench/scan_bench.sh [BUILD_DIR]
#   env: TARGET_MB=1024 CORPUS_DIR=/var/tmp/promptgate-scan-corpus RUNS=3
#
# The corpus is the machine's own text: C and C++ headers (/usr/include), Python, Perl and
# JavaScript libraries and plain-text documentation, joined into 64 MB files (so `scan` streams
# them, as it does any text file over 8 MiB). A machine seldom has TARGET_MB of distinct text; the
# files then repeat the pool, and the script says how much of the corpus is distinct (a repeat
# costs `scan` the same: it keeps no state between files). Both the scan and AES run on one core
# (taskset -c 0). The figure is CPU time (user + system) of the whole process, so it includes
# start-up (loading the cached rule database), which is also printed alone (a scan of an empty
# file).
set -euo pipefail

build=${1:-build}
promptgate=$build/promptgate
detector_bench=$build/bench/detector_bench
TARGET_MB=${TARGET_MB:-1024}
CORPUS_DIR=${CORPUS_DIR:-/var/tmp/promptgate-scan-corpus}
RUNS=${RUNS:-3}
for f in "$promptgate" "$detector_bench"; do
  [[ -x $f ]] || { echo "scan_bench: $f not found (build first)" >&2; exit 2; }
done

file_mb=64
want_files=$(((TARGET_MB + file_mb - 1) / file_mb))
stamp="$CORPUS_DIR/.made-$TARGET_MB"
if [[ ! -f $stamp ]]; then
  rm -rf "$CORPUS_DIR" && mkdir -p "$CORPUS_DIR"
  pool="$CORPUS_DIR/.pool"
  # Text files only (grep -I skips binaries), in a fixed order.
  find /usr/include /usr/lib/python3* /usr/share/perl* /usr/lib/node_modules /usr/share/doc \
    -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.py' -o -name '*.pm' -o -name '*.pl' \
    -o -name '*.js' -o -name '*.ts' -o -name '*.md' -o -name '*.txt' -o -name 'README*' \) \
    -size -4M 2>/dev/null | LC_ALL=C sort | while read -r f; do
    grep -Iq . "$f" 2>/dev/null && cat "$f"
  done >"$pool"
  pool_mb=$(($(stat -c %s "$pool") / 1048576))
  # 64 MB files cut from the pool, wrapping around when it runs out.
  python3 - "$pool" "$CORPUS_DIR" "$want_files" "$file_mb" <<'EOF'
import sys
pool, out, files, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(pool, 'rb').read()
size, at = mb * 1024 * 1024, 0
for i in range(files):
    chunk = bytearray()
    while len(chunk) < size:
        take = min(size - len(chunk), len(data) - at)
        chunk += data[at:at + take]
        at = (at + take) % len(data)
    open(f'{out}/part-{i:03d}.txt', 'wb').write(chunk)
EOF
  echo "$pool_mb" >"$stamp"
  rm -f "$pool"
fi
pool_mb=$(cat "$stamp")
corpus_bytes=$(du -cb "$CORPUS_DIR"/part-*.txt | tail -1 | cut -f1)
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
distinct=$(awk -v p="$pool_mb" -v c="$corpus_bytes" 'BEGIN { d = p * 1048576 / c; printf "%.0f", (d > 1 ? 1 : d) * 100 }')
echo "corpus: $CORPUS_DIR, $corpus_mb MB in $(find "$CORPUS_DIR" -name "part-*.txt" | wc -l) files, $distinct % distinct"

# CPU seconds (user + system) of one command, run on core 0.
cpu_seconds() {
  python3 - "$@" <<'EOF'
import resource, subprocess, sys
subprocess.run(['taskset', '-c', '0'] + sys.argv[1:], stdout=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f'{r.ru_utime + r.ru_stime:.3f} {r.ru_utime:.3f} {r.ru_stime:.3f}')
EOF
}

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export PROMPTGATE_HOME=$home
: >"$home/empty.txt"
# The first scan in a new home compiles the rule pack and caches the database
# ($PROMPTGATE_HOME/cache); every later one loads it, as a developer's scans do.
read -r cold_startup _ _ < <(cpu_seconds "$promptgate" scan --attachments skip "$home/empty.txt")
read -r startup _ _ < <(cpu_seconds "$promptgate" scan --attachments skip "$home/empty.txt")
best=""
for ((r = 1; r <= RUNS; r++)); do
  read -r total user sys < <(cpu_seconds "$promptgate" scan --attachments skip --format jsonl "$CORPUS_DIR")
  echo "run $r: ${total} s CPU (user $user, system $sys)"
  if [[ -z $best ]] || awk -v a="$total" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$total; fi
done
aes=$(taskset -c 0 "$detector_bench" --benchmark_filter='a/aes128gcm' 2>/dev/null |
  sed -n 's/.*aesgcm_mbps=\([0-9]*\).*/\1/p')
awk -v mb="$corpus_mb" -v t="$best" -v s="$startup" -v cold="$cold_startup" -v aes="$aes" 'BEGIN {
  e2e = mb / t; scan = mb / (t - s)
  printf "start-up (empty file): %.3f s CPU, %.3f s the first time (compiling the rule pack)\n", s, cold
  printf "scan: %.0f MB/s end to end, %.0f MB/s without start-up; AES-128-GCM %d MB/s\n", e2e, scan, aes
  printf "bench: scan_mbps=%.0f scan_without_startup_mbps=%.0f aesgcm_mbps=%d ratio_aesgcm=%.2f\n", e2e, scan, aes, e2e / aes
}'

#!/usr/bin/env bash
# The long fuzzing campaign (issue 19): every libFuzzer target in tests/fuzz, built with clang,
# ASan and UBSan (the build-fuzz tree scripts/test.sh uses), run one after another until it has
# done FUZZ_RUNS executions or FUZZ_SECONDS have passed, whichever comes first. A crash is
# recorded and the target restarted with what is left of its budget, up to FUZZ_MAX_CRASHES.
# Reports per target: executions, exec/s, libFuzzer's cov and ft, corpus size, crash files.
#
#   bench/fuzz.sh                                  # 10 M runs or 30 min per target (~6 h)
#   FUZZ_SECONDS=60 FUZZ_TARGETS="http_request multipart" bench/fuzz.sh
#
# Settings (environment):
#   FUZZ_SECONDS      time per target (default 1800)
#   FUZZ_RUNS         executions per target (default 10000000)
#   FUZZ_TARGETS      targets, without the fuzz_ prefix (default: all, in the order below)
#   FUZZ_OUT          where corpora, crash files, logs and report.txt go
#                     (default build-fuzz/campaign); a second run continues its corpora
#   FUZZ_MAX_CRASHES  crashes per target before it is given up (default 5)
#   FUZZ_BUILD=0      use the binaries already in build-fuzz/tests
#   FUZZ_ARGS         more libFuzzer flags (e.g. "-max_len=65536")
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER=${FUZZ_SECONDS:-1800}
RUNS_PER=${FUZZ_RUNS:-10000000}
TARGETS=${FUZZ_TARGETS:-"http_request content_decoding sse_restorer config rule_pack audit_verify
  multipart read_pdf read_office read_picture json_scan text_scan"}
OUT=${FUZZ_OUT:-$ROOT/build-fuzz/campaign}
MAX_CRASHES=${FUZZ_MAX_CRASHES:-5}

if [[ ${FUZZ_BUILD:-1} != 0 ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPROMPTGATE_FUZZ=ON -DPROMPTGATE_BENCH=OFF >/dev/null
  cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' $TARGETS)
fi
mkdir -p "$OUT"
REPORT=$OUT/report.txt
printf '%-17s %12s %9s %7s %8s %14s %7s  %s\n' target executions exec/s cov ft corpus crashes \
  "crash files" | tee "$REPORT"

# The checked-in seeds of a target (json_scan and text_scan share theirs).
seeds_of() {
  case $1 in json_scan | text_scan) echo "$ROOT/tests/fuzz/corpus/scan" ;;
    *) echo "$ROOT/tests/fuzz/corpus/$1" ;; esac
}

for t in $TARGETS; do
  bin=$ROOT/build-fuzz/tests/fuzz_$t
  [[ -x $bin ]] || { echo "no $bin (build it: cmake --build build-fuzz --target fuzz_$t)" >&2; exit 1; }
  corpus=$OUT/corpus/$t crashes=$OUT/crashes/$t log=$OUT/$t.log
  mkdir -p "$corpus" "$crashes"
  : >"$log"
  runs_left=$RUNS_PER executions=0 crash_count=0 start=$(date +%s)
  while :; do
    time_left=$((SECONDS_PER - ($(date +%s) - start)))
    ((time_left > 0 && runs_left > 0)) || break
    set +e
    # -timeout: an input taking over 25 s is reported as a hang (a crash file "timeout-...").
    "$bin" -runs="$runs_left" -max_total_time="$time_left" -print_final_stats=1 \
      -rss_limit_mb=2048 -timeout=25 -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} \
      "$corpus" "$(seeds_of "$t")" >"$log.run" 2>&1
    rc=$?
    set -e
    cat "$log.run" >>"$log"
    # Executions of this run: the final stats, else (a crash) the last status line.
    done_now=$(awk '/^stat::number_of_executed_units:/ { n = $2 }
                    /^#[0-9]+/ { last = substr($1, 2) }
                    END { print (n != "" ? n : last + 0) }' "$log.run")
    rm -f "$log.run"
    executions=$((executions + done_now))
    runs_left=$((RUNS_PER - executions))
    ((rc == 0)) && break
    crash_count=$((crash_count + 1))
    ((crash_count < MAX_CRASHES)) || break
    echo "--- restarted after a crash ---" >>"$log"
  done
  elapsed=$(($(date +%s) - start))
  status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(grep -oP 'cov: \K[0-9]+' <<<"$status" || echo ?)
  ft=$(grep -oP 'ft: \K[0-9]+' <<<"$status" || echo ?)
  files=$(find "$corpus" -type f | wc -l)
  kib=$(find "$corpus" -type f -printf '%s\n' | awk '{ b += $1 } END { printf "%d", b / 1024 }')
  crash_files=$(find "$crashes" -type f -newermt "@$start" | tr '\n' ' ')
  printf '%-17s %12d %9d %7s %8s %8s/%4sK %7d  %s\n' "$t" "$executions" \
    $((executions / (elapsed > 0 ? elapsed : 1))) "$cov" "$ft" "$files" "$kib" "$crash_count" \
    "${crash_files:--}" | tee -a "$REPORT"
done
echo "corpora, crash files and logs: $OUT (report: $REPORT)"

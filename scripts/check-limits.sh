#!/usr/bin/env bash
# Checks the code-size limits of docs/architecture.md on the product code (detectors/, proxy/,
# cli/; tests and benches aside): no source file over 900 lines, no function over 150 lines.
# Function lengths come from Universal Ctags (--fields=+ne gives each function's end line).
# usage: scripts/check-limits.sh      exit 1 and a list when a limit is broken
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(find detectors proxy cli -name '*.cc' -o -name '*.h' | sort)
for f in $files; do
  n=$(wc -l <"$f")
  if [ "$n" -gt 900 ]; then echo "$f: $n lines (limit 900)"; status=1; fi
done
if command -v ctags >/dev/null; then
  # shellcheck disable=SC2086
  while IFS=$'\t' read -r name file start end; do
    len=$((end - start + 1))
    if [ "$len" -gt 150 ]; then echo "$file:$start: $name is $len lines (limit 150)"; status=1; fi
  done < <(ctags -x --_xformat='%N	%F	%n	%{end}' --kinds-c++=f --language-force=c++ $files 2>/dev/null |
    awk -F'\t' '$4 ~ /^[0-9]+$/')
else
  echo "check-limits: ctags not found, function lengths not checked"
fi
exit $status

#!/usr/bin/env bash
# Tests of the .deb (packaging/CMakeLists.txt), made with cpack from the build tree's install set:
#  - control fields: Package, Version (project()), Architecture, Depends (dpkg-shlibdeps' result
#    covers every library the binary links, plus tesseract-ocr-eng), the conffile, the postinst;
#  - the file list: binary, a man page for promptgate and each subcommand, system and user
#    units naming /usr/bin/promptgate, sysusers config, /etc/promptgate/promptgate.yaml;
#  - the extracted binary runs (--version, --help, run --check-config on the shipped config);
#  - each man page lists the same --flags as the subcommand's help (and the check can fail).
# (Installing it with apt in a fresh Debian root is not done here; see docs/install.md.)
# usage: deb_test.sh PATH_TO_PROMPTGATE BUILD_DIR
set -uo pipefail
pg=$(realpath "${1:?usage: deb_test.sh PATH_TO_PROMPTGATE BUILD_DIR}")
build=$(realpath "${2:?usage: deb_test.sh PATH_TO_PROMPTGATE BUILD_DIR}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/harness.sh
. "$repo/tests/lib/harness.sh"
harness_init promptgate-deb-test
for v in $(compgen -e | grep '^PROMPTGATE_'); do unset "$v"; done

for tool in cpack dpkg-deb dpkg-shlibdeps file; do
  command -v $tool >/dev/null || { skip "$tool not installed (apt-get install cmake dpkg-dev file)"; exit 0; }
done

# --- build the package (into $work, leaving the build tree's package files alone) ---------------
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" > "$work/cpack.log" 2>&1; then
  bad "cpack -G DEB builds the package"; tail -20 "$work/cpack.log"; exit 1
fi
debs=("$work"/pkg/promptgate_*.deb)
check "cpack -G DEB builds one package, named promptgate_VERSION_ARCH.deb" '[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ]'
deb=${debs[0]}

# --- control fields -----------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
version=$(sed -n 's/^project(promptgate VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
check "control: Package is promptgate" '[ "$(field Package)" = promptgate ]'
check "control: Version is project()'s ($version)" '[ -n "$version" ] && [ "$(field Version)" = "$version" ]'
check "control: Architecture is this machine's ($(dpkg --print-architecture))" '[ "$(field Architecture)" = "$(dpkg --print-architecture)" ]'
check "control: file name is promptgate_${version}_$(dpkg --print-architecture).deb" \
  '[ "$(basename "$deb")" = "promptgate_${version}_$(dpkg --print-architecture).deb" ]'
depends=$(field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort -u)
check "control: Depends names libhyperscan5 (from dpkg-shlibdeps)" 'grep -qx libhyperscan5 <<<"$depends"'
check "control: Depends names tesseract-ocr-eng (OCR data, no library)" 'grep -qx tesseract-ocr-eng <<<"$depends"'
check "control: Depends has no -dev package" '! grep -q -- "-dev$" <<<"$depends"'
# The libraries the binary names (DT_NEEDED), where ldd finds them, and their packages.
missing=()
for soname in $(objdump -p "$pg" | awk '$1 == "NEEDED" {print $2}'); do
  lib=$(ldd "$pg" | awk -v s="$soname" '$1 == s {print $3}')
  pkg=
  for p in "$lib" "$(realpath "$lib")" "${lib#/usr}" "/usr$lib"; do
    pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
  done
  if [ -z "$pkg" ]; then missing+=("$soname(no package)")
  elif ! grep -qx "$pkg" <<<"$depends"; then missing+=("$soname($pkg)"); fi
done
check "control: Depends covers the package of every library the binary names (NEEDED)" '[ ${#missing[@]} -eq 0 ] || { echo "  not in Depends: ${missing[*]}"; false; }'
check "control: the description has a summary and a body" '[ $(field Description | wc -l) -ge 3 ]'
dpkg-deb -e "$deb" "$work/control"
check "control: /etc/promptgate/promptgate.yaml is a conffile" 'grep -qx /etc/promptgate/promptgate.yaml "$work/control/conffiles"'
check "control: postinst is valid sh and runs systemd-sysusers for promptgate.conf" \
  'sh -n "$work/control/postinst" && grep -q "systemd-sysusers promptgate.conf" "$work/control/postinst"'

# --- file list ----------------------------------------------------------------------------------
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
subcommands=$("$pg" help | sed -n 's/^  promptgate \([a-z]*\).*/\1/p' | sort -u | grep -vx -e version -e help)
check "promptgate help lists the subcommands (the man page checks below are not vacuous)" '[ $(wc -w <<<"$subcommands") -ge 8 ]'
expected=(/usr/bin/promptgate /usr/share/man/man1/promptgate.1 /usr/lib/systemd/system/promptgate.service
  /usr/lib/systemd/user/promptgate.service /usr/lib/sysusers.d/promptgate.conf /etc/promptgate/promptgate.yaml)
for c in $subcommands; do expected+=("/usr/share/man/man1/promptgate-$c.1"); done
for f in "${expected[@]}"; do
  check "package has $f" 'grep -qx -- "$f" <<<"$files"'
done
check "package has no file outside /usr and /etc" '! grep -vE "^/(usr|etc)(/|$)" <<<"$files" | grep -q .'

# --- the extracted package ----------------------------------------------------------------------
root=$work/root
dpkg-deb -x "$deb" "$root"
bin=$root/usr/bin/promptgate
out=$("$bin" --version 2>&1)
check "extracted binary: --version prints $version" '[ $? -eq 0 ] && grep -q "promptgate $version" <<<"$out"'
out=$("$bin" --help 2>&1); status=$?
check "extracted binary: --help lists every subcommand" '[ $status -eq 0 ] && for c in $subcommands; do grep -q "promptgate $c" <<<"$out" || exit 1; done'
check "extracted binary: stripped of debug sections" '! readelf -S "$bin" | grep -q "\.debug_info"'
out=$(PROMPTGATE_HOME="$work/home" "$bin" run --check-config --config "$root/etc/promptgate/promptgate.yaml" 2>&1)
check "extracted binary: run --check-config accepts the shipped /etc/promptgate/promptgate.yaml" '[ $? -eq 0 ] || { echo "$out"; false; }'
check "shipped config is deploy/promptgate-deny-by-default.yaml" 'cmp -s "$root/etc/promptgate/promptgate.yaml" "$repo/deploy/promptgate-deny-by-default.yaml"'
for u in system user; do
  unit=$root/usr/lib/systemd/$u/promptgate.service
  check "$u unit: ExecStart runs /usr/bin/promptgate run" 'grep -qx "ExecStart=/usr/bin/promptgate run" "$unit"'
  check "$u unit: no /usr/local path left" '! grep -q "^[^#]*/usr/local" "$unit"'
done
user_unit=$root/usr/lib/systemd/user/promptgate.service
check "user unit: listens on 127.0.0.1:8080, PROMPTGATE_HOME left to the user's default" \
  'grep -qx "Environment=PROMPTGATE_LISTEN=127.0.0.1:8080" "$user_unit" && ! grep -q "^Environment=PROMPTGATE_HOME" "$user_unit"'
check "user unit: wanted by default.target, no User= (it runs as the user)" \
  'grep -qx "WantedBy=default.target" "$user_unit" && ! grep -q "^User=" "$user_unit"'
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  sed "s|/usr/bin/promptgate|$bin|g" "$user_unit" > "$work/units/promptgate.service"
  # (verify runs man for Documentation=man:...: the package's pages, from the extracted root;
  # without man-db, as in a fresh minimal root, that part is left out.)
  man_check=--man=yes
  command -v man >/dev/null || man_check=--man=no
  out=$(MANPATH=$root/usr/share/man systemd-analyze verify $man_check "$work/units/promptgate.service" 2>&1); status=$?
  check "user unit: systemd-analyze verify passes with no warning" '[ $status -eq 0 ] && [ -z "$out" ] || { echo "$out"; false; }'
else
  skip "systemd-analyze not installed: user unit not verified"
fi

# --- man pages against the help -----------------------------------------------------------------
man_flags() { grep -v '^\.\\"' "$1" | sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u; }  # not comments
# A subcommand's flags: its block in `promptgate help` and whatever `promptgate CMD --help` says.
help_flags() {
  { "$pg" help | awk -v c="$1" '/^  promptgate /{on = ($2 == c)} on'; "$pg" "$1" --help 2>&1; } |
    grep -o -- '--[a-z][a-z-]*' | grep -vx -- --help | sort -u
}
drift() {  # drift CMD PAGE -> prints what differs
  comm -3 <(help_flags "$1") <(man_flags "$2")
}
mandir=$root/usr/share/man/man1
for c in $subcommands; do
  d=$(drift "$c" "$mandir/promptgate-$c.1")
  check "man page promptgate-$c(1) lists the flags its help lists, no more" '[ -z "$d" ] || { echo "  differs (help left, man right): $d"; false; }'
  check "promptgate(1) refers to promptgate-$c(1)" 'grep -qF "promptgate\-$c (1)" "$mandir/promptgate.1"'
done
grep -v 'check\\-config' "$mandir/promptgate-run.1" > "$work/run-missing-flag.1"
check "a man page missing a flag is reported (the check can fail)" '[ -n "$(drift run "$work/run-missing-flag.1")" ]'
if command -v man >/dev/null; then
  warnings=$(for p in "$mandir"/*.1; do LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null; done)
  check "man pages render without troff warnings" '[ -z "$warnings" ] || { echo "$warnings"; false; }'
fi

echo "deb_test: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

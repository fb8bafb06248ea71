#!/usr/bin/env bash
# Builds the container image from the Dockerfile and runs it the way docs/gateway.md tells a user
# to: non-root, read-only root filesystem, no capabilities, the CA (made by the image's own
# `promptgate ca init`) and the config mounted; /healthz and /readyz, the HEALTHCHECK turning the
# container healthy, a request carrying a synthetic GitHub token blocked before the model API and a
# clean one forwarded to it (the local fake API, tests/proxy/fake_api.mjs), SIGHUP reloading the
# edited config, `docker stop` draining to exit 0. It prints the image size and the build times.
#
# Not in ctest: a cold build compiles the project in the image (6 minutes on 2 idle cores, 20 on
# busy ones) and needs root, a Docker daemon and Debian's mirror. Run it after changing the
# Dockerfile, deploy/container/ or scripts/install-deps.sh:
#
#   sudo tests/deploy/image_test.sh
#
# What it sets up when missing (the daemon it starts is stopped at exit; the packages stay):
#  - the docker CLI and dockerd: Debian's docker.io package (apt-get install);
#  - a daemon: when `docker info` fails, a private dockerd on its own socket and data root under
#    $IMAGE_TEST_STATE (default /var/tmp/promptgate-image-test, kept between runs so that the base
#    image, promptgate:image-test and the build cache make the next run warm, about 30 s; delete
#    it to start over). overlay2 first; vfs when overlay2 does not work here (slower, bigger; the
#    report says which). A running daemon is used as it is, and promptgate:image-test is removed
#    from it at the end unless KEEP_IMAGE=1;
#  - the base images: debian:12 and debian:12-slim when present or pullable; otherwise one
#    Debian 12 minbase root made by debootstrap (IMAGE_TEST_BASE_ROOT=DIR copies an existing one
#    instead) and `docker import`ed as promptgate-test-base:bookworm, given to the build as
#    BASE_IMAGE and RUNTIME_IMAGE.
# IMAGE_TEST_NO_CACHE=1 makes the first build cold (--no-cache) even with a warm cache.
# The fake API listens on the test network's gateway address; the proxy reaches it through
# connect_to, and trusts its throwaway CA through upstream_ca, both in the mounted config.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/harness.sh
. "$repo/tests/lib/harness.sh"
harness_init promptgate-image-test
state=${IMAGE_TEST_STATE:-/var/tmp/promptgate-image-test}
tag=promptgate:image-test
name=promptgate-image-test-$$
net=promptgate-image-test-$$
started_dockerd='' made_net='' made_ctr=''
log() { echo "image_test: $*"; }
die() { echo "FAIL: $*"; exit 1; }
as_root() { [ "$(id -u)" -eq 0 ] || die "needs root to $* (run it with sudo)"; }

stop_everything() {
  if [ -n "$made_ctr" ]; then docker rm -f "$name" >/dev/null 2>&1; fi
  if [ -n "$made_net" ]; then docker network rm "$net" >/dev/null 2>&1; fi
  # In a daemon of the user's own the test image goes (KEEP_IMAGE=1 keeps it); in the private one
  # it stays, with its build cache, in $state.
  if [ -z "${KEEP_IMAGE:-}" ] && [ -z "$started_dockerd" ] && [ -n "${built:-}" ]; then docker rmi "$tag" >/dev/null 2>&1; fi
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$started_dockerd" 2>/dev/null && { echo "image_test: dockerd did not stop, killing it"; kill -9 "$started_dockerd"; }
    restore_host_network
    log "stopped the dockerd it started and put back the host's iptables rules (state kept in $state)"
  fi
  harness_cleanup
}
trap stop_everything EXIT

# --- docker CLI and daemon ----------------------------------------------------------------------
apt_install() {  # apt_install PACKAGE...: with `apt-get update` first only when the lists are stale
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" > "$work/apt.log" 2>&1 && return 0
  apt-get update -qq >> "$work/apt.log" 2>&1
  apt-get install -y -qq --no-install-recommends "$@" >> "$work/apt.log" 2>&1 ||
    { tail -20 "$work/apt.log"; die "apt-get install $*"; }
}
if ! command -v docker >/dev/null || { ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; }; then
  as_root "install docker.io"
  log "installing Debian's docker.io"
  apt_install docker.io
fi

# dockerd leaves its iptables chains, FORWARD's DROP policy, ip_forward=1 and the docker0 bridge
# behind when it stops: note them before, and put them back after. (Docker rewrites the filter and
# nat tables; a change another program makes to them meanwhile is undone too.)
save_host_network() {
  iptables-save > "$work/iptables.before" 2>/dev/null
  forward_before=$(sysctl -n net.ipv4.ip_forward)
  docker0_before=$(ip link show docker0 > /dev/null 2>&1 && echo 1)
}
restore_host_network() {
  local t
  for t in filter nat; do
    grep -qx "\*$t" "$work/iptables.before" && continue
    iptables -t "$t" -F; iptables -t "$t" -X
    [ "$t" = filter ] && for c in INPUT FORWARD OUTPUT; do iptables -P "$c" ACCEPT; done
  done
  iptables-restore < "$work/iptables.before"
  sysctl -qw net.ipv4.ip_forward="$forward_before"
  [ -n "$docker0_before" ] || ip link del docker0 2>/dev/null
}

start_dockerd() {  # start_dockerd DRIVER -> 0 when the daemon answers with that storage driver
  local d=$1 sock=$state/docker.sock
  mkdir -p "$state/data-$d" "$state/exec"
  rm -f "$sock"
  dockerd -H "unix://$sock" --data-root "$state/data-$d" --exec-root "$state/exec" \
    --pidfile "$state/dockerd.pid" --storage-driver "$d" > "$state/dockerd-$d.log" 2>&1 &
  started_dockerd=$!
  export DOCKER_HOST=unix://$sock
  for _ in $(seq 300); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$(docker info --format '{{.Driver}}' 2>/dev/null)" = "$d" ]; then return 0; fi
  kill "$started_dockerd" 2>/dev/null; wait "$started_dockerd" 2>/dev/null; started_dockerd=''
  return 1
}
if docker info >/dev/null 2>&1; then
  log "using the running daemon (${DOCKER_HOST:-default socket})"
else
  as_root "start dockerd"
  if [ -f "$state/dockerd.pid" ] && kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null; then
    die "a dockerd from an earlier run still holds $state (pid $(cat "$state/dockerd.pid")): stop it first"
  fi
  save_host_network
  if start_dockerd overlay2; then
    log "started dockerd (overlay2) on $DOCKER_HOST"
  elif start_dockerd vfs; then
    log "started dockerd with vfs: overlay2 does not work here ($(grep -m1 -iE 'overlay.*(error|fail)' "$state/dockerd-overlay2.log" | cut -c1-160))"
  else
    tail -20 "$state/dockerd-vfs.log"; die "dockerd did not start (logs in $state)"
  fi
fi
driver=$(docker info --format '{{.Driver}}')
log "docker $(docker version --format '{{.Server.Version}}'), storage driver $driver"

# --- base images --------------------------------------------------------------------------------
have_image() { docker image inspect "$1" >/dev/null 2>&1 || timeout 120 docker pull -q "$1" >/dev/null 2>&1; }
build_args=()
if have_image debian:12 && have_image debian:12-slim; then
  base_note="debian:12 and debian:12-slim (present or pulled)"
else
  base=promptgate-test-base:bookworm
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    b0=$(date +%s)
    as_root "make a base image with debootstrap"
    root=$work/base-root
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    mirror=${mirror:-http://deb.debian.org/debian}
    if [ -n "${IMAGE_TEST_BASE_ROOT:-}" ]; then
      log "copying the minbase root $IMAGE_TEST_BASE_ROOT"
      cp -a "$IMAGE_TEST_BASE_ROOT/." "$root/" || die "copy $IMAGE_TEST_BASE_ROOT"
      rm -f "$root/.done"
    else
      command -v debootstrap >/dev/null || apt_install debootstrap
      log "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
      debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log"; die "debootstrap"; }
    fi
    # As in Debian's own images: the release, its updates and security, in deb822 form; no apt
    # cache or lists in the layer.
    rm -f "$root/etc/apt/sources.list"
    cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    : > "$root/etc/resolv.conf"
    tar --numeric-owner -C "$root" -c . | docker import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["bash"]' \
      - "$base" > /dev/null || die "docker import"
    rm -rf --one-file-system "$root"
    log "made $base in $(($(date +%s) - b0)) s"
  fi
  build_args=(--build-arg "BASE_IMAGE=$base" --build-arg "RUNTIME_IMAGE=$base")
  base_note="$base (debootstrap minbase, docker import: debian:12 cannot be pulled)"
fi
log "base: $base_note"

# --- build, twice: the second one from the cache ------------------------------------------------
nocache=()
[ -n "${IMAGE_TEST_NO_CACHE:-}" ] && nocache=(--no-cache)
t0=$(date +%s)
docker build "${nocache[@]}" "${build_args[@]}" -t "$tag" "$repo" > "$work/build1.log" 2>&1
rc=$?
t1=$(date +%s)
if [ $rc -ne 0 ]; then tail -40 "$work/build1.log"; die "docker build"; fi
built=1
docker build "${build_args[@]}" -t "$tag" "$repo" > "$work/build2.log" 2>&1 || { tail -20 "$work/build2.log"; die "second docker build"; }
t2=$(date +%s)
cached1=$(grep -c 'Using cache' "$work/build1.log")
ok "the image builds ($tag)"
check "the second build comes from the cache (no step runs again)" '! grep -q "^ ---> Running in" "$work/build2.log" || grep -q CACHED "$work/build2.log"'
size=$(docker image inspect "$tag" --format '{{.Size}}')
version=$(sed -n 's/^project(promptgate VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
labels=$(docker image inspect "$tag" --format '{{json .Config.Labels}}')
check "OCI labels: title, and version $version" \
  'grep -q "\"org.opencontainers.image.title\":\"promptgate\"" <<<"$labels" && grep -q "\"org.opencontainers.image.version\":\"$version\"" <<<"$labels"'
check "the image has a HEALTHCHECK and runs as 10001:10001" \
  '[ "$(docker image inspect "$tag" --format "{{.Config.User}}")" = 10001:10001 ] && docker image inspect "$tag" --format "{{json .Config.Healthcheck}}" | grep -q healthz'

# --- the user's side: CA, config, upstream ------------------------------------------------------
# A fixed subnet (docker gives a fixed --ip only on those): the first free one of a few.
for n in $(shuf -i 16-250 -n 12); do
  docker network create --subnet "172.30.$n.0/24" --gateway "172.30.$n.1" "$net" > /dev/null 2> "$work/net.err" &&
    { made_net=1; break; }
done
[ -n "$made_net" ] || { cat "$work/net.err"; die "docker network create"; }
gw=$(docker network inspect "$net" --format '{{(index .IPAM.Config 0).Gateway}}')
subnet=$(docker network inspect "$net" --format '{{(index .IPAM.Config 0).Subnet}}')
ip=${gw%.*}.10   # the container's fixed address, so that the admin listener can be bound to it

# The fake model API on the host, on the network's gateway address (the container's route out).
"$repo/tests/proxy/make_pki.sh" "$work/pki" || die "make_pki.sh"
record=$work/fake-api-record.jsonl
: > "$record"
node "$repo/tests/proxy/fake_api.mjs" --host "$gw" --port 0 --cert "$work/pki/upstream.pem" \
  --key "$work/pki/upstream-key.pem" --record "$record" > "$work/fake-api.out" 2> "$work/fake-api.err" &
pids+=($!)
fake_port=$(wait_port "$work/fake-api.out" 'fake_api listening on ' 150 $!) || { cat "$work/fake-api.err"; die "fake API did not start"; }

# The CA, made by the image's own binary in a directory owned by the image's user (as the docs say).
home=$work/home conf=$work/etc
mkdir -p "$home" "$conf"
chown 10001:10001 "$home" && chmod 700 "$home"
docker run --rm --entrypoint promptgate -v "$home:/var/lib/promptgate" "$tag" ca init > "$work/ca-init.out" 2>&1
check "promptgate ca init in the image writes the CA to the mounted home" \
  '[ -f "$home/ca.pem" ] && [ "$(stat -c "%u %a" "$home/ca-key.pem")" = "10001 600" ] || { cat "$work/ca-init.out"; false; }'
cp "$work/pki/upstream-ca.pem" "$conf/upstream-ca.pem"
write_config() {  # write_config BLOCK_STATUS: the image's config, upstream = the fake API
  # In place (no new inode): a single-file bind mount keeps showing the file it was made with.
  sed "s/^block_status: .*/block_status: $1/" "$repo/deploy/container/promptgate.yaml" > "$work/config.new"
  printf 'upstream_ca: /etc/promptgate/upstream-ca.pem\nconnect_to: ["api.anthropic.com:443:%s:%s"]\n' \
    "$gw" "$fake_port" >> "$work/config.new"
  cat "$work/config.new" > "$conf/promptgate.yaml"
}
write_config 400
chmod 644 "$conf"/*

# --- run it -------------------------------------------------------------------------------------
# The admin listener bound to the container's own address (not 0.0.0.0): the HEALTHCHECK must dial
# that address. Ports published on the host's loopback, as a user testing on their machine would.
docker run -d --name "$name" --network "$net" --ip "$ip" \
  --read-only --cap-drop ALL --security-opt no-new-privileges \
  -p 127.0.0.1::8080 -p 127.0.0.1::9090 -e PROMPTGATE_ADMIN_LISTEN="$ip:9090" \
  -v "$conf/promptgate.yaml:/etc/promptgate/promptgate.yaml:ro" \
  -v "$conf/upstream-ca.pem:/etc/promptgate/upstream-ca.pem:ro" \
  -v "$home:/var/lib/promptgate" \
  "$tag" > /dev/null || die "docker run"
made_ctr=1
port_of() { docker port "$name" "$1/tcp" | head -1 | sed 's/.*://'; }
proxy_port=$(port_of 8080) admin_port=$(port_of 9090)
for _ in $(seq 300); do docker logs "$name" 2>&1 | grep -q 'promptgate listening on' && break; sleep 0.1; done
docker logs "$name" > "$work/ctr.out" 2> "$work/ctr.err"
check "the proxy starts and listens on 0.0.0.0:8080 in the container" \
  'grep -q "promptgate listening on 0.0.0.0:8080" "$work/ctr.err" || { tail -20 "$work/ctr.err"; false; }'
check "the start-up hint names <this host>, not 127.0.0.1, inside a container" \
  'grep -q "HTTPS_PROXY=http://<this host>:8080" "$work/ctr.err" && ! grep -q "HTTPS_PROXY=http://127.0.0.1" "$work/ctr.err"'
check "it runs as uid/gid 10001, not root" '[ "$(docker exec "$name" id -u):$(docker exec "$name" id -g)" = 10001:10001 ]'
check "its root filesystem is read-only and it has no capabilities" \
  '! docker exec "$name" touch /tmp/x 2>/dev/null && docker exec "$name" grep -q "^CapEff:[[:space:]]*0*$" /proc/1/status'

admin() { curl -sS -o "$work/admin.body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$admin_port$1"; }
check "/healthz answers 200 on the published admin port" '[ "$(admin /healthz)" = 200 ]'
check "/readyz answers 200" '[ "$(admin /readyz)" = 200 ]'

# The image's HEALTHCHECK, with the image's timing (first probe after 15 s).
health=''
for _ in $(seq 90); do
  health=$(docker inspect "$name" --format '{{.State.Health.Status}}')
  [ "$health" = starting ] || break
  sleep 1
done
check "the HEALTHCHECK makes the container healthy (admin bound to $ip, not loopback)" \
  '[ "$health" = healthy ] || { docker inspect "$name" --format "{{json .State.Health}}"; false; }'

# Requests as a client on the host would send them: HTTPS_PROXY = the published port, the CA trusted.
ask() {  # ask OUT TEXT -> HTTP status
  local body
  body=$(printf '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"%s"}]}' "$2")
  curl -sS -o "$1" -w '%{http_code}' --max-time 30 --proxy "http://127.0.0.1:$proxy_port" --cacert "$home/ca.pem" \
    -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    -H 'x-api-key: sk-ant-api03-promptgate-image-test-not-a-real-key' \
    --data-binary @- https://api.anthropic.com/v1/messages <<<"$body"
}
token=$(gh_token 23)
in_record() { grep -qF -- "$1" "$record"; }
status=$(ask "$work/clean.out" "hello from the promptgate image test")
check "a clean request is forwarded to the fake API and answered" \
  '[ "$status" = 200 ] && grep -q "fake model says" "$work/clean.out" && in_record "hello from the promptgate image test"'
status=$(ask "$work/block.out" "deploy with GITHUB_TOKEN=$token please")
check "a request carrying a GitHub token is blocked (400), naming the rule" \
  '[ "$status" = 400 ] && grep -q "github-pat-classic" "$work/block.out"'
check "the token never reached the fake API" '! in_record "$token" && ! in_record "${token:4:12}" && ! in_record "deploy with GITHUB_TOKEN"'
docker logs "$name" > "$work/ctr.out" 2> "$work/ctr.err"
check "the audit log (container stdout) has one allow and one block, without the token" \
  'grep -q "\"decision\":\"allow\"" "$work/ctr.out" && grep -q "\"decision\":\"block\"" "$work/ctr.out" && ! grep -qF "$token" "$work/ctr.out" "$work/ctr.err"'

# SIGHUP: the edited config is read again (block_status 400 -> 403) without a restart.
write_config 403
docker kill -s HUP "$name" > /dev/null
for _ in $(seq 100); do docker logs "$name" 2>&1 | grep -q 'promptgate: reloaded' && break; sleep 0.1; done
check "SIGHUP reloads the config (log line, promptgate_config_reloads_total{result=\"ok\"} 1)" \
  'docker logs "$name" 2>&1 | grep -q "promptgate: reloaded" && admin /metrics > /dev/null && grep -q "^promptgate_config_reloads_total{result=\"ok\"} 1" "$work/admin.body"'
status=$(ask "$work/block2.out" "again GITHUB_TOKEN=$token")
check "after the reload a block answers with the new block_status (403)" '[ "$status" = 403 ]'
check "the container was not restarted by the reload" '[ "$(docker inspect "$name" --format "{{.RestartCount}} {{.State.Running}}")" = "0 true" ]'

# Graceful stop: SIGTERM (the image's STOPSIGNAL) drains and exits 0 well before docker's SIGKILL.
s0=$(date +%s.%N)
docker stop -t 40 "$name" > /dev/null
s1=$(date +%s.%N)
docker logs "$name" > "$work/ctr.out" 2> "$work/ctr.err"
check "docker stop: SIGTERM drains and the container exits 0 (not killed)" \
  '[ "$(docker inspect "$name" --format "{{.State.ExitCode}} {{.State.OOMKilled}}")" = "0 false" ] && grep -q "draining" "$work/ctr.err" && grep -q "promptgate: drained" "$work/ctr.err" || { tail -5 "$work/ctr.err"; false; }'
check "nothing in the container's output carries the token" '! grep -qF "$token" "$work/ctr.out" "$work/ctr.err"'

mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
echo "image_test: image $tag $(mib "$size") ($(docker image ls "$tag" --format '{{.Size}}') per docker image ls), storage driver $driver"
base_size=$(docker image inspect "${base:-debian:12-slim}" --format '{{.Size}}')
echo "image_test: runtime base ${base:-debian:12-slim} $(mib "$base_size"); the layers the image adds: $(mib $((size - base_size)))"
echo "image_test: build 1 $((t1 - t0)) s (${nocache[*]:-cache allowed}; $cached1 steps from the cache), build 2 $((t2 - t1)) s (cache)"
echo "image_test: docker stop took $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s; network $subnet, fake API on $gw:$fake_port"
echo "image_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

# promptgate container image: a build stage with the toolchain, a runtime stage with only the
# shared libraries the binary links (checked by tests/deploy/deploy_test.sh against `ldd`).
#
#   docker build -t promptgate:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 -v promptgate-home:/var/lib/promptgate promptgate:0.1.0
#
# Configuration is by environment (each `promptgate run` flag has a PROMPTGATE_* equivalent, see
# `promptgate run --help`) and mounted files: the config at /etc/promptgate/promptgate.yaml, the CA (ca.pem, ca-key.pem)
# and cluster.key in /var/lib/promptgate. See docs/gateway.md.
#
# No `# syntax=` line: BuildKit then uses its built-in frontend and needs no registry for it.
# The base images are build arguments so that a build can pin them by digest, e.g.
#   docker build --build-arg BASE_IMAGE=debian:12@sha256:<digest> \
#                --build-arg RUNTIME_IMAGE=debian:12-slim@sha256:<digest> .
# (`docker buildx imagetools inspect debian:12-slim` or `docker images --digests` shows them);
# or locally made ones, e.g. from debootstrap + `docker import`.
ARG BASE_IMAGE=debian:12
ARG RUNTIME_IMAGE=debian:12-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so that editing the sources does not invalidate this layer.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY cmake cmake
COPY detectors detectors
COPY proxy proxy
COPY cli cli
COPY rules rules
COPY packaging packaging
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMPTGATE_BENCH=OFF -DPROMPTGATE_TESTS=OFF \
 && cmake --build build -j "$(nproc)" --target promptgate \
 && build/promptgate rules test rules/ > /dev/null \
 && strip --strip-debug -o /promptgate build/promptgate

FROM ${RUNTIME_IMAGE} AS runtime
# The version in the labels; keep it equal to project() in CMakeLists.txt (tests/deploy checks).
# The project has no LICENSE file or public repository yet: a release build passes both, e.g.
#   --build-arg LICENSES=Apache-2.0 --build-arg SOURCE=https://git.example.com/promptgate
ARG VERSION=0.1.0
ARG LICENSES=NOASSERTION
ARG SOURCE=
LABEL org.opencontainers.image.title="promptgate" \
      org.opencontainers.image.description="Outbound DLP proxy for LLM traffic: finds and blocks credentials, PII, PHI and card data in requests to model APIs" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.version="${VERSION}"
# Runtime libraries only (no compiler, no -dev packages). Hyperscan is amd64-only in Debian.
# An arm64 image (not built or tested): libvectorscan5 in place of libhyperscan5 below; the
# build stage then gets libvectorscan-dev from install-deps.sh and links Vectorscan by default
# (docs/install.md, "The regex engine").
# Poppler, Tesseract (with its English data), Leptonica and libzip read attachments.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libhyperscan5 libre2-9 libyaml-cpp0.7 libssl3 libbrotli1 libzstd1 zlib1g \
      libprometheus-cpp-core1.0 libicu72 \
      libpoppler-cpp0v5 libtesseract5 tesseract-ocr-eng liblept5 libzip4 libgomp1 \
 && rm -rf /var/lib/apt/lists/*
# A dedicated user with a fixed uid, so that mounted files can be owned by it (chown 10001).
RUN groupadd --system --gid 10001 promptgate \
 && useradd --system --uid 10001 --gid promptgate --home-dir /var/lib/promptgate \
      --shell /usr/sbin/nologin promptgate \
 && install -d -o promptgate -g promptgate -m 0700 /var/lib/promptgate \
 && install -d -m 0755 /etc/promptgate
COPY --from=build /promptgate /usr/local/bin/promptgate
COPY deploy/container/promptgate.yaml /etc/promptgate/promptgate.yaml
# Inside a container the proxy must listen on all interfaces; these override the config file's
# listen and admin_listen (pass -e to change them). The CA and the cluster key are created
# in PROMPTGATE_HOME on first start unless mounted there.
ENV PROMPTGATE_HOME=/var/lib/promptgate \
    PROMPTGATE_CONFIG=/etc/promptgate/promptgate.yaml \
    PROMPTGATE_LISTEN=0.0.0.0:8080 \
    PROMPTGATE_ADMIN_LISTEN=0.0.0.0:9090
USER 10001:10001
WORKDIR /var/lib/promptgate
VOLUME ["/var/lib/promptgate"]
EXPOSE 8080 9090
# No curl in the image: bash's /dev/tcp asks the admin listener for /healthz, at the address
# PROMPTGATE_ADMIN_LISTEN names (the wildcard 0.0.0.0 or [::] is dialled on loopback), so an
# admin listener bound to one address (-e PROMPTGATE_ADMIN_LISTEN=10.1.2.3:9090) stays healthy.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "a=${PROMPTGATE_ADMIN_LISTEN:-127.0.0.1:9090}; h=${a%:*}; h=${h#[}; h=${h%]}; case $h in ''|0.0.0.0) h=127.0.0.1;; ::) h=::1;; esac; exec 3<>/dev/tcp/$h/${a##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# SIGTERM drains (timeouts.drain_ms, 30 s by default): give `docker stop -t 40` room for it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/promptgate", "run"]

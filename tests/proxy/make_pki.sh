#!/usr/bin/env bash
# A throwaway upstream PKI for the proxy tests, made with the openssl CLI at test time:
# a CA (EC P-256) and a server certificate it signs for the names the tests use.
# usage: make_pki.sh OUTDIR   -> OUTDIR/upstream-ca.pem, OUTDIR/upstream.pem, OUTDIR/upstream-key.pem
set -euo pipefail
out=${1:?usage: make_pki.sh OUTDIR}
mkdir -p "$out"
cd "$out"
openssl ecparam -name prime256v1 -genkey -noout -out upstream-ca-key.pem 2>/dev/null
openssl req -x509 -new -key upstream-ca-key.pem -sha256 -days 30 -subj "/CN=promptgate test upstream CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out upstream-ca.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out upstream-key.pem 2>/dev/null
openssl req -new -key upstream-key.pem -subj "/CN=api.anthropic.com" -out upstream.csr 2>/dev/null
cat > upstream.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:api.anthropic.com,DNS:localhost,DNS:upstream.test,IP:127.0.0.1
EXT
openssl x509 -req -in upstream.csr -CA upstream-ca.pem -CAkey upstream-ca-key.pem -CAcreateserial \
  -days 30 -sha256 -extfile upstream.ext -out upstream.pem 2>/dev/null
rm -f upstream.csr upstream.ext upstream-ca.srl

#!/usr/bin/env bash
# Start Debian's docker-registry (distribution v2) on loopback for tests.
#
#   start.sh [--port N] [--tls-cert FILE --tls-key FILE] [--htpasswd-user USER:PASSWORD]
#            [--token-realm URL --token-service NAME --token-issuer NAME --token-root-cert FILE]
#
# Installs the package when missing (idempotent), writes a throw-away config and
# storage directory, prints `READY <host:port>` once /v2/ answers, and keeps
# running in the foreground until SIGTERM/SIGINT, when it stops the registry and
# removes its temporary directory. With --port 0 (default) a free port is chosen.
set -euo pipefail

PORT=0
TLS_CERT=""
TLS_KEY=""
HTUSER=""
TOKEN_REALM=""
TOKEN_SERVICE="portcullis-registry"
TOKEN_ISSUER="portcullis-token-issuer"
TOKEN_ROOT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --tls-cert) TLS_CERT="$2"; shift 2 ;;
    --tls-key) TLS_KEY="$2"; shift 2 ;;
    --htpasswd-user) HTUSER="$2"; shift 2 ;;
    --token-realm) TOKEN_REALM="$2"; shift 2 ;;
    --token-service) TOKEN_SERVICE="$2"; shift 2 ;;
    --token-issuer) TOKEN_ISSUER="$2"; shift 2 ;;
    --token-root-cert) TOKEN_ROOT="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "installing docker-registry" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry >&2; }
fi

if [[ "$PORT" == "0" ]]; then
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
fi

WORK="$(mktemp -d -t portcullis-registry.XXXXXX)"
REG_PID=""
cleanup() {
  if [[ -n "$REG_PID" ]] && kill -0 "$REG_PID" 2>/dev/null; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 0' TERM INT HUP

mkdir -p "$WORK/data"
{
  echo "version: 0.1"
  echo "log:"
  echo "  level: warn"
  echo "  accesslog:"
  echo "    disabled: true"
  echo "storage:"
  echo "  filesystem:"
  echo "    rootdirectory: $WORK/data"
  echo "  delete:"
  echo "    enabled: true"
  echo "http:"
  echo "  addr: 127.0.0.1:$PORT"
  if [[ -n "$TLS_CERT" ]]; then
    echo "  tls:"
    echo "    certificate: $TLS_CERT"
    echo "    key: $TLS_KEY"
  fi
} > "$WORK/config.yml"

if [[ -n "$HTUSER" ]]; then
  user="${HTUSER%%:*}"
  pass="${HTUSER#*:}"
  # Low bcrypt cost: a test-only password, and the registry checks it on every request.
  if command -v htpasswd >/dev/null 2>&1; then
    htpasswd -Bbn -C 4 "$user" "$pass" > "$WORK/htpasswd"
  else
    python3 - "$user" "$pass" > "$WORK/htpasswd" <<'PY' 2>/dev/null
import crypt, sys
print(f"{sys.argv[1]}:{crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}")
PY
  fi
  {
    echo "auth:"
    echo "  htpasswd:"
    echo "    realm: portcullis-test"
    echo "    path: $WORK/htpasswd"
  } >> "$WORK/config.yml"
fi

if [[ -n "$TOKEN_REALM" ]]; then
  {
    echo "auth:"
    echo "  token:"
    echo "    realm: $TOKEN_REALM"
    echo "    service: $TOKEN_SERVICE"
    echo "    issuer: $TOKEN_ISSUER"
    echo "    rootcertbundle: $TOKEN_ROOT"
  } >> "$WORK/config.yml"
fi

docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!

scheme=http
curl_opts=(-s -o /dev/null -w '%{http_code}')
if [[ -n "$TLS_CERT" ]]; then scheme=https; curl_opts+=(-k); fi
for _ in $(seq 1 100); do
  code="$(curl "${curl_opts[@]}" "$scheme://127.0.0.1:$PORT/v2/" 2>/dev/null || true)"
  if [[ "$code" == "200" || "$code" == "401" ]]; then
    echo "READY 127.0.0.1:$PORT"
    wait "$REG_PID"
    exit $?
  fi
  if ! kill -0 "$REG_PID" 2>/dev/null; then
    echo "docker-registry exited:" >&2
    cat "$WORK/registry.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "docker-registry did not become ready on 127.0.0.1:$PORT" >&2
cat "$WORK/registry.log" >&2
exit 1

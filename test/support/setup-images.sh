#!/usr/bin/env bash
# Install the real components the image tests use, idempotently:
#   - docker-registry (Debian package, distribution v2)
#   - cosign and crane, built with `go install` at pinned versions into .cache/bin
# Fast when already done (marker files, no network, no go invocation).
# Building cosign takes minutes on a small machine the first time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/.cache/bin"
COSIGN_VERSION="v2.6.5"
CRANE_VERSION="v0.20.7"
mkdir -p "$BIN"

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "setup-images: installing docker-registry" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends docker-registry >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends docker-registry >&2; }
fi

for tool in openssl curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-images: $tool is required" >&2; exit 1; }
done

install_go_tool() { # name module version
  local name="$1" module="$2" version="$3"
  local marker="$BIN/.$name-$version"
  if [[ -x "$BIN/$name" && -f "$marker" ]]; then return 0; fi
  command -v go >/dev/null 2>&1 || { echo "setup-images: go is required to build $name" >&2; exit 1; }
  echo "setup-images: go install $module@$version" >&2
  GOBIN="$BIN" GOFLAGS="${GOFLAGS:--p=2}" go install "$module@$version" >&2
  rm -f "$BIN/.$name-"*
  touch "$marker"
}

install_go_tool cosign github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN_VERSION"
install_go_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"

echo "setup-images: ready ($BIN)" >&2

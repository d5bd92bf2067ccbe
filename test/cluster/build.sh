#!/usr/bin/env bash
# Builds the e2e cluster harness (kube-apiserver + embedded etcd) and a kubectl
# of the same Kubernetes release into ${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/bin,
# outside the repo so every clone shares it. Idempotent: when the sources'
# hash matches the marker it exits at once; otherwise the Go build cache keeps
# a rebuild fast. Prints the bin directory on stdout. Also installs helm (for
# test/e2e/helm.e2e.test.ts) into the same dir, with its own version marker.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${PORTCULLIS_CLUSTER_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/bin}"
marker="$bin/.portcullis-cluster.hash"
k8s_version="v1.37.2" # keep in step with k8s.io/kubernetes in go.mod
helm_version="v3.22.0"

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: go is not on PATH" >&2
  exit 1
fi

helm_marker="$bin/.helm.version"
helm_want="$helm_version-$(go env GOVERSION)"
if [[ ! -x "$bin/helm" || ! -f "$helm_marker" || "$(cat "$helm_marker")" != "$helm_want" ]]; then
  mkdir -p "$bin"
  (
    flock 8
    if [[ ! -x "$bin/helm" || ! -f "$helm_marker" || "$(cat "$helm_marker")" != "$helm_want" ]]; then
      helm_tmp="$(mktemp -d "$bin/.helm.XXXXXX")"
      trap 'rm -rf "$helm_tmp"' EXIT
      start=$SECONDS
      GOBIN="$helm_tmp" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$helm_version"
      mv -f "$helm_tmp/helm" "$bin/helm"
      echo "$helm_want" >"$helm_marker"
      echo "build.sh: built helm $helm_version in $((SECONDS - start))s" >&2
    fi
  ) 8>"$bin/.helm.lock"
fi

hash="$(cd "$here" && cat go.mod go.sum ./*.go build.sh | sha256sum | cut -c1-32)-$(go env GOVERSION)"
if [[ -x "$bin/portcullis-cluster" && -x "$bin/kubectl" && -f "$marker" && "$(cat "$marker")" == "$hash" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
# One build at a time (parallel test files, parallel clones); the loser of the
# race finds the marker written when it gets the lock.
exec 9>"$bin/.build.lock"
flock 9
if [[ -x "$bin/portcullis-cluster" && -x "$bin/kubectl" && -f "$marker" && "$(cat "$marker")" == "$hash" ]]; then
  echo "$bin"
  exit 0
fi

tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
ldflags="-s -w"
for kv in "gitVersion=$k8s_version" "gitMajor=1" "gitMinor=$(echo "$k8s_version" | cut -d. -f2)" "gitTreeState=clean"; do
  ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done
start=$SECONDS
(
  cd "$here"
  # Both main packages in one invocation so their shared dependencies compile once.
  go build -trimpath -ldflags "$ldflags" -o "$tmp/" . k8s.io/kubernetes/cmd/kubectl
)
mv -f "$tmp/cluster" "$bin/portcullis-cluster"
mv -f "$tmp/kubectl" "$bin/kubectl"
echo "$hash" >"$marker"
echo "build.sh: built portcullis-cluster and kubectl $k8s_version in $((SECONDS - start))s" >&2
echo "$bin"

# shellcheck shell=bash
# Shared by the end-to-end tools (tools/e2e/*): pinned versions, where things live, how to log.
# Everything built here is cached outside the checkout, under $E2E_DIR (default
# ~/.cache/chaoslab/e2e): Go binaries, the Docker daemon's data root (so images survive a run),
# the debootstrap base. Delete the folder for a cold run.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../common.sh
. "$ROOT/tools/common.sh"   # TOOLS_DIR, BIN (helm, kube-apiserver, the Kubernetes node binaries), say, need

E2E_DIR="${CHAOSLAB_E2E_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaoslab/e2e}"
E2E_BIN="$E2E_DIR/bin"
mkdir -p "$E2E_BIN"

# ---- pinned versions --------------------------------------------------------------------------
# K8S_VERSION comes from tools/common.sh (one pin for the tests' API server and the node); stay on
# 1.34: 1.35 needs a setting for cgroup v1
KIND_VERSION=v0.33.0           # the kind release docs/kubernetes.md and kind-config.yaml name
ETCD_VERSION=3.6.5; ETCD_TAG=3.6.5-0
COREDNS_VERSION=v1.12.1
CRICTL_VERSION=v1.34.0
PAUSE_VERSION=3.10.1
KUBE_ROUTER_VERSION=v2.1.0     # NetworkPolicy enforcement (iptables + ipset); see tools/e2e/build
PROMETHEUS_MODULE=v0.301.0     # = Prometheus v3.1.0, the chart's prom/prometheus:v3.1.0
PROMETHEUS_VERSION=v3.1.0
COLLECTOR_VERSION=0.119.0      # the chart's otel/opentelemetry-collector-contrib:0.119.0
JAEGER_VERSION=1.65.0          # the chart's jaegertracing/all-in-one:1.65.0

# ---- names ------------------------------------------------------------------------------------
CLUSTER="${CLUSTER:-chaoslab}"   # kind-config.yaml's name, what `make images` loads into
LOCAL=chaoslab.local             # images built on this machine; never pulled from anywhere
NODE_IMAGE="$LOCAL/kind-node:$K8S_VERSION"
BASE_IMAGE="$LOCAL/debian:bookworm"
PYTHON_IMAGE="$LOCAL/python:3.11-bookworm"

export DOCKER_HOST="unix://$E2E_DIR/docker.sock"
export KUBECONFIG="$E2E_DIR/kubeconfig"
export DOCKER_BUILDKIT=0         # the Dockerfiles need no BuildKit; Debian's engine has none to offer
export PATH="$E2E_BIN:$BIN:/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:-} -modcacherw"

log() { echo "e2e [$(date +%T)] $*" >&2; }
die() { echo "e2e: $*" >&2; exit 1; }

# A tool built at a version: stamp files next to the binaries say which, so a version bump rebuilds.
built() { [ -x "$E2E_BIN/$1" ] && [ "$(cat "$E2E_BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$E2E_BIN/.$1.version"; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

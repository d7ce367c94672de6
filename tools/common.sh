# Shared by the tool installers: where tools live and how to say so.
# Tools are cached outside the checkout (CHAOSLAB_TOOLS_DIR, default ~/.cache/chaoslab/tools) so a
# clean checkout, and CI, reuse them; delete the folder to rebuild from scratch.
# This is the one place that says where: run on its own (`sh tools/common.sh`) it prints the folder of
# the tools' binaries, for the Makefile and anything else that looks for them.
TOOLS_DIR="${CHAOSLAB_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaoslab/tools}"
BIN="$TOOLS_DIR/bin"
if [ "${0##*/}" = common.sh ]; then echo "$BIN"; exit 0; fi
mkdir -p "$BIN"
say() { echo "tools: $*"; }
need() {
    command -v "$1" >/dev/null 2>&1 || { echo "tools: $1 is needed to $2" >&2; exit 1; }
}
# `install-X --plan` prints what it would do (nothing when X is already installed) and does nothing.
planned() {
    [ "${PLAN:-}" = 1 ] || return 1
    [ -z "$1" ] || echo "  $1"
    return 0
}
case "${1:-}" in --plan) PLAN=1 ;; esac
# The Kubernetes release the tests' kube-apiserver and the end-to-end cluster's node are built from
# (tools/build-kubernetes); a binary stamped otherwise is rebuilt.
K8S_VERSION=v1.34.4
K8S_STAGING_VERSION=v0.34.4
K8S_STAMP="$K8S_VERSION+stamped"

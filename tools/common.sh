# Shared by the tool installers: where tools live and how to say so.
# Tools are cached outside the checkout (CHAOSLAB_TOOLS_DIR, default ~/.cache/chaoslab/tools) so a
# clean checkout, and CI, reuse them; delete the folder to rebuild from scratch.
TOOLS_DIR="${CHAOSLAB_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaoslab/tools}"
BIN="$TOOLS_DIR/bin"
mkdir -p "$BIN"
say() { echo "tools: $*"; }
need() {
    command -v "$1" >/dev/null 2>&1 || { echo "tools: $1 is needed to $2" >&2; exit 1; }
}

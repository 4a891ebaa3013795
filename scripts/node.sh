#!/usr/bin/env bash
# Installs the JavaScript SDK v3 packages the tests run as real clients (scripts/node/package.json,
# versions locked by scripts/node/package-lock.json, from the npm registry) into .node/
# (idempotent: nothing is done when the installed lock file is the same).
#
#   scripts/node.sh install      install (or check) .node/node_modules
#   scripts/node.sh dir          print the directory (NODE_PATH for the clients is DIR/node_modules)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${CC_NODE_DIR:-$root/.node}"

install() {
    command -v node >/dev/null || { echo "node.sh: node is not installed (Node 20 or later)" >&2; exit 1; }
    mkdir -p "$dir"
    (
        # Test processes may install at the same time: one at a time.
        flock 9
        if cmp -s "$root/scripts/node/package-lock.json" "$dir/package-lock.json" \
            && [[ -d "$dir/node_modules/@aws-sdk/credential-providers" ]]; then
            exit 0
        fi
        echo "node.sh: installing the JavaScript SDK packages into $dir" >&2
        cp "$root/scripts/node/package.json" "$root/scripts/node/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    ) 9>"$dir.install.lock"
}

case "${1:-}" in
    install) install ;;
    dir) echo "$dir" ;;
    *) echo "usage: scripts/node.sh install|dir" >&2; exit 2 ;;
esac

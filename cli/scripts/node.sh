#!/usr/bin/env bash
# Installs the JavaScript SDK v3 packages the command's tests run as real clients
# (cli/scripts/node/package.json, versions locked by cli/scripts/node/package-lock.json, from the
# npm registry) into the checkout's .node/ (idempotent: nothing is done when the installed lock
# file is the same).
#
#   cli/scripts/node.sh install      install (or check) .node/node_modules
#   cli/scripts/node.sh dir          print the directory (NODE_PATH for the clients is DIR/node_modules)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${CC_NODE_DIR:-$root/.node}"

install() {
    command -v node >/dev/null || { echo "node.sh: node is not installed (Node 20 or later)" >&2; exit 1; }
    mkdir -p "$dir"
    (
        # Test processes may install at the same time: one at a time.
        flock 9
        if cmp -s "$here/node/package-lock.json" "$dir/package-lock.json" \
            && [[ -d "$dir/node_modules/@aws-sdk/credential-providers" ]]; then
            exit 0
        fi
        echo "node.sh: installing the JavaScript SDK packages into $dir" >&2
        cp "$here/node/package.json" "$here/node/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    ) 9>"$dir.install.lock"
}

case "${1:-}" in
    install) install ;;
    dir) echo "$dir" ;;
    *) echo "usage: cli/scripts/node.sh install|dir" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs the Valkey/Redis server the session store's tests run against: Debian's
# `redis-server` (7.0), from the distribution's packages. Idempotent: does nothing when a
# `redis-server` (or `valkey-server`) is on PATH. Needs root (or sudo) and apt, as on the CI
# machine. The tests start a server of their own each, on a free 127.0.0.1 port, with no
# persistence (`test-support/src/redis.rs`).
#
#   scripts/redis.sh install     install redis-server if missing
#   scripts/redis.sh check       exit 0 if a server binary is there, print its version
set -euo pipefail

server() { command -v valkey-server || command -v redis-server || true; }

case "${1:-}" in
    install)
        if [[ -n "$(server)" ]]; then exit 0; fi
        if ! command -v apt-get >/dev/null; then
            echo "redis.sh: no apt-get here; install redis-server (or valkey-server) yourself" >&2
            exit 1
        fi
        sudo=()
        if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
        echo "redis.sh: installing redis-server with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
        [[ -n "$(server)" ]] || { echo "redis.sh: redis-server still missing after the install" >&2; exit 1; }
        ;;
    check)
        [[ -n "$(server)" ]] || { echo "redis.sh: no redis-server (scripts/redis.sh install)" >&2; exit 1; }
        "$(server)" --version
        ;;
    *) echo "usage: $0 install | check" >&2; exit 2 ;;
esac

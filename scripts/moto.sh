#!/usr/bin/env bash
# Installs and runs moto (a local AWS) on loopback for the tests and the demo.
#
#   scripts/moto.sh install          create .venv and install the pinned moto (idempotent)
#   scripts/moto.sh start NAME       start a server on a free 127.0.0.1 port; prints its URL
#   scripts/moto.sh stop NAME        stop it
#   scripts/moto.sh stop-all         stop every server started from this checkout
#
# State (pid, port, log) lives in .moto/ inside the checkout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CC_VENV:-$root/.venv}"
state="$root/.moto"
python="${PYTHON:-python3}"

install() {
    # Test processes that start their own servers may install at the same time: one at a time.
    # The lock lives in a subshell, so that no server started later inherits it.
    mkdir -p "$(dirname "$venv")"
    (
        flock 9
        local stamp="$venv/.requirements.sha256"
        local want
        want="$(sha256sum "$root/scripts/requirements-moto.txt" | cut -d' ' -f1)"
        if [[ -x "$venv/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
            exit 0
        fi
        echo "moto.sh: installing moto into $venv" >&2
        "$python" -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements-moto.txt"
        echo "$want" > "$stamp"
    ) 9>"$venv.install.lock"
}

free_port() {
    "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local name="$1"
    install
    mkdir -p "$state"
    stop "$name" 2>/dev/null || true
    local port attempt
    for attempt in 1 2 3; do
        port="$(free_port)"
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$state/$name.log" 2>&1 &
        local pid=$!
        echo "$pid" > "$state/$name.pid"
        echo "$port" > "$state/$name.port"
        # Ready in well under a second; give it up to 20 s on a loaded machine.
        for _ in $(seq 1 200); do
            if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/data.json", timeout=1).read()
PY
            then
                echo "http://127.0.0.1:$port"
                return 0
            fi
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            sleep 0.1
        done
        echo "moto.sh: server '$name' did not start on port $port (attempt $attempt):" >&2
        tail -5 "$state/$name.log" >&2 || true
        kill "$pid" 2>/dev/null || true
    done
    return 1
}

stop() {
    local name="$1" pidfile="$state/$1.pid"
    [[ -f "$pidfile" ]] || return 0
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile" "$state/$name.port"
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?usage: moto.sh start NAME}" ;;
    stop) stop "${2:?usage: moto.sh stop NAME}" ;;
    stop-all) for f in "$state"/*.pid; do [[ -e "$f" ]] && stop "$(basename "$f" .pid)"; done; true ;;
    *) echo "usage: $0 install | start NAME | stop NAME | stop-all" >&2; exit 2 ;;
esac

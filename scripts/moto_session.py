"""The local AWS for one test process that was not given one (`cargo test` without
`scripts/test.sh`): starts two moto servers on free 127.0.0.1 ports — one enforcing signatures
and IAM policies, one open (GetSessionToken and presigned URLs need it) — creates the fixtures of
moto_setup.py in both, prints them as `export CC_...` and `export CC_OPEN_...` lines followed by a
line `READY`, then waits until its standard input closes (the test process that started it has
ended, however it ended) and stops both servers.

Run with the venv's Python after `scripts/moto.sh install`.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import moto_setup


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    """A moto server on a free port, and its URL, once it answers."""
    moto_server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    for _ in range(3):
        port = free_port()
        server = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
                return server, url
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        server.kill()
    sys.exit("moto_session: no moto server would start")


def main():
    servers = []

    def stop(*_):
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        for prefix, enforce in (("CC_OPEN_", False), ("CC_", True)):
            server, url = start_server()
            servers.append(server)
            for k, v in moto_setup.setup(url, enforce).items():
                print(f"export {prefix}{k}='{v}'")
        print("READY", flush=True)
        # Blocks until the test process is gone and its end of the pipe is closed.
        sys.stdin.read()
    finally:
        stop()


if __name__ == "__main__":
    main()

"""boto3 with an assume-role profile, as its documentation shows (`role_arn` and
`source_profile` in the shared config file): one session, its clients (threads) sharing its
credentials, refreshed by botocore 15 minutes before expiry (advisory; 10 minutes: mandatory)
on the call that finds them expiring. The profile is written from the PEER_* settings to a
config file of its own."""

import json
import os
import sys
import tempfile
import threading
import time

setting = os.environ.__getitem__
config = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
config.write(
    f"""[profile peer]
role_arn = {setting("PEER_ROLE_ARN")}
source_profile = base
role_session_name = {setting("PEER_SESSION_NAME")}
region = {setting("PEER_REGION")}
services = peer-endpoints
s3 =
    addressing_style = path

[profile base]
aws_access_key_id = {setting("PEER_BASE_ACCESS_KEY_ID")}
aws_secret_access_key = {setting("PEER_BASE_SECRET_ACCESS_KEY")}
region = {setting("PEER_REGION")}

[services peer-endpoints]
sts =
    endpoint_url = {setting("PEER_STS_ENDPOINT")}
s3 =
    endpoint_url = {setting("PEER_S3_ENDPOINT")}
"""
)
config.close()
os.environ["AWS_CONFIG_FILE"] = config.name
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

import boto3  # noqa: E402 (after the config file is in place)

session = boto3.Session(profile_name="peer")
# Clients are thread-safe, sessions are not: every client is made here, on one session.
clients = [session.client("s3") for _ in range(int(os.environ.get("PEER_CLIENTS", "1")))]
duration = float(setting("PEER_DURATION"))
interval = float(os.environ.get("PEER_INTERVAL", "2"))
end = time.time() + duration
lock = threading.Lock()
took_ms = []
failures = [0]


def loop(index, s3):
    while time.time() < end:
        started = time.time()
        ok = True
        try:
            s3.list_buckets()
        except Exception as error:  # every failure is counted, none ends the run
            ok = False
            print(f"client {index}: {error}", file=sys.stderr, flush=True)
        took = time.time() - started
        with lock:
            took_ms.append(int(took * 1000))
            failures[0] += 0 if ok else 1
            line = {"client": index, "t": int(started * 1000), "ms": int(took * 1000), "ok": ok}
            print(json.dumps(line), flush=True)
        time.sleep(max(0.0, interval - took))


threads = [threading.Thread(target=loop, args=(i, s3)) for i, s3 in enumerate(clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
os.unlink(config.name)

# The run's summary line, the same in every peer.
took_ms.sort()
at = lambda p: took_ms[round((len(took_ms) - 1) * p)] if took_ms else 0  # noqa: E731
print(json.dumps({"summary": {
    "requests": len(took_ms),
    "failures": failures[0],
    "p50_ms": at(0.5),
    "p99_ms": at(0.99),
    "max_ms": took_ms[-1] if took_ms else 0,
    "over_1s": sum(1 for ms in took_ms if ms > 1000),
}}), flush=True)

"""boto3 as a long-running program uses it, under `chainable-credentials exec`: one session and
one STS client for the whole run, GetCallerIdentity every INTERVAL seconds for SECONDS seconds.
Prints one JSON line per call: {"ok": true, "key": ACCESS_KEY_ID, "took": SECONDS} or
{"ok": false, "error": TEXT}.

    python tests/clients/boto3_loop.py SECONDS INTERVAL
"""

import json
import sys
import time

import boto3

seconds, interval = float(sys.argv[1]), float(sys.argv[2])
session = boto3.Session()
sts = session.client("sts")
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.monotonic()
    try:
        # The key this call signs with: botocore refreshes container credentials near their
        # expiry by asking the server again.
        key = session.get_credentials().get_frozen_credentials().access_key
        sts.get_caller_identity()
        line = {"ok": True, "key": key, "took": time.monotonic() - started}
    except Exception as error:  # every failure is reported, none ends the run
        line = {"ok": False, "error": str(error)}
    print(json.dumps(line), flush=True)
    time.sleep(interval)

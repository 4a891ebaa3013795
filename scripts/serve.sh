#!/usr/bin/env bash
# The upload service example on a local AWS, to try in a browser: installs and starts moto on
# 127.0.0.1, creates a user allowed only sts:AssumeRole, the role s3-reader (allowed S3) and a
# bucket, builds the service and runs it with the user's keys, and prints the URL to open.
# Ctrl-C stops the service (in-flight requests finish) and the local server.
#
# The local server runs WITHOUT signature and IAM enforcement: moto 5.2.5 crashes on presigned
# (query-string-signed) requests while enforcing, and downloads go through presigned URLs.
# `scripts/test.sh` and `scripts/demo.sh` show the service under enforcement too.
#
#   scripts/serve.sh [FLAGS...]     flags go to the service (see --help); default address
#                                   127.0.0.1:8080, or UPLOAD_BIND (127.0.0.1:0: any free port)
#   scripts/serve.sh --users FILE   with users: FILE has `TOKEN USER` lines; the page asks for
#                                   the token, and uploads straight to S3 too
#
# Without --users the service authenticates nobody: keep it on loopback. Bound to another address (UPLOAD_BIND=
# 0.0.0.0:8080) it warns at start, and answers only requests addressed to the IP they came in
# on; to open it by a name, add `--allowed-host NAME` (or UPLOAD_ALLOWED_HOSTS). Requests may
# name only the fixture bucket (UPLOAD_BUCKET); `--bucket A,B` serves those instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/moto.sh install
endpoint="$(scripts/moto.sh start serve)"
trap 'scripts/moto.sh stop serve' EXIT
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$endpoint" --prefix SERVE_)"

# Only loopback: no instance metadata lookups, no shared config from the machine.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ACCESS_KEY_ID="$SERVE_BASE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SERVE_BASE_SECRET_ACCESS_KEY"
export AWS_REGION="$SERVE_REGION" AWS_ENDPOINT_URL="$endpoint"
export UPLOAD_ROLE_ARN="$SERVE_ROLE_ARN" UPLOAD_BUCKET="$SERVE_BUCKET"

echo "local AWS at $endpoint (no enforcement): user base-user (sts:AssumeRole only), role $SERVE_ROLE_ARN, bucket $SERVE_BUCKET"
cargo build --quiet -p upload-service
service="${CARGO_TARGET_DIR:-$root/target}/debug/upload-service"

# The service prints `listening on URL` once bound; logs go to stderr (this terminal).
"$service" --bind "${UPLOAD_BIND:-127.0.0.1:8080}" "$@" | while IFS= read -r line; do
    echo "$line"
    if [[ "$line" == "listening on "* ]]; then
        echo
        echo "    open ${line#listening on } in a browser    (Ctrl-C stops the service and the local AWS)"
        echo
    fi
done

#!/usr/bin/env bash
# The demo, on a fresh machine: installs and starts a local AWS (moto) on 127.0.0.1, creates a
# user allowed only sts:AssumeRole, a role allowed S3 and a bucket, turns on signature and IAM
# enforcement, then runs examples/list_buckets.rs with the user's keys: S3 refuses the user and
# lists the bucket for the assumed role. Stops the server on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/moto.sh install
endpoint="$(scripts/moto.sh start demo)"
trap 'scripts/moto.sh stop demo' EXIT
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$endpoint" --enforce --prefix DEMO_)"
echo "local AWS at $endpoint: user base-user (sts:AssumeRole only), role $DEMO_ROLE_ARN, bucket $DEMO_BUCKET"

# Only loopback: no instance metadata lookups, no shared config from the machine.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
AWS_ACCESS_KEY_ID="$DEMO_BASE_ACCESS_KEY_ID" \
AWS_SECRET_ACCESS_KEY="$DEMO_BASE_SECRET_ACCESS_KEY" \
AWS_REGION="$DEMO_REGION" \
AWS_ENDPOINT_URL="$endpoint" \
    cargo run --quiet --example list_buckets -- "$DEMO_ROLE_ARN"

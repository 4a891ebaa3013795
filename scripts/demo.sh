#!/usr/bin/env bash
# The demo, on a fresh machine: installs and starts a local AWS (moto) on 127.0.0.1, creates a
# user allowed only sts:AssumeRole, roles allowed S3 and a bucket, turns on signature and IAM
# enforcement, then runs the examples with the user's keys: list_buckets (S3 refuses the user
# and lists the bucket for the assumed role), list_objects, presign, the upload_service web
# backend (a scripted upload and download with curl), chain, object_store and OpenDAL on a
# chain (examples/s3_clients), mfa, profile and export_env, and finally
# the AWS CLI with the `chainable-credentials` command as its credential_process.
# Stops the server on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/moto.sh install
endpoint="$(scripts/moto.sh start demo)"
# moto 5.2.5 crashes on presigned (query-string) requests while enforcing, so the presign
# example runs against a second, non-enforcing server.
open_endpoint="$(scripts/moto.sh start demo-open)"
trap 'scripts/moto.sh stop demo; scripts/moto.sh stop demo-open' EXIT
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$endpoint" --enforce --prefix DEMO_)"
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$open_endpoint" --prefix DEMO_OPEN_)"
echo "local AWS at $endpoint: user base-user (sts:AssumeRole only), role $DEMO_ROLE_ARN, bucket $DEMO_BUCKET"

# Only loopback: no instance metadata lookups, no shared config from the machine.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID="$DEMO_BASE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_BASE_SECRET_ACCESS_KEY"
export AWS_REGION="$DEMO_REGION" AWS_ENDPOINT_URL="$endpoint"
# The library's examples (`profile` needs its feature), the command (`cli/`) and the upload
# service, in one build of the workspace.
features=(--features profile)
cargo build --quiet --workspace --examples --bins
# Where that build put the binaries (CARGO_TARGET_DIR moves them).
built="${CARGO_TARGET_DIR:-$root/target}/debug"

example() { echo; echo "== $*"; }
example list_buckets: the base user is denied, the assumed role is allowed
cargo run --quiet "${features[@]}" --example list_buckets -- "$DEMO_ROLE_ARN"
example list_objects: one bucket\'s keys with the assumed role
cargo run --quiet "${features[@]}" --example list_objects -- "$DEMO_ROLE_ARN" "$DEMO_BUCKET"
example "presign: a presigned PUT and GET, used with plain HTTP (non-enforcing server)"
AWS_ACCESS_KEY_ID="$DEMO_OPEN_BASE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_OPEN_BASE_SECRET_ACCESS_KEY" \
AWS_ENDPOINT_URL="$open_endpoint" \
    cargo run --quiet "${features[@]}" --example presign -- "$DEMO_OPEN_ROLE_ARN" "$DEMO_OPEN_BUCKET" "uploads/presigned.txt"
example "upload_service: a web backend on one provider; a scripted upload and download with curl (non-enforcing server)"
(
    export AWS_ACCESS_KEY_ID="$DEMO_OPEN_BASE_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_OPEN_BASE_SECRET_ACCESS_KEY"
    export AWS_ENDPOINT_URL="$open_endpoint" UPLOAD_ROLE_ARN="$DEMO_OPEN_ROLE_ARN" UPLOAD_BUCKET="$DEMO_OPEN_BUCKET"
    work="$(mktemp -d)"
    # --healthz-details: the demo shows how many times the role was assumed (off by default:
    # /healthz then says only healthy or not).
    "$built/upload-service" --bind 127.0.0.1:0 --healthz-details \
        > "$work/stdout" 2> "$work/log" &
    service=$!
    trap 'kill "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
    for _ in $(seq 1 300); do grep -q '^listening on ' "$work/stdout" && break; sleep 0.1; done
    url="$(sed -n 's/^listening on //p' "$work/stdout")"
    [[ -n "$url" ]] || { cat "$work/log"; echo "the service did not start"; exit 1; }
    echo "service at $url (STS and S3 at $open_endpoint)"
    head -c 300000 /dev/urandom > "$work/upload.bin"
    json() { .venv/bin/python -c "import json,sys; v=json.load(sys.stdin)$1; print(v if isinstance(v,str) else json.dumps(v))"; }
    echo "POST /item (curl -F file=@upload.bin -F key=demo/upload.bin):"
    curl -sS --fail-with-body -F key=demo/upload.bin -F file=@"$work/upload.bin" "$url/item"; echo
    echo "GET /items?prefix=demo/:"
    curl -sS --fail-with-body "$url/items?prefix=demo/" | json '["items"]' | sed 's/}, {/},\n {/g'
    link="$(curl -sS --fail-with-body "$url/item?key=demo/upload.bin")"
    presigned="$(json '["url"]' <<<"$link")"
    # The URL's query holds the session token: shown without it.
    echo "GET /item?key=demo/upload.bin: presigned ${presigned%%\?*}?... valid $(json '["expires_in"]' <<<"$link") s"
    curl -sS --fail -o "$work/download.bin" "$presigned"
    cmp "$work/upload.bin" "$work/download.bin"
    echo "downloaded through the presigned URL with plain curl: $(wc -c < "$work/download.bin") bytes, identical"
    echo "GET /healthz: $(curl -sS "$url/healthz" | json '["status"]'), role assumed $(curl -sS "$url/healthz" | json '["refreshes_started"]') time(s) for these requests"
    curl -sS -o /dev/null -w 'GET /item?key=demo/nothing-here -> HTTP %{http_code}: ' "$url/item?key=demo/nothing-here"
    curl -sS "$url/item?key=demo/nothing-here"; echo
    kill -TERM "$service"
    if wait "$service"; then
        echo "SIGTERM: the service stopped gracefully (exit 0)"
    else
        status=$?; cat "$work/log"; echo "the service exited with $status"; exit 1
    fi
)
example chain: two hops, each hop\'s identity
cargo run --quiet "${features[@]}" --example chain -- "$DEMO_CHAIN_HOP1_ARN" "$DEMO_CHAIN_HOP2_ARN"
example "object_store: list a bucket and copy an object, signing with a two-hop chain"
"$built/object-store-chain" "$DEMO_CHAIN_HOP1_ARN" "$DEMO_CHAIN_HOP2_ARN" "$DEMO_BUCKET"
example "OpenDAL: write, read and stat an object, signing with a two-hop chain"
"$built/opendal-chain" "$DEMO_CHAIN_HOP1_ARN" "$DEMO_CHAIN_HOP2_ARN" "$DEMO_BUCKET"
example "mfa: a code read from stdin (the local server does not check MFA codes)"
echo 123456 | cargo run --quiet "${features[@]}" --example mfa -- "arn:aws:iam::$DEMO_ACCOUNT:mfa/demo" "$DEMO_ROLE_ARN"
example "profile: a role chain from a config file, MFA on its first hop (the code is piped in)"
(
    profiles="$(mktemp -d)"
    trap 'rm -rf "$profiles"' EXIT
    printf '[demo-keys]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "$DEMO_BASE_ACCESS_KEY_ID" "$DEMO_BASE_SECRET_ACCESS_KEY" > "$profiles/credentials"
    printf '%s\n' \
        "[profile hop1]" "role_arn = $DEMO_CHAIN_HOP1_ARN" "source_profile = demo-keys" \
        "role_session_name = hop-1" "mfa_serial = arn:aws:iam::$DEMO_ACCOUNT:mfa/demo" \
        "[profile hop2]" "role_arn = $DEMO_CHAIN_HOP2_ARN" "source_profile = hop1" \
        "role_session_name = hop-2" "region = $DEMO_REGION" > "$profiles/config"
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    echo 123456 | AWS_CONFIG_FILE="$profiles/config" AWS_SHARED_CREDENTIALS_FILE="$profiles/credentials" \
        cargo run --quiet "${features[@]}" --example profile -- hop2
)
example export_env: export lines for a shell, then the AWS CLI\'s variables in use
(
    eval "$(cargo run --quiet "${features[@]}" --example export_env -- "$DEMO_ROLE_ARN")"
    echo "AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:0:8}... (temporary: ${AWS_SESSION_TOKEN:+has a session token})"
)
example "the AWS CLI with chainable-credentials as its credential_process (5 commands, 1 AssumeRole)"
(
    home="$(mktemp -d)"
    trap 'rm -rf "$home"' EXIT
    printf '[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "$DEMO_BASE_ACCESS_KEY_ID" "$DEMO_BASE_SECRET_ACCESS_KEY" > "$home/credentials"
    cat > "$home/config" <<INI
[profile s3-reader]
credential_process = $built/chainable-credentials credential-process --source-profile base --role-arn $DEMO_ROLE_ARN --region $DEMO_REGION
region = $DEMO_REGION
s3 =
    addressing_style = path
INI
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    export AWS_CONFIG_FILE="$home/config" AWS_SHARED_CREDENTIALS_FILE="$home/credentials"
    export XDG_CACHE_HOME="$home/cache"
    sed -n '/credential_process/p' "$home/config" | sed "s|$built/||"
    for run in 1 2 3 4 5; do
        listing="$(.venv/bin/aws --profile s3-reader s3 ls --debug 2>"$home/debug.log")"
        key="$(grep -o 'Credential=[A-Z0-9]*' "$home/debug.log" | head -1 | cut -d= -f2)"
        echo "aws --profile s3-reader s3 ls   (run $run, signed with $key): $listing"
    done
    echo "(moto issues a new access key id per AssumeRole: one key id means one call)"
    echo "cached session (one entry, 0600, in a 0700 directory):"
    ls -l "$XDG_CACHE_HOME/chainable-credentials" | sed -n '/json/p'
)

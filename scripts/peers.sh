#!/usr/bin/env bash
# The same workload through JS v2's ChainableTemporaryCredentials, JS v3's
# fromTemporaryCredentials, boto3's assume-role profile, aws-config's AssumeRoleProvider and this
# crate, in one run against one local STS (see peers/README.md): installs each peer into the
# project's ignored directories (npm into .peers/node, boto3 in .venv, the Rust clients with
# cargo), starts the local server, and runs the harness, which writes its tables into the
# `peers` section of BENCHMARKS.md.
#
#   scripts/peers.sh              the full run: 20-minute sessions, about 22 minutes
#   scripts/peers.sh --smoke      each client starts and reports (a few seconds; scripts/test.sh)
#   scripts/peers.sh --lifetime S --duration S --sts-latency S    other timings
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

smoke=false
for arg in "$@"; do [[ "$arg" == "--smoke" ]] && smoke=true; done

# Only loopback: no instance metadata lookups, no shared config from the machine.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

command -v node >/dev/null || { echo "peers.sh: node is not installed (Node 20 or later)" >&2; exit 1; }
node_dir="$root/.peers/node"
mkdir -p "$node_dir"
(
    flock 9
    if ! cmp -s peers/node/package-lock.json "$node_dir/package-lock.json" \
        || [[ ! -d "$node_dir/node_modules/aws-sdk" ]]; then
        echo "peers.sh: installing the JavaScript SDKs into $node_dir" >&2
        cp peers/node/package.json peers/node/package-lock.json "$node_dir/"
        (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
) 9>"$root/.peers/node.install.lock"
scripts/moto.sh install
# The full run measures: release builds. The smoke run only checks that every client starts:
# the test build's profile, whose dependencies the test suite has built already.
if $smoke; then profile=debug; cargo build --quiet -p peers; else profile=release; cargo build --quiet --release -p peers; fi

endpoint="$(scripts/moto.sh start peers)"
trap 'scripts/moto.sh stop peers' EXIT
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$endpoint" --enforce --prefix PEERS_)"
export PEERS_MOTO_ENDPOINT="$endpoint" PEERS_REGION PEERS_ROLE_ARN PEERS_BASE_ACCESS_KEY_ID \
    PEERS_BASE_SECRET_ACCESS_KEY
export PEERS_PYTHON="$root/.venv/bin/python" PEERS_NODE_PATH="$node_dir/node_modules"

harness="${CARGO_TARGET_DIR:-$root/target}/$profile/peers"
if $smoke; then
    "$harness" "$@"
else
    "$harness" --benchmarks "$root/BENCHMARKS.md" "$@"
fi

#!/usr/bin/env bash
# The whole test suite, on a fresh machine: formatting, clippy, unit and integration tests
# (in-process fake STS with an injected clock) and the tests against a real local STS/IAM/S3
# (moto, installed into .venv and started on 127.0.0.1 by this script, stopped on exit), the
# command-line tool driven by the real AWS CLI and boto3 (installed into .venv too) and the
# JavaScript SDK v3 (npm, into .node by cli/scripts/node.sh), the upload
# service example over HTTP and its page in headless Chromium (installed from the distribution's
# packages by scripts/browser.sh), the session store against a real redis-server (installed by
# scripts/redis.sh, one server per test on a free loopback port), then the doc tests. Extra arguments go to the test runner,
# e.g. `scripts/test.sh moto_`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Only loopback: no instance metadata lookups, no shared config from the machine.
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

# The workspace: the library, its command (`cli/`), the test support they share, the upload
# service and the S3 clients examples (object_store, OpenDAL), the bench plotter and the peers
# harness. Built together, the library has the
# features its command needs (`file-cache`, `profile`) and its tests' `test-util`; the lints
# also check the library alone, with each feature and without them.
# Each section says when it starts, so a slow CI run shows where the time went.
section() { echo "== $* (at ${SECONDS} s)"; }

section "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Plain `cargo test` (default features) must build too: the library's tests are checked here
# alone, so that one needing a feature without its `cfg` is caught.
cargo clippy --all-targets -- -D warnings
cargo clippy -p chainable-credentials --lib -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features file-cache -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features profile -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features redis-store -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features session-store -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features object-store -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features opendal -- -D warnings
cargo clippy -p chainable-credentials --lib --no-default-features --features telemetry -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p chainable-credentials --features file-cache,profile,redis-store,object-store,opendal,telemetry --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p chainable-credentials-cli --quiet
# Both packages as crates.io would take them (the command's path dependency on the library is
# checked against the library as packaged here).
cargo package --workspace --exclude chainable-credentials-test-support --exclude upload-service \
    --exclude s3-clients --exclude bench-plots --exclude peers --no-verify --allow-dirty --quiet

section "local AWS (moto)"
scripts/moto.sh install
trap 'scripts/moto.sh stop test-enforcing; scripts/moto.sh stop test-open' EXIT
enforcing="$(scripts/moto.sh start test-enforcing)"
open="$(scripts/moto.sh start test-open)"
set -a
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$enforcing" --enforce --prefix CC_)"
eval "$(.venv/bin/python scripts/moto_setup.py --endpoint "$open" --prefix CC_OPEN_)"
set +a
echo "enforcing server at $enforcing, open server at $open"

section "Valkey/Redis for the session store's tests (scripts/redis.sh)"
scripts/redis.sh install
scripts/redis.sh check

section "the JavaScript SDK v3 for the container-credentials tests (cli/scripts/node.sh)"
cli/scripts/node.sh install

section "headless browser for the upload service's page test (scripts/browser.sh)"
scripts/browser.sh install
scripts/browser.sh check
# The browser test skips without Chromium only when nobody asked for it; here it must run.
export CC_REQUIRE_BROWSER=1

section "tests"
# The command's tests run the examples' binaries (target/debug/examples/NAME), which
# `cargo test` builds beside the tests but nextest's `--examples` does not (it builds them as
# test harnesses, under hashed names).
cargo build --workspace --examples
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --lib --bins --tests --examples --no-fail-fast "$@"
else
    cargo test --workspace --lib --bins --tests --examples --no-fail-fast -- "$@"
fi
section "doc tests"
cargo test --doc --workspace
if [[ $# -eq 0 ]]; then
    # Built in the test profile, which checks that they compile; `cargo bench` runs them for
    # real (see BENCHMARKS.md).
    section "benches, once each with a small workload (their assertions hold; no timing)"
    cargo test --benches --quiet --workspace
    section "the peers comparison's clients start and report (scripts/peers.sh --smoke)"
    scripts/peers.sh --smoke
    section "examples against the local server (scripts/demo.sh)"
    scripts/demo.sh
fi
section "done"

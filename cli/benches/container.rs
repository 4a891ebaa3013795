//! `chainable-credentials serve` (the container-credentials server `exec` runs too), as a
//! separate process on loopback, against the benches' in-process STS served over HTTP:
//! 1. One served answer: its latency distribution (p50, p99, max) over a kept-alive connection
//!    and over a new connection per request (what a client without a connection pool does).
//! 2. 100 concurrent clients, each on its own connection: requests per second.
//! 3. The baseline: one `credential_process` run per client (the same command, answering from
//!    its file cache): the latency of a run, and runs per second with 100 at a time.
//!
//! `cargo bench --features cli --bench container` (`cargo test --benches` runs a reduced
//! workload once).

use test_support::bench as support;

use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::hint::black_box;
use std::process::Stdio;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncBufReadExt;

const BINARY: &str = env!("CARGO_BIN_EXE_chainable-credentials");

fn now() -> SystemTime {
    SystemTimeSource::new().now()
}

fn since(start: SystemTime) -> Duration {
    now().duration_since(start).unwrap_or_default()
}

/// The command with the bench STS, its base keys, and nothing from the machine.
fn command(subcommand: &str, sts: &str, cache: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .arg(subcommand)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-base-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .args(["--role-arn", support::ROLE, "--region", "us-east-1"])
        .args(["--endpoint-url", sts, "--cache-dir"])
        .arg(cache)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The percentile `p` (0 to 100) of sorted `samples`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn distribution(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        *samples.last().unwrap(),
    )
}

type Http = Client<HttpConnector, Empty<Bytes>>;

async fn ask(http: &Http, url: &str, token: &str) {
    let request = hyper::Request::get(url)
        .header("authorization", token)
        .body(Empty::new())
        .unwrap();
    let response = http.request(request).await.expect("the server answers");
    assert_eq!(response.status(), 200);
    black_box(response.into_body().collect().await.unwrap().to_bytes());
}

fn container(c: &mut Criterion) {
    let runtime = support::runtime();
    let test = support::test_mode();
    let aws = support::fake_aws(
        SystemTimeSource::new(),
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .with_session_tokens_of(1000);
    let sts = runtime.block_on(test_support::http_server::serve(aws.clone()));
    let cache = tempfile::tempdir().unwrap();

    // The server, in this process group (`--foreground`), and its variables.
    let mut server = {
        let _enter = runtime.enter();
        command("serve", &sts, cache.path())
            .arg("--foreground")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (url, token) = runtime.block_on(async {
        // `unset ...`, then `export NAME='value'` lines up to the process id.
        let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
        let mut exported = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let Some((name, value)) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
            else {
                continue;
            };
            exported.push((name.to_owned(), value.trim_matches('\'').to_owned()));
            if name == "CHAINABLE_CREDENTIALS_PID" {
                break;
            }
        }
        let value = |wanted: &str| {
            exported
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
                .expect("the server's variable")
        };
        (
            value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        )
    });
    let kept_alive: Http = Client::builder(TokioExecutor::new()).build_http();
    let mut group = c.benchmark_group("container");
    group.bench_function("served_answer_kept_alive", |b| {
        b.to_async(&runtime).iter(|| ask(&kept_alive, &url, &token))
    });
    group.finish();

    // 1. The latency distribution.
    let samples = if test { 200 } else { 20_000 };
    let kept: Vec<Duration> = runtime.block_on(async {
        let mut kept = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = now();
            ask(&kept_alive, &url, &token).await;
            kept.push(since(started));
        }
        kept
    });
    let fresh: Vec<Duration> = runtime.block_on(async {
        let mut fresh = Vec::with_capacity(samples / 10);
        for _ in 0..samples / 10 {
            let http: Http = Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build_http();
            let started = now();
            ask(&http, &url, &token).await;
            fresh.push(since(started));
        }
        fresh
    });

    // 2. 100 concurrent clients.
    let (clients, each) = if test { (100, 5) } else { (100, 500) };
    let started = now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (url, token) = (url.clone(), token.clone());
                tokio::spawn(async move {
                    let http: Http = Client::builder(TokioExecutor::new()).build_http();
                    for _ in 0..each {
                        ask(&http, &url, &token).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let concurrent_took = since(started);
    let served_per_second = (clients * each) as f64 / concurrent_took.as_secs_f64();

    // 3. The baseline: a credential_process run per client, from the warm file cache.
    let runs = if test { 10 } else { 300 };
    let run = || async {
        let output = command("credential-process", &sts, cache.path())
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let process_runs: Vec<Duration> = runtime.block_on(async {
        run().await;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = now();
            run().await;
            times.push(since(started));
        }
        times
    });
    let (process_clients, process_each) = if test { (10, 1) } else { (100, 5) };
    let started = now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..process_clients)
            .map(|_| {
                let (sts, dir) = (sts.clone(), cache.path().to_owned());
                tokio::spawn(async move {
                    for _ in 0..process_each {
                        let output = command("credential-process", &sts, &dir)
                            .output()
                            .await
                            .unwrap();
                        assert!(output.status.success());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let process_took = since(started);
    let runs_per_second = (process_clients * process_each) as f64 / process_took.as_secs_f64();
    let _ = server.start_kill();

    let sts_calls = aws.calls();
    let (k50, k99, kmax) = distribution(kept);
    let (f50, f99, fmax) = distribution(fresh);
    let (p50, p99, pmax) = distribution(process_runs);
    let report = format!(
        "| one answer | p50 | p99 | max | samples |\n|---|---|---|---|---|\n\
         | `serve`, kept-alive connection | {k50:.1?} | {k99:.1?} | {kmax:.1?} | {samples} |\n\
         | `serve`, a new connection per request | {f50:.1?} | {f99:.1?} | {fmax:.1?} | {} |\n\
         | a `credential_process` run (warm file cache) | {p50:.1?} | {p99:.1?} | {pmax:.1?} | {runs} |\n\n\
         | {clients} concurrent clients | answers/s | total | time |\n|---|---|---|---|\n\
         | `serve` ({each} requests each, kept-alive) | {served_per_second:.0} | {} | {concurrent_took:.2?} |\n\
         | a `credential_process` run per request ({process_clients} at a time) | {runs_per_second:.0} | {} | {process_took:.2?} |\n\n\
         STS calls over the whole run: {sts_calls} (the server's session, and the file cache's \
         for the `credential_process` runs).\n",
        samples / 10,
        clients * each,
        process_clients * process_each,
    );
    assert!(sts_calls <= 2, "{sts_calls} STS calls");
    support::report("container", &report);
}

criterion_group!(benches, container);
criterion_main!(benches);

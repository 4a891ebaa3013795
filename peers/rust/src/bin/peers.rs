//! The peers comparison's harness (`scripts/peers.sh` runs it): every SDK's client (see
//! `peers/README.md`) against one local STS, each behind a fault proxy of its own that shortens
//! sessions, slows STS and makes outages, in three scenarios run at the same time:
//!
//! - `steady`: one client, sessions of `--lifetime`, STS answering in `--sts-latency` once the
//!   first session is issued: requests, failures, latency, requests over 1 s, STS calls;
//! - `outage`: the same, and STS down (503) from 5 s before the SDK's documented refresh point
//!   until 2 s before the first session expires: every refresh the SDK tries in its window
//!   fails while its session is still valid; failed requests during the outage;
//! - `shared`: 10 clients in one process sharing the SDK's one credentials object as its docs
//!   show: STS calls in the run.
//!
//! `--smoke` runs `steady` only, for a few seconds, unshortened: that each client starts and
//! reports (what `scripts/test.sh` runs). Writes the tables to `target/bench-results/peers.md`
//! and, with `--benchmarks FILE`, between the `peers` markers of that file.
#![forbid(unsafe_code)]

use aws_smithy_async::rt::sleep::{AsyncSleep, TokioSleep};
use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use test_support::fault_proxy::{Fault, FaultProxy};
use tokio::io::AsyncBufReadExt;

/// One SDK's client.
struct Peer {
    name: &'static str,
    /// The client program (`peers/README.md`).
    program: &'static str,
    /// A documented switch turned on (a variable the client reads), for a row of its own.
    switch: Option<(&'static str, &'static str)>,
    /// How its credentials are made, for the tables.
    credentials: &'static str,
    /// How long before expiry it starts refreshing, as documented in its sources.
    refresh_window: Duration,
    /// Where that is documented.
    documented: &'static str,
}

const PEERS: &[Peer] = &[
    Peer {
        name: "js-v2",
        program: "js-v2",
        switch: None,
        credentials: "`AWS.ChainableTemporaryCredentials`",
        refresh_window: Duration::from_secs(15),
        documented: "`AWS.Credentials.expiryWindow` = 15 s, on the caller",
    },
    Peer {
        name: "js-v2, expiryWindow 300",
        program: "js-v2",
        switch: Some(("PEER_EXPIRY_WINDOW", "300")),
        credentials: "the same, `expiryWindow = 300`",
        refresh_window: Duration::from_secs(300),
        documented: "`expiryWindow` set to 300 s, on the caller",
    },
    Peer {
        name: "js-v3",
        program: "js-v3",
        switch: None,
        credentials: "`fromTemporaryCredentials`",
        refresh_window: Duration::from_secs(300),
        documented: "the client's memoized provider: 5 min before expiry, on the caller",
    },
    Peer {
        name: "boto3",
        program: "boto3",
        switch: None,
        credentials: "assume-role profile",
        refresh_window: Duration::from_secs(900),
        documented: "botocore `RefreshableCredentials`: advisory 15 min, mandatory 10 min, on the caller",
    },
    Peer {
        name: "aws-config",
        program: "aws-config",
        switch: None,
        credentials: "`AssumeRoleProvider` behind the identity cache",
        refresh_window: Duration::from_secs(15),
        documented: "`LazyCache` buffer 10 s + up to 5 s jitter, on the caller",
    },
    Peer {
        name: "aws-config, buffer_time 5 min",
        program: "aws-config",
        switch: Some(("PEER_BUFFER_TIME", "300")),
        credentials: "the same, `IdentityCache::lazy().buffer_time(5 min)`",
        refresh_window: Duration::from_secs(450),
        documented: "buffer 5 min + up to 2.5 min jitter, on the caller",
    },
    Peer {
        name: "chainable",
        program: "chainable",
        switch: None,
        credentials: "`ChainableTemporaryCredentials` behind the identity cache",
        refresh_window: Duration::from_secs(300),
        documented: "advisory window 5 min (for a 20-min session), in the background",
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Steady,
    Outage,
    Shared,
}

struct Options {
    lifetime: Option<Duration>,
    duration: Duration,
    sts_latency: Duration,
    smoke: bool,
    benchmarks: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        lifetime: Some(Duration::from_secs(20 * 60)),
        duration: Duration::ZERO,
        sts_latency: Duration::from_secs(4),
        smoke: false,
        benchmarks: None,
    };
    let mut duration = None;
    while let Some(arg) = args.next() {
        let mut seconds = |name: &str| -> Result<Duration, String> {
            let value = args.next().ok_or(format!("{name} needs seconds"))?;
            value
                .parse::<f64>()
                .map(Duration::from_secs_f64)
                .map_err(|_| format!("{name}: {value:?} is not a number of seconds"))
        };
        match arg.as_str() {
            "--lifetime" => options.lifetime = Some(seconds("--lifetime")?),
            "--duration" => duration = Some(seconds("--duration")?),
            "--sts-latency" => options.sts_latency = seconds("--sts-latency")?,
            "--smoke" => options.smoke = true,
            "--benchmarks" => {
                options.benchmarks = Some(args.next().ok_or("--benchmarks needs a file")?.into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.smoke {
        options.lifetime = None;
    }
    options.duration = match (duration, options.lifetime) {
        (Some(duration), _) => duration,
        (None, _) if options.smoke => Duration::from_secs(8),
        (None, Some(lifetime)) => lifetime + Duration::from_secs(120),
        (None, None) => Duration::from_secs(60),
    };
    Ok(options)
}

/// What the harness is given by `scripts/peers.sh`.
struct Environment {
    root: PathBuf,
    moto: String,
    region: String,
    role_arn: String,
    base_key_id: String,
    base_secret: String,
    python: String,
    node_path: String,
    rust_bins: PathBuf,
}

fn environment() -> Result<Environment, String> {
    let env = aws_types::os_shim_internal::Env::real();
    let var = |name: &str| {
        env.get(name)
            .map_err(|_| format!("{name} is not set (run scripts/peers.sh)"))
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Ok(Environment {
        root: root.canonicalize().map_err(|e| e.to_string())?,
        moto: var("PEERS_MOTO_ENDPOINT")?,
        region: var("PEERS_REGION")?,
        role_arn: var("PEERS_ROLE_ARN")?,
        base_key_id: var("PEERS_BASE_ACCESS_KEY_ID")?,
        base_secret: var("PEERS_BASE_SECRET_ACCESS_KEY")?,
        python: var("PEERS_PYTHON")?,
        node_path: var("PEERS_NODE_PATH")?,
        rust_bins: exe
            .parent()
            .ok_or("no directory for the harness")?
            .to_owned(),
    })
}

/// One request a client reported.
#[derive(Clone, Copy)]
struct Call {
    at: SystemTime,
    took: Duration,
    ok: bool,
}

/// One client process's run.
struct Run {
    peer: &'static Peer,
    scenario: Scenario,
    calls: Vec<Call>,
    sts_calls: usize,
    /// The outage, if the scenario had one.
    outage: Option<(SystemTime, SystemTime)>,
    exit_ok: bool,
    errors: String,
}

fn now() -> SystemTime {
    SystemTimeSource::new().now()
}

fn command(env: &Environment, peer: &Peer) -> tokio::process::Command {
    let peers = env.root.join("peers");
    let program = match peer.program {
        "js-v2" | "js-v3" => PathBuf::from("node"),
        "boto3" => PathBuf::from(&env.python),
        name => env.rust_bins.join(name.replace('-', "_")),
    };
    let mut command = tokio::process::Command::new(program);
    // Nothing from the harness's environment but PATH; each client's settings are its own.
    command
        .env_clear()
        .env(
            "PATH",
            aws_types::os_shim_internal::Env::real()
                .get("PATH")
                .unwrap_or_default(),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some((name, value)) = peer.switch {
        command.env(name, value);
    }
    match peer.program {
        "js-v2" | "js-v3" => {
            command
                .arg(peers.join(format!("node/{}.js", peer.program.replace('-', "_"))))
                .env("NODE_PATH", &env.node_path)
                .env("NODE_NO_WARNINGS", "1")
                // JS v2's notice that it is in maintenance mode.
                .env("AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE", "1");
        }
        "boto3" => {
            command.arg(peers.join("python/boto3_profile.py"));
        }
        _ => {}
    }
    command
}

async fn run_one(
    env: &Environment,
    options: &Options,
    peer: &'static Peer,
    scenario: Scenario,
) -> Run {
    let proxy = FaultProxy::start(&env.moto).await;
    if let Some(lifetime) = options.lifetime {
        proxy.shorten_sessions(lifetime);
    }
    let clients = if scenario == Scenario::Shared { 10 } else { 1 };
    let mut child = command(env, peer)
        .env("PEER_ROLE_ARN", &env.role_arn)
        .env("PEER_SESSION_NAME", session_name(peer, scenario))
        .env("PEER_BASE_ACCESS_KEY_ID", &env.base_key_id)
        .env("PEER_BASE_SECRET_ACCESS_KEY", &env.base_secret)
        .env("PEER_STS_ENDPOINT", &proxy.endpoint)
        .env("PEER_S3_ENDPOINT", &env.moto)
        .env("PEER_REGION", &env.region)
        .env("PEER_CLIENTS", clients.to_string())
        .env("PEER_DURATION", options.duration.as_secs_f64().to_string())
        .env("PEER_INTERVAL", "2")
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {} client: {e}", peer.name));
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let lines = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut calls = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            // A request's line; the summary line a client ends with is for its own reader.
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if value.get("t").is_none() {
                continue;
            }
            calls.push(Call {
                at: UNIX_EPOCH + Duration::from_millis(value["t"].as_u64().unwrap_or(0)),
                took: Duration::from_millis(value["ms"].as_u64().unwrap_or(0)),
                ok: value["ok"] == true,
            });
        }
        calls
    });

    // The faults, on the time of the first session.
    let mut outage = None;
    if options.lifetime.is_some() || scenario == Scenario::Steady {
        let sleep = TokioSleep::new();
        let mut first_session = None;
        for _ in 0..600 {
            if proxy.sts_requests() > 0 {
                first_session = Some(now());
                break;
            }
            sleep.sleep(Duration::from_millis(100)).await;
        }
        if let (Some(first), Some(lifetime)) = (first_session, options.lifetime) {
            sleep.sleep(Duration::from_secs(5)).await;
            proxy.always(Fault::Latency(options.sts_latency));
            if scenario == Scenario::Outage {
                let expiry = first + lifetime;
                let start = expiry - peer.refresh_window - Duration::from_secs(5);
                let end = expiry - Duration::from_secs(2);
                outage = Some((start, end));
                let wait = |until: SystemTime| until.duration_since(now()).unwrap_or_default();
                sleep.sleep(wait(start)).await;
                proxy.always(Fault::Status(503, "ServiceUnavailable"));
                sleep.sleep(wait(end)).await;
                proxy.always(Fault::Latency(options.sts_latency));
            }
        }
    }
    let status = child.wait().await;
    Run {
        peer,
        scenario,
        calls: lines.await.unwrap_or_default(),
        sts_calls: proxy.sts_requests(),
        outage,
        exit_ok: status.map(|s| s.success()).unwrap_or(false),
        errors: errors.await.unwrap_or_default(),
    }
}

/// The client's role session name: its name and scenario, in STS's characters.
fn session_name(peer: &Peer, scenario: Scenario) -> String {
    format!("peer-{}-{scenario:?}", peer.name)
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize]
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A request that took this long waited for STS (which answers in `--sts-latency`): all but
/// half a second of it, which no S3 call on loopback comes near.
fn waited_for_sts(options: &Options) -> Duration {
    options
        .sts_latency
        .saturating_sub(Duration::from_millis(500))
}

fn tables(runs: &[Run], options: &Options) -> String {
    let lifetime = options
        .lifetime
        .map(|l| format!("{} min", l.as_secs() / 60))
        .unwrap_or_else(|| "as issued (unshortened)".into());
    let mut out = format!(
        "Sessions {lifetime}; each client runs {} s, an S3 `ListBuckets` every 2 s; STS answers in \
         {} s once the first session is issued.\n\n",
        options.duration.as_secs(),
        options.sts_latency.as_secs()
    );
    out.push_str(&format!(
        "| SDK | credentials | STS calls | requests | failures | p50 | p99 | first request | \
         worst after it | waited for STS (over {} s, after the first) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        waited_for_sts(options).as_secs_f64()
    ));
    for run in runs.iter().filter(|r| r.scenario == Scenario::Steady) {
        let mut took: Vec<Duration> = run.calls.iter().map(|c| c.took).collect();
        took.sort();
        // The first request makes the first session and starts the client (with every other
        // client of the run starting at the same moment): apart from the refresh waits.
        let after_first: Vec<Duration> = run.calls.iter().skip(1).map(|c| c.took).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            run.peer.name,
            run.peer.credentials,
            run.sts_calls,
            run.calls.len(),
            run.calls.iter().filter(|c| !c.ok).count(),
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 99.0)),
            ms(run.calls.first().map(|c| c.took).unwrap_or_default()),
            ms(after_first.iter().max().copied().unwrap_or_default()),
            after_first
                .iter()
                .filter(|t| **t >= waited_for_sts(options))
                .count(),
        ));
    }
    if runs.iter().any(|r| r.scenario == Scenario::Outage) {
        out.push_str(
            "\nAn STS outage (503) from 5 s before each SDK's documented refresh point until 2 s \
             before its first session expires — the session is valid throughout:\n\n\
             | SDK | refresh (documented) | outage | requests during it | failed during it | worst during it |\n\
             |---|---|---|---|---|---|\n",
        );
        for run in runs.iter().filter(|r| r.scenario == Scenario::Outage) {
            let Some((start, end)) = run.outage else {
                continue;
            };
            let during: Vec<&Call> = run
                .calls
                .iter()
                .filter(|c| c.at >= start && c.at <= end)
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} s | {} | {} | {} |\n",
                run.peer.name,
                run.peer.documented,
                end.duration_since(start).unwrap_or_default().as_secs(),
                during.len(),
                during.iter().filter(|c| !c.ok).count(),
                ms(during.iter().map(|c| c.took).max().unwrap_or_default()),
            ));
        }
    }
    if runs.iter().any(|r| r.scenario == Scenario::Shared) {
        out.push_str(
            "\n10 clients (threads) in one process sharing the SDK's one credentials object, as \
             its docs show:\n\n| SDK | STS calls in the run | requests | failures |\n|---|---|---|---|\n",
        );
        for run in runs.iter().filter(|r| r.scenario == Scenario::Shared) {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                run.peer.name,
                run.sts_calls,
                run.calls.len(),
                run.calls.iter().filter(|c| !c.ok).count(),
            ));
        }
    }
    out
}

/// Replaces the text between `<!-- peers:begin -->` and `<!-- peers:end -->` in `file`.
fn write_between_markers(file: &Path, text: &str) -> Result<(), String> {
    let (begin, end) = ("<!-- peers:begin -->", "<!-- peers:end -->");
    let old = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (Some(b), Some(e)) = (old.find(begin), old.find(end)) else {
        return Err(format!("{} has no peers markers", file.display()));
    };
    let new = format!("{}{begin}\n{text}{}", &old[..b], &old[e..]);
    std::fs::write(file, new).map_err(|e| format!("{}: {e}", file.display()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let options = options()?;
    let env = environment()?;
    let scenarios: &[Scenario] = if options.smoke {
        &[Scenario::Steady]
    } else {
        &[Scenario::Steady, Scenario::Outage, Scenario::Shared]
    };
    let (env, options) = (std::sync::Arc::new(env), std::sync::Arc::new(options));
    let mut tasks = Vec::new();
    for scenario in scenarios {
        for peer in PEERS {
            let (env, options, scenario) = (env.clone(), options.clone(), *scenario);
            tasks.push(tokio::spawn(async move {
                run_one(&env, &options, peer, scenario).await
            }));
        }
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.map_err(|e| e.to_string())?);
    }
    let mut broken = Vec::new();
    for run in &runs {
        let served = run.calls.iter().filter(|c| c.ok).count();
        if !run.exit_ok || served == 0 {
            broken.push(format!(
                "{} ({:?}): exit ok {}, {served} requests served; stderr: {}",
                run.peer.name,
                run.scenario,
                run.exit_ok,
                run.errors
                    .lines()
                    .rev()
                    .take(12)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    let text = tables(&runs, &options);
    println!("{text}");
    let results = env.root.join("target/bench-results");
    let _ = std::fs::create_dir_all(&results);
    let _ = std::fs::write(results.join("peers.md"), &text);
    if let Some(file) = &options.benchmarks {
        write_between_markers(file, &text)?;
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("some clients did not run: {}", broken.join("; ")))
    }
}

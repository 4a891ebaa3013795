//! object_store's own web identity provider (its `TokenCache`) against this crate's web
//! identity provider through the object_store adapter, side by side in one run against the
//! local server (moto; the non-enforcing one, since AssumeRoleWithWebIdentity is unsigned and
//! the enforcing one refuses unsigned calls): the same role, the same token file, STS answering in 4 s
//! (a fault proxy in front of each: object_store's behind TLS, since it refuses an STS
//! endpoint on plain HTTP), four requesters per store sending `head` every 100 ms.
//!
//! Real time, since object_store's cache reads `Instant::now()`: the proxies shorten every
//! session to 310 s so that a lifetime fits in a run. object_store keeps a credential until
//! 300 s remain, so here it refreshes after 10 s; this crate refreshes in its advisory window
//! (for a 310 s session between 78 s and 194 s), in the background. What is counted: STS calls,
//! requests, and requests that waited (took over 2 s: a local `head` takes milliseconds).
//!
//! `cargo bench -p s3-clients --bench web_identity` runs until this crate's provider has
//! refreshed (about 2 to 4 minutes); `cargo test --benches` runs 15 s, one object_store
//! refresh.

use test_support as support;

use aws_smithy_async::time::{SystemTimeSource, TimeSource};
use chainable_credentials::ChainableTemporaryCredentials;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{Certificate, ClientOptions, ObjectStore, ObjectStoreExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::bench::{report, runtime, test_mode};
use support::fault_proxy::{Fault, FaultProxy};
use support::moto::Moto;

const STS_LATENCY: Duration = Duration::from_secs(4);
const SESSION: Duration = Duration::from_secs(310);
/// A request slower than this waited for STS.
const WAITED: Duration = Duration::from_secs(2);
const REQUESTERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(100);
const OBJECT: &str = "demo/hello.txt";

/// One store's requests: how many, and how long each of those that waited took.
#[derive(Default)]
struct Tally {
    requests: usize,
    waited: Vec<Duration>,
}

/// One side of the comparison: a store and the proxy in front of its STS.
struct Side {
    name: &'static str,
    store: Arc<dyn ObjectStore>,
    proxy: FaultProxy,
    tally: Mutex<Tally>,
}

/// A proxy to the local server answering STS in 4 s with sessions of [`SESSION`].
async fn slow_sts(moto: &Moto, tls: bool) -> FaultProxy {
    let proxy = if tls {
        FaultProxy::start_tls(&moto.endpoint).await
    } else {
        FaultProxy::start(&moto.endpoint).await
    };
    proxy.always(Fault::Latency(STS_LATENCY));
    proxy.shorten_sessions(SESSION);
    proxy
}

/// object_store's own provider, configured as its documentation says (the keys
/// `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ENDPOINT_URL_STS` set), trusting the
/// TLS proxy's CA.
async fn object_stores_own(moto: &Moto, token_file: &std::path::Path) -> Side {
    let proxy = slow_sts(moto, true).await;
    let ca = Certificate::from_pem(proxy.ca_pem().unwrap().as_bytes()).unwrap();
    let store = AmazonS3Builder::new()
        .with_bucket_name(&moto.bucket)
        .with_region(&moto.region)
        .with_endpoint(&moto.endpoint)
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(true)
                .with_root_certificate(ca),
        )
        .with_config(
            AmazonS3ConfigKey::WebIdentityTokenFile,
            token_file.display().to_string(),
        )
        .with_config(AmazonS3ConfigKey::RoleArn, &moto.role_arn)
        .with_config(AmazonS3ConfigKey::RoleSessionName, "object-store")
        .with_config(AmazonS3ConfigKey::StsEndpoint, &proxy.endpoint)
        .build()
        .unwrap();
    Side::new("object_store's WebIdentityProvider", Arc::new(store), proxy)
}

/// This crate's web identity provider, given to object_store as its credential provider.
async fn this_crates(moto: &Moto, token_file: &std::path::Path) -> Side {
    let proxy = slow_sts(moto, false).await;
    let provider = ChainableTemporaryCredentials::builder()
        .region(moto.region())
        .endpoint_url(&proxy.endpoint)
        .role_arn(&moto.role_arn)
        .role_session_name("chainable")
        .web_identity_token_file(token_file)
        .build()
        .unwrap();
    let store = AmazonS3Builder::new()
        .with_bucket_name(&moto.bucket)
        .with_region(&moto.region)
        .with_endpoint(&moto.endpoint)
        .with_allow_http(true)
        .with_credentials(Arc::new(provider))
        .build()
        .unwrap();
    Side::new("chainable-credentials (adapter)", Arc::new(store), proxy)
}

impl Side {
    fn new(name: &'static str, store: Arc<dyn ObjectStore>, proxy: FaultProxy) -> Self {
        Side {
            name,
            store,
            proxy,
            tally: Mutex::default(),
        }
    }

    /// One requester: `head` every [`PAUSE`] until `until`, each timed.
    async fn request_until(&self, until: SystemTime) {
        let clock = SystemTimeSource::new();
        let path = Path::from(OBJECT);
        while clock.now() < until {
            let sent = clock.now();
            let meta = self.store.head(&path).await.unwrap();
            assert_eq!(meta.size, 24, "{}", self.name);
            let took = clock.now().duration_since(sent).unwrap_or_default();
            self.count(took);
            support::pause(PAUSE).await;
        }
    }

    fn count(&self, took: Duration) {
        let mut tally = self.tally.lock().unwrap();
        tally.requests += 1;
        if took > WAITED {
            tally.waited.push(took);
        }
    }

    fn row(&self) -> String {
        let tally = self.tally.lock().unwrap();
        let longest = tally.waited.iter().max().copied().unwrap_or_default();
        format!(
            "| {} | {} | {} | {} | {:.1} s |",
            self.name,
            self.proxy.sts_requests(),
            tally.requests,
            tally.waited.len(),
            longest.as_secs_f64()
        )
    }
}

/// Runs both sides' requesters together until `done` says so (checked every second).
async fn run(sides: &[&Side], done: impl Fn(Duration) -> bool) -> Duration {
    let clock = SystemTimeSource::new();
    let start = clock.now();
    loop {
        let until = clock.now() + Duration::from_secs(1);
        let requesters = sides
            .iter()
            .flat_map(|side| (0..REQUESTERS).map(move |_| side.request_until(until)));
        futures_util::future::join_all(requesters).await;
        let elapsed = clock.now().duration_since(start).unwrap_or_default();
        if done(elapsed) {
            return elapsed;
        }
    }
}

fn main() {
    runtime().block_on(async {
        let moto = Moto::open();
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "eyJ.a-web-identity-token.sig").unwrap();
        let theirs = object_stores_own(&moto, &token_file).await;
        let ours = this_crates(&moto, &token_file).await;
        // Each first session before the clock starts: its 4 s are not a request's.
        for side in [&theirs, &ours] {
            side.store.head(&Path::from(OBJECT)).await.unwrap();
        }
        let full = !test_mode();
        let elapsed = run(&[&theirs, &ours], |elapsed| {
            let refreshed = ours.proxy.sts_requests() >= 2;
            if full {
                (refreshed && elapsed > Duration::from_secs(200)) || elapsed > SESSION
            } else {
                elapsed > Duration::from_secs(15)
            }
        })
        .await;
        let text = format!(
            "object_store's web identity provider against this crate's (STS 4 s, sessions \
             {} s, {REQUESTERS} requesters each, {:.0} s)\n\n\
             | provider | STS calls | requests | waited > 2 s | longest |\n|---|---|---|---|---|\n{}\n{}",
            SESSION.as_secs(),
            elapsed.as_secs_f64(),
            theirs.row(),
            ours.row()
        );
        report("web_identity", &text);
        let waited = |side: &Side| side.tally.lock().unwrap().waited.len();
        // The request that finds the credential within 5 minutes of expiry fetches while
        // holding the cache's lock: at least it waits the whole STS call, at each refresh.
        let refreshes = theirs.proxy.sts_requests() - 1;
        assert!(
            refreshes >= 1 && waited(&theirs) >= refreshes,
            "object_store refreshes on a request, which waits: {text}"
        );
        assert_eq!(waited(&ours), 0, "{text}");
        if full {
            assert!(ours.proxy.sts_requests() >= 2, "ours refreshed: {text}");
        }
    });
}

//! The local servers (moto) and the fixtures `scripts/moto_setup.py` created in them: those
//! `scripts/test.sh` started, passed as `CC_*` environment variables; or, when the environment
//! names none (a plain `cargo test`), servers started for this test process by
//! `scripts/moto_session.py`, which stops them when the process ends.

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_types::region::Region;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Fixtures of an enforcing moto server (signatures and IAM policies checked).
#[derive(Debug, Clone)]
pub struct Moto {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub role_arn: String,
    pub base_access_key_id: String,
    pub base_secret_access_key: String,
    pub admin_access_key_id: String,
    pub admin_secret_access_key: String,
    /// A second user trusted by the S3 role, like the base user.
    pub other_access_key_id: String,
    pub other_secret_access_key: String,
    pub chain_hop_arns: [String; 3],
}

/// The fixtures by name (`CC_ENDPOINT`, `CC_OPEN_BUCKET`, ...), once known.
static FIXTURES: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The fixtures by name.
fn fixtures() -> &'static HashMap<String, String> {
    FIXTURES.get_or_init(|| {
        if super::environment::var("CC_ENDPOINT").is_some() {
            super::environment::vars_with_prefix("CC_")
                .into_iter()
                .collect()
        } else {
            start_servers()
        }
    })
}

/// Installs moto into the checkout's venv (once, ~10 s) and starts the servers for this
/// process; they stop when it ends and the session script's standard input closes.
fn start_servers() -> HashMap<String, String> {
    let (fixtures, session) = start_session();
    // Held until the process exits: then the pipe closes and the servers stop.
    static SESSION: OnceLock<Mutex<Child>> = OnceLock::new();
    let _ = SESSION.set(Mutex::new(session));
    fixtures
}

/// Servers of their own for one test, stopped when dropped: for a test that leaves in them
/// what would disturb the others (moto's `data.json`, which the tests read, fails once it
/// holds an object made by a multipart upload).
pub struct PrivateMoto {
    /// The enforcing server's fixtures.
    pub moto: Moto,
    session: Child,
}

impl PrivateMoto {
    /// Two new servers (enforcing and open), their fixtures made; several seconds.
    pub fn start() -> PrivateMoto {
        let (fixtures, session) = start_session();
        let moto = Moto::from_fixtures("CC_", |name| fixtures.get(name).cloned());
        PrivateMoto { moto, session }
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        // Closing its standard input stops the servers.
        drop(self.session.stdin.take());
        let _ = self.session.wait();
    }
}

/// Starts `scripts/moto_session.py`: the fixtures it printed, and the running script.
fn start_session() -> (HashMap<String, String>, Child) {
    let root = super::repo_root();
    let installed = Command::new("bash")
        .arg(root.join("scripts/moto.sh"))
        .arg("install")
        .status()
        .expect("run scripts/moto.sh install");
    assert!(installed.success(), "scripts/moto.sh install failed");
    let venv = super::environment::var("CC_VENV").map_or_else(|| root.join(".venv"), Into::into);
    let mut session = Command::new(venv.join("bin/python"));
    // boto3 in the set-up would read a developer's AWS_PROFILE or keys; the servers need none.
    for var in super::environment::aws_variables() {
        session.env_remove(var);
    }
    // Its stderr goes to a file, shown if it fails: inherited, it would outlive each test
    // (nextest flags such tests as leaky and waits for them).
    let mut errors = tempfile::tempfile().expect("a temporary file");
    let mut session = session
        .arg(root.join("scripts/moto_session.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(errors.try_clone().expect("a second handle"))
        .spawn()
        .expect("start scripts/moto_session.py");
    let mut fixtures = HashMap::new();
    let stdout = BufReader::new(session.stdout.take().expect("piped"));
    for line in stdout.lines() {
        let line = line.expect("read the fixtures");
        if line == "READY" {
            return (fixtures, session);
        }
        if let Some((name, value)) = line
            .strip_prefix("export ")
            .and_then(|assignment| assignment.split_once('='))
        {
            fixtures.insert(name.to_owned(), value.trim_matches('\'').to_owned());
        }
    }
    let _ = session.wait();
    let mut printed = String::new();
    let _ = errors.seek(SeekFrom::Start(0));
    let _ = errors.read_to_string(&mut printed);
    panic!("scripts/moto_session.py ended without starting the servers:\n{printed}");
}

impl Moto {
    /// The enforcing server.
    pub fn enforcing() -> Self {
        Self::with_prefix("CC_")
    }

    /// The non-enforcing server (for GetSessionToken, whose fixed example key enforcement
    /// rejects).
    pub fn open() -> Self {
        Self::with_prefix("CC_OPEN_")
    }

    fn with_prefix(p: &str) -> Self {
        Self::from_fixtures(p, |name| fixtures().get(name).cloned())
    }

    fn from_fixtures(p: &str, fixture: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            fixture(name).unwrap_or_else(|| panic!("the local server's fixtures have no {name}"))
        };
        Moto {
            endpoint: var(&format!("{p}ENDPOINT")),
            region: var(&format!("{p}REGION")),
            bucket: var(&format!("{p}BUCKET")),
            role_arn: var(&format!("{p}ROLE_ARN")),
            base_access_key_id: var(&format!("{p}BASE_ACCESS_KEY_ID")),
            base_secret_access_key: var(&format!("{p}BASE_SECRET_ACCESS_KEY")),
            admin_access_key_id: var(&format!("{p}ADMIN_ACCESS_KEY_ID")),
            admin_secret_access_key: var(&format!("{p}ADMIN_SECRET_ACCESS_KEY")),
            other_access_key_id: var(&format!("{p}OTHER_ACCESS_KEY_ID")),
            other_secret_access_key: var(&format!("{p}OTHER_SECRET_ACCESS_KEY")),
            chain_hop_arns: [1, 2, 3].map(|n| var(&format!("{p}CHAIN_HOP{n}_ARN"))),
        }
    }

    pub fn region(&self) -> Region {
        Region::new(self.region.clone())
    }

    /// The base user's long-lived keys: allowed sts:AssumeRole, denied S3.
    pub fn base_credentials(&self) -> Credentials {
        Credentials::new(
            &self.base_access_key_id,
            &self.base_secret_access_key,
            None,
            None,
            "moto-base-user",
        )
    }

    pub fn admin_credentials(&self) -> Credentials {
        Credentials::new(
            &self.admin_access_key_id,
            &self.admin_secret_access_key,
            None,
            None,
            "moto-admin",
        )
    }

    /// An S3 client on the local server signing with `provider` (path-style addressing, as
    /// moto on an IP address needs).
    pub fn s3(&self, provider: impl ProvideCredentials + 'static) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.s3_config(provider).build())
    }

    fn s3_config(
        &self,
        provider: impl ProvideCredentials + 'static,
    ) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(self.region())
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(provider)
    }

    /// The names of the buckets S3 lists for `provider`'s credentials (panics if S3 refuses).
    pub async fn bucket_names(&self, provider: impl ProvideCredentials + 'static) -> Vec<String> {
        self.s3(provider)
            .list_buckets()
            .send()
            .await
            .unwrap_or_else(|e| panic!("S3 refused ListBuckets: {e:?}"))
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    }

    /// The ARN STS `GetCallerIdentity` names for `provider`'s credentials (panics if refused).
    pub async fn caller_arn(&self, provider: impl ProvideCredentials + 'static) -> String {
        self.sts(provider)
            .get_caller_identity()
            .send()
            .await
            .unwrap_or_else(|e| panic!("STS refused GetCallerIdentity: {e:?}"))
            .arn()
            .expect("GetCallerIdentity names an ARN")
            .to_owned()
    }

    /// An STS client on the local server signing with `provider`.
    pub fn sts(&self, provider: impl ProvideCredentials + 'static) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version_latest()
                .region(self.region())
                .endpoint_url(&self.endpoint)
                .credentials_provider(provider)
                .build(),
        )
    }
}

impl Moto {
    /// A provider builder assuming `role_arn` on this server with `base` credentials, calling
    /// STS at `endpoint` (this server, or a fault proxy in front of it).
    pub fn role_builder(
        &self,
        base: Credentials,
        role_arn: &str,
        endpoint: &str,
    ) -> chainable_credentials::Builder {
        chainable_credentials::ChainableTemporaryCredentials::builder()
            .base_credentials(base)
            .role_arn(role_arn)
            .region(self.region())
            .endpoint_url(endpoint)
    }

    /// The S3 role with the base user's keys, calling STS at `endpoint`.
    pub fn s3_role_via(&self, endpoint: &str) -> chainable_credentials::Builder {
        self.role_builder(self.base_credentials(), &self.role_arn, endpoint)
    }

    /// An S3 client like [`Moto::s3`] but without the SDK's identity cache, so every request
    /// asks the provider.
    pub fn s3_uncached(&self, provider: impl ProvideCredentials + 'static) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            self.s3_config(provider)
                .identity_cache(aws_sdk_s3::config::IdentityCache::no_cache())
                .build(),
        )
    }
}

/// One session the local server issued with `AssumeRole`, as its state shows it.
#[derive(Debug, Clone)]
pub struct AssumedSession {
    pub access_key_id: String,
    pub session_name: String,
    pub role_arn: String,
    /// The session policy sent with it, as sent.
    pub policy: Option<String>,
}

impl Moto {
    /// Every session the server issued with `AssumeRole` (`GET /moto-api/data.json`): the way
    /// to see what session policy a set of credentials carries, since moto does not evaluate
    /// session policies.
    pub async fn assumed_sessions(&self) -> Vec<AssumedSession> {
        use http_body_util::BodyExt;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let uri: http::Uri = format!("{}/moto-api/data.json", self.endpoint)
            .parse()
            .unwrap();
        let response = client.get(uri).await.expect("moto answers data.json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let state: serde_json::Value = serde_json::from_slice(&body).expect("JSON state");
        state["sts"]["AssumedRole"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|session| AssumedSession {
                access_key_id: session["access_key_id"].as_str().unwrap_or_default().into(),
                session_name: session["session_name"].as_str().unwrap_or_default().into(),
                role_arn: session["role_arn"].as_str().unwrap_or_default().into(),
                policy: session["policy"].as_str().map(str::to_owned),
            })
            .collect()
    }
}

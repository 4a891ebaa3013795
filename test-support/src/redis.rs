//! A real Valkey/Redis server for one test: its own `redis-server` on a free 127.0.0.1 port,
//! with no persistence, stopped when the value is dropped — so a test can stop, pause, flush
//! or tamper with it without disturbing the others. `scripts/redis.sh install` provides the
//! binary (run here once per process, as `scripts/moto.sh install` is for moto).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A running server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    /// The server's own settings beyond the defaults (a password, TLS).
    settings: Vec<String>,
    /// The password of the default user, if it has one (the test's own commands use it).
    password: Option<String>,
    /// With TLS: the directory of the CA, the server's certificate and key.
    tls: Option<tempfile::TempDir>,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server binary, installed on first use.
fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let root = super::repo_root();
            let installed = Command::new("bash")
                .arg(root.join("scripts/redis.sh"))
                .arg("install")
                .status()
                .expect("run scripts/redis.sh install");
            assert!(installed.success(), "scripts/redis.sh install failed");
            ["valkey-server", "redis-server"]
                .iter()
                .flat_map(|name| {
                    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
                        .iter()
                        .map(move |dir| PathBuf::from(dir).join(name))
                })
                .find(|path| path.exists())
                .expect("a redis-server binary after scripts/redis.sh install")
        })
        .clone()
}

/// A short pause in this synchronous set-up code (no runtime here to sleep on).
fn pause(duration: Duration) {
    let (_keep, wait) = std::sync::mpsc::channel::<()>();
    let _ = wait.recv_timeout(duration);
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl RedisServer {
    /// A new server, answering.
    pub fn start() -> RedisServer {
        RedisServer::start_with(Vec::new(), None, None)
    }

    /// A server whose default user needs `password`, and with `acl_user` (`NAME PASSWORD`)
    /// allowed every command on every key.
    pub fn with_passwords(password: &str, (user, user_password): (&str, &str)) -> RedisServer {
        let settings = vec![
            "--requirepass".into(),
            password.into(),
            // Each rule its own argument: the server's command line splits nothing.
            "--user".into(),
            user.into(),
            "on".into(),
            format!(">{user_password}"),
            "~*".into(),
            "+@all".into(),
        ];
        RedisServer::start_with(settings, Some(password.into()), None)
    }

    /// A server that speaks TLS only, with a certificate for 127.0.0.1 issued by a CA of its
    /// own ([`RedisServer::ca_file`]); clients need no certificate. Its URL is `rediss://`.
    pub fn with_tls() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        crate::certificates::LoopbackCertificates::new().write_to(dir.path());
        let file = |name: &str| dir.path().join(name).display().to_string();
        let settings = vec![
            "--tls-port".into(),
            "PORT".into(),
            "--port".into(),
            "0".into(),
            "--tls-cert-file".into(),
            file("server.crt"),
            "--tls-key-file".into(),
            file("server.key"),
            "--tls-ca-cert-file".into(),
            file("ca.crt"),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        RedisServer::start_with(settings, None, Some(dir))
    }

    fn start_with(
        settings: Vec<String>,
        password: Option<String>,
        tls: Option<tempfile::TempDir>,
    ) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            binary: binary(),
            settings,
            password,
            tls,
        };
        server.launch();
        server
    }

    /// The CA that issued a TLS server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.tls
            .as_ref()
            .expect("a TLS server")
            .path()
            .join("ca.crt")
    }

    fn launch(&mut self) {
        let port = self.port.to_string();
        let settings = self
            .settings
            .iter()
            .map(|s| if s == "PORT" { port.clone() } else { s.clone() });
        let mut command = Command::new(&self.binary);
        if self.tls.is_none() {
            command.args(["--port", &port]);
        }
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args(settings)
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .args(["--dir", &std::env::temp_dir().display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        // Ready in milliseconds; up to 10 s on a loaded machine.
        for _ in 0..500 {
            if self.ready() {
                return;
            }
            pause(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Answers PING; a TLS server (which this client cannot speak to): accepts connections.
    fn ready(&self) -> bool {
        if self.tls.is_some() {
            return std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        self.ping()
    }

    fn ping(&self) -> bool {
        self.client()
            .get_connection_with_timeout(Duration::from_millis(200))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// `redis://127.0.0.1:PORT` (`rediss://` with TLS), without credentials.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The test's own client: the default user, with its password if it has one.
    fn client(&self) -> redis::Client {
        let url = match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => self.url(),
        };
        redis::Client::open(url).unwrap()
    }

    /// A connection for the test's own commands (tampering, scanning).
    pub fn connection(&self) -> redis::Connection {
        self.client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    /// Every key and its value (binary), as an attacker with access to the store sees them.
    pub fn everything(&self) -> Vec<(String, Vec<u8>)> {
        self.everything_in(0)
    }

    /// Every key and its value in database `database`.
    pub fn everything_in(&self, database: u8) -> Vec<(String, Vec<u8>)> {
        let mut connection = self.connection();
        let _: () = redis::cmd("SELECT")
            .arg(database)
            .query(&mut connection)
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
        keys.into_iter()
            .filter_map(|key| {
                let value: Option<Vec<u8>> =
                    redis::cmd("GET").arg(&key).query(&mut connection).ok()?;
                value.map(|value| (key, value))
            })
            .collect()
    }

    /// Writes `value` under `key`, as a tampering store would.
    pub fn set(&self, key: &str, value: &[u8]) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query(&mut self.connection())
            .unwrap();
    }

    /// `CONFIG SET name value` (a memory limit, an eviction policy).
    pub fn config(&self, name: &str, value: &str) {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(&mut self.connection())
            .unwrap();
    }

    /// Removes everything.
    pub fn flush(&self) {
        let _: () = redis::cmd("FLUSHALL")
            .query(&mut self.connection())
            .unwrap();
    }

    /// Stops the server (its entries are gone: no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets it go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }
}

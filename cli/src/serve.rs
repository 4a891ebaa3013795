//! The credential server as `exec` and `serve` run it: bound to 127.0.0.1, a new token, the
//! provider's session served from its cache, and the variables that point the SDKs at it.

use crate::args::ServerArgs;
use crate::container_endpoint::Endpoint;
use crate::container_server::{self, DEFAULT_MAX_CONNECTIONS, Limits};
use crate::provider::Failure;
use crate::token::{Token, TokenFile, TokenFileError};
use crate::variables::{SERVER_PID, WINNING_VARIABLES, unset_line};
use aws_types::os_shim_internal::Env;
use chainable_credentials::ChainableTemporaryCredentials;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// A running server. Dropping it stops the server and removes its token file.
pub(crate) struct RunningServer {
    endpoint: Arc<Endpoint>,
    token_file: Option<TokenFile>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl RunningServer {
    /// Binds 127.0.0.1 (`--port`, else a free port) and serves `provider`. With
    /// `--token-file`, the token is written there (or, without a path, in a new private
    /// directory under the user's runtime or cache directory). A `--token-file` that cannot
    /// be used is a bad command line.
    pub(crate) async fn start(
        provider: ChainableTemporaryCredentials,
        args: &ServerArgs,
        env: &Env,
    ) -> Result<RunningServer, Failure> {
        let failed = |reason: String| Failure::Failed(reason.into());
        let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port.unwrap_or(0)));
        let listener = tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(|e| failed(format!("cannot listen on {wanted}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| failed(format!("cannot read the listening address: {e}")))?;
        let token = Token::generate().map_err(failed)?;
        let token_file = token_file(&token, args, env)?;
        let endpoint = Arc::new(Endpoint {
            provider,
            token,
            address,
        });
        let limits = Limits {
            max_connections: container_server::cap_for_this_process(DEFAULT_MAX_CONNECTIONS),
            ..Limits::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(container_server::serve(
            listener,
            endpoint.clone(),
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        tracing::info!(url = endpoint.url(), "serving credentials");
        Ok(RunningServer {
            endpoint,
            token_file,
            stop: Some(stop),
            task,
        })
    }

    /// The variables a client needs: the URL, and the token or the token file's path.
    pub(crate) fn variables(&self) -> Vec<(&'static str, String)> {
        let mut variables = vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", self.endpoint.url())];
        match &self.token_file {
            Some(file) => variables.push((
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                file.path.display().to_string(),
            )),
            None => variables.push((
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                self.endpoint.token.text().to_owned(),
            )),
        }
        variables
    }

    /// What `serve` prints for a shell: `unset` of what would win over the server, then its
    /// variables, the region the shell lacks (`AWS_PROFILE`, which may have given it, is
    /// unset), and the process id that serves them.
    pub(crate) fn shell_lines(&self, pid: u32, region: Option<&str>) -> Vec<String> {
        let mut lines = vec![unset_line(WINNING_VARIABLES)];
        let mut variables = self.variables();
        if let Some(region) = region {
            variables.push(("AWS_REGION", region.to_owned()));
            variables.push(("AWS_DEFAULT_REGION", region.to_owned()));
        }
        variables.push((SERVER_PID, pid.to_string()));
        lines.extend(
            variables
                .iter()
                .map(|(name, value)| crate::output::export(name, value)),
        );
        lines
    }

    /// The token file's path, if the token is handed out in one.
    pub(crate) fn token_file(&self) -> Option<&PathBuf> {
        self.token_file.as_ref().map(|file| &file.path)
    }
}

/// The token file `--token-file` asks for, if any.
fn token_file(token: &Token, args: &ServerArgs, env: &Env) -> Result<Option<TokenFile>, Failure> {
    let path = match &args.token_file {
        None => return Ok(None),
        Some(None) => None,
        // The path goes into a variable: it must be text.
        Some(Some(path)) if path.to_str().is_none() => {
            return Err(Failure::Usage(format!(
                "--token-file {}: not a UTF-8 path",
                path.display()
            )));
        }
        // Absolute: the clients may run in another directory.
        Some(Some(path)) => Some(
            std::path::absolute(path)
                .map_err(|e| Failure::Usage(format!("--token-file {}: {e}", path.display())))?,
        ),
    };
    match TokenFile::write(token, path.as_deref(), || {
        crate::private_dir::default_dir(env, chainable_credentials::file_cache::default_dir())
    }) {
        Ok(file) => Ok(Some(file)),
        Err(TokenFileError::Path(reason)) => Err(Failure::Usage(reason)),
        Err(TokenFileError::Other(reason)) => Err(Failure::Failed(reason.into())),
    }
}

//! The credential server as `exec` and `serve` run it: bound to 127.0.0.1, a new token, the
//! provider's session served from its cache, and the variables that point the SDKs at it.

use crate::args::ServerArgs;
use crate::container_endpoint::Endpoint;
use crate::container_server::{self, Limits};
use crate::token::{Token, TokenFile};
use chainable_credentials::ChainableTemporaryCredentials;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
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
    /// `--token-file`, the token is written there (or under `temp_dir` without a path).
    pub(crate) async fn start(
        provider: ChainableTemporaryCredentials,
        args: &ServerArgs,
        temp_dir: &Path,
    ) -> Result<RunningServer, String> {
        let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port.unwrap_or(0)));
        let listener = tokio::net::TcpListener::bind(wanted)
            .await
            .map_err(|e| format!("cannot listen on {wanted}: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        let token = Token::generate()?;
        let token_file = match &args.token_file {
            // The path goes into a variable: it must be text.
            Some(Some(path)) if path.to_str().is_none() => {
                return Err(format!("--token-file {}: not a UTF-8 path", path.display()));
            }
            None => None,
            Some(path) => {
                // Absolute: the clients may run in another directory.
                let path = path
                    .as_deref()
                    .map(|path| {
                        std::path::absolute(path)
                            .map_err(|e| format!("--token-file {}: {e}", path.display()))
                    })
                    .transpose()?;
                Some(TokenFile::write(&token, path.as_deref(), temp_dir)?)
            }
        };
        let endpoint = Arc::new(Endpoint {
            provider,
            token,
            address,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(container_server::serve(
            listener,
            endpoint.clone(),
            Limits::default(),
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

    /// The token file's path, if the token is handed out in one.
    pub(crate) fn token_file(&self) -> Option<&PathBuf> {
        self.token_file.as_ref().map(|file| &file.path)
    }
}

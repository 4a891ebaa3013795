//! An HTTP client wrapper that counts the requests going through it and keeps their bodies:
//! STS calls are counted at the HTTP layer, in front of the real client.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct CountingClient {
    inner: SharedHttpClient,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Default for CountingClient {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingClient {
    /// Wraps the SDK's default HTTP(S) client.
    pub fn new() -> Self {
        use aws_smithy_http_client::tls;
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        CountingClient {
            inner,
            bodies: Arc::default(),
        }
    }

    /// Requests sent so far.
    pub fn calls(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// Bodies of the requests sent so far.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.bodies.lock().unwrap().push(body);
        self.inner.call(request)
    }
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            bodies: self.bodies.clone(),
        })
    }
}

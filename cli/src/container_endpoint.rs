//! What the credential server answers: the container-credentials protocol that aws-config's
//! `EcsCredentialsProvider`, botocore and the AWS CLI, JS v3's `fromHttp`, Java and Go read
//! from `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN` — `GET`
//! with `Authorization: TOKEN`, answered `{"AccessKeyId", "SecretAccessKey", "Token",
//! "Expiration", "AccountId"}` from the provider's cache.
//!
//! Every request is checked before the provider is asked: its `Host` must be the server's own
//! address (DNS rebinding: a page on an attacker's name that resolves to 127.0.0.1 sends its
//! own name), the method `GET`, the path the server's, the token the server's (compared in
//! constant time). A refusal of the token says what the header must hold (never the token),
//! for the SDKs print the body's message; the other refusals say no more than their status.

use crate::token::Token;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use chainable_credentials::ChainableTemporaryCredentials;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode, Uri};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The path credentials are served on.
pub(crate) const CREDENTIALS_PATH: &str = "/credentials";

/// One server's endpoint: its provider, token and address.
pub(crate) struct Endpoint {
    pub(crate) provider: ChainableTemporaryCredentials,
    pub(crate) token: Token,
    /// The address the server listens on (a loopback address).
    pub(crate) address: SocketAddr,
}

/// Why a request was answered as it was (for the log line; never a secret).
pub(crate) type Outcome = &'static str;

impl Endpoint {
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}{CREDENTIALS_PATH}", self.address)
    }

    /// The answer to one request, and what it was.
    pub(crate) async fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Response<Full<Bytes>>, Outcome) {
        if !self.is_own_host(uri, headers) {
            return (refusal(StatusCode::MISDIRECTED_REQUEST), "another host");
        }
        if method != Method::GET {
            return (refusal(StatusCode::METHOD_NOT_ALLOWED), "not GET");
        }
        if uri.path() != CREDENTIALS_PATH || uri.query().is_some() {
            return (refusal(StatusCode::NOT_FOUND), "another path");
        }
        let Some(given) = headers.get(header::AUTHORIZATION) else {
            let body = token_refusal("MissingToken", "no Authorization header");
            return (json(StatusCode::UNAUTHORIZED, &body), "no token");
        };
        if !self.token.matches(given.as_bytes()) {
            let body = token_refusal("InvalidToken", "the Authorization header is not the token");
            return (json(StatusCode::FORBIDDEN, &body), "wrong token");
        }
        match self.provider.provide_credentials().await {
            Ok(credentials) => (json(StatusCode::OK, &served(&credentials)), "served"),
            Err(error) => {
                // The SDKs report the body's message; the next request tries again (no sooner
                // than the provider's backoff allows).
                let body = serde_json::json!({
                    "code": "CredentialsUnavailable",
                    "message": chainable_credentials::error_line(&error),
                });
                (json(StatusCode::SERVICE_UNAVAILABLE, &body), "no session")
            }
        }
    }

    /// Whether the request is addressed to this server: an absolute-form target's authority
    /// or else the `Host` header must be the listening address, or `localhost` with its port.
    fn is_own_host(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let host = match uri.authority() {
            Some(authority) => authority.as_str().to_owned(),
            None => match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
                Some(host) => host.to_owned(),
                None => return false,
            },
        };
        let port = self.address.port();
        let own = [self.address.to_string(), format!("localhost:{port}")];
        // On port 80 clients leave the port out.
        let portless = [self.address.ip().to_string(), "localhost".to_owned()];
        own.iter().any(|h| host.eq_ignore_ascii_case(h))
            || (port == 80 && portless.iter().any(|h| host.eq_ignore_ascii_case(h)))
    }
}

/// The protocol's answer for `credentials`.
fn served(credentials: &Credentials) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("AccessKeyId".into(), credentials.access_key_id().into());
    out.insert(
        "SecretAccessKey".into(),
        credentials.secret_access_key().into(),
    );
    if let Some(token) = credentials.session_token() {
        out.insert("Token".into(), token.into());
    }
    if let Some(expiration) = credentials.expiry().and_then(rfc3339_seconds) {
        out.insert("Expiration".into(), expiration.into());
    }
    if let Some(account) = credentials.account_id() {
        out.insert("AccountId".into(), account.as_str().into());
    }
    serde_json::Value::Object(out)
}

/// RFC 3339 in whole seconds, rounded down (a reader never believes in a longer session).
fn rfc3339_seconds(time: SystemTime) -> Option<String> {
    let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    aws_smithy_types::DateTime::from(UNIX_EPOCH + Duration::from_secs(seconds))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refused token, with what the header must hold: the SDKs show `message`. Nothing of
/// what was sent is quoted (it may be the token of another server, or a secret).
fn token_refusal(code: &str, what: &str) -> serde_json::Value {
    serde_json::json!({
        "code": code,
        "message": format!(
            "{what}: send the token itself as the Authorization header's whole value (no \
             `Bearer` prefix), from AWS_CONTAINER_AUTHORIZATION_TOKEN or the file \
             AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names; a server started again has a new \
             token"
        ),
    })
}

/// A refusal: the status and an empty body, nothing about why.
pub(crate) fn refusal(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn endpoint(credentials: Credentials) -> Endpoint {
        // A provider that never calls STS: its base is static and the test asks only for
        // answers refused before the provider (and one that it serves from its base).
        let provider = ChainableTemporaryCredentials::builder()
            .base_credentials(SharedCredentialsProvider::new(credentials))
            .region(aws_types::region::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .role_arn("arn:aws:iam::123456789012:role/r")
            .load_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        Endpoint {
            provider,
            token: Token::generate().unwrap(),
            address: "127.0.0.1:4321".parse().unwrap(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[tokio::test]
    async fn requests_are_refused_in_order_before_the_provider_is_asked() {
        let endpoint = endpoint(Credentials::for_tests());
        let token = endpoint.token.text().to_owned();
        let path: Uri = CREDENTIALS_PATH.parse().unwrap();
        let own = [
            ("host", "127.0.0.1:4321"),
            ("authorization", token.as_str()),
        ];
        let cases: Vec<(Method, Uri, HeaderMap, u16, &str)> = vec![
            (
                Method::GET,
                path.clone(),
                headers(&[("authorization", &token)]),
                421,
                "another host",
            ),
            (
                Method::GET,
                path.clone(),
                headers(&[("host", "evil.example:4321"), ("authorization", &token)]),
                421,
                "another host",
            ),
            (
                Method::GET,
                path.clone(),
                headers(&[("host", "127.0.0.1:4322"), ("authorization", &token)]),
                421,
                "another host",
            ),
            (
                Method::GET,
                "http://evil.example:4321/credentials".parse().unwrap(),
                headers(&own),
                421,
                "another host",
            ),
            (Method::POST, path.clone(), headers(&own), 405, "not GET"),
            (
                Method::GET,
                "/".parse().unwrap(),
                headers(&own),
                404,
                "another path",
            ),
            (
                Method::GET,
                "/credentials?x=1".parse().unwrap(),
                headers(&own),
                404,
                "another path",
            ),
            (
                Method::GET,
                path.clone(),
                headers(&[("host", "localhost:4321")]),
                401,
                "no token",
            ),
            (
                Method::GET,
                path.clone(),
                headers(&[("host", "127.0.0.1:4321"), ("authorization", &token[1..])]),
                403,
                "wrong token",
            ),
            (
                Method::GET,
                path.clone(),
                headers(&[
                    ("host", "127.0.0.1:4321"),
                    ("authorization", &format!("Bearer {token}")),
                ]),
                403,
                "wrong token",
            ),
        ];
        for (method, uri, headers, status, outcome) in cases {
            let (answer, said) = endpoint.answer(&method, &uri, &headers).await;
            assert_eq!(
                (answer.status().as_u16(), said),
                (status, outcome),
                "{method} {uri} {headers:?}"
            );
            use http_body_util::BodyExt;
            let body = answer.into_body().collect().await.unwrap().to_bytes();
            if status == 401 || status == 403 {
                // What the header must hold, as JSON the SDKs show; never the token.
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let message = body["message"].as_str().unwrap();
                assert!(message.contains("no `Bearer` prefix"), "{message}");
                assert!(!message.contains(&token[..16]), "{message}");
                let code = if status == 401 {
                    "MissingToken"
                } else {
                    "InvalidToken"
                };
                assert_eq!(body["code"], code);
            } else {
                assert!(body.is_empty(), "a refusal of anything else says nothing");
            }
        }
    }

    #[tokio::test]
    async fn no_session_is_a_503_json_error_without_secrets() {
        let base = Credentials::new("AKIDBASE", "base-secret-key", None, None, "test");
        let endpoint = endpoint(base);
        let token = endpoint.token.text().to_owned();
        let (answer, said) = endpoint
            .answer(
                &Method::GET,
                &CREDENTIALS_PATH.parse().unwrap(),
                &headers(&[("host", "127.0.0.1:4321"), ("authorization", &token)]),
            )
            .await;
        assert_eq!((answer.status().as_u16(), said), (503, "no session"));
        use http_body_util::BodyExt;
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "CredentialsUnavailable");
        let message = body["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(
            !message.contains("base-secret-key") && !message.contains(&token),
            "{message}"
        );
    }

    #[test]
    fn served_json_is_the_protocols() {
        let credentials = Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("token".into()),
            Some(UNIX_EPOCH + Duration::from_millis(1_800_000_000_500)),
            "test",
        );
        let json = served(&credentials);
        assert_eq!(json["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(json["SecretAccessKey"], "secret");
        assert_eq!(json["Token"], "token");
        assert_eq!(
            json["Expiration"], "2027-01-15T08:00:00Z",
            "whole seconds, rounded down"
        );
    }
}

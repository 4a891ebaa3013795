//! An in-process S3 that answers `ListBuckets` and records, for every request, the time on the
//! test's clock and the access key id it was signed with: what an SDK client behind the
//! provider really used.

use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

const LIST_BUCKETS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
    <Owner><ID>fake-owner</ID></Owner><Buckets><Bucket><Name>fake-bucket</Name>\
    <CreationDate>2023-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>\
    </ListAllMyBucketsResult>";

/// The fake S3. Clones share the record.
#[derive(Debug, Clone)]
pub struct FakeS3 {
    clock: SharedTimeSource,
    signed: Arc<Mutex<Vec<(SystemTime, String)>>>,
}

impl FakeS3 {
    pub fn new(clock: impl TimeSource + 'static) -> Self {
        FakeS3 {
            clock: SharedTimeSource::new(clock),
            signed: Arc::default(),
        }
    }

    /// Every request so far: when it came and the access key id that signed it.
    pub fn signed(&self) -> Vec<(SystemTime, String)> {
        self.signed.lock().unwrap().clone()
    }
}

/// The access key id in a SigV4 `Authorization` header.
pub fn signing_key_id(authorization: &str) -> Option<String> {
    let start = authorization.find("Credential=")? + "Credential=".len();
    let end = start + authorization[start..].find('/')?;
    Some(authorization[start..end].to_owned())
}

impl HttpConnector for FakeS3 {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let key = request
            .headers()
            .get("authorization")
            .and_then(signing_key_id)
            .unwrap_or_default();
        self.signed.lock().unwrap().push((self.clock.now(), key));
        let mut response = HttpResponse::new(
            StatusCode::try_from(200).unwrap(),
            SdkBody::from(LIST_BUCKETS),
        );
        response
            .headers_mut()
            .insert("content-type", "application/xml".to_owned());
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FakeS3 {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

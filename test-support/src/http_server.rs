//! The in-process STS ([`FakeSts`]) served over HTTP on 127.0.0.1, for a
//! bench or a test that runs the command as a separate process.

use crate::FakeSts;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

/// Serves `aws` on a free loopback port until the runtime ends; its URL.
pub async fn serve(aws: FakeSts) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let aws = aws.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                        let aws = aws.clone();
                        async move { Ok::<_, Infallible>(answer(&aws, request).await) }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

async fn answer(aws: &FakeSts, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // The fake looks at the body only (`Action=...` is STS).
    let response = aws
        .call(HttpRequest::new(SdkBody::from(body.to_vec())))
        .await
        .expect("the fake STS answers");
    let mut answer = hyper::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    // The fake answers with a streaming body, as a real HTTP client does.
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    answer.body(Full::new(bytes)).unwrap()
}

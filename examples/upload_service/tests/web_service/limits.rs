//! How much of the service one client can hold: a connection must send its request's headers
//! within the header-read timeout (a slow client is cut off, an idle one too), at most
//! `max_connections` are served at once (the others wait until one closes), and an upload is
//! read into one buffer of at most the limit.
//!
//! The connection tests need no AWS: the page (`GET /`) is answered without a session.

use crate::{service, support};

use service::server::Limits;
use service::{Http, app, random_bytes, unique_prefix};
use std::time::Duration;
use support::moto::Moto;
use tokio::io::AsyncReadExt;

/// Bounds every wait for something that must happen; none is reached when the service works.
const BOUND: Duration = Duration::from_secs(10);

fn offline_settings() -> app::Settings {
    app::Settings {
        buckets: vec!["uploads".into()],
        ..app::Settings::default()
    }
}

/// Serves the offline router with `limits`; its URL (the task stops with the test).
async fn serve(limits: Limits) -> String {
    let (url, _task) =
        service::serve_with_limits(service::offline_router(offline_settings()), limits).await;
    url
}

/// Asserts that nothing arrives on `stream` for a while: the server has not taken the
/// connection up. (A check that something does not happen can only look for so long; it
/// cannot pass by accident when the server answers.)
async fn assert_not_served(stream: &mut tokio::net::TcpStream, what: &str) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await;
    assert!(
        read.is_err(),
        "{what}: the server answered or closed: {read:?}"
    );
}

#[tokio::test]
async fn a_client_that_does_not_send_its_headers_in_time_is_cut_off() {
    let url = serve(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    // Half a request line; nothing at all; a complete request and then nothing (keep-alive).
    let mut half = service::raw_connection(&url, "GET / HT").await;
    let mut silent = service::raw_connection(&url, "").await;
    let mut idle = service::raw_connection(&url, &service::get_request(&url, "/")).await;
    assert_eq!(
        service::read_answer(&mut idle, BOUND).await.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "a client that sends its request in time is served"
    );
    for (what, stream) in [
        ("half a request line", &mut half),
        ("nothing", &mut silent),
        ("nothing after a request", &mut idle),
    ] {
        assert_eq!(
            service::read_answer(stream, BOUND).await,
            None,
            "a connection that sent {what} is closed without an answer"
        );
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let url = serve(Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
    })
    .await;
    // Two clients served, their connections kept open: every slot is taken.
    let mut first = service::raw_connection(&url, &service::get_request(&url, "/")).await;
    let mut second = service::raw_connection(&url, &service::get_request(&url, "/")).await;
    for stream in [&mut first, &mut second] {
        assert_eq!(
            service::read_answer(stream, BOUND).await.as_deref(),
            Some("HTTP/1.1 200 OK")
        );
    }
    let mut third = service::raw_connection(&url, &service::get_request(&url, "/")).await;
    assert_not_served(&mut third, "a third connection while two are open").await;

    drop(first);
    assert_eq!(
        service::read_answer(&mut third, BOUND).await.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "served once a slot is free"
    );
    // The other open connection was served all along.
    let mut again = second;
    tokio::io::AsyncWriteExt::write_all(&mut again, service::get_request(&url, "/").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        service::read_answer(&mut again, BOUND).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
}

#[tokio::test]
async fn a_slow_client_cannot_hold_the_only_slot() {
    let url = serve(Limits {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(300),
    })
    .await;
    let mut slow = service::raw_connection(&url, "POST /item HTTP/1.1\r\nHost: ").await;
    let mut next = service::raw_connection(&url, &service::get_request(&url, "/")).await;
    assert_eq!(
        service::read_answer(&mut next, BOUND).await.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "the next client is served once the slow one is cut off"
    );
    assert_eq!(service::read_answer(&mut slow, BOUND).await, None);
}

#[test]
fn the_upload_buffer_is_allocated_once_and_never_beyond_the_limit() {
    const LIMIT: usize = 100_000;
    let fill = |buffer: &mut app::UploadBuffer, total: usize| {
        for chunk in random_bytes(total).chunks(4096) {
            buffer.push(chunk).unwrap();
        }
    };
    // (Content-Length, bytes pushed, capacity at the end)
    let cases = [
        // The request's length (file and form framing) caps at the limit: never regrown.
        (Some(LIMIT as u64 + 300), LIMIT, LIMIT),
        (Some(u64::MAX), LIMIT, LIMIT),
        (Some(60_300), 60_000, 60_300),
        // Without a length, room for the limit.
        (None, 60_000, LIMIT),
        // A length too small (a lying client): one growth, to the limit exactly.
        (Some(10), 60_000, LIMIT),
    ];
    for (length, pushed, capacity) in cases {
        let mut buffer = app::UploadBuffer::new(LIMIT, length);
        fill(&mut buffer, pushed);
        let bytes = buffer.into_vec();
        assert_eq!(bytes.len(), pushed);
        assert_eq!(bytes.capacity(), capacity, "Content-Length {length:?}");
    }
    let mut full = app::UploadBuffer::new(LIMIT, None);
    fill(&mut full, LIMIT);
    assert_eq!(
        full.push(b"x"),
        Err(app::TooLarge),
        "one byte over the limit"
    );
    assert_eq!(full.push(b""), Ok(()));
    assert_eq!(full.into_vec().len(), LIMIT, "the refused byte is not kept");
}

#[tokio::test]
async fn an_upload_of_exactly_the_limit_is_stored_and_one_byte_more_is_not() {
    let moto = Moto::enforcing();
    let settings = app::Settings {
        max_upload_bytes: 50_000,
        ..service::settings(&moto)
    };
    let service = service::start(&moto, settings).await;
    let http = Http::new();
    let prefix = unique_prefix("limit");
    let exact = random_bytes(50_000);
    let stored = http
        .upload(&service.url, &format!("{prefix}exact"), &exact)
        .await;
    assert_eq!(stored["size"], 50_000);
    let over = http
        .post_multipart(
            &format!("{}/item", service.url),
            &[
                service::Part::text("key", &format!("{prefix}over")),
                service::Part::file("file", "over.bin", &random_bytes(50_001)),
            ],
        )
        .await;
    assert_eq!(over.status, 413, "{:?}", over.body);

    let s3 = moto.s3(service.provider.clone());
    let object = s3
        .get_object()
        .bucket(&moto.bucket)
        .key(format!("{prefix}exact"))
        .send()
        .await
        .unwrap();
    assert_eq!(object.body.collect().await.unwrap().into_bytes(), exact);
    let listed = s3
        .list_objects_v2()
        .bucket(&moto.bucket)
        .prefix(&prefix)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [format!("{prefix}exact")],
        "nothing of the refused upload"
    );
}

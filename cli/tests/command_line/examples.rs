//! The examples as a new user runs them, failing: one line of sentences (the error and its
//! causes), never the `Debug` dump Rust prints for an error returned from `main`, and the
//! arguments checked before anything is sent.

use crate::support;

use support::cli::{Home, example_binary as example, finish, stderr};

fn assert_one_line_of_sentences(text: &str) {
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    for dump in [
        "{",
        "DispatchFailure(",
        "ProviderChainError",
        "ServiceError {",
    ] {
        assert!(!text.contains(dump), "{dump:?} in {text:?}");
    }
}

#[tokio::test]
async fn a_bad_argument_is_refused_before_any_request() {
    let home = Home::new();
    let mut command = home.command(example("list_buckets"));
    command
        .arg("nope")
        .env("AWS_REGION", "us-east-1")
        // Nothing listens there: were S3 called first, the error would say so.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example-secret");
    let output = finish(command).await;
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.starts_with("Error: invalid `role_arn`"), "{text}");
    assert_one_line_of_sentences(&text);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("base user"),
        "S3 was not called"
    );
}

#[tokio::test]
async fn no_credentials_and_an_unreachable_server_read_as_one_line() {
    let home = Home::new();
    let run = |with_keys: bool| {
        let mut command = home.command(example("list_buckets"));
        command
            .arg("arn:aws:iam::123456789012:role/s3-reader")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        if with_keys {
            command
                .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
                .env("AWS_SECRET_ACCESS_KEY", "example-secret");
        }
        finish(command)
    };
    for with_keys in [false, true] {
        let output = run(with_keys).await;
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let text = stderr(&output);
        assert!(text.starts_with("Error: "), "{text}");
        assert_one_line_of_sentences(&text);
    }
}

//! The real AWS CLI (and boto3) using the binary as a profile's `credential_process`, against
//! moto with enforcement: each `aws` command is a new process, and the file cache makes them
//! share one AssumeRole.
//!
//! The profile, as the README shows it:
//!
//! ```ini
//! [profile s3-reader]
//! credential_process = chainable-credentials credential-process --source-profile base --role-arn ARN
//! ```
//!
//! Here STS is reached through the counting fault proxy and S3 directly on moto
//! (`endpoint_url` in the profile).

use crate::BINARY;
use crate::support;

use support::cli::{Home, finish, stderr, stdout, venv_bin};
use support::fault_proxy::FaultProxy;
use support::moto::Moto;

/// A home with the base user's keys in profile `base` and profile `s3-reader` whose
/// `credential_process` is the binary.
async fn setup() -> (Moto, Home, FaultProxy) {
    let moto = Moto::enforcing();
    let home = Home::new();
    home.write_credentials(&[(
        "base",
        &moto.base_access_key_id,
        &moto.base_secret_access_key,
    )]);
    let proxy = FaultProxy::start(&moto.endpoint).await;
    home.write_config(&format!(
        "[profile s3-reader]\n\
         credential_process = {BINARY} credential-process --source-profile base --role-arn {role} \
         --session-name aws-cli --region {region} --endpoint-url {sts} --timeout 30s\n\
         region = {region}\n\
         endpoint_url = {s3}\n\
         s3 =\n    addressing_style = path\n",
        role = moto.role_arn,
        region = moto.region,
        sts = proxy.endpoint,
        s3 = moto.endpoint,
    ));
    (moto, home, proxy)
}

/// The access key ids the AWS CLI signed with, from its `--debug` log.
fn signing_key_ids(debug_log: &str) -> Vec<String> {
    debug_log
        .split("Credential=")
        .skip(1)
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn five_aws_s3_ls_runs_share_one_assume_role() {
    let (moto, home, proxy) = setup().await;
    let mut used = Vec::new();
    for run in 0..5 {
        let mut aws = home.command(venv_bin("aws"));
        aws.args(["--profile", "s3-reader", "s3", "ls", "--debug"]);
        let output = finish(aws).await;
        assert!(
            output.status.success(),
            "run {run}: aws s3 ls failed: {}",
            stderr(&output)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            stdout(&output).contains(&moto.bucket),
            "run {run} lists the bucket: {}",
            stdout(&output)
        );
        let keys = signing_key_ids(&stderr(&output));
        assert!(
            !keys.is_empty(),
            "run {run}: no signed request in the debug log"
        );
        used.extend(keys);
    }
    assert_eq!(
        proxy.sts_requests(),
        1,
        "one AssumeRole for five AWS CLI runs"
    );
    assert!(used[0].starts_with("ASIA"), "{used:?}");
    assert!(
        used.iter().all(|k| *k == used[0]),
        "every run used one session: {used:?}"
    );
}

#[tokio::test]
async fn boto3_reads_the_same_profile_and_the_same_cached_session() {
    let (moto, home, proxy) = setup().await;
    let mut aws = home.command(venv_bin("aws"));
    aws.args([
        "--profile",
        "s3-reader",
        "s3",
        "ls",
        &format!("s3://{}/demo/", moto.bucket),
    ]);
    let output = finish(aws).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("hello.txt"), "{}", stdout(&output));

    let script = r#"
import json, boto3
session = boto3.Session(profile_name="s3-reader")
buckets = [b["Name"] for b in session.client("s3").list_buckets()["Buckets"]]
key = session.get_credentials().get_frozen_credentials().access_key
print(json.dumps({"buckets": buckets, "access_key_id": key}))
"#;
    let mut python = home.command(venv_bin("python"));
    python.args(["-c", script]);
    let output = finish(python).await;
    assert!(output.status.success(), "boto3 failed: {}", stderr(&output));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        result["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == moto.bucket.as_str()),
        "{result}"
    );

    let entry = std::fs::read_dir(home.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let cached: serde_json::Value = serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap();
    assert_eq!(result["access_key_id"], cached["AccessKeyId"]);
    assert_eq!(
        proxy.sts_requests(),
        1,
        "the AWS CLI and boto3 shared one AssumeRole"
    );
}

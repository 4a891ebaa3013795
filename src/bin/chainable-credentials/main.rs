//! `chainable-credentials`: temporary credentials from STS for the AWS CLI, the SDKs and shells,
//! cached on disk and shared between processes.
//!
//! ```text
//! chainable-credentials credential-process --role-arn ARN [--source-profile NAME] ...
//! chainable-credentials env --role-arn ARN ...
//! ```
//!
//! Standard output carries the credentials and nothing else; every failure is one line on
//! standard error and a non-zero exit code (2 for a bad command line, 1 for anything else).

mod args;
mod output;
mod recursion;
mod source_profile;
mod terminal_mfa;

use args::{Cli, Command, SessionArgs};
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use chainable_credentials::{
    BuildError, Builder, ChainableTemporaryCredentials, FetchError, Field,
};
use clap::Parser;
use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// STS region used when none is given or configured anywhere: STS serves every account there.
const DEFAULT_REGION: &str = "us-east-1";

/// `--timeout` with `--mfa-serial`: time to read the code off a device and type it.
const DEFAULT_MFA_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let args = cli.command.session();
    if args.verbose {
        log_to_stderr();
    }
    if std::io::stdout().is_terminal() && !args.allow_terminal {
        return fail(
            "standard output is a terminal: the credentials would be shown on screen; use it as \
             a credential_process, with eval \"$(chainable-credentials env ...)\", or pass \
             --allow-terminal",
        );
    }

    let roles: Vec<&str> = args
        .role_arn
        .iter()
        .chain(&args.chain)
        .map(String::as_str)
        .collect();
    // The one place the process's environment is taken; everything below reads it from here.
    let env = Env::real();
    let env_profile = env.get("AWS_PROFILE").ok();
    let identity = recursion::identity(
        args.profile.as_deref(),
        args.source_profile.as_deref(),
        env_profile.as_deref(),
        &roles,
    );
    let inherited = env.get(recursion::STACK_VAR).ok();
    match recursion::enter(inherited.as_deref(), &identity) {
        // SAFETY: no other thread exists yet (the runtime is created below), so nothing can
        // read the environment while it changes.
        Ok(stack) => unsafe { std::env::set_var(recursion::STACK_VAR, stack) },
        Err(reason) => return fail(&reason),
    }

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let fetched = runtime.block_on(credentials(args));
    // A thread of the runtime's blocking pool may still be inside a read no timeout can
    // interrupt — an MFA prompt nobody answers, a DNS lookup that hangs — and dropping the
    // runtime would wait for it: the process would outlive `--timeout`, and the AWS CLI, which
    // waits for its credential_process to exit, with it. Let it go; exiting ends it.
    runtime.shutdown_background();
    let credentials = match fetched {
        Ok(credentials) => credentials,
        Err(error) => return fail(&explain(error.as_ref())),
    };
    let text = match &cli.command {
        Command::CredentialProcess(_) => output::credential_process_json(&credentials),
        Command::Env(_) => output::export_lines(&credentials),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write to standard output: {e}")),
    }
}

/// Builds the provider (from `--profile`, or from the flags; a chain when `--chain` is given)
/// and fetches once.
async fn credentials(args: &SessionArgs) -> Result<Credentials, Box<dyn Error>> {
    let cache_dir = if args.no_cache {
        None
    } else {
        let dir = args
            .cache_dir
            .clone()
            .or_else(chainable_credentials::file_cache::default_dir);
        if dir.is_none() {
            tracing::warn!("neither XDG_CACHE_HOME nor HOME is set: not caching");
        }
        dir
    };
    // A profile's roles may ask for MFA codes too.
    let timeout = args
        .timeout
        .unwrap_or(if args.mfa_serial.is_some() || args.profile.is_some() {
            DEFAULT_MFA_TIMEOUT
        } else {
            chainable_credentials::DEFAULT_LOAD_TIMEOUT
        });
    let policy = args.policy.as_deref().map(policy_text).transpose()?;
    // What every hop shares, and the session parameters of one role.
    let common = |builder: Builder| {
        let mut builder = builder
            .load_timeout(timeout)
            .allow_insecure_endpoint(args.allow_insecure_endpoint);
        builder
            .set_file_cache(cache_dir.clone())
            .set_role_session_name(args.session_name.clone())
            .set_duration(args.duration)
            .set_external_id(args.external_id.clone());
        builder
    };
    // The last role's scoping: the printed session's.
    let last = |mut builder: Builder| {
        builder
            .set_policy(policy.clone())
            .set_policy_arns(Some(args.policy_arns.clone()))
            .set_tags(Some(args.tags.clone()))
            .set_transitive_tag_keys(Some(args.transitive_tag_keys.clone()))
            .set_source_identity(args.source_identity.clone());
        builder
    };
    let first_is_last = args.chain.is_empty();
    let mut first = common(ChainableTemporaryCredentials::builder());
    if first_is_last {
        first = last(first);
    }
    let mut provider = match &args.profile {
        Some(profile) => {
            first
                .set_region(args.region.clone().map(Region::new))
                .set_endpoint_url(args.endpoint_url.clone());
            first
                .profile(profile)
                .mfa_tokens(terminal_mfa::TerminalMfa {
                    serial_number: None,
                })
                .build_from_profile()
                .await
                .map_err(flag_error)?
        }
        None => {
            let settings = sts_settings(args).await.map_err(flag_error)?;
            let region = settings
                .region()
                .cloned()
                .unwrap_or_else(|| Region::from_static(DEFAULT_REGION));
            first = first.configure(&settings).region(region.clone());
            first.set_role_arn(args.role_arn.clone());
            if let Some(profile) = &args.source_profile {
                first = first
                    .base_credentials(source_profile::SourceProfile::new(profile, region.clone()));
            }
            if let Some(serial) = &args.mfa_serial {
                first = first.mfa(
                    serial.clone(),
                    terminal_mfa::TerminalMfa {
                        serial_number: Some(serial.clone()),
                    },
                );
            }
            first.build().map_err(flag_error)?
        }
    };
    for (i, role_arn) in args.chain.iter().enumerate() {
        let mut hop = common(provider.chain().role_arn(role_arn));
        if i + 1 == args.chain.len() {
            hop = last(hop);
        }
        provider = hop.build().map_err(flag_error)?;
    }
    Ok(provider.credentials().await?)
}

/// `--policy`: the JSON itself, or `@FILE`.
fn policy_text(value: &str) -> Result<String, Box<dyn Error>> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("--policy: cannot read {path}: {e}").into()),
        None => Ok(value.to_owned()),
    }
}

/// Region, endpoint, FIPS and dual-stack settings: the flags, else the environment and the
/// profile (`--source-profile`, else `AWS_PROFILE`), read as the library reads a profile's.
async fn sts_settings(args: &SessionArgs) -> Result<SdkConfig, BuildError> {
    let mut builder = ChainableTemporaryCredentials::builder();
    builder
        .set_profile(args.source_profile.clone())
        .set_region(args.region.clone().map(Region::new))
        .set_endpoint_url(args.endpoint_url.clone());
    builder.profile_sts_settings().await
}

/// A build error, with the builder's field named as the command-line flag that set it.
fn flag_error(error: BuildError) -> Box<dyn Error> {
    match error.field().and_then(flag_of) {
        Some(flag) => format!("{flag}: {error}").into(),
        None => error.into(),
    }
}

/// The flag that sets a builder field.
fn flag_of(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::RoleArn => "--role-arn/--chain",
        Field::RoleSessionName => "--session-name",
        Field::Duration => "--duration",
        Field::ExternalId => "--external-id",
        Field::Mfa => "--mfa-serial",
        Field::EndpointUrl => "--endpoint-url",
        Field::Region => "--region",
        Field::FileCache => "--cache-dir",
        Field::Policy => "--policy",
        Field::PolicyArns => "--policy-arn",
        Field::Tags => "--tag",
        Field::TransitiveTagKeys => "--transitive-tag-key",
        Field::SourceIdentity => "--source-identity",
        Field::Profile => "--profile",
        Field::LoadTimeout => "--timeout",
        _ => return None,
    })
}

/// What to print for a failure: one line, and for missing base credentials what to pass.
fn explain(error: &(dyn Error + 'static)) -> String {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(FetchError::NoBaseCredentials {
            profile,
            imds_disabled,
        }) = e.downcast_ref::<FetchError>()
        {
            return format!(
                "no base credentials to call STS with: none in the environment \
                 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the profile `{profile}` \
                 (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and \
                 ~/.aws/credentials), a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS \
                 container endpoint or the EC2 instance metadata{}; pass --source-profile NAME \
                 (a profile with keys) or --profile NAME (a profile that assumes a role), or set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                if *imds_disabled {
                    " (disabled by AWS_EC2_METADATA_DISABLED)"
                } else {
                    ""
                }
            );
        }
        next = e.source();
    }
    one_line(error)
}

/// The error and its causes on one line, without repeating a cause its parent already quotes.
fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn fail(reason: &str) -> ExitCode {
    eprintln!("chainable-credentials: {reason}");
    ExitCode::FAILURE
}

/// Help and version go to standard output as usual; a bad command line is one line and exit 2.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or("bad command line");
    let reason = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("chainable-credentials: {reason} (see --help)");
    ExitCode::from(2)
}

/// `--verbose`: this crate's events (cache hits, STS calls, warnings) on standard error.
fn log_to_stderr() {
    use tracing_subscriber::layer::SubscriberExt;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("chainable_credentials", tracing::Level::DEBUG)
        .with_default(tracing::Level::WARN);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .finish()
        .with(filter);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

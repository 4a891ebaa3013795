//! What the command says when it cannot do what it was asked: one line on standard error, with
//! what to do where the cause is a common mistake, and the exit code (2 for a bad command
//! line, 1 for anything else).

use crate::args::SessionArgs;
use crate::provider::Failure;
use aws_types::os_shim_internal::Env;
use chainable_credentials::FetchError;
use std::error::Error;
use std::process::ExitCode;

/// No session to print or serve: one line, and the exit code (2 for a bad flag).
pub(crate) fn report(env: &Env, args: &SessionArgs, failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(reason) => usage(&reason),
        Failure::Failed(error) => {
            let hint = temporary_base_hint(env, args, error.as_ref());
            let profile_hint = own_credentials_hint(args, error.as_ref());
            fail(&format!("{}{hint}{profile_hint}", explain(error.as_ref())))
        }
    }
}

/// The failures of a chain, as `FetchError`s.
fn fetch_errors<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a FetchError> {
    std::iter::successors(Some(error), |&e| e.source())
        .filter_map(|e| e.downcast_ref::<FetchError>())
}

/// What to print for a failure: one line, and for missing base credentials what to pass.
fn explain(error: &(dyn Error + 'static)) -> String {
    for cause in fetch_errors(error) {
        if let FetchError::NoBaseCredentials {
            profile,
            imds_disabled,
            last_error,
            ..
        } = cause
        {
            return format!(
                "no base credentials to call STS with: none in the environment \
                 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the profile `{profile}` \
                 (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and \
                 ~/.aws/credentials), a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS \
                 container endpoint or the EC2 instance metadata{}{}; pass --source-profile NAME \
                 (a profile with keys) or --profile NAME (a profile that assumes a role, or any \
                 profile to use as it is), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                if *imds_disabled {
                    " (disabled by AWS_EC2_METADATA_DISABLED)"
                } else {
                    ""
                },
                last_error
                    .as_deref()
                    .map(|e| format!(" (the last source tried failed: {e})"))
                    .unwrap_or_default()
            );
        }
    }
    chainable_credentials::error_line(error)
}

/// When STS refused a role to base credentials that are a temporary session from the
/// environment, the likeliest cause: an earlier `eval "$(chainable-credentials env ...)"` in
/// this shell put the role's own session there, and the role is now asked to assume itself.
fn temporary_base_hint(
    env: &Env,
    args: &SessionArgs,
    error: &(dyn Error + 'static),
) -> &'static str {
    let access_denied = fetch_errors(error).any(|f| f.code() == Some("AccessDenied"));
    if access_denied && session_in_environment(env, args) {
        "; the base credentials are a temporary session from the environment \
         (AWS_SESSION_TOKEN is set), perhaps from an earlier `eval \"$(chainable-credentials env \
         ...)\"` in this shell: unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
         (or open a new shell), or pass --source-profile"
    } else {
        ""
    }
}

/// Whether the base credentials come from the environment's keys, and those are a session.
pub(crate) fn session_in_environment(env: &Env, args: &SessionArgs) -> bool {
    let from_environment = args.profile.is_none()
        && args.source_profile.is_none()
        && args.web_identity_token_file.is_none();
    from_environment
        && env
            .get("AWS_SESSION_TOKEN")
            .is_ok_and(|token| !token.trim().is_empty())
}

/// `GetSessionToken` refused on `--source-profile`'s temporary credentials (a
/// `credential_process` or SSO profile): `--profile` serves them as they are.
fn own_credentials_hint(args: &SessionArgs, error: &(dyn Error + 'static)) -> String {
    let refused = fetch_errors(error).any(|f| {
        matches!(
            f,
            FetchError::BaseNotAccepted {
                operation: "GetSessionToken",
                ..
            }
        )
    });
    match (&args.source_profile, refused && args.role_arn.is_none()) {
        (Some(profile), true) => format!(
            "; to serve profile `{profile}`'s own credentials, pass --profile {profile} instead \
             of --source-profile"
        ),
        _ => String::new(),
    }
}

/// One line on standard error, exit code 1.
pub(crate) fn fail(reason: &str) -> ExitCode {
    eprintln!("chainable-credentials: {reason}");
    ExitCode::FAILURE
}

/// A bad command line: one line and exit code 2.
pub(crate) fn usage(reason: &str) -> ExitCode {
    eprintln!("chainable-credentials: {reason} (see --help)");
    ExitCode::from(2)
}

/// Help and version go to standard output as usual; a bad command line is clap's message on
/// one line — its suggestions ("did you mean") and the usage line kept — and exit 2.
pub(crate) fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            usage("a subcommand is required: credential-process, env, exec or serve")
        }
        _ => usage(&one_line_usage(&error.render().to_string())),
    }
}

/// clap's rendered error on one line: the error, its tips as "did you mean", a hint where
/// `exec`'s COMMAND is written without `--` before it, and the usage line.
fn one_line_usage(rendered: &str) -> String {
    let mut said = Vec::new();
    let mut usage_line = None;
    let similar = rendered.contains("tip: a similar");
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(usage) = line.strip_prefix("Usage: ") {
            usage_line = Some(usage.to_owned());
        } else if line.starts_with("For more information") {
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            // "a similar argument exists: '--role-arn'" → "did you mean '--role-arn'?"; the
            // tip about passing a flag as a value misleads when a similar flag exists.
            match tip.split_once(" exists: ") {
                Some((_, suggestion)) => said.push(format!("did you mean {suggestion}?")),
                None if similar => {}
                None => said.push(tip.to_owned()),
            }
        } else {
            said.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
        }
    }
    // A line that ends in ':' introduces the next ("not provided: <COMMAND>...").
    let mut text = said.join("; ").replace(":; ", ": ");
    let exec = usage_line
        .as_deref()
        .is_some_and(|u| u.starts_with("chainable-credentials exec"));
    if exec && !similar && command_without_dashes(rendered) {
        text.push_str(
            "; put `--` before COMMAND: chainable-credentials exec [OPTIONS] -- COMMAND [ARGS]...",
        );
    }
    if let Some(usage) = usage_line {
        text.push_str(&format!("; usage: {usage}"));
    }
    text
}

/// Whether clap's complaint is what a COMMAND written without `--` before it causes: an
/// unexpected word that is not a flag, or COMMAND missing (the words went into `--chain`).
fn command_without_dashes(rendered: &str) -> bool {
    // The complaint only: the usage line names `<COMMAND>` whatever the mistake.
    let rendered = rendered.split("Usage:").next().unwrap_or(rendered);
    let unexpected_word = rendered
        .split("unexpected argument '")
        .nth(1)
        .is_some_and(|rest| !rest.starts_with('-'));
    unexpected_word || rendered.contains("<COMMAND>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn said(args: &[&str]) -> String {
        let error = crate::args::Cli::try_parse_from(args).unwrap_err();
        one_line_usage(&error.render().to_string())
    }

    #[test]
    fn mistakes_get_their_suggestion_and_the_usage_on_one_line() {
        let typo = said(&[
            "chainable-credentials",
            "exec",
            "--role-rn",
            "x",
            "--",
            "true",
        ]);
        assert!(typo.contains("did you mean '--role-arn'?"), "{typo}");
        assert!(!typo.contains("-- --role-rn"), "{typo}");
        assert!(typo.contains("usage: chainable-credentials exec"), "{typo}");
        let subcommand = said(&["chainable-credentials", "exce"]);
        assert!(subcommand.contains("did you mean 'exec'?"), "{subcommand}");
        let no_dashes = said(&[
            "chainable-credentials",
            "exec",
            "--role-arn",
            "x",
            "aws",
            "sts",
        ]);
        assert!(no_dashes.contains("put `--` before COMMAND"), "{no_dashes}");
        let swallowed = said(&[
            "chainable-credentials",
            "exec",
            "--role-arn",
            "x",
            "--chain",
            "y",
            "aws",
        ]);
        assert!(swallowed.contains("put `--` before COMMAND"), "{swallowed}");
        assert!(swallowed.contains("not provided: <COMMAND>"), "{swallowed}");
        let unknown = said(&["chainable-credentials", "exec", "--bogus", "--", "true"]);
        assert!(!unknown.contains("put `--` before COMMAND"), "{unknown}");
        assert!(
            unknown.contains("unexpected argument '--bogus'"),
            "{unknown}"
        );
        for text in [typo, subcommand, no_dashes, swallowed, unknown] {
            assert!(!text.contains('\n'), "{text}");
        }
    }
}

//! Detects a `credential_process` loop: a profile whose `credential_process` runs this command,
//! which reads that profile for its base credentials, which runs this command again…
//!
//! Each run adds what identifies it (where its base credentials come from and which roles it
//! assumes) to an environment variable its children inherit. A run that finds itself already
//! there, or too deep a nesting, stops with a one-line reason instead of forking forever.

/// Carries the stack of runs from a parent process to its children.
pub(crate) const STACK_VAR: &str = "CHAINABLE_CREDENTIALS_STACK";

/// Separates runs in [`STACK_VAR`] (a control character: never in a profile name or an ARN).
const SEPARATOR: char = '\u{1e}';

/// More nested runs than this is a loop even if the runs differ.
pub(crate) const MAX_NESTING: usize = 8;

/// What identifies one run: the source of its base credentials (or the profile whose chain
/// it assumes) and the roles.
pub(crate) fn identity(
    profile: Option<&str>,
    source_profile: Option<&str>,
    env_profile: Option<&str>,
    roles: &[&str],
) -> String {
    let source = match (profile, source_profile, env_profile) {
        (Some(profile), _, _) => format!("role chain of profile {profile}"),
        (None, Some(profile), _) => format!("profile {profile}"),
        (None, None, Some(profile)) => format!("default chain with AWS_PROFILE={profile}"),
        (None, None, None) => "default chain".to_owned(),
    };
    let roles = if roles.is_empty() {
        "GetSessionToken".to_owned()
    } else {
        roles.join(" -> ")
    };
    format!("{source} | {roles}")
}

/// Checks `identity` against the inherited stack; returns the stack to hand to children.
pub(crate) fn enter(inherited: Option<&str>, identity: &str) -> Result<String, String> {
    let stack: Vec<&str> = inherited
        .unwrap_or_default()
        .split(SEPARATOR)
        .filter(|s| !s.is_empty())
        .collect();
    if stack.contains(&identity) {
        return Err(format!(
            "credential_process recursion: the base credentials ({}) run chainable-credentials \
             again with the same arguments; point --source-profile at a profile that does not \
             use this credential_process",
            identity.split(" | ").next().unwrap_or(identity)
        ));
    }
    if stack.len() >= MAX_NESTING {
        return Err(format!(
            "credential_process recursion: chainable-credentials is nested {} levels deep",
            stack.len() + 1
        ));
    }
    let mut next = stack.join(&SEPARATOR.to_string());
    if !next.is_empty() {
        next.push(SEPARATOR);
    }
    next.push_str(identity);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_run_nested_in_itself_is_refused() {
        let me = identity(None, Some("base"), None, &["arn:aws:iam::1:role/r"]);
        let child_env = enter(None, &me).unwrap();
        let error = enter(Some(&child_env), &me).unwrap_err();
        assert!(
            error.contains("recursion") && error.contains("profile base"),
            "{error}"
        );
        assert!(!error.contains('\n'));
    }

    #[test]
    fn different_runs_may_nest_up_to_the_limit() {
        let mut env = None::<String>;
        for level in 0..MAX_NESTING {
            let me = identity(None, Some(&format!("p{level}")), None, &[]);
            env = Some(enter(env.as_deref(), &me).unwrap());
        }
        let error = enter(env.as_deref(), &identity(None, Some("last"), None, &[])).unwrap_err();
        assert!(error.contains("nested 9 levels"), "{error}");
    }

    #[test]
    fn the_default_chain_is_told_apart_by_aws_profile() {
        let a = identity(None, None, Some("a"), &["r"]);
        let b = identity(None, None, Some("b"), &["r"]);
        assert!(enter(Some(&enter(None, &a).unwrap()), &b).is_ok());
    }
}

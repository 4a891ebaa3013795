//! Detects a `credential_process` loop: a profile whose `credential_process` runs this command,
//! which reads that profile for its base credentials, which runs this command again…
//!
//! Each run adds what identifies it (where its base credentials come from and which roles it
//! assumes) to an environment variable its children inherit. A run that finds itself already
//! there, or too deep a nesting, stops with a one-line reason instead of forking forever.

use crate::shared_files::section;

/// Carries the stack of runs from a parent process to its children.
pub(crate) const STACK_VAR: &str = "CHAINABLE_CREDENTIALS_STACK";

/// Separates runs in [`STACK_VAR`] (a control character: never in a profile name or an ARN).
const SEPARATOR: char = '\u{1e}';

/// Marks the copy of itself a run re-executes with the stack set (see [`guard`]): that copy's
/// process id, which `exec` keeps, and which no child of it has.
pub(crate) const REEXEC_VAR: &str = "CHAINABLE_CREDENTIALS_REEXEC";

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

/// What a run does about the stack: `Ok(None)` when it is the copy a run re-executed with its
/// entry already on the stack (`marker`, the inherited [`REEXEC_VAR`], is its own process id
/// `pid`); else the stack with its entry, for [`reexec`] to hand to its children; `Err` when
/// it is a loop.
///
/// The stack reaches the children (the `credential_process` commands aws-config runs for a
/// profile) through the environment they inherit. Setting a variable in a running process is
/// `unsafe` (another thread could be reading the environment), so the run re-executes itself
/// with the variable set instead: one `exec`, about a millisecond.
pub(crate) fn guard(
    inherited: Option<&str>,
    marker: Option<&str>,
    pid: u32,
    identity: &str,
) -> Result<Option<String>, String> {
    if marker == Some(pid.to_string().as_str()) {
        return Ok(None);
    }
    enter(inherited, identity).map(Some)
}

/// The stack this run is nested in, without its own entry: what a process that replaces this
/// run (`serve`'s server in the background) inherits. In the copy a run re-executed
/// (`marker` is its own process id), the inherited stack ends with the copy's own entry.
pub(crate) fn outer_stack(
    inherited: Option<&str>,
    marker: Option<&str>,
    pid: u32,
) -> Option<String> {
    let inherited = inherited?;
    if marker != Some(pid.to_string().as_str()) {
        return Some(inherited.to_owned());
    }
    let outer = inherited
        .rsplit_once(SEPARATOR)
        .map(|(outer, _own)| outer)?;
    Some(outer.to_owned())
}

/// Whether resolving the base credentials of `profile` (the profile the run reads: `--profile`,
/// `--source-profile`, else `AWS_PROFILE` or `default`) may run a `credential_process` — the
/// only way this command can end up running itself. `config` and `credentials` are the two
/// files' texts (empty when missing). Only then is the guard's `exec` worth its millisecond;
/// when in doubt (a chain too long to follow), it may.
pub(crate) fn may_run_credential_process(profile: &str, config: &str, credentials: &str) -> bool {
    let mut name = profile.to_owned();
    for _ in 0..MAX_PROFILE_HOPS {
        let config_section = if name == "default" {
            "default".to_owned()
        } else {
            format!("profile {name}")
        };
        let keys: Vec<(String, String)> = section(config, &config_section)
            .into_iter()
            // `[default]` may also be written `[profile default]` in the config file.
            .chain(section(config, &format!("profile {name}")))
            .chain(section(credentials, &name))
            .collect();
        if keys.iter().any(|(key, _)| key == "credential_process") {
            return true;
        }
        match keys.into_iter().find(|(key, _)| key == "source_profile") {
            Some((_, next)) if next != name => name = next,
            _ => return false,
        }
    }
    true
}

/// Source profiles followed at most by [`may_run_credential_process`].
const MAX_PROFILE_HOPS: usize = 16;

/// Replaces this process by the same program with the same arguments and `stack` in its
/// environment (and [`REEXEC_VAR`] naming this process). Returns only if that fails.
#[cfg(unix)]
pub(crate) fn reexec(stack: &str) -> String {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => return format!("cannot find its own program to guard against recursion: {e}"),
    };
    let error = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .env(STACK_VAR, stack)
        .env(REEXEC_VAR, std::process::id().to_string())
        .exec();
    format!(
        "cannot run itself again ({}) to guard against credential_process recursion: {error}",
        program.display()
    )
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
    fn the_reexecuted_copy_carries_on_and_its_children_are_checked() {
        let me = identity(None, Some("base"), None, &["arn:aws:iam::1:role/r"]);
        let stack = guard(None, None, 100, &me)
            .unwrap()
            .expect("re-execute with the stack");
        assert_eq!(
            guard(Some(&stack), Some("100"), 100, &me),
            Ok(None),
            "the copy"
        );
        let child = guard(Some(&stack), Some("100"), 200, &me);
        assert!(
            child.unwrap_err().contains("recursion"),
            "a child with the same identity"
        );
        let other = identity(None, Some("other"), None, &[]);
        assert!(
            guard(Some(&stack), Some("100"), 200, &other)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn only_a_chain_reaching_a_credential_process_needs_the_guard() {
        let config = "[default]\nregion = eu-west-1\n\
                      [profile reader]\ncredential_process = chainable-credentials credential-process --source-profile base\n\
                      [profile admin]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = middle\n\
                      [profile middle]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = reader\n\
                      [profile  loop ]\nsource_profile = loop\n";
        let credentials = "[base]\naws_access_key_id = AKID\naws_secret_access_key = s\n\
                           [scripted]\ncredential_process = ./get-keys\n";
        let may = |profile| may_run_credential_process(profile, config, credentials);
        assert!(!may("base"), "static keys");
        assert!(
            !may("default"),
            "no credentials at all in the default profile"
        );
        assert!(!may("missing"));
        assert!(may("reader"));
        assert!(may("admin"), "through its source profiles");
        assert!(may("scripted"), "in the credentials file");
        assert!(
            !may("loop"),
            "a profile that is its own source ends the walk"
        );
        assert!(may_run_credential_process(
            "default",
            "[profile default]\ncredential_process = x\n",
            ""
        ));
    }

    #[test]
    fn a_process_that_replaces_the_run_inherits_the_stack_without_it() {
        let outer = identity(None, Some("outer"), None, &[]);
        let me = identity(None, Some("base"), None, &["arn:aws:iam::1:role/r"]);
        let stack = enter(Some(&enter(None, &outer).unwrap()), &me).unwrap();
        // The re-executed copy: its own entry is the last.
        assert_eq!(
            outer_stack(Some(&stack), Some("100"), 100).as_deref(),
            Some(outer.as_str())
        );
        // Not the copy: the stack as inherited.
        assert_eq!(
            outer_stack(Some(&stack), None, 100).as_deref(),
            Some(stack.as_str())
        );
        let alone = enter(None, &me).unwrap();
        assert_eq!(outer_stack(Some(&alone), Some("100"), 100), None);
        assert_eq!(outer_stack(None, None, 100), None);
    }

    #[test]
    fn the_default_chain_is_told_apart_by_aws_profile() {
        let a = identity(None, None, Some("a"), &["r"]);
        let b = identity(None, None, Some("b"), &["r"]);
        assert!(enter(Some(&enter(None, &a).unwrap()), &b).is_ok());
    }
}

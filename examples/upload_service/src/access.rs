//! What each user may do in S3 (with `--users`): its own scoped session, from one
//! [`ScopedSessions`] over the service's base credentials and role, whose session policy
//! allows the user's prefix in the served buckets and nothing else. The role's own policy
//! still bounds it: a session policy can only narrow what the role may do.
//!
//! One STS call per user per session lifetime, however many requests; a user nobody asks for
//! costs nothing once its session is dropped (the cache's idle expiry).

use crate::users::{UserPrefix, Users};
use aws_credential_types::provider::ProvideCredentials as _;
use chainable_credentials::scoped::{PolicyTemplate, Scope, ScopedCredentials, ScopedSessions};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The users, their prefixes and their sessions.
pub struct UserAccess {
    users: Users,
    sessions: ScopedSessions,
    /// Each user's scope, made (and checked) once at start.
    scopes: HashMap<Arc<str>, UserScope>,
}

struct UserScope {
    prefix: Arc<str>,
    scope: Scope,
}

impl fmt::Debug for UserAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAccess")
            .field("users", &self.users)
            .field("sessions", &self.sessions.status())
            .finish()
    }
}

/// A request's authenticated user: its name, its prefix, and the credentials of its scoped
/// session for the request's S3 calls.
#[derive(Clone)]
pub struct User {
    pub name: Arc<str>,
    /// Ends with `/`; every key the user names is under it.
    pub prefix: Arc<str>,
    pub credentials: ScopedCredentials,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl UserAccess {
    /// Each user's scope on `sessions`: session name `{session_name}-{user}` (cut to STS's 64
    /// characters), label the user's name, and the policy allowing its prefix in `buckets`.
    /// Every scope is checked against STS's rules here (the policy's packed size grows with
    /// the buckets and the prefix), so that a user who could never get a session stops the
    /// service at start, not at that user's first request.
    pub fn new(
        users: Users,
        prefix: &UserPrefix,
        sessions: ScopedSessions,
        buckets: &[String],
        session_name: &str,
    ) -> Result<UserAccess, String> {
        let template = prefix_policy(buckets)?;
        let mut scopes = HashMap::new();
        let mut session_names = std::collections::HashSet::new();
        for name in users.names() {
            let user_prefix = prefix.for_user(&name);
            let policy = template
                .fill(&[("prefix", &user_prefix)])
                .map_err(|e| format!("the session policy of user {name}: {e}"))?;
            let mut session = format!("{session_name}-{name}");
            session.truncate(64);
            // STS's 64 characters cut long names: two users must not share one in CloudTrail.
            if !session_names.insert(session.clone()) {
                return Err(format!(
                    "user {name}: its role session name {session:?} (the session name, `-` and \
                     the user, cut to 64 characters) is another user's too; shorten the names"
                ));
            }
            let scope = Scope::new()
                .label(name.to_string())
                .role_session_name(session)
                .policy(policy);
            sessions
                .check(&scope)
                .map_err(|e| format!("the session of user {name}: {e}"))?;
            scopes.insert(
                name,
                UserScope {
                    prefix: Arc::from(user_prefix),
                    scope,
                },
            );
        }
        Ok(UserAccess {
            users,
            sessions,
            scopes,
        })
    }

    /// The user an `Authorization` header's value names, with its session's credentials;
    /// `None` for no user or a scope the sessions refuse (checked at start: not expected).
    pub fn authenticate(&self, authorization: &[u8]) -> Option<User> {
        let name = self.users.authenticate(authorization)?;
        let user = self.scopes.get(&name)?;
        let credentials = self.sessions.provider(&user.scope).ok()?;
        Some(User {
            name,
            prefix: user.prefix.clone(),
            credentials,
        })
    }

    /// The scoped sessions (for their status).
    pub fn sessions(&self) -> &ScopedSessions {
        &self.sessions
    }
}

impl User {
    /// The user's current session (its expiry caps a presigned URL; `/credentials` hands it
    /// out).
    pub async fn session(
        &self,
    ) -> Result<
        aws_credential_types::Credentials,
        aws_credential_types::provider::error::CredentialsError,
    > {
        self.credentials.provide_credentials().await
    }
}

/// The session policy of a user: objects under `{{prefix}}` in each bucket may be read and
/// written, and each bucket listed under `{{prefix}}` only. No spaces: STS form values are
/// sent as they are.
fn prefix_policy(buckets: &[String]) -> Result<PolicyTemplate, String> {
    let objects: Vec<String> = buckets
        .iter()
        .map(|b| format!("\"arn:aws:s3:::{b}/{{{{prefix}}}}*\""))
        .collect();
    let listings: Vec<String> = buckets
        .iter()
        .map(|b| format!("\"arn:aws:s3:::{b}\""))
        .collect();
    let template = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[\
         {{\"Sid\":\"ObjectsUnderThePrefix\",\"Effect\":\"Allow\",\
         \"Action\":[\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":[{}]}},\
         {{\"Sid\":\"ListingUnderThePrefix\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\
         \"Resource\":[{}],\"Condition\":{{\"StringLike\":{{\"s3:prefix\":\"{{{{prefix}}}}*\"}}}}}}]}}",
        objects.join(","),
        listings.join(",")
    );
    PolicyTemplate::new(template).map_err(|e| format!("the users' session policy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_prefix_in_each_bucket_only() {
        let template = prefix_policy(&["one".into(), "two.b".into()]).unwrap();
        let policy: serde_json::Value =
            serde_json::from_str(&template.fill(&[("prefix", "users/alice/")]).unwrap()).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(
            statements[0]["Resource"],
            serde_json::json!([
                "arn:aws:s3:::one/users/alice/*",
                "arn:aws:s3:::two.b/users/alice/*"
            ])
        );
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!(["s3:GetObject", "s3:PutObject"])
        );
        assert_eq!(
            statements[1]["Resource"],
            serde_json::json!(["arn:aws:s3:::one", "arn:aws:s3:::two.b"])
        );
        assert_eq!(
            statements[1]["Condition"]["StringLike"]["s3:prefix"],
            "users/alice/*"
        );
        assert_eq!(statements.len(), 2, "nothing else is allowed");
    }
}

//! [`Scope`]: what one tenant's session is narrowed to, and [`PolicyTemplate`]: a session
//! policy with named placeholders, filled per tenant with JSON-escaped values.

use crate::error::{BuildError, Field};
use crate::request::SessionRequest;
use std::time::Duration;

/// What one scoped session is narrowed to: a session policy, managed policy ARNs, session tags
/// and the rest of `AssumeRole`'s scoping parameters, and a label (a tenant id) that names the
/// scope in status and in the refresh listener. Values set here win over those of the
/// [`Builder`](crate::Builder) the sessions were built from; the role, too, may differ per
/// scope. Two scopes are the same scope — one cached session — when every value, the label
/// included, is the same.
///
/// Checked when it is first used ([`ScopedSessions::credentials`](crate::scoped::ScopedSessions::credentials)
/// or [`provider`](crate::scoped::ScopedSessions::provider)), with the rules `build()` applies; later
/// uses of the same scope find it cached and check nothing again.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    pub(crate) label: Option<Box<str>>,
    pub(crate) request: SessionRequest,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("label", &self.label)
            .field("request", &self.request)
            .finish()
    }
}

impl Scope {
    /// A scope that narrows nothing: the builder's parameters as they are.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the scope (a tenant id) in status and in the refresh listener. Part of what
    /// makes the scope: two tenants with the same policy still get sessions of their own.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(Into::<String>::into(label).into());
        self
    }

    /// The inline session policy (JSON), e.g. one filled from a [`PolicyTemplate`].
    pub fn policy(mut self, json: impl Into<String>) -> Self {
        self.request.policy = Some(Into::<String>::into(json).into());
        self
    }

    /// Adds a managed policy ARN (`PolicyArns`).
    pub fn policy_arn(mut self, arn: impl Into<String>) -> Self {
        self.request.policy_arns.push(arn.into());
        self
    }

    /// Adds a session tag (for attribute-based access control).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a transitive tag key (one of the session tags).
    pub fn transitive_tag_key(mut self, key: impl Into<String>) -> Self {
        self.request.transitive_tag_keys.push(key.into());
        self
    }

    /// The session name (`RoleSessionName`): what CloudTrail shows for the tenant's calls.
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        self.request.role_session_name = Some(Into::<String>::into(name).into());
        self
    }

    /// The source identity (`SourceIdentity`).
    pub fn source_identity(mut self, id: impl Into<String>) -> Self {
        self.request.source_identity = Some(Into::<String>::into(id).into());
        self
    }

    /// The session lifetime (`DurationSeconds`).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.request.duration = Some(duration);
        self
    }

    /// Another role than the builder's.
    pub fn role_arn(mut self, arn: impl Into<String>) -> Self {
        self.request.role_arn = Some(Into::<String>::into(arn).into());
        self
    }

    /// The external id (`ExternalId`) the tenant's role expects: a role in the tenant's own
    /// account, assumed with the id the tenant was given (the confused-deputy guard). Never
    /// printed.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        let id = Some(id.into());
        self.request.change_identity(|i| i.external_id = id);
        self
    }

    /// Checks the scope on `base` (the builder's validated request) and returns the request
    /// it makes: the label's rule, then the request's as `build()` checks a provider's.
    pub(crate) fn request_on(&self, base: &SessionRequest) -> Result<SessionRequest, BuildError> {
        if let Some(label) = &self.label {
            check_label(label)?;
        }
        merged(&self.request, base)
    }
}

/// The longest label: a tenant id, not a document (it is kept per scope and goes into traces).
const MAX_LABEL_CHARS: usize = 256;

/// A label is 1 to 256 characters without control characters: it is kept per scope and written
/// to traces and the listener, where a line break would forge a log line.
fn check_label(label: &str) -> Result<(), BuildError> {
    let len = label.chars().count();
    if len == 0 || len > MAX_LABEL_CHARS {
        return Err(BuildError::invalid(
            Field::ScopedSessions,
            format!("a scope's label must be 1 to {MAX_LABEL_CHARS} characters, got {len}"),
        ));
    }
    if let Some(pos) = label.chars().position(char::is_control) {
        return Err(BuildError::invalid(
            Field::ScopedSessions,
            format!(
                "a scope's label may not contain control characters, but character {} is one",
                pos + 1
            ),
        ));
    }
    Ok(())
}

/// A scope's values on the builder's (`base`, validated): the scope's win, and the result is
/// checked as `build()` checks a provider's.
pub(crate) fn merged(
    scope: &SessionRequest,
    base: &SessionRequest,
) -> Result<SessionRequest, BuildError> {
    let mut request = scope.clone();
    request.fill_unset_from(base.clone());
    request.validate()
}

/// A session policy with named placeholders, `{{name}}`, each standing for a JSON string's
/// content: a tenant's values are JSON-escaped when filled in, so no value can end the string
/// and add statements, and a value with an IAM wildcard (`*`, `?`) or a policy variable (`$`)
/// is refused, so none can widen a resource to other tenants'. Checked at creation (the template with every placeholder filled must
/// be a JSON object; names are `[A-Za-z0-9_]`); [`fill`](Self::fill) checks that every
/// placeholder gets a value and returns the policy, which [`Scope::policy`] then takes (and
/// STS's packed-size limit is checked when the scope is used).
///
/// ```
/// use chainable_credentials::scoped::PolicyTemplate;
///
/// let template = PolicyTemplate::new(r#"{"Version":"2012-10-17","Statement":[{
///     "Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
///     "Resource":"arn:aws:s3:::uploads/tenants/{{tenant}}/*"}]}"#)?;
/// let policy = template.fill(&[("tenant", "acme")])?;
/// assert!(policy.contains("tenants/acme/*"));
/// # Ok::<(), chainable_credentials::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTemplate {
    /// The text between placeholders, and the placeholders' names, in order.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(String),
}

impl PolicyTemplate {
    /// Parses and checks a template.
    ///
    /// # Errors
    /// A [`BuildError`] naming `policy` when a placeholder is malformed (unclosed, empty, a
    /// name outside `[A-Za-z0-9_]`) or the template filled with sample values is not a JSON
    /// policy.
    pub fn new(template: impl Into<String>) -> Result<Self, BuildError> {
        let template = template.into();
        let mut parts = Vec::new();
        let mut rest = template.as_str();
        while let Some(start) = rest.find("{{") {
            parts.push(Part::Text(rest[..start].to_owned()));
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(invalid("has a `{{` without its `}}`"));
            };
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(format!(
                    "has a placeholder named {name:?}: names are 1 or more of [A-Za-z0-9_]"
                )));
            }
            parts.push(Part::Placeholder(name.to_owned()));
            rest = &after[end + 2..];
        }
        parts.push(Part::Text(rest.to_owned()));
        let template = PolicyTemplate { parts };
        // A sample filling must be a policy: a placeholder outside a JSON string, or broken
        // JSON around it, is found now rather than at a tenant's first request.
        let sample = template.render(|_| Some("sample"));
        crate::validation::policy(&sample)
            .map_err(|e| invalid(format!("filled with sample values, {}", e.rule())))?;
        Ok(template)
    }

    /// The names of the placeholders, in order of first appearance.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Placeholder(name) = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// The policy with each placeholder replaced by its value, JSON-escaped.
    ///
    /// # Errors
    /// A [`BuildError`] naming `policy` if a placeholder has no value, a value is given for
    /// no placeholder (a misspelled name would otherwise go unnoticed), or a value holds `*`,
    /// `?` or `$`.
    pub fn fill(&self, values: &[(&str, &str)]) -> Result<String, BuildError> {
        if let Some((name, _)) = values
            .iter()
            .find(|(_, value)| value.contains(['*', '?', '$']))
        {
            return Err(invalid(format!(
                "value for `{name}` holds `*`, `?` or `$`: an IAM wildcard or policy variable \
                 there would widen the policy"
            )));
        }
        let placeholders = self.placeholders();
        if let Some(missing) = placeholders
            .iter()
            .find(|name| !values.iter().any(|(n, _)| n == *name))
        {
            return Err(invalid(format!("has no value for placeholder `{missing}`")));
        }
        if let Some((unknown, _)) = values.iter().find(|(name, _)| !placeholders.contains(name)) {
            return Err(invalid(format!(
                "has no placeholder `{unknown}` (placeholders: {placeholders:?})"
            )));
        }
        Ok(self.render(|name| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)))
    }

    fn render<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Placeholder(name) => {
                    out.push_str(&json_escaped(value_of(name).unwrap_or("")))
                }
            }
        }
        out
    }
}

/// `value` as the content of a JSON string (without the quotes).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn invalid(rule: impl Into<String>) -> BuildError {
    BuildError::invalid(
        Field::Policy,
        format!("the policy template {}", rule.into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/{{tenant}}/*"}]}"#;

    #[test]
    fn values_are_escaped_so_no_tenant_can_add_a_statement() {
        let template = PolicyTemplate::new(TEMPLATE).unwrap();
        assert_eq!(template.placeholders(), ["tenant"]);
        let hostile = r#"x/"}],"Statement2":[{"Effect":"Allow","Action":"s3:GetObject"#;
        let policy = template.fill(&[("tenant", hostile)]).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&policy).unwrap();
        let statements = parsed["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "one statement: {policy}");
        assert_eq!(
            parsed.as_object().unwrap().len(),
            2,
            "no key added: {policy}"
        );
        assert_eq!(
            statements[0]["Resource"].as_str().unwrap(),
            format!("arn:aws:s3:::b/{hostile}/*"),
            "the value stays inside its string"
        );
    }

    #[test]
    fn malformed_templates_and_fillings_are_refused_naming_the_policy() {
        for (template, rule) in [
            (r#"{"a":"{{tenant"}"#, "without its `}}`"),
            (r#"{"a":"{{}}"}"#, "placeholder named \"\""),
            (r#"{"a":"{{ten ant}}"}"#, "[A-Za-z0-9_]"),
            (r#"{"a":{{tenant}}}"#, "filled with sample values"),
            (r#"["{{tenant}}"]"#, "JSON object"),
        ] {
            let error = PolicyTemplate::new(template).unwrap_err();
            assert_eq!(error.field(), Some(Field::Policy));
            assert!(error.to_string().contains(rule), "{template}: {error}");
        }
        let template = PolicyTemplate::new(TEMPLATE).unwrap();
        let missing = template.fill(&[]).unwrap_err().to_string();
        assert!(
            missing.contains("no value for placeholder `tenant`"),
            "{missing}"
        );
        let unknown = template
            .fill(&[("tenant", "a"), ("tennant", "b")])
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("no placeholder `tennant`"), "{unknown}");
        for widening in ["*", "a?", "${aws:username}"] {
            let error = template
                .fill(&[("tenant", widening)])
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("would widen the policy"),
                "{widening}: {error}"
            );
        }
    }

    #[test]
    fn a_scope_wins_over_the_base_and_is_checked_as_build_checks() {
        let mut base = SessionRequest::default();
        base.role_arn = Some("arn:aws:iam::123456789012:role/tenants".into());
        base.role_session_name = Some("backend".into());
        let request = Scope::new()
            .role_session_name("tenant-7")
            .tag("tenant", "7")
            .request_on(&base)
            .unwrap();
        assert_eq!(request.role_session_name.as_deref(), Some("tenant-7"));
        assert_eq!(request.role_arn, base.role_arn);
        let error = Scope::new()
            .tag("aws:x", "1")
            .request_on(&base)
            .unwrap_err();
        assert_eq!(error.field(), Some(Field::Tags));
        let error = Scope::new()
            .policy("not json")
            .request_on(&base)
            .unwrap_err();
        assert_eq!(error.field(), Some(Field::Policy));
        for (label, rule) in [
            (String::new(), "1 to 256 characters, got 0"),
            ("t".repeat(257), "got 257"),
            ("acme\nforged log line".to_owned(), "character 5"),
        ] {
            let error = Scope::new().label(label).request_on(&base).unwrap_err();
            assert_eq!(error.field(), Some(Field::ScopedSessions));
            assert!(error.to_string().contains(rule), "{error}");
        }
        let request = Scope::new()
            .external_id("tenant-7-agreed-id")
            .request_on(&base)
            .unwrap();
        assert_eq!(request.external_id(), Some("tenant-7-agreed-id"));
        let shown = format!("{:?}", Scope::new().external_id("tenant-7-agreed-id"));
        assert!(!shown.contains("agreed"), "{shown}");
    }
}

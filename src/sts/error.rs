//! STS's errors as this crate's typed errors: every failure of the STS call becomes a
//! `CredentialsError` whose source is a [`FetchError`], without keeping the raw response (whose
//! body, for an unparseable success, would hold the secret key).

use crate::error::{FetchError, error_line};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// STS error codes that retrying the same request cannot fix: reported as
/// `CredentialsError::InvalidConfiguration`.
const CONFIGURATION_ERROR_CODES: &[&str] = &[
    "MalformedPolicyDocument",
    "PackedPolicyTooLarge",
    "RegionDisabledException",
    "ValidationError",
];

/// Turns an SDK error into a typed `CredentialsError` without keeping the raw response (whose
/// body, for an unparseable success, would hold the secret key).
pub(super) fn sts_error<E>(
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
) -> CredentialsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        // A successful status whose body could not be deserialized comes back as an unmodeled
        // service error: it is an unusable answer, not a refusal.
        SdkError::ServiceError(context) if context.raw().status().is_success() => {
            CredentialsError::provider_error(FetchError::InvalidResponse {
                operation,
                problem: format!(
                    "the response (HTTP {}) could not be read as an STS answer",
                    context.raw().status().as_u16()
                ),
            })
        }
        SdkError::ServiceError(context) => {
            let err = context.err();
            let raw = context.raw();
            // Some STS-compatible servers (moto among them) wrap errors as
            // `<ErrorResponse><Errors><Error>`, which the SDK's parser does not read: fall back to
            // the first `<Code>`/`<Message>` of the body. Error bodies hold no credentials.
            let body = raw.body().bytes().map(String::from_utf8_lossy);
            let from_body = |tag: &str| body.as_deref().and_then(|b| xml_element(b, tag));
            let code = err.code().map(str::to_owned).or_else(|| from_body("Code"));
            let fetch_error = FetchError::Service {
                operation,
                status: raw.status().as_u16(),
                code: code.clone(),
                message: err
                    .message()
                    .map(str::to_owned)
                    .or_else(|| from_body("Message")),
                request_id: err.meta().request_id().map(str::to_owned),
            };
            if code
                .as_deref()
                .is_some_and(|c| CONFIGURATION_ERROR_CODES.contains(&c))
            {
                CredentialsError::invalid_configuration(fetch_error)
            } else {
                CredentialsError::provider_error(fetch_error)
            }
        }
        SdkError::ResponseError(context) => {
            CredentialsError::provider_error(FetchError::InvalidResponse {
                operation,
                problem: format!(
                    "the response (HTTP {}) could not be read as an STS answer",
                    context.raw().status().as_u16()
                ),
            })
        }
        SdkError::TimeoutError(_) => CredentialsError::provider_error(FetchError::Transport {
            operation,
            detail: "the SDK's operation timeout elapsed".into(),
        }),
        SdkError::ConstructionFailure(_) => {
            CredentialsError::invalid_configuration(FetchError::Transport {
                operation,
                detail: error_line(&error),
            })
        }
        _ => CredentialsError::provider_error(FetchError::Transport {
            operation,
            detail: error_line(&error),
        }),
    }
}

/// Whether STS refused the duration because the session is chained (`ValidationError`
/// mentioning role chaining).
pub(super) fn is_role_chaining_limit(error: &CredentialsError) -> bool {
    matches!(
        crate::error::fetch_error(error),
        Some(FetchError::Service { code: Some(code), message: Some(message), .. })
            if code == "ValidationError" && message.contains("chaining")
    )
}

/// The text of the first `<tag>…</tag>` in `xml`, if any and short (a code or a message). The
/// element is found by its literal tags (an unterminated one is no answer) and its text read
/// with aws-smithy-xml, the SDK's own XML reader, which decodes entities (`&quot;`, `&amp;`).
fn xml_element(xml: &str, tag: &str) -> Option<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let start = xml.find(&open)?;
    let inner = start + open.len();
    let end = inner + xml[inner..].find(&close)? + close.len();
    let mut document = aws_smithy_xml::decode::Document::new(&xml[start..end]);
    let mut element = document.root_element().ok()?;
    let text = aws_smithy_xml::decode::try_data(&mut element).ok()?;
    let text = text.trim();
    (!text.is_empty() && text.len() <= 1024).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::xml_element;

    #[test]
    fn reads_codes_from_either_error_layout() {
        let sts = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
        let moto = "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></ErrorResponse>";
        assert_eq!(xml_element(sts, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_element(sts, "Message").as_deref(), Some("no"));
        assert_eq!(
            xml_element(moto, "Code").as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(xml_element(moto, "Message"), None);
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
        assert_eq!(xml_element("<Code>unterminated", "Code"), None);
        assert_eq!(
            xml_element(
                "<Error><Message>not &quot;allowed&quot; &amp; denied</Message></Error>",
                "Message"
            )
            .as_deref(),
            Some("not \"allowed\" & denied"),
            "entities are decoded"
        );
    }
}

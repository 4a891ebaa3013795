//! Tests against a real local STS, IAM and S3: moto with signatures and IAM policies enforced
//! (and a second, open server where moto needs one), started by `scripts/test.sh` or, when the
//! environment names none, by the first test that needs it (see `support::moto`). Faults are
//! injected by the project's proxy in front of it (`support::fault_proxy`). Each module is one
//! behaviour.

use test_support as support;

mod assume_role;
mod base_credential_failures;
mod behind_sdk_client;
mod chains;
mod default_chain;
mod federation_token;
mod get_session_token;
mod malformed_answers;
mod outage;
mod parameters;
mod presign;
mod saml;
mod scoped_sessions;
mod secrets;
#[cfg(feature = "redis-store")]
mod session_store;
mod slow_sts;
#[cfg(feature = "telemetry")]
mod telemetry;
mod throttling;
mod transport_failures;
mod web_identity;

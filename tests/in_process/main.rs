//! Tests that need nothing outside the process: the provider against an in-process STS
//! (`support::FakeSts`) and S3 (`support::fake_s3`), on injected clocks, plus the offline
//! checks of the builder. Each module is one behaviour.

use test_support as support;

mod background_refresh;
mod behind_sdk_client;
mod build_validation;
mod cancellation;
mod clock_skew;
#[cfg(feature = "file-cache")]
mod file_cache;
mod get_session_token;
mod outage_and_backoff;
mod panics;
mod parameters;
#[cfg(feature = "profile")]
mod profiles;
mod properties;
mod public_api;
mod refresh_windows;
mod scoped_properties;
mod scoped_sessions;
mod secrets;
mod single_flight;
#[cfg(feature = "telemetry")]
mod telemetry;
mod web_identity;

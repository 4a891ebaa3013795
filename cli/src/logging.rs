//! Where the command's log lines go: standard error, warnings always, the rest with `-v`.

/// Warnings always, on standard error: the file cache's (an unusable cache directory), the
/// command's own (no cache directory at all), STS's (a clamped chained duration, an expiry
/// bounded against a lying `Date`). With `--verbose` this crate's events too (file cache hits,
/// STS calls, failed refreshes) and other crates' warnings. Without it, a failed refresh is
/// the one line the command prints, not a warning before it.
///
/// `serve --foreground -v` and `exec -v` also log the server's requests (never a token or a
/// secret); without `-v` a server says nothing but its warnings. A server in the background
/// logs until it has printed its lines, to the `serve` that started it; then its standard
/// error is `/dev/null` (nothing holds the user's terminal or pipe).
pub(crate) fn log_to_stderr(verbose: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    let filter = if verbose {
        tracing_subscriber::filter::Targets::new()
            .with_target("chainable_credentials", tracing::Level::DEBUG)
            .with_target("chainable_credentials_cli", tracing::Level::DEBUG)
            .with_default(tracing::Level::WARN)
    } else {
        // The library's warnings that concern the user (the file cache, STS), and the
        // command's own.
        tracing_subscriber::filter::Targets::new()
            .with_target("chainable_credentials::file_cache", tracing::Level::WARN)
            .with_target("chainable_credentials::session_store", tracing::Level::WARN)
            .with_target("chainable_credentials::sts", tracing::Level::WARN)
            .with_target("chainable_credentials_cli", tracing::Level::WARN)
    };
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_target(false),
        )
        .with(filter);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

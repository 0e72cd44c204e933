//! Logging: one JSON object per line on stdout, with the request id of the
//! span it happened in. Handlers never log bodies, tokens, passwords or
//! e-mail addresses; personal values are in types whose Debug redacts them.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    // sqlx logs statements at INFO by default; ours carry no values (bind
    // parameters), but they are noise.
    let filter = EnvFilter::try_from_env("RAMPART_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stdout);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

//! Logging for every agw binary: one `tracing` subscriber writing to stderr, `text` for
//! people or `json` (one object a line) for log collectors, filtered by `RUST_LOG` (default
//! `info`). Colour codes only when stderr is a terminal: in a file or `kubectl logs` they are
//! noise. When traces are exported, the [`OtelLayer`](crate::otel::layer::OtelLayer) is
//! installed beside the log output with its own filter, so `RUST_LOG` decides what is logged
//! and never which marked spans are exported.
//!
//! Owns the `--log-format` values and the subscriber setup. Must not print anything itself.

use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::otel::layer::OtelLayer;

/// How logs are written to stderr (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people; coloured only on a terminal.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Installs the process-wide subscriber: logs in `format` on stderr, plus `otel` (the span
/// exporter) when traces are on. A second call in the same process is ignored.
pub fn init(format: LogFormat, otel: Option<OtelLayer>) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = match format {
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
        LogFormat::Text => fmt.with_filter(filter).boxed(),
    };
    let otel = otel.map(|layer| layer.with_filter(OtelLayer::filter()));
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum as _;

    use super::*;

    #[test]
    fn the_flag_values_are_text_and_json() {
        let names: Vec<_> = LogFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["text", "json"]);
        assert_eq!(LogFormat::from_str("json", false), Ok(LogFormat::Json));
    }
}

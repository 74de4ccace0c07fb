//! `agw-runtime`: what agw's three binaries (`agw-proxy`, `agw-operator`, `agw-webhook`)
//! share at run time, in one place — as linkerd's controllers share kubert.
//!
//! Owns:
//! - [`logging`]: the `--log-format text|json` flag ([`LogFormat`]) and the one `tracing`
//!   subscriber (stderr, no ANSI codes unless stderr is a terminal, `RUST_LOG` filter), with
//!   the OTLP layer plugged in when traces are exported;
//! - [`shutdown`]: the one shutdown mechanism, a [`tokio_util::sync::CancellationToken`]
//!   cancelled by SIGTERM or ctrl-c (or by the binary itself, e.g. when leadership is lost);
//! - [`serve`]: the accept/drain loop of every server (plain or TLS, HTTP/1.1 or h2), and
//!   [`admin`]: the plain-HTTP admin routes (`/healthz`, `/livez`, `/readyz`, `/metrics`);
//! - [`otel`]: OTLP/HTTP protobuf trace export (configuration from `--otlp-endpoint` and the
//!   `OTEL_*` variables, head sampling, W3C trace context, the batching exporter) and the
//!   [`otel::layer`] that exports `tracing` spans marked `otel.kind`.
//!
//! Must not: know what a Backend, a bundle, a request or an admission review is (the
//! binaries build their own spans and readiness), talk to Kubernetes, or decide a binary's
//! flags beyond the shared ones. No `unsafe`, no `unwrap` outside tests.
#![forbid(unsafe_code)]

pub mod admin;
pub mod logging;
pub mod otel;
pub mod serve;
pub mod shutdown;

pub use self::logging::LogFormat;

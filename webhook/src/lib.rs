//! `agw-webhook`: the validating admission webhook for `Backend` objects.
//!
//! Owns: turning an `admission.k8s.io/v1` AdmissionReview into the compiler's verdict
//! ([`admission`]), serving it over TLS with certificates that reload when their files change
//! ([`tls`], [`server`]), and the plain admin port with probes and metrics ([`metrics`]).
//!
//! Must not: hold a validation rule of its own. Every decision comes from
//! [`agw_policy::compile`], the same function the operator, `agwctl` and the proxy call, so
//! "admitted" and "programmed" cannot disagree. It never reads other objects either: an auth
//! Secret may legitimately be created after the Backend that names it.
#![forbid(unsafe_code)]

pub mod admission;
pub mod metrics;
pub mod server;
pub mod tls;

/// Why the webhook could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate or key file could not be read or used.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] agw_runtime::serve::BindError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

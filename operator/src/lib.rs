//! `agw-operator`: reconciles each `Backend` into a rule bundle Secret, a proxy Deployment and
//! a Service, and reports what it did in the Backend's status.
//!
//! Owns: the controller ([`controller`]) and the cluster reads and writes it shares with the
//! Gateway controller ([`cluster`]), the shape of the objects it programs
//! ([`resources`]), the status it writes ([`status`]), Gateway API support (Gateways of
//! agw's class and their HTTPRoutes, [`gateway`]), leader election over a Lease
//! ([`leader`]), the Events it posts ([`events`]; for the errors proxy pods report:
//! [`proxy_errors`]) and its probes
//! and metrics ([`metrics`]).
//!
//! Must not: decide whether a spec is valid (that is [`agw_policy::compile`], shared with the
//! webhook, so they cannot disagree), program a spec that does not compile, or restart proxies
//! for a bundle change (they reload the mounted Secret).
#![forbid(unsafe_code)]

pub mod client_keys;
pub mod cluster;
pub mod controller;
pub mod events;
pub mod gateway;
pub mod kinds;
pub mod leader;
pub mod metrics;
pub mod proxy_errors;
pub mod resources;
pub mod status;
pub mod stores;
pub mod webhook_certs;

/// Everything a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What the operator was doing, with the object concerned.
        action: String,
        /// What the client said.
        source: kube::Error,
    },
    /// A certificate or key could not be made or read.
    #[error("webhook certificates ({object}): {message}")]
    Pki {
        /// The Secret or configuration concerned.
        object: String,
        /// What went wrong.
        message: String,
    },
    /// The object lacks a field the apiserver always sets.
    #[error("the Backend has no {0}")]
    MissingField(&'static str),
    /// The watches feeding the Gateway controller's index stopped (the operator is stopping).
    #[error("the Gateway controller's watches stopped before its index was filled")]
    IndexClosed,
    /// The watch feeding a cache of the named kind stopped (the operator is stopping).
    #[error("the watch of {0} objects stopped before its cache was filled")]
    CacheClosed(&'static str),
}

impl Error {
    /// The metrics label.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube { .. } => "kube",
            Self::MissingField(_) => "missing-field",
            Self::Pki { .. } => "pki",
            Self::IndexClosed => "index-closed",
            Self::CacheClosed(_) => "cache-closed",
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

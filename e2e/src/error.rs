//! The harness's one error type. Owns: what went wrong while locating binaries, generating
//! certificates, starting/stopping the control plane, talking to it or running kubectl — each
//! with the file, process, resource or command it concerns and, for a process that failed, the
//! tail of its log. Must not: swallow a failure into a retry the caller cannot see (the only
//! retry, on a port race, happens in `envtest::start` and is logged).

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Result alias used by every harness function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the harness can fail with.
///
/// `Debug` prints the same text as `Display`, so `ControlPlane::start().await.expect("…")` in a
/// test shows the log tail as readable lines rather than an escaped string.
#[derive(thiserror::Error)]
pub enum Error {
    /// A binary or file the tests need (built or fetched by a hack/ script) is not there.
    #[error("{what} not found at {}: {hint}", path.display())]
    Missing {
        what: String,
        path: PathBuf,
        hint: String,
    },

    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },

    /// rcgen refused to build a key or certificate.
    #[error("generating {what}: {source}")]
    Certificate { what: String, source: rcgen::Error },

    /// The written kubeconfig could not be turned into a client configuration.
    #[error("loading kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },

    /// A request to the apiserver failed.
    #[error("{context}: {source}")]
    Kube {
        context: String,
        source: kube::Error,
    },

    /// A file the harness reads (a CRD manifest) is not what it expects.
    #[error("{}: {message}", path.display())]
    InvalidManifest { path: PathBuf, message: String },

    /// A control-plane process exited while the harness was waiting for it.
    #[error("{name} exited during start-up ({status}); last lines of {}:\n{tail}", log.display())]
    ProcessExited {
        name: String,
        status: ExitStatus,
        log: PathBuf,
        tail: String,
    },

    /// A control-plane process kept running but never became ready.
    #[error("{name} not ready after {waited:?} ({last_error}); last lines of {}:\n{tail}", log.display())]
    NotReady {
        name: String,
        waited: Duration,
        last_error: String,
        log: PathBuf,
        tail: String,
    },

    /// Something the harness waits for (a CRD to be Established, discovery) did not happen.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },

    /// The apiserver answered, but not with what the API promises.
    #[error("{what}: {message}")]
    UnexpectedResponse { what: String, message: String },

    /// A watch the harness relied on broke.
    #[error("watching {what}: {message}")]
    Watch { what: String, message: String },

    /// A kubectl invocation outlived its time limit and was killed.
    #[error("`kubectl {args}` did not finish within {timeout:?} and was killed")]
    KubectlTimeout { args: String, timeout: Duration },

    /// A kubectl invocation that had to succeed did not.
    #[error("`kubectl {args}` failed ({status}):\n{stderr}")]
    KubectlFailed {
        args: String,
        status: ExitStatus,
        stderr: String,
    },

    /// A helm invocation outlived its time limit and was killed.
    #[error("`helm {args}` did not finish within {timeout:?} and was killed")]
    HelmTimeout { args: String, timeout: Duration },

    /// A helm invocation that had to succeed did not.
    #[error("`helm {args}` failed ({status}):\n{stderr}")]
    HelmFailed {
        args: String,
        status: ExitStatus,
        stderr: String,
    },

    /// A caller-supplied value the harness cannot use.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        what: &'static str,
        value: String,
        reason: String,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn kube(context: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn cert(what: impl Into<String>, source: rcgen::Error) -> Self {
        Error::Certificate {
            what: what.into(),
            source,
        }
    }
}

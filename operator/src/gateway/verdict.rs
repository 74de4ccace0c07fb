//! A condition as the pure parts of the Gateway controller decide it (a route's for one
//! parentRef, a policy's for one target), before `status` turns it into a Kubernetes
//! condition with times and generations. Its own module so those parts share it without
//! importing each other.

/// A condition's status, reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `True` or `False`.
    pub ok: bool,
    /// Reason.
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

//! The proxy's recent faults, for the operator to turn into Kubernetes Events: a bounded ring
//! of the last [`CAPACITY`] requests that failed through no fault of the client — the
//! upstream could not be reached or did not answer in time, answered 5xx, the provider key
//! was missing, the route's backend was unavailable, a request webhook guard's checker failed
//! and the guard failed closed (`guard::webhook::record_failure`) — each with a sequence number that only
//! grows, the time, the backend, the request id the access log writes, a stable kind, the
//! status the client got and a short fixed message. Served on the admin port as
//! `GET /errors?after=<seq>` ([`crate::admin`]).
//!
//! Owns which failure kinds are faults ([`is_fault`]) and the ring. Must not: hold prompt or
//! response text, a key, or anything a client wrote other than the (well-formed) request id —
//! messages are fixed text plus the backend's configured upstream address; record a client
//! rejected by policy (guards, authentication, rate limits, a malformed body: those are agw
//! working, not failing); or slow the request path (a successful request takes no lock).
//!
//! The proxy does not talk to Kubernetes (its pods mount no service account token): the
//! operator polls this endpoint on every ready proxy pod and publishes the Events. A restarted
//! proxy starts a new ring with a new [`Page::instance`], so a poller knows its cursor is
//! stale.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

use crate::access_log::record::Timestamp;

/// Faults kept; older ones are dropped (a poller sees the gap in the sequence numbers).
pub const CAPACITY: usize = 64;
/// Kind of a request the upstream answered with a 5xx status.
pub const UPSTREAM_STATUS: &str = "upstream_status";
/// Kind of a request refused because a webhook guard's checker failed (`FailClosed`).
pub const GUARD_WEBHOOK_FAILED: &str = "guard_webhook_failed";
/// The failure kinds (`error.type` in the access log) that are faults, not a client refused.
const FAULT_KINDS: [&str; 4] = [
    "upstream_connect",
    "upstream_timeout",
    "no_key",
    "backend_unavailable",
];

/// Whether a request that failed with `kind` is a fault worth an operator's attention.
pub fn is_fault(kind: &str) -> bool {
    FAULT_KINDS.contains(&kind)
}

/// One fault, as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecentError {
    /// 1 for the first fault of this process, then one more per fault.
    pub seq: u64,
    /// When the request ended.
    pub time: Timestamp,
    /// The backend (`namespace/name`), empty when the request was not routed.
    pub backend: String,
    /// The request id, as in the access log and the client's `x-request-id`.
    pub request_id: String,
    /// A stable kind: one of [`is_fault`]'s, or [`UPSTREAM_STATUS`].
    pub kind: &'static str,
    /// The status the client got.
    pub status: u16,
    /// A short fixed description (no request content).
    pub message: String,
}

/// The answer of `GET /errors?after=<seq>`.
#[derive(Debug, Serialize)]
pub struct Page {
    /// This process's ring: a different value means the proxy restarted and numbering began
    /// again at 1.
    pub instance: String,
    /// The faults kept with a sequence number above `after`, oldest first.
    pub errors: Vec<RecentError>,
    /// The last sequence number given so far (0 before the first fault): the next `after`.
    pub next: u64,
}

/// The ring; one per proxy, shared by the access log (writer) and the admin port (reader).
#[derive(Debug)]
pub struct RecentErrors {
    instance: String,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    last: u64,
    kept: VecDeque<RecentError>,
}

impl Default for RecentErrors {
    fn default() -> Self {
        Self {
            instance: format!("{:016x}", fastrand::u64(..)),
            ring: Mutex::new(Ring::default()),
        }
    }
}

impl RecentErrors {
    /// Keeps a fault, numbering it and dropping the oldest beyond [`CAPACITY`].
    pub fn push(&self, fault: Fault) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.last += 1;
        let seq = ring.last;
        if ring.kept.len() == CAPACITY {
            ring.kept.pop_front();
        }
        ring.kept.push_back(RecentError {
            seq,
            time: Timestamp(SystemTime::now()),
            backend: fault.backend,
            request_id: fault.request_id,
            kind: fault.kind,
            status: fault.status,
            message: fault.message,
        });
    }

    /// The faults kept after `after`.
    pub fn after(&self, after: u64) -> Page {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        Page {
            instance: self.instance.clone(),
            errors: ring
                .kept
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect(),
            next: ring.last,
        }
    }
}

/// A fault before it is numbered.
#[derive(Debug)]
pub struct Fault {
    pub backend: String,
    pub request_id: String,
    pub kind: &'static str,
    pub status: u16,
    pub message: String,
}

/// What one request's handling learns that decides whether it was a fault; carried by the
/// access-log entry, which already hears of the route, the upstream and the failure.
#[derive(Debug)]
pub struct Watch {
    errors: Arc<RecentErrors>,
    backend: String,
    upstream: Option<String>,
    upstream_status: Option<u16>,
    kind: Option<&'static str>,
}

impl Watch {
    /// A watch reporting to `errors`.
    pub fn new(errors: Arc<RecentErrors>) -> Self {
        Self {
            errors,
            backend: String::new(),
            upstream: None,
            upstream_status: None,
            kind: None,
        }
    }

    /// The backend routed to.
    pub fn backend(&mut self, backend: &str) {
        backend.clone_into(&mut self.backend);
    }

    /// The upstream the request goes to.
    pub fn upstream(&mut self, host: &str, port: u16) {
        self.upstream = Some(format!("{host}:{port}"));
    }

    /// The upstream's status.
    pub fn upstream_status(&mut self, status: u16) {
        self.upstream_status = Some(status);
    }

    /// The first failure kind, as the access log keeps it.
    pub fn fail(&mut self, kind: &'static str) {
        self.kind.get_or_insert(kind);
    }

    /// Keeps the request as a fault when it was one; `status` is what the client got.
    pub fn finish(self, request_id: &str, status: u16) {
        let Some((kind, message)) = self.describe() else {
            return;
        };
        self.errors.push(Fault {
            backend: self.backend,
            request_id: request_id.to_owned(),
            kind,
            status,
            message,
        });
    }

    /// The fault's kind and message, or `None` when the request was no fault.
    fn describe(&self) -> Option<(&'static str, String)> {
        let upstream = self.upstream.as_deref().unwrap_or("(not chosen)");
        match (self.kind, self.upstream_status) {
            (Some(kind), _) if is_fault(kind) => Some((kind, fault_message(kind, upstream))),
            (None, Some(status)) if status >= 500 => Some((
                UPSTREAM_STATUS,
                format!("the upstream {upstream} answered HTTP {status}"),
            )),
            _ => None,
        }
    }
}

fn fault_message(kind: &str, upstream: &str) -> String {
    match kind {
        "upstream_connect" => format!("could not connect to the upstream {upstream}"),
        "upstream_timeout" => format!("the upstream {upstream} did not answer in time"),
        "no_key" => "the provider API key is not available (see the auth Secret)".to_owned(),
        _ => "the route's backend is not available (see the route's status)".to_owned(),
    }
}

#[cfg(test)]
#[path = "recent_errors_tests.rs"]
mod tests;

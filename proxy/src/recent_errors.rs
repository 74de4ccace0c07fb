//! The proxy's recent faults, for the operator to turn into Kubernetes Events: a bounded ring
//! of the last [`CAPACITY`] requests that failed through no fault of the client — the
//! upstream could not be reached or did not answer in time, answered 5xx, the provider key
//! was missing, the route's backend was unavailable, a request webhook guard's checker failed
//! and the guard failed closed ([`guard_failed`]) — each with a sequence number that only
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

use agw_policy::bundle::Guard;
use http::HeaderMap;
use serde::Serialize;

use crate::access_log::REQUEST_ID;
use crate::access_log::record::Timestamp;
use crate::guard::webhook::Failure;

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

/// Keeps a request refused because `guard`'s checker failed: agw did not decide, so it is a
/// fault even though the client got the guard's refusal (`guard_rejected` in the access log).
/// `headers` are the request's, which carry the access log's request id. The message names
/// the guard and what went wrong, never the checker's answer (it could echo the prompt).
pub fn guard_failed(
    errors: &RecentErrors,
    backend: &str,
    headers: &HeaderMap,
    guard: &Guard,
    failure: &Failure,
) {
    let what = match failure {
        Failure::Timeout(after) => format!("did not answer within {after:?}"),
        Failure::Busy => "was busy".to_owned(),
        Failure::Unreachable(_) => "could not be reached".to_owned(),
        Failure::Status(status) => format!("answered HTTP {status}"),
        Failure::BadVerdict(_) => "gave no valid verdict".to_owned(),
    };
    errors.push(Fault {
        backend: backend.to_owned(),
        request_id: headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        kind: GUARD_WEBHOOK_FAILED,
        status: guard.reject.status,
        message: format!(
            "the checker of webhook guard {} {what}; the guard failed closed",
            guard.id
        ),
    });
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ProxyError;

    fn watch(errors: &Arc<RecentErrors>) -> Watch {
        let mut watch = Watch::new(errors.clone());
        watch.backend("team-a/anthropic");
        watch.upstream("mock.team-a", 9);
        watch
    }

    #[test]
    fn upstream_failures_are_kept_with_the_request_id_and_no_request_content() {
        let errors = Arc::new(RecentErrors::default());
        let mut refused = watch(&errors);
        refused.fail(ProxyError::Upstream("connection refused".into()).kind());
        refused.finish("req-1", 502);
        let mut answered = watch(&errors);
        answered.upstream_status(503);
        answered.finish("req-2", 503);
        let page = errors.after(0);
        let seen: Vec<_> = page
            .errors
            .iter()
            .map(|e| (e.seq, e.request_id.as_str(), e.kind, e.status))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "req-1", "upstream_connect", 502),
                (2, "req-2", UPSTREAM_STATUS, 503)
            ]
        );
        assert_eq!(page.errors[0].backend, "team-a/anthropic");
        assert_eq!(
            page.errors[0].message,
            "could not connect to the upstream mock.team-a:9"
        );
        assert_eq!(page.next, 2);
        // A poller asks for what came after the last it saw.
        assert_eq!(errors.after(1).errors.len(), 1);
        assert!(errors.after(2).errors.is_empty());
        assert_eq!(errors.after(2).next, 2);
    }

    #[test]
    fn a_client_refused_by_policy_or_a_good_answer_is_no_fault() {
        let errors = Arc::new(RecentErrors::default());
        let refusals = [
            ProxyError::Unauthenticated { presented: false },
            ProxyError::RateLimited {
                retry_after: 1,
                what: "1 request per minute".into(),
            },
            ProxyError::BadJson("x".into()),
            ProxyError::TooLarge { limit: 1 },
            ProxyError::NoRoute("/x".into()),
            ProxyError::NotReady,
        ];
        for refusal in refusals {
            let mut watch = watch(&errors);
            watch.fail(refusal.kind());
            watch.finish("r", refusal.status().0.as_u16());
        }
        let mut rejected = watch(&errors);
        rejected.fail("guard_rejected");
        rejected.finish("r", 400);
        for status in [200, 404, 429] {
            let mut answered = watch(&errors);
            answered.upstream_status(status);
            answered.finish("r", status);
        }
        assert!(errors.after(0).errors.is_empty());
        assert_eq!(errors.after(0).next, 0);
    }

    #[test]
    fn every_fault_kind_is_a_kind_the_proxy_answers_with() {
        let faults = [
            ProxyError::Upstream(String::new()),
            ProxyError::UpstreamTimeout(Duration::from_secs(1)),
            ProxyError::NoKey(String::new()),
            ProxyError::BackendUnavailable(String::new()),
        ];
        let kinds: Vec<_> = faults.iter().map(ProxyError::kind).collect();
        assert_eq!(kinds, FAULT_KINDS);
        assert!(faults.iter().all(|f| f.status().0.is_server_error()));
    }

    #[test]
    fn the_access_log_keeps_a_failed_request_under_the_id_the_client_got() {
        let log = crate::access_log::AccessLog::default();
        let mut req = http::Request::new(());
        let mut entry = log.start(&mut req, None);
        entry.route("team-a/anthropic", agw_policy::bundle::RouteType::Messages);
        entry.upstream_request(&mut http::HeaderMap::new(), "10.0.0.1", 9);
        let err = ProxyError::UpstreamTimeout(Duration::from_secs(1));
        entry.fail(err.kind());
        let response = entry.finish(err.into_response(), None, None);
        let id = &response.headers()[crate::access_log::REQUEST_ID];
        let page = log.recent_errors().after(0);
        assert_eq!(page.errors.len(), 1);
        let fault = &page.errors[0];
        assert_eq!(fault.request_id, id.to_str().unwrap());
        assert_eq!(
            (fault.kind, fault.status, fault.backend.as_str()),
            ("upstream_timeout", 504, "team-a/anthropic")
        );
        assert_eq!(
            fault.message,
            "the upstream 10.0.0.1:9 did not answer in time"
        );
    }

    #[test]
    fn a_failed_webhook_checker_is_kept_without_its_answer() {
        let errors = RecentErrors::default();
        let guard = Guard {
            id: "request[1]".into(),
            action: agw_policy::bundle::GuardAction::Reject,
            reject: agw_policy::bundle::Rejection {
                status: 403,
                message: "refused".into(),
            },
            scope: agw_policy::bundle::GuardScope::default(),
            detectors: Vec::new(),
            webhook: None,
        };
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, http::HeaderValue::from_static("req-7"));
        let echoed = Failure::BadVerdict("the prompt was: my credit card".into());
        guard_failed(&errors, "team-a/anthropic", &headers, &guard, &echoed);
        let fault = &errors.after(0).errors[0];
        assert_eq!(
            (fault.request_id.as_str(), fault.kind, fault.status),
            ("req-7", GUARD_WEBHOOK_FAILED, 403)
        );
        assert_eq!(
            fault.message,
            "the checker of webhook guard request[1] gave no valid verdict; the guard failed closed"
        );
    }

    #[test]
    fn the_ring_keeps_the_last_faults_and_numbers_on() {
        let errors = RecentErrors::default();
        for n in 0..CAPACITY + 5 {
            errors.push(Fault {
                backend: String::new(),
                request_id: n.to_string(),
                kind: UPSTREAM_STATUS,
                status: 500,
                message: String::new(),
            });
        }
        let page = errors.after(0);
        assert_eq!(page.errors.len(), CAPACITY);
        assert_eq!(page.errors[0].seq, 6);
        assert_eq!(page.next, (CAPACITY + 5) as u64);
        // Another process has another instance.
        assert_ne!(page.instance, RecentErrors::default().after(0).instance);
    }
}

//! The ring, what counts as a fault, and the access log's hook.

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
        ProxyError::Upstream("refused".into()),
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

use super::request::{role_of, roles};
use super::response::texts;
use super::{Failure, Verdict, parse_verdict, record_failure};
use crate::access_log::REQUEST_ID;
use crate::messages;
use crate::recent_errors::{GUARD_WEBHOOK_FAILED, RecentErrors};
use agw_policy::bundle::Guard;
use http::HeaderMap;

fn verdict(answer: &str, expected: usize) -> Result<Verdict, Failure> {
    parse_verdict(answer.as_bytes(), expected)
}

#[test]
fn agentgateway_verdicts_are_read() {
    assert_eq!(verdict(r#"{"action":{}}"#, 1).ok(), Some(Verdict::Pass));
    assert_eq!(
        verdict(r#"{"action":{"reason":"fine"}}"#, 1).ok(),
        Some(Verdict::Pass)
    );
    assert_eq!(
        verdict(
            r#"{"action":{"body":"no","status_code":403,"reason":"pii"}}"#,
            1
        )
        .ok(),
        Some(Verdict::Reject {
            message: "no".into(),
            status: Some(403)
        })
    );
    // A status that is no error status is not used (the guard's own applies).
    assert_eq!(
        verdict(r#"{"action":{"body":"no","status_code":200}}"#, 1).ok(),
        Some(Verdict::Reject {
            message: "no".into(),
            status: None
        })
    );
    assert_eq!(
        verdict(
            r#"{"action":{"body":{"messages":[{"role":"user","content":"a <X>"},{"role":"user","content":"b"}]}}}"#,
            2
        )
        .ok(),
        Some(Verdict::Mask(vec!["a <X>".into(), "b".into()]))
    );
    assert_eq!(
        verdict(
            r#"{"action":{"body":{"choices":[{"message":{"role":"assistant","content":"<X>"}}]}}}"#,
            1
        )
        .ok(),
        Some(Verdict::Mask(vec!["<X>".into()]))
    );
}

#[test]
fn anything_else_is_no_verdict_never_a_pass() {
    for answer in [
        "",
        "null",
        "{}",
        r#"{"action":"pass"}"#,
        r#"{"action":{"body":5}}"#,
        r#"{"action":{"body":"no","status_code":"403"}}"#,
        r#"{"action":{"body":{"messages":[]}}}"#,
        r#"{"action":{"body":{"messages":[{"role":"user"}]}}}"#,
        r#"{"action":{"body":{}}}"#,
    ] {
        assert!(
            matches!(verdict(answer, 1), Err(Failure::BadVerdict(_))),
            "{answer:?}"
        );
    }
}

#[test]
fn texts_carry_their_message_role() {
    let body = r#"{"system":"be nice","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"yes"}]}]}"#;
    let extracted =
        messages::extract(body, agw_policy::bundle::GuardScope::default()).expect("extracts");
    let roles = roles(body);
    let got: Vec<(&str, &str)> = extracted
        .texts
        .iter()
        .map(|t| (role_of(&roles, t), t.text.as_ref()))
        .collect();
    assert_eq!(
        got,
        [("system", "be nice"), ("user", "hi"), ("assistant", "yes")]
    );
}

#[test]
fn reply_texts_are_found_by_span() {
    let body = r#"{"id":"m","content":[{"type":"text","text":"a\u0041"},{"type":"tool_use","input":{"text":"no"}},{"text":"b","type":"text"}],"usage":{}}"#;
    let found = texts(body).expect("reads");
    let spans: Vec<(&str, &str)> = found
        .iter()
        .map(|t| (t.text.as_str(), &body[t.span.0..t.span.1]))
        .collect();
    assert_eq!(spans, [("aA", r#""a\u0041""#), ("b", r#""b""#)]);
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
    record_failure(&errors, "team-a/anthropic", &headers, &guard, &echoed);
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

//! Object keys the client chose are read as text; the API's own names are not.

use super::ALL;
use crate::messages::*;

fn keys(body: &str, scope: GuardScope) -> Vec<(String, SegmentKind)> {
    extract(body, scope)
        .expect("parses")
        .texts
        .into_iter()
        .filter(|t| t.key)
        .map(|t| (t.text.into_owned(), t.kind))
        .collect()
}

/// Found in review: a client could hide a secret in a key of `tool_use.input`.
#[test]
fn the_clients_own_keys_are_read_under_the_scope_of_their_value() {
    let body = r#"{"metadata":{"user_id":"u","4111 1111 1111 1111":1},"messages":[{"role":"assistant","content":[
        {"type":"tool_use","id":"t","name":"n","input":{"\u0034111 1111":{"AKIAIOSFODNN7EXAMPLE":[{"deep key":null}]}}},
        {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r","result key":true}]},
        {"type":"hologram","payload":{"caption key":"v"}}],"extra field":0}]}"#;
    let (u, r, m) = (
        SegmentKind::ToolUse,
        SegmentKind::ToolResult,
        SegmentKind::Message,
    );
    let expected: Vec<(String, SegmentKind)> = [
        ("4111 1111", u),
        ("AKIAIOSFODNN7EXAMPLE", u),
        ("deep key", u),
        ("result key", r),
        ("payload", m),
        ("caption key", m),
        ("extra field", m),
        ("4111 1111 1111 1111", m),
    ]
    .iter()
    .map(|(t, k)| ((*t).to_owned(), *k))
    .collect();
    assert_eq!(keys(body, ALL), expected);
    // Each key's span is its literal, escapes included, so a Mask can rewrite it.
    for t in extract(body, ALL).expect("parses").texts {
        let literal = &body[t.span.0..t.span.1];
        assert_eq!(
            serde_json::from_str::<String>(literal).expect("literal"),
            t.text
        );
    }
    // Out of scope, keys are not read either.
    let messages_only = keys(body, GuardScope::default());
    assert!(
        messages_only.iter().all(|(_, k)| *k == m),
        "{messages_only:?}"
    );
}

#[test]
fn names_the_api_defines_are_not_read_as_text() {
    let body = r#"{"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"5m"}}],"messages":[{"role":"user","content":[
        {"type":"document","source":{"type":"text","media_type":"text/plain","data":"d"},"title":"t","context":"c","citations":{"enabled":true}},
        {"type":"tool_result","tool_use_id":"x","is_error":false,"content":"r"}]}]}"#;
    assert_eq!(keys(body, ALL), []);
    for key in walk::SCHEMA_KEYS.iter().chain(walk::OPAQUE_KEYS) {
        assert!(
            !key.contains(' ') && key.len() < 24,
            "{key}: schema keys are API names"
        );
    }
}

#[test]
fn masked_keys_that_collide_are_refused() {
    assert!(check_masked_keys(br#"{"a":{"<CREDIT_CARD>":1,"b":2}}"#).is_ok());
    let err = check_masked_keys(br#"{"a":{"<CREDIT_CARD>":1,"<CREDIT_CARD>":2}}"#)
        .expect_err("duplicate");
    assert!(
        matches!(&err, ProxyError::Unguardable(m) if m.contains("duplicate key at line 1")),
        "{err}"
    );
}

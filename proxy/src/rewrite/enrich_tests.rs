//! Prompt enrichment: where each role's text lands, and that every other byte is kept.

use agw_policy::bundle::{PromptMessage, PromptRole, RequestEdits};
use bytes::Bytes;

use super::apply;

fn edits(prepend: &[(PromptRole, &str)], append: &[(PromptRole, &str)]) -> RequestEdits {
    let list = |l: &[(PromptRole, &str)]| {
        l.iter()
            .map(|(role, content)| PromptMessage {
                role: *role,
                content: (*content).to_owned(),
            })
            .collect()
    };
    RequestEdits {
        prepend: list(prepend),
        append: list(append),
        ..RequestEdits::default()
    }
}

fn run(e: &RequestEdits, body: &str) -> String {
    let out = apply(e, Bytes::copy_from_slice(body.as_bytes())).unwrap();
    let text = String::from_utf8(out.to_vec()).unwrap();
    // Whatever the edit, the result is JSON.
    serde_json::from_str::<serde_json::Value>(&text).unwrap();
    text
}

const SYS: PromptRole = PromptRole::System;
const USER: PromptRole = PromptRole::User;

#[test]
fn a_system_string_becomes_blocks_around_the_clients_literal() {
    let e = edits(&[(SYS, "Answer in French.")], &[(SYS, "Be brief.")]);
    let body = r#"{"model":"m", "system": "You are \"Claude\"" ,"messages":[]}"#;
    assert_eq!(
        run(&e, body),
        r#"{"model":"m", "system": [{"type":"text","text":"Answer in French."},{"type":"text","text":"You are \"Claude\""},{"type":"text","text":"Be brief."}] ,"messages":[]}"#
    );
}

#[test]
fn system_blocks_keep_their_cache_control_byte_for_byte() {
    let e = edits(&[(SYS, "policy")], &[]);
    let body = r#"{"system":[ {"type":"text","text":"big","cache_control":{"type":"ephemeral"}} ],"messages":[]}"#;
    assert_eq!(
        run(&e, body),
        r#"{"system":[{"type":"text","text":"policy"}, {"type":"text","text":"big","cache_control":{"type":"ephemeral"}} ],"messages":[]}"#
    );
}

#[test]
fn absent_null_or_empty_system_gets_only_the_enrichment() {
    let e = edits(&[(SYS, "a")], &[(SYS, "b")]);
    let blocks = r#"[{"type":"text","text":"a"},{"type":"text","text":"b"}]"#;
    assert_eq!(
        run(&e, r#"{"messages":[]}"#),
        format!(r#"{{"system":{blocks},"messages":[]}}"#)
    );
    assert_eq!(
        run(&e, r#"{"system":null}"#),
        format!(r#"{{"system":{blocks}}}"#)
    );
    assert_eq!(
        run(&e, r#"{"system":""}"#),
        format!(r#"{{"system":{blocks}}}"#)
    );
    assert_eq!(
        run(&e, r#"{"system":[ ]}"#),
        format!(r#"{{"system":{blocks}}}"#)
    );
    assert_eq!(run(&e, "{}"), format!(r#"{{"system":{blocks}}}"#));
}

#[test]
fn user_and_assistant_messages_go_around_the_conversation() {
    let e = edits(
        &[(USER, "context"), (PromptRole::Assistant, "ok")],
        &[(USER, "answer in one line")],
    );
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"stream":true}"#;
    assert_eq!(
        run(&e, body),
        r#"{"messages":[{"role":"user","content":"context"},{"role":"assistant","content":"ok"},{"role":"user","content":"hi"},{"role":"user","content":"answer in one line"}],"stream":true}"#
    );
}

#[test]
fn nothing_to_add_forwards_the_same_bytes() {
    let body = Bytes::from_static(br#"{"messages":[]}"#);
    let out = apply(&RequestEdits::default(), body.clone()).unwrap();
    assert_eq!(out.as_ptr(), body.as_ptr());
    // Only system enrichment: `messages` is not touched.
    let e = edits(&[(SYS, "s")], &[]);
    assert_eq!(
        run(&e, r#"{"messages" : [ 1 ]}"#),
        r#"{"system":[{"type":"text","text":"s"}],"messages" : [ 1 ]}"#
    );
}

#[test]
fn a_system_or_messages_of_another_type_is_refused() {
    let e = edits(&[(SYS, "s"), (USER, "u")], &[]);
    for body in [
        r#"{"system":5}"#,
        r#"{"messages":{}}"#,
        r#"{"system":"a","system":"b"}"#,
        "[]",
    ] {
        assert!(
            apply(&e, Bytes::copy_from_slice(body.as_bytes())).is_err(),
            "{body}"
        );
    }
}

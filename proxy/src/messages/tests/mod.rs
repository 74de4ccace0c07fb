//! Extraction and splicing of Messages bodies, against hand-written bodies.

use super::*;

pub const ALL: GuardScope = GuardScope {
    system: true,
    messages: true,
    tool_results: true,
    tool_use: true,
};

#[test]
fn finds_every_text_with_its_span() {
    let body = r#"{"model":"claude-x","system":[{"type":"text","text":"sys \"q\""}],"messages":[{"role":"user","content":"hi é"},{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"t","name":"bash","input":{"cmd":"rm -rf","n":[1,"x"]}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"done"}]}]}"#;
    let out = extract(body, ALL).expect("parses");
    let texts: Vec<(&str, SegmentKind)> = out
        .texts
        .iter()
        .map(|t| (t.text.as_ref(), t.kind))
        .collect();
    assert_eq!(
        texts,
        [
            ("sys \"q\"", SegmentKind::System),
            ("hi é", SegmentKind::Message),
            ("ok", SegmentKind::Message),
            ("bash", SegmentKind::ToolUse),
            ("cmd", SegmentKind::ToolUse),
            ("rm -rf", SegmentKind::ToolUse),
            ("n", SegmentKind::ToolUse),
            ("x", SegmentKind::ToolUse),
            ("done", SegmentKind::ToolResult)
        ]
    );
    for t in &out.texts {
        let literal = &body[t.span.0..t.span.1];
        assert_eq!(
            serde_json::from_str::<String>(literal).expect("literal"),
            t.text
        );
    }
    assert_eq!(out.model.expect("model").text, "claude-x");
}

#[test]
fn scope_limits_extraction() {
    let body = r#"{"system":"s","messages":[{"role":"user","content":[{"type":"tool_result","content":[{"type":"text","text":"r"}]}]}]}"#;
    let out = extract(body, GuardScope::default()).expect("parses");
    assert_eq!(out.texts.len(), 1);
    assert_eq!(out.texts[0].kind, SegmentKind::System);
}

#[test]
fn splice_keeps_every_other_byte() {
    let body = "{ \"a\" : \"x@y.io\",\n  \"keep\": 1.50e3, \"b\":\"é\" }";
    let start = body.find("\"x@y.io\"").expect("found");
    let out = splice(body, vec![((start, start + 8), "<EMAIL_ADDRESS>".into())]).expect("applies");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "{ \"a\" : \"<EMAIL_ADDRESS>\",\n  \"keep\": 1.50e3, \"b\":\"é\" }"
    );
}

#[test]
fn an_edit_that_cannot_apply_refuses_the_request() {
    let body = r#"{"a":"x@y.io","b":"z"}"#;
    let overlapping = vec![((5, 13), "<E>".to_owned()), ((7, 13), "<F>".to_owned())];
    let err = splice(body, overlapping).expect_err("overlap");
    assert!(err.to_string().contains("overlaps"), "{err}");
    assert!(splice(body, vec![((20, 40), "x".to_owned())]).is_err());
    assert!(splice(body, vec![((9, 3), "x".to_owned())]).is_err());
}

#[test]
fn malformed_json_names_the_problem() {
    let err = extract("{\"messages\": [", ALL).expect_err("bad json");
    assert!(err.to_string().contains("line 1 column"), "{err}");
}

fn texts(body: &str) -> Vec<(String, SegmentKind)> {
    extract(body, ALL)
        .expect("parses")
        .texts
        .into_iter()
        .map(|t| (t.text.into_owned(), t.kind))
        .collect()
}

fn message(text: &str) -> (String, SegmentKind) {
    (text.to_owned(), SegmentKind::Message)
}

#[test]
fn a_block_type_after_its_text_still_counts() {
    let body = r#"{"messages":[{"content":[{"text":"a","type":"text"},{"content":"r","type":"tool_result"}],"role":"user"}]}"#;
    assert_eq!(
        texts(body),
        [message("a"), ("r".to_owned(), SegmentKind::ToolResult)]
    );
}

#[test]
fn duplicate_keys_are_refused_in_every_object() {
    for body in [
        r#"{"messages":[],"system":"s1","messages":[]}"#,
        r#"{"messages":[{"content":"a","content":"b"}]}"#,
        r#"{"messages":[{"content":[{"type":"text","text":"x","text":"y"}]}]}"#,
        r#"{"messages":[{"content":[{"type":"text","t\u0065xt":"x","text":"y"}]}]}"#,
        r#"{"metadata":{"user_id":"a","user_id":"b"},"messages":[]}"#,
        r#"{"messages":[{"content":[{"type":"tool_use","input":{"a":{"k":1,"k":2}}}]}]}"#,
    ] {
        let err = extract(body, ALL).expect_err(body);
        assert!(
            matches!(&err, ProxyError::Unguardable(m) if m.starts_with("duplicate key at line 1")),
            "{body}: {err}"
        );
    }
    // The same key in sibling objects is no duplicate.
    assert!(extract(r#"{"messages":[{"content":"a"},{"content":"b"}]}"#, ALL).is_ok());
}

#[test]
fn nesting_past_the_limit_is_refused_without_recursion() {
    let deep = |n: usize| {
        format!(
            r#"{{"messages":[{{"role":"user","content":[{{"type":"tool_use","input":{}0{}}}]}}]}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    assert!(extract(&deep(100), ALL).is_ok());
    let err = extract(&deep(100_000), ALL).expect_err("too deep");
    assert!(err.to_string().contains("nesting deeper than 128"), "{err}");
}

#[test]
fn escaped_key_names_are_the_names_they_spell() {
    let body = r#"{"\u006dessages":[{"role":"user","c\u006fntent":[{"type":"t\u0065xt","text":"hidden"}]}]}"#;
    assert_eq!(texts(body), [message("hidden")]);
}

#[test]
fn shapes_the_walker_cannot_interpret_are_refused() {
    for (body, problem) in [
        (
            r#"{"system":[1,{"type":"text","text":"s"}],"messages":[]}"#,
            "`system` blocks must be objects",
        ),
        (
            r#"{"system":{"text":"s"},"messages":[]}"#,
            "`system` must be a string or an array",
        ),
        (
            r#"{"messages":[{"role":"user","content":[null,{"type":"text","text":"m"}]}]}"#,
            "content blocks must be objects",
        ),
        (
            r#"{"messages":[{"role":"user","content":[[{"type":"text","text":"nested"}]]}]}"#,
            "content blocks must be objects",
        ),
        (
            r#"{"messages":[{"role":"user","content":{"type":"text","text":"m"}}]}"#,
            "`content` must be a string or an array",
        ),
        (
            r#"{"messages":[{"role":"user","content":42}]}"#,
            "`content` must be a string or an array",
        ),
    ] {
        let err = extract(body, ALL).expect_err(body);
        assert!(
            matches!(&err, ProxyError::Unguardable(m) if m.starts_with(problem)),
            "{body}: {err}"
        );
    }
}

/// Found by the guard fuzzer: a message field other than `content` was forwarded unread.
/// Refusing such fields broke Claude Code, which adds its own: they are read instead.
#[test]
fn message_fields_other_than_role_and_content_are_read() {
    let body = r#"{"messages":[{"role":"user","content":"hi","extra":{"note":["credit card"]}}]}"#;
    assert_eq!(
        texts(body),
        [
            message("hi"),
            message("extra"),
            message("note"),
            message("credit card")
        ]
    );
}

#[test]
fn every_place_text_can_hide_is_read_under_its_scope() {
    let body = r#"{"system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],"metadata":{"user_id":"meta"},"messages":[
        {"role":"system","content":"mid-conversation system"},
        {"role":"assistant","content":[
            {"type":"thinking","thinking":"thought","signature":"c2lnbmF0dXJl"},
            {"type":"redacted_thinking","data":"ZW5jcnlwdGVk"},
            {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
            {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","title":"t","url":"u","encrypted_content":"e"}]}]},
        {"role":"user","content":[
            {"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc text"},"title":"dt"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
            {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r1"},[["deep"]],{"type":"image","source":{"type":"base64","data":"AAAA"}}]},
            {"type":"hologram","payload":{"caption":"future"}}]}]}"#;
    let m = SegmentKind::Message;
    let expected: Vec<(String, SegmentKind)> = [
        ("sys", SegmentKind::System),
        ("mid-conversation system", m),
        ("thought", m),
        ("web_search", SegmentKind::ToolUse),
        ("query", SegmentKind::ToolUse),
        ("q", SegmentKind::ToolUse),
        ("t", SegmentKind::ToolResult),
        ("u", SegmentKind::ToolResult),
        ("e", SegmentKind::ToolResult),
        ("doc text", m),
        ("dt", m),
        ("r1", SegmentKind::ToolResult),
        ("deep", SegmentKind::ToolResult),
        ("payload", m),
        ("caption", m),
        ("future", m),
        ("meta", m),
    ]
    .iter()
    .map(|(t, k)| ((*t).to_owned(), *k))
    .collect();
    assert_eq!(texts(body), expected);
    // Out of scope, a block is skipped whole.
    let only_messages = extract(body, GuardScope::default()).expect("parses");
    assert!(
        only_messages
            .texts
            .iter()
            .all(|t| matches!(t.kind, SegmentKind::System | SegmentKind::Message))
    );
}

#[test]
fn every_string_of_a_deep_tool_input_is_read() {
    let deep = format!("{}\"bottom\"{}", "[".repeat(64), "]".repeat(64));
    let body = format!(
        r#"{{"messages":[{{"role":"assistant","content":[{{"type":"tool_use","input":{{"k":{deep}}}}}]}}]}}"#
    );
    assert_eq!(
        texts(&body),
        [
            ("k".to_owned(), SegmentKind::ToolUse),
            ("bottom".to_owned(), SegmentKind::ToolUse)
        ]
    );
}

#[test]
fn lone_surrogates_are_refused_as_the_provider_refuses_them() {
    for body in [
        r#"{"messages":[{"role":"user","content":"credit\ud800 card"}]}"#,
        r#"{"messages":[{"role":"user","content":"credit\udc00 card"}]}"#,
        r#"{"metadata":{"x":"\ud83d\u0041"},"messages":[]}"#,
    ] {
        let err = extract(body, ALL).expect_err(body);
        assert!(err.to_string().contains("surrogate"), "{body}: {err}");
    }
    let pair = r#"{"messages":[{"role":"user","content":"\ud83d\ude00"}]}"#;
    assert_eq!(texts(pair), [message("\u{1f600}")]);
}

#[test]
fn unescaped_texts_are_borrowed_from_the_body() {
    let body = r#"{"messages":[{"role":"user","content":"plain"}]}"#;
    let out = extract(body, ALL).expect("parses");
    assert!(matches!(out.texts[0].text, Cow::Borrowed("plain")));
}

#[test]
fn structure_errors_name_the_problem() {
    let err = extract(r#"{"messages":{"role":"user"}}"#, ALL).expect_err("not an array");
    assert!(
        err.to_string()
            .contains("`messages` must be an array of objects"),
        "{err}"
    );
    let err = extract("[1]", ALL).expect_err("not an object");
    assert!(err.to_string().contains("expected a map"), "{err}");
    let err = extract(r#"{"a":1} x"#, ALL).expect_err("trailing");
    assert!(err.to_string().contains("trailing characters"), "{err}");
    // A second `messages` is not read as replacing a bad one: duplicates are refused.
    assert!(extract(r#"{"messages":1,"messages":[]}"#, ALL).is_err());
}

mod keys;
mod links;

//! Reading and editing Anthropic Messages request bodies without re-serializing them.
//!
//! One pass of a strict JSON reader ([`json`]) validates the body and finds every text the
//! guards inspect by its byte span ([`walk`]); only those texts are decoded, in the same
//! pass, and a text without escapes is borrowed from the body, not copied. Mask and model pinning then
//! splice new JSON string literals into those spans; every other byte — unknown fields,
//! key order, whitespace, number formatting — reaches the upstream exactly as the client
//! sent it, and an allowed request is forwarded as the very bytes it arrived as.

mod json;
mod unescape;
mod walk;

use std::borrow::Cow;
use std::collections::BTreeMap;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;
use serde_json::value::RawValue;

use self::walk::{Found, WalkError};
use crate::error::{ProxyError, Result};

/// A string value of the body: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal<'a> {
    /// Part of the request it belongs to.
    pub kind: SegmentKind,
    /// Byte range of the JSON string literal (quotes included) in the body.
    pub span: (usize, usize),
    /// The decoded text (borrowed from the body when it has no escapes).
    pub text: Cow<'a, str>,
}

/// What the proxy needs from a Messages body.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    /// Texts in the requested scope: `system` first, then `messages`, each in body order.
    pub texts: Vec<Literal<'a>>,
    /// The top-level `model` string, when present.
    pub model: Option<Literal<'a>>,
}

/// Extracts the texts `scope` asks for, and the model; a body that is not a JSON object, or
/// whose `messages` is not an array of objects, is an error naming the problem.
pub fn extract(body: &str, scope: GuardScope) -> Result<Extracted<'_>> {
    let walked = walk::walk(body, scope).map_err(|err| diagnose(body, err))?;
    let texts = walked
        .system
        .into_iter()
        .chain(walked.messages)
        .map(literal)
        .collect();
    let model = walked.model.map(|model| {
        literal(Found {
            kind: SegmentKind::Message,
            literal: model,
            text: unescape::text(body, model),
        })
    });
    Ok(Extracted { texts, model })
}

fn literal(found: Found<'_>) -> Literal<'_> {
    Literal {
        kind: found.kind,
        span: (found.literal.start, found.literal.end),
        text: found.text,
    }
}

type Object<'a> = BTreeMap<String, &'a RawValue>;

/// The error for a body the walker refused. serde_json words it (line and column included),
/// as clients saw before the walker existed; the walker's own words are the fallback.
#[cold]
fn diagnose(body: &str, err: WalkError) -> ProxyError {
    if let Err(e) = serde_json::from_str::<Object<'_>>(body) {
        return ProxyError::BadJson(e.to_string());
    }
    match err {
        WalkError::Messages(start, end) => {
            let value = body.get(start..end).unwrap_or_default();
            let detail = serde_json::from_str::<Vec<Object<'_>>>(value)
                .err()
                .map_or_else(|| "found another value".to_owned(), |e| e.to_string());
            ProxyError::BadJson(format!("`messages` must be an array of objects: {detail}"))
        }
        WalkError::Syntax(syntax) => {
            let (line, column) = json::line_column(body, syntax.offset);
            ProxyError::BadJson(format!("{} at line {line} column {column}", syntax.problem))
        }
        WalkError::NotObject => ProxyError::BadJson("expected a JSON object".to_owned()),
    }
}

/// Replaces byte spans of `body` with new JSON string literals for `values`.
pub fn splice(body: &str, mut edits: Vec<((usize, usize), String)>) -> Vec<u8> {
    edits.sort_by_key(|(span, _)| span.0);
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut copied = 0;
    for ((start, end), value) in edits {
        if start < copied || end > body.len() {
            continue;
        }
        out.extend_from_slice(&body.as_bytes()[copied..start]);
        out.extend_from_slice(serde_json::to_string(&value).unwrap_or_default().as_bytes());
        copied = end;
    }
    out.extend_from_slice(&body.as_bytes()[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: GuardScope = GuardScope {
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
                ("rm -rf", SegmentKind::ToolUse),
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
        let out = splice(body, vec![((start, start + 8), "<EMAIL_ADDRESS>".into())]);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{ \"a\" : \"<EMAIL_ADDRESS>\",\n  \"keep\": 1.50e3, \"b\":\"é\" }"
        );
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
    fn duplicate_keys_resolve_to_the_last_as_a_json_map_does() {
        let body = r#"{"messages":[{"role":"user","content":"old"}],"system":"s1","messages":[{"content":"gone","content":[{"type":"text","text":"x","text":"y"}]}],"system":"s2"}"#;
        assert_eq!(
            texts(body),
            [("s2".to_owned(), SegmentKind::System), message("y")]
        );
    }

    #[test]
    fn escaped_key_names_are_the_names_they_spell() {
        let body = r#"{"\u006dessages":[{"role":"user","c\u006fntent":[{"type":"t\u0065xt","text":"hidden"}]}]}"#;
        assert_eq!(texts(body), [message("hidden")]);
    }

    #[test]
    fn odd_elements_do_not_hide_the_texts_around_them() {
        let body = r#"{"system":[1,{"type":"text","text":"s"},"x"],"messages":[{"role":"user","content":[null,{"type":"text","text":"m"},[{"type":"text","text":"nested"}]]}]}"#;
        assert_eq!(
            texts(body),
            [("s".to_owned(), SegmentKind::System), message("m")]
        );
    }

    #[test]
    fn every_string_of_a_deep_tool_input_is_read() {
        let deep = format!("{}\"bottom\"{}", "[".repeat(64), "]".repeat(64));
        let body = format!(
            r#"{{"messages":[{{"role":"assistant","content":[{{"type":"tool_use","input":{{"k":{deep}}}}}]}}]}}"#
        );
        assert_eq!(texts(&body), [("bottom".to_owned(), SegmentKind::ToolUse)]);
    }

    #[test]
    fn a_lone_surrogate_does_not_hide_a_text() {
        let body = r#"{"messages":[{"role":"user","content":"credit card \ud800"}]}"#;
        assert_eq!(texts(body), [message("credit card \u{fffd}")]);
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
        // A later `messages` replaces a bad one, as it would in a map.
        assert!(extract(r#"{"messages":1,"messages":[]}"#, ALL).is_ok());
    }
}

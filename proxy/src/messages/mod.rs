//! Reading and editing Anthropic Messages request bodies without re-serializing them.
//!
//! The body is parsed with borrowed `RawValue`s, so every text the guards inspect is known
//! by its byte span in the original body. Mask and model pinning then splice new JSON
//! string literals into those spans; every other byte — unknown fields, key order,
//! whitespace, number formatting — reaches the upstream exactly as the client sent it.

use std::collections::BTreeMap;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;
use serde_json::value::RawValue;

use crate::error::{ProxyError, Result};

/// A string value of the body: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// Part of the request it belongs to.
    pub kind: SegmentKind,
    /// Byte range of the JSON string literal (quotes included) in the body.
    pub span: (usize, usize),
    /// The decoded text.
    pub text: String,
}

/// What the proxy needs from a Messages body.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Texts in the requested scope, in body order.
    pub texts: Vec<Literal>,
    /// The top-level `model` string, when present.
    pub model: Option<Literal>,
}

type Object<'a> = BTreeMap<String, &'a RawValue>;

/// Extracts the texts `scope` asks for, and the model.
pub fn extract(body: &str, scope: GuardScope) -> Result<Extracted> {
    let top: Object<'_> =
        serde_json::from_str(body).map_err(|e| ProxyError::BadJson(e.to_string()))?;
    let mut out = Extracted::default();
    let walker = Walker { body };
    if let Some(model) = top.get("model") {
        out.model = walker.string(model, SegmentKind::Message);
    }
    if scope.system
        && let Some(system) = top.get("system")
    {
        walker.content(system, SegmentKind::System, &mut out.texts);
    }
    if let Some(messages) = top.get("messages") {
        let messages: Vec<Object<'_>> = serde_json::from_str(messages.get()).map_err(|e| {
            ProxyError::BadJson(format!("`messages` must be an array of objects: {e}"))
        })?;
        for message in &messages {
            if let Some(content) = message.get("content") {
                walker.message_content(content, scope, &mut out.texts);
            }
        }
    }
    Ok(out)
}

struct Walker<'b> {
    body: &'b str,
}

impl Walker<'_> {
    /// Offset of a borrowed raw value inside the body (both point into the same buffer).
    fn span(&self, raw: &RawValue) -> (usize, usize) {
        let start = (raw.get().as_ptr() as usize).saturating_sub(self.body.as_ptr() as usize);
        (start, start + raw.get().len())
    }

    fn string(&self, raw: &RawValue, kind: SegmentKind) -> Option<Literal> {
        let text: String = serde_json::from_str(raw.get()).ok()?;
        Some(Literal {
            kind,
            span: self.span(raw),
            text,
        })
    }

    /// A string, or an array of blocks whose `text` blocks are read.
    fn content(&self, raw: &RawValue, kind: SegmentKind, out: &mut Vec<Literal>) {
        if let Some(text) = self.string(raw, kind) {
            out.push(text);
            return;
        }
        let Ok(blocks) = serde_json::from_str::<Vec<Object<'_>>>(raw.get()) else {
            return;
        };
        for block in &blocks {
            if block_type(block).as_deref() == Some("text")
                && let Some(text) = block.get("text").and_then(|t| self.string(t, kind))
            {
                out.push(text);
            }
        }
    }

    fn message_content(&self, raw: &RawValue, scope: GuardScope, out: &mut Vec<Literal>) {
        if let Some(text) = self.string(raw, SegmentKind::Message) {
            if scope.messages {
                out.push(text);
            }
            return;
        }
        let Ok(blocks) = serde_json::from_str::<Vec<Object<'_>>>(raw.get()) else {
            return;
        };
        for block in &blocks {
            match block_type(block).as_deref() {
                Some("text") if scope.messages => {
                    if let Some(text) = block
                        .get("text")
                        .and_then(|t| self.string(t, SegmentKind::Message))
                    {
                        out.push(text);
                    }
                }
                Some("tool_result") if scope.tool_results => {
                    if let Some(content) = block.get("content") {
                        self.content(content, SegmentKind::ToolResult, out);
                    }
                }
                Some("tool_use") if scope.tool_use => {
                    if let Some(input) = block.get("input") {
                        self.strings_within(input, out, 0);
                    }
                }
                _ => {}
            }
        }
    }

    /// Every string inside a JSON value (tool inputs), depth-bounded.
    fn strings_within(&self, raw: &RawValue, out: &mut Vec<Literal>, depth: usize) {
        if depth > 32 {
            return;
        }
        if let Some(text) = self.string(raw, SegmentKind::ToolUse) {
            out.push(text);
        } else if let Ok(object) = serde_json::from_str::<Object<'_>>(raw.get()) {
            for value in object.values() {
                self.strings_within(value, out, depth + 1);
            }
        } else if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            for item in &items {
                self.strings_within(item, out, depth + 1);
            }
        }
    }
}

fn block_type(block: &Object<'_>) -> Option<String> {
    block
        .get("type")
        .and_then(|t| serde_json::from_str(t.get()).ok())
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
            .map(|t| (t.text.as_str(), t.kind))
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
}

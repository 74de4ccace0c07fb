//! Response guards on a whole JSON body: a Messages response, or a `tool_use` input that a
//! stream delivered in pieces and [`super::sse`] gathered.
//!
//! The body is read with borrowed `RawValue`s, so each inspected string literal is known by
//! its byte span; Mask re-encodes only the literals it changed and copies every other byte
//! (key order, spacing, number spelling, unknown fields) as the upstream sent it. A key that
//! appears twice is inspected twice: whichever copy a client keeps, it is guarded.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::engine::{BackendGuards, Decision, GuardHit, Rejected, Segment, SegmentKind};

/// What the response guards decided about a JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonOutcome {
    /// Send it unchanged.
    Allow,
    /// Send `body` instead: the same bytes with the masked literals replaced.
    Mask {
        /// The new body.
        body: String,
        /// Spans masked, per guard.
        hits: Vec<GuardHit>,
    },
    /// Replace the response with this guard's rejection.
    Reject(Rejected),
}

/// A body the guards cannot read; the proxy fails closed on it.
#[derive(Debug, thiserror::Error)]
#[error("the response is not valid JSON: {0}")]
pub struct JsonError(#[source] serde_json::Error);

/// A string literal of the body: its span (quotes included) and decoded text.
struct Literal {
    span: (usize, usize),
    text: String,
    kind: SegmentKind,
}

/// Guards a Messages response body (`content[].text`, `content[].input` of `tool_use`).
pub fn guard_response(guards: &BackendGuards, body: &str) -> Result<JsonOutcome, JsonError> {
    let mut literals = Vec::new();
    let top: Members<'_> = serde_json::from_str(body).map_err(JsonError)?;
    for content in top.get("content") {
        let blocks: Items<'_> = serde_json::from_str(content.get()).map_err(JsonError)?;
        for block in blocks.0 {
            content_block(body, block, guards, &mut literals)?;
        }
    }
    Ok(decide(guards, body, &literals))
}

/// Guards the source of a `tool_use` input object (its string leaves, as `ToolInput`).
pub fn guard_tool_input(guards: &BackendGuards, input: &str) -> Result<JsonOutcome, JsonError> {
    let raw: &RawValue = serde_json::from_str(input).map_err(JsonError)?;
    let mut literals = Vec::new();
    leaves(input, raw, SegmentKind::ToolUse, &mut literals)?;
    Ok(decide(guards, input, &literals))
}

fn content_block(
    body: &str,
    block: &RawValue,
    guards: &BackendGuards,
    out: &mut Vec<Literal>,
) -> Result<(), JsonError> {
    let Ok(members) = serde_json::from_str::<Members<'_>>(block.get()) else {
        return Ok(()); // not an object: nothing a client shows as text
    };
    // JSON.parse and serde keep the last of duplicate keys.
    let kind = members
        .get("type")
        .last()
        .and_then(|t| serde_json::from_str::<String>(t.get()).ok());
    let scope = guards.scope();
    match kind.as_deref() {
        Some("text") if scope.messages => {
            for text in members.get("text") {
                string(body, text, SegmentKind::Message, out);
            }
        }
        Some("tool_use") if scope.tool_use => {
            for input in members.get("input") {
                leaves(body, input, SegmentKind::ToolUse, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every string leaf of `raw` (a value inside `body`).
fn leaves(
    body: &str,
    raw: &RawValue,
    kind: SegmentKind,
    out: &mut Vec<Literal>,
) -> Result<(), JsonError> {
    match raw.get().as_bytes().first() {
        Some(b'"') => {
            string(body, raw, kind, out);
            Ok(())
        }
        Some(b'{') => {
            let members: Members<'_> = serde_json::from_str(raw.get()).map_err(JsonError)?;
            members
                .0
                .into_iter()
                .try_for_each(|(_, value)| leaves(body, value, kind, out))
        }
        Some(b'[') => {
            let items: Items<'_> = serde_json::from_str(raw.get()).map_err(JsonError)?;
            items
                .0
                .into_iter()
                .try_for_each(|value| leaves(body, value, kind, out))
        }
        _ => Ok(()),
    }
}

fn string(body: &str, raw: &RawValue, kind: SegmentKind, out: &mut Vec<Literal>) {
    let Ok(text) = serde_json::from_str::<String>(raw.get()) else {
        return; // a number or other non-string where text was expected
    };
    // `raw` borrows from `body`, so its address gives its offset (safe integer arithmetic).
    let start = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    let end = start + raw.get().len();
    if body.get(start..end) != Some(raw.get()) {
        return; // cannot happen for a borrowed RawValue; never splice blindly
    }
    out.push(Literal {
        span: (start, end),
        text,
        kind,
    });
}

fn decide(guards: &BackendGuards, body: &str, literals: &[Literal]) -> JsonOutcome {
    let segments: Vec<Segment<'_>> = literals
        .iter()
        .map(|l| Segment {
            kind: l.kind,
            text: &l.text,
        })
        .collect();
    match guards.evaluate_request(&segments) {
        Decision::Allow => JsonOutcome::Allow,
        Decision::Reject(rejected) => JsonOutcome::Reject(rejected),
        Decision::Mask(masked) => {
            let mut out = String::with_capacity(body.len());
            let mut copied = 0;
            for (literal, new) in literals.iter().zip(masked.texts) {
                let (Some(new), (start, end)) = (new, literal.span) else {
                    continue;
                };
                if start < copied {
                    continue; // literals never overlap; a nested one was already replaced
                }
                out.push_str(&body[copied..start]);
                out.push_str(&serde_json::Value::from(new).to_string());
                copied = end;
            }
            out.push_str(&body[copied..]);
            JsonOutcome::Mask {
                body: out,
                hits: masked.hits,
            }
        }
    }
}

/// An object's members in document order, duplicates kept, values unparsed.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Members<'a> {
    fn get<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'a RawValue> + 's {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(V(std::marker::PhantomData))
    }
}

/// An array's items, unparsed.
struct Items<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> de::Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Items<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(Items(items))
            }
            // `content: null` and other non-arrays hold no text.
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Items(Vec::new()))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;

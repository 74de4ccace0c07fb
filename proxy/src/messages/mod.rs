//! Reading and editing Anthropic Messages request bodies without re-serializing them.
//!
//! One pass of a strict JSON reader ([`json`]) validates the body and finds every text the
//! guards inspect by its byte span ([`walk`]); only those texts are decoded, in the same
//! pass, and a text without escapes is borrowed from the body, not copied. Mask and model pinning then
//! splice new JSON string literals into those spans; every other byte — unknown fields,
//! key order, whitespace, number formatting — reaches the upstream exactly as the client
//! sent it, and an allowed request is forwarded as the very bytes it arrived as.

#[cfg(test)]
pub(crate) mod fuzz;
mod json;
mod span;
mod top;
mod unescape;
mod walk;

use std::borrow::Cow;
use std::collections::BTreeMap;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;
use serde_json::value::RawValue;

pub use self::top::{Member, top_level};
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
    /// Index in [`Extracted::texts`] of the text the model reads this one as the
    /// continuation of: the `text` block before it in the same array, or the last text of
    /// the message before when both messages have the same role. Turns of different roles
    /// are not joined (the model reads the boundary between them).
    pub continues: Option<usize>,
    /// Whether it is an object key: a key the client chose (of `tool_use.input`,
    /// `metadata`, an unknown block), which the provider reads as text too.
    pub key: bool,
}

/// What the proxy needs from a Messages body.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    /// Texts in the requested scope: `system` first, then `messages`, then `metadata`, each
    /// in body order.
    pub texts: Vec<Literal<'a>>,
    /// The top-level `model` string, when present.
    pub model: Option<Literal<'a>>,
    /// The top-level `metadata` value as sent (JSON text), when present.
    pub metadata: Option<&'a str>,
}

/// Extracts the texts `scope` asks for, and the model; a body that is not a JSON object, or
/// whose `messages` is not an array of objects, is an error naming the problem.
pub fn extract(body: &str, scope: GuardScope) -> Result<Extracted<'_>> {
    let walked = walk::walk(body, scope).map_err(|err| diagnose(body, err))?;
    let mut texts =
        Vec::with_capacity(walked.system.len() + walked.messages.len() + walked.metadata.len());
    for part in [walked.system, walked.messages, walked.metadata] {
        // Each part's links index into the part: shift them to index into `texts`.
        let base = texts.len();
        texts.extend(part.into_iter().map(|found| literal(found, base)));
    }
    let model = walked.model.map(|model| {
        let text = unescape::text(body, model);
        literal(Found::value(SegmentKind::Message, model, text), 0)
    });
    let metadata = walked
        .metadata_value
        .and_then(|(start, end)| body.get(start..end));
    Ok(Extracted {
        texts,
        model,
        metadata,
    })
}

fn literal(found: Found<'_>, base: usize) -> Literal<'_> {
    Literal {
        kind: found.kind,
        span: (found.literal.start, found.literal.end),
        text: found.text,
        continues: found.continues.map(|at| at + base),
        key: found.key,
    }
}

impl Extracted<'_> {
    /// The indices of [`Self::texts`] in the order a guard reads them, each with whether it
    /// continues the one before: every text exactly once, and each right after the text it
    /// continues, so that a phrase split across them is read joined.
    pub fn reading_order(&self) -> Vec<(usize, bool)> {
        let count = self.texts.len();
        let mut next = vec![None; count];
        for (at, text) in self.texts.iter().enumerate() {
            // Links point back; anything else is ignored (the text is read on its own).
            if let Some(before) = text.continues.filter(|&before| before < at) {
                next[before] = Some(at);
            }
        }
        let mut placed = vec![false; count];
        let mut order = Vec::with_capacity(count);
        for head in 0..count {
            if placed[head] || self.texts[head].continues.is_some_and(|b| b < head) {
                continue;
            }
            let mut at = Some(head);
            while let Some(i) = at.filter(|&i| !placed[i]) {
                placed[i] = true;
                order.push((i, i != head));
                at = next[i];
            }
        }
        // A text whose link was overwritten by another's is read on its own: never dropped.
        order.extend((0..count).filter(|&i| !placed[i]).map(|i| (i, false)));
        order
    }
}

type Object<'a> = BTreeMap<String, &'a RawValue>;

/// The error for a body the walker refused. serde_json words it (line and column included),
/// as clients saw before the walker existed; the walker's own words are the fallback.
#[cold]
fn diagnose(body: &str, err: WalkError) -> ProxyError {
    if let WalkError::Syntax(syntax) = err
        && syntax.ambiguous
    {
        let (line, column) = json::line_column(body, syntax.offset);
        return ProxyError::Unguardable(format!(
            "{} at line {line} column {column}",
            syntax.problem
        ));
    }
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
        WalkError::Shape(offset, problem) => {
            let (line, column) = json::line_column(body, offset);
            ProxyError::Unguardable(format!("{problem} at line {line} column {column}"))
        }
    }
}

/// Replaces byte spans of `body` with new JSON string literals for `values`.
///
/// Every edit must apply: an edit that overlaps another or lies outside the body is a bug
/// upstream of here, and forwarding the body with the edit dropped would forward what a guard
/// meant to mask, so it is an error that refuses the request.
pub fn splice(body: &str, mut edits: Vec<((usize, usize), String)>) -> Result<Vec<u8>> {
    edits.sort_by_key(|(span, _)| span.0);
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut copied = 0;
    for ((start, end), value) in edits {
        let Some(before) = body
            .as_bytes()
            .get(copied..start)
            .filter(|_| start <= end && end <= body.len())
        else {
            return Err(ProxyError::Unguardable(format!(
                "an edit of bytes {start}..{end} overlaps another or lies outside the body"
            )));
        };
        out.extend_from_slice(before);
        let literal = serde_json::to_string(&value)
            .map_err(|e| ProxyError::Unguardable(format!("cannot encode a masked text: {e}")))?;
        out.extend_from_slice(literal.as_bytes());
        copied = end;
    }
    out.extend_from_slice(&body.as_bytes()[copied..]);
    Ok(out)
}

/// Checks a body whose object keys a Mask rewrote. Two keys of one object masked to one
/// label (or to a name the object has already) would make a duplicate key, which parsers
/// read differently: such a body is refused, never forwarded.
pub fn check_masked_keys(body: &[u8]) -> Result<()> {
    let refuse = |problem: &str| {
        ProxyError::Unguardable(format!(
            "masking object keys would forward an ambiguous body ({problem}); rename the keys or send their text as values"
        ))
    };
    let text = std::str::from_utf8(body).map_err(|e| refuse(&e.to_string()))?;
    let mut reader = json::Reader::new(text);
    reader.skip().and_then(|()| reader.end()).map_err(|err| {
        let (line, column) = json::line_column(text, err.offset);
        refuse(&format!("{} at line {line} column {column}", err.problem))
    })
}

#[cfg(test)]
mod tests;

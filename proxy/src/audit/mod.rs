//! Audit capture, for Backends that opt in (`spec.policies.ai.audit`): one JSON line per
//! forwarded Messages request with its text as sent upstream — after masking, so a masked
//! value never appears — and the response text assembled from the SSE deltas (or the JSON
//! body), each cut at the Backend's `maxBytes` with a `truncated` marker. Owns the record
//! and the `--audit-log` sink. Must not record headers (keys), a rejected request's text, or
//! anything of a Backend that did not opt in.

pub mod rotate;

use std::time::SystemTime;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;
use serde::{Deserialize, Serialize};

use crate::access_log::sink::LineSink;

/// Every part of a request the guards can inspect.
const FULL_SCOPE: GuardScope = GuardScope {
    system: true,
    messages: true,
    tool_results: true,
    tool_use: true,
};

/// The audit sink; `None` records nothing.
#[derive(Debug, Default)]
pub struct AuditLog {
    sink: Option<LineSink>,
}

impl AuditLog {
    pub fn new(sink: LineSink) -> Self {
        Self { sink: Some(sink) }
    }

    /// Starts the record of a request about to be forwarded as `body`, keeping at most
    /// `max_bytes` of its text (the latest texts first: the newest turn matters most).
    pub fn capture(
        &self,
        request_id: &str,
        backend: &str,
        body: &[u8],
        max_bytes: u32,
    ) -> Option<Capture> {
        let sink = self.sink.clone()?;
        let max = max_bytes as usize;
        let request = std::str::from_utf8(body)
            .ok()
            .and_then(|text| crate::messages::extract(text, FULL_SCOPE).ok())
            .map_or_else(RequestText::default, |extracted| {
                RequestText::keep_latest(extracted.texts.iter().map(|t| (t.kind, &*t.text)), max)
            });
        Some(Capture {
            sink,
            record: AuditRecord {
                time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                request_id: request_id.to_owned(),
                backend: backend.to_owned(),
                record: "audit",
                request,
                response: ResponseText::default(),
                complete: false,
            },
            max,
        })
    }

    /// Waits briefly for queued records to be written; at shutdown.
    pub fn flush(&self) {
        if let Some(sink) = &self.sink {
            sink.flush(std::time::Duration::from_secs(2));
        }
    }
}

#[derive(Debug, Serialize)]
struct AuditRecord {
    time: String,
    request_id: String,
    #[serde(rename = "agw.backend")]
    backend: String,
    #[serde(rename = "agw.record")]
    record: &'static str,
    request: RequestText,
    response: ResponseText,
    /// The response reached its end (false: the client left or the upstream failed).
    complete: bool,
}

#[derive(Debug, Default, Serialize)]
struct RequestText {
    texts: Vec<Text>,
    /// Earlier texts left out to stay within `maxBytes`.
    #[serde(skip_serializing_if = "is_zero")]
    omitted: usize,
    truncated: bool,
}

#[derive(Debug, Serialize)]
struct Text {
    kind: &'static str,
    text: String,
}

#[derive(Debug, Default, Serialize)]
struct ResponseText {
    text: String,
    truncated: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::System => "system",
        SegmentKind::Message => "message",
        SegmentKind::ToolResult => "tool_result",
        SegmentKind::ToolUse => "tool_use",
    }
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl RequestText {
    fn keep_latest<'a>(
        texts: impl DoubleEndedIterator<Item = (SegmentKind, &'a str)> + ExactSizeIterator,
        max: usize,
    ) -> Self {
        let total = texts.len();
        let mut kept = Vec::new();
        let mut budget = max;
        let mut truncated = false;
        for (kind, text) in texts.rev() {
            if budget == 0 {
                truncated = true;
                break;
            }
            let cut = prefix(text, budget);
            truncated |= cut.len() < text.len();
            budget -= cut.len();
            kept.push(Text {
                kind: kind_name(kind),
                text: cut.to_owned(),
            });
        }
        kept.reverse();
        Self {
            omitted: total - kept.len(),
            texts: kept,
            truncated,
        }
    }
}

/// One request's audit record; written when dropped (the response ended or was abandoned).
#[derive(Debug)]
pub struct Capture {
    sink: LineSink,
    record: AuditRecord,
    max: usize,
}

/// An SSE event (`content_block_delta`) or a whole JSON response (`content`).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    delta: Option<TextPart>,
    content: Option<Vec<TextPart>>,
}

#[derive(Deserialize)]
struct TextPart {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
}

impl Capture {
    /// One SSE event's data: a `text_delta` adds its text.
    pub fn sse_data(&mut self, json: &[u8]) {
        if self.record.response.truncated || memchr::memmem::find(json, b"text_delta").is_none() {
            return;
        }
        if let Ok(Event {
            kind: Some(kind),
            delta: Some(delta),
            ..
        }) = serde_json::from_slice::<Event>(json)
            && kind == "content_block_delta"
            && delta.kind.as_deref() == Some("text_delta")
            && let Some(text) = delta.text
        {
            self.push(&text);
        }
    }

    /// A whole JSON response: its text blocks.
    pub fn json_body(&mut self, json: &[u8]) {
        let Ok(Event {
            content: Some(blocks),
            ..
        }) = serde_json::from_slice::<Event>(json)
        else {
            return;
        };
        for block in blocks {
            if block.kind.as_deref() == Some("text")
                && let Some(text) = block.text
            {
                self.push(&text);
            }
        }
    }

    fn push(&mut self, text: &str) {
        let response = &mut self.record.response;
        let room = self.max.saturating_sub(response.text.len());
        let cut = prefix(text, room);
        response.text.push_str(cut);
        response.truncated |= cut.len() < text.len();
    }

    /// The response reached its end.
    pub fn complete(&mut self) {
        self.record.complete = true;
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut line) = serde_json::to_vec(&self.record) {
            line.push(b'\n');
            self.sink.send(&line);
        }
    }
}

#[cfg(test)]
mod tests;

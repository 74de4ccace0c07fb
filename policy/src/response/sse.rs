//! Response guards on an Anthropic SSE stream (`stream: true`, what Claude Code uses).
//!
//! Bytes go in as the upstream sends them, complete events come out. An event that carries
//! no guarded text (`message_start`, `ping`, `message_delta` with its `usage`, a thinking
//! block's deltas) goes out at once, byte for byte. A guarded text block's `text_delta`s go
//! through a [`TextWindow`]: each delta event that releases text becomes one
//! `content_block_delta` with the same `index` and the masked text; one that releases
//! nothing is dropped (a client accumulates deltas, so only their concatenation matters).
//! `content_block_stop` first releases what the window still holds. A `tool_use` block with
//! scope `ToolInput` is gathered until its stop (clients act on a tool call only once its
//! input is complete) and sent as one `input_json_delta`, masked as JSON.
//!
//! When a guard rejects (or cannot decide) the stream ends with Anthropic's SSE `error`
//! event carrying the guard's message; nothing after it is sent. This module buffers at
//! most one event, a window per text block and [`MAX_TOOL_INPUT_BYTES`] of tool input.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::json::{JsonOutcome, guard_tool_input};
use super::window::TextWindow;
use super::{Hits, Stopped};
use crate::engine::{BackendGuards, Rejected, SegmentKind};

/// Largest single event accepted; a bigger one stops the stream (fail closed).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Largest `tool_use` input gathered for inspection.
pub const MAX_TOOL_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Anthropic error type of the `error` event that ends a stopped stream. Claude Code prints
/// its message as the API error and does not retry it (unlike `overloaded_error` and
/// `api_error`, which it retries).
pub const STOP_ERROR_TYPE: &str = "invalid_request_error";

/// The state of one guarded stream.
#[derive(Debug, Default)]
pub struct SseGuard {
    /// Bytes of an event not yet complete.
    partial: Vec<u8>,
    blocks: BTreeMap<u64, Block>,
    hits: Hits,
    stopped: Option<Stopped>,
}

#[derive(Debug)]
enum Block {
    Text(TextWindow),
    ToolInput(String),
}

/// The fields of an event the guard looks at.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    index: Option<u64>,
    delta: Option<Delta>,
    content_block: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    partial_json: Option<String>,
}

impl SseGuard {
    /// A guard for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes upstream bytes; returns the bytes to send now.
    pub fn push(&mut self, guards: &BackendGuards, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.stopped.is_some() {
            return out;
        }
        self.partial.extend_from_slice(chunk);
        while let Some(end) = event_end(&self.partial) {
            let event: Vec<u8> = self.partial.drain(..end).collect();
            self.event(guards, &event, &mut out);
            if self.stopped.is_some() {
                self.partial.clear();
                return out;
            }
        }
        if self.partial.len() > MAX_EVENT_BYTES {
            self.stop(
                Stopped::unreadable("got an event over its size limit"),
                &mut out,
            );
        }
        out
    }

    /// The upstream ended: releases what is held (a stream cut before its blocks stopped).
    pub fn finish(&mut self, guards: &BackendGuards) -> Vec<u8> {
        let mut out = Vec::new();
        if self.stopped.is_some() {
            return out;
        }
        let indexes: Vec<u64> = self.blocks.keys().copied().collect();
        for index in indexes {
            self.close_block(guards, index, &mut out);
            if self.stopped.is_some() {
                return out;
            }
        }
        out.append(&mut self.partial);
        out
    }

    /// Why the stream was stopped, once it was.
    pub fn stopped(&self) -> Option<&Stopped> {
        self.stopped.as_ref()
    }

    /// Mask counts gathered since the last call.
    pub fn take_hits(&mut self) -> Vec<crate::engine::GuardHit> {
        self.hits.take()
    }

    fn event(&mut self, guards: &BackendGuards, raw: &[u8], out: &mut Vec<u8>) {
        let data = data(raw);
        let Some(event) = data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Event>(d).ok())
        else {
            if data.as_deref().is_some_and(is_content_event) {
                // A content event the guard cannot read could still carry text a client reads.
                let stop = Stopped::unreadable("got a content event it cannot read");
                self.stop(stop, out);
            } else {
                out.extend_from_slice(raw); // comments, keep-alives, other events: no text
            }
            return;
        };
        let index = event.index.unwrap_or(0);
        match event.kind.as_str() {
            "content_block_start" => self.start_block(guards, index, &event, raw, out),
            "content_block_delta" => self.delta(guards, index, event.delta, raw, out),
            "content_block_stop" => {
                self.close_block(guards, index, out);
                if self.stopped.is_none() {
                    out.extend_from_slice(raw);
                }
            }
            _ => out.extend_from_slice(raw),
        }
    }

    fn start_block(
        &mut self,
        guards: &BackendGuards,
        index: u64,
        event: &Event,
        raw: &[u8],
        out: &mut Vec<u8>,
    ) {
        let block = event.content_block.as_ref();
        let kind = block.and_then(|b| b.get("type")).and_then(|t| t.as_str());
        let scope = guards.scope();
        match kind {
            Some("text") if scope.messages => {
                self.blocks
                    .insert(index, Block::Text(TextWindow::new(SegmentKind::Message)));
                let initial = block
                    .and_then(|b| b.get("text"))
                    .and_then(|t| t.as_str())
                    .unwrap_or_default();
                if initial.is_empty() {
                    out.extend_from_slice(raw);
                } else {
                    // Sent as an empty block, its text through the window like a delta.
                    let mut emptied = block.cloned().unwrap_or_default();
                    emptied.insert("text".to_owned(), "".into());
                    write_event(
                        out,
                        "content_block_start",
                        &serde_json::json!({
                            "type": "content_block_start", "index": index, "content_block": emptied,
                        }),
                    );
                    self.text(guards, index, initial, out);
                }
            }
            Some("tool_use") if scope.tool_use => {
                self.blocks.insert(index, Block::ToolInput(String::new()));
                out.extend_from_slice(raw);
            }
            _ => out.extend_from_slice(raw),
        }
    }

    fn delta(
        &mut self,
        guards: &BackendGuards,
        index: u64,
        delta: Option<Delta>,
        raw: &[u8],
        out: &mut Vec<u8>,
    ) {
        let Some(delta) = delta else {
            out.extend_from_slice(raw);
            return;
        };
        match (self.blocks.get_mut(&index), delta.kind.as_str()) {
            (Some(Block::Text(_)), "text_delta") => {
                let text = delta.text.unwrap_or_default();
                self.text(guards, index, &text, out);
            }
            (Some(Block::ToolInput(gathered)), "input_json_delta") => {
                gathered.push_str(delta.partial_json.as_deref().unwrap_or_default());
                if gathered.len() > MAX_TOOL_INPUT_BYTES {
                    let stop = Stopped::unreadable("got a tool input over its size limit");
                    self.stop(stop, out);
                }
            }
            _ => out.extend_from_slice(raw),
        }
    }

    fn text(&mut self, guards: &BackendGuards, index: u64, text: &str, out: &mut Vec<u8>) {
        let Some(Block::Text(window)) = self.blocks.get_mut(&index) else {
            return;
        };
        match window.push(guards, text, &mut self.hits) {
            Ok(ready) => text_delta(out, index, &ready),
            Err(stop) => self.stop(stop, out),
        }
    }

    fn close_block(&mut self, guards: &BackendGuards, index: u64, out: &mut Vec<u8>) {
        match self.blocks.remove(&index) {
            Some(Block::Text(mut window)) => match window.finish(guards, &mut self.hits) {
                Ok(rest) => text_delta(out, index, &rest),
                Err(stop) => self.stop(stop, out),
            },
            Some(Block::ToolInput(input)) if !input.trim().is_empty() => {
                match guard_tool_input(guards, &input) {
                    Ok(JsonOutcome::Allow) => input_delta(out, index, &input),
                    Ok(JsonOutcome::Mask { body, hits }) => {
                        for hit in hits {
                            self.hits.add(&hit.guard_id, hit.count);
                        }
                        input_delta(out, index, &body);
                    }
                    Ok(JsonOutcome::Reject(rejected)) => self.stop(
                        Stopped {
                            rejected,
                            undecided: false,
                        },
                        out,
                    ),
                    Err(_) => self.stop(
                        Stopped::unreadable("got a tool input that is not JSON"),
                        out,
                    ),
                }
            }
            _ => {}
        }
    }

    fn stop(&mut self, stopped: Stopped, out: &mut Vec<u8>) {
        write_error(out, &stopped.rejected);
        self.blocks.clear();
        self.stopped = Some(stopped);
    }
}

/// Whether `data` is JSON whose `type` names an event that can carry a block's content.
fn is_content_event(data: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(data).is_ok_and(|v| {
        v.get("type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| t.starts_with("content_block_"))
    })
}

/// End (exclusive) of the first complete event in `buf`: after its blank line.
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &buf[line_start..i];
        if (line.is_empty() || line == b"\r") && i > 0 && line_start > 0 {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

/// The event's `data:` lines, joined with newlines as SSE defines.
fn data(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn write_event(out: &mut Vec<u8>, name: &str, data: &serde_json::Value) {
    out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
}

// Written out to keep Anthropic's key order (type first); `json!` would sort the keys.
fn text_delta(out: &mut Vec<u8>, index: u64, text: &str) {
    if text.is_empty() {
        return;
    }
    let text = serde_json::Value::from(text);
    out.extend_from_slice(format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"text_delta\",\"text\":{text}}}}}\n\n").as_bytes());
}

fn input_delta(out: &mut Vec<u8>, index: u64, json: &str) {
    let json = serde_json::Value::from(json);
    out.extend_from_slice(format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"input_json_delta\",\"partial_json\":{json}}}}}\n\n").as_bytes());
}

/// Anthropic's SSE error event, e.g. what the API sends when it is overloaded mid-stream.
fn write_error(out: &mut Vec<u8>, rejected: &Rejected) {
    let message = serde_json::Value::from(rejected.message.as_str());
    out.extend_from_slice(format!("event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"{STOP_ERROR_TYPE}\",\"message\":{message}}}}}\n\n").as_bytes());
}

#[cfg(test)]
mod tests;

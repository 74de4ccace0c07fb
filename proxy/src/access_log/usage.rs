//! Reading token usage and the answering model out of a Messages response as it streams by:
//! the `data:` lines of Anthropic's SSE events (`message_start`, `message_delta`) or a whole
//! JSON body. Owns the line splitting and the usage fields; must not hold back, change or
//! keep response bytes beyond one line (or one capped JSON body).

use serde::Deserialize;

use super::record::Usage;

/// Longest SSE line, or JSON body, kept while looking for usage; longer ones are skipped
/// (their usage is then missing from the record, never wrong).
pub const MAX_KEPT: usize = 1024 * 1024;

/// What the upstream reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reported {
    pub usage: Usage,
    pub model: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    model: Option<String>,
    usage: Option<RawUsage>,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    model: Option<String>,
    usage: Option<RawUsage>,
}

/// Anthropic's `usage` object, its field names as sent.
#[derive(Deserialize)]
#[allow(clippy::struct_field_names)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

impl Reported {
    /// Takes the usage and model of one SSE event's data or one JSON body. Anthropic's
    /// counts are running totals (a `message_delta` repeats the final `output_tokens`), so
    /// a later value replaces an earlier one.
    pub fn take(&mut self, json: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Event>(json) else {
            return;
        };
        let (model, usage) = match event.message {
            Some(message) => (message.model.or(event.model), message.usage.or(event.usage)),
            None => (event.model, event.usage),
        };
        if let Some(model) = model {
            self.model = Some(model);
        }
        let Some(usage) = usage else { return };
        let fields = [
            (&mut self.usage.input, usage.input_tokens),
            (&mut self.usage.output, usage.output_tokens),
            (&mut self.usage.cache_read, usage.cache_read_input_tokens),
            (
                &mut self.usage.cache_creation,
                usage.cache_creation_input_tokens,
            ),
        ];
        for (field, value) in fields {
            if value.is_some() {
                *field = value;
            }
        }
    }
}

/// Splits a byte stream into lines across chunk boundaries, keeping only the unfinished
/// line between chunks.
#[derive(Debug, Default)]
pub struct Lines {
    carry: Vec<u8>,
    skipping: bool,
}

impl Lines {
    /// Calls `line` for every complete line in `chunk` (without `\n` or `\r`).
    pub fn feed(&mut self, chunk: &[u8], mut line: impl FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (head, tail) = (&rest[..end], &rest[end + 1..]);
            if self.carry.is_empty() && !self.skipping {
                line(trim_cr(head));
            } else if !self.skipping && self.carry.len() + head.len() <= MAX_KEPT {
                self.carry.extend_from_slice(head);
                line(trim_cr(&self.carry));
            }
            self.carry.clear();
            self.skipping = false;
            rest = tail;
        }
        if self.skipping || self.carry.len() + rest.len() > MAX_KEPT {
            self.carry.clear();
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(rest);
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The JSON of an SSE `data:` line.
pub fn sse_data(line: &[u8]) -> Option<&[u8]> {
    let data = line.strip_prefix(b"data:")?;
    Some(data.strip_prefix(b" ").unwrap_or(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":7,\"output_tokens\":1}}}\r\n\r\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":34}}\n\n";

    fn scan(chunks: &[&[u8]]) -> Reported {
        let mut lines = Lines::default();
        let mut reported = Reported::default();
        for chunk in chunks {
            lines.feed(chunk, |line| {
                if let Some(json) = sse_data(line) {
                    reported.take(json);
                }
            });
        }
        reported
    }

    #[test]
    fn usage_is_read_from_sse_events_whatever_the_chunking() {
        let expected = Reported {
            usage: Usage {
                input: Some(12),
                output: Some(34),
                cache_read: Some(100),
                cache_creation: Some(7),
            },
            model: Some("claude-sonnet-4-5".to_owned()),
        };
        let bytes = STREAM.as_bytes();
        for split in 0..bytes.len() {
            let (a, b) = bytes.split_at(split);
            assert_eq!(scan(&[a, b]), expected, "split at {split}");
        }
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(scan(&single), expected);
        assert_eq!(expected.usage.total_input(), Some(119));
    }

    #[test]
    fn a_json_body_gives_its_usage_and_model() {
        let mut reported = Reported::default();
        reported.take(br#"{"id":"msg_1","model":"claude-x","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":3,"output_tokens":4}}"#);
        assert_eq!(reported.usage.total_input(), Some(3));
        assert_eq!(reported.usage.output, Some(4));
        assert_eq!(reported.usage.cache_read, None);
        assert_eq!(reported.model.as_deref(), Some("claude-x"));
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_one_still_read() {
        let long = vec![b'x'; MAX_KEPT + 10];
        let next = b"\ndata: {\"usage\":{\"output_tokens\":5}}\n";
        let reported = scan(&[b"data: {\"usage\":", &long, next]);
        assert_eq!(reported.usage.output, Some(5));
    }
}

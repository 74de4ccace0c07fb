//! Finding the texts of a Messages body in one pass of the [`Reader`].
//!
//! The walker follows the Messages shape (`system`, `messages[].content`, content blocks)
//! and skips everything else while the reader validates it. Duplicate keys resolve as
//! serde_json maps resolve them (the last one wins), and a block's `type` may come after
//! its `text`, so a block's candidates are held until the block closes.

use std::borrow::Cow;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;

use super::json::{Read, Reader, Str, SyntaxError};
use super::unescape;

/// A string a guard reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    /// Part of the request it belongs to.
    pub kind: SegmentKind,
    /// Its literal.
    pub literal: Str,
    /// Its text, decoded while it was read.
    pub text: Cow<'a, str>,
}

/// Everything found in a body.
#[derive(Debug, Default)]
pub struct Walked<'a> {
    /// Texts of `system`.
    pub system: Vec<Found<'a>>,
    /// Texts of `messages`, in body order.
    pub messages: Vec<Found<'a>>,
    /// The top-level `model`, when it is a string.
    pub model: Option<Str>,
}

/// Why a body is not a Messages request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// Not JSON.
    Syntax(SyntaxError),
    /// JSON, but not an object.
    NotObject,
    /// `messages` is not an array of objects; the span of its value.
    Messages(usize, usize),
}

impl From<SyntaxError> for WalkError {
    fn from(err: SyntaxError) -> Self {
        Self::Syntax(err)
    }
}

/// Walks `body`, collecting the strings `scope` asks for.
pub fn walk(body: &str, scope: GuardScope) -> Result<Walked<'_>, WalkError> {
    let mut reader = Reader::new(body);
    if reader.peek() != Some(b'{') {
        // Syntax errors first, as a full parse would report them.
        reader.skip()?;
        reader.end()?;
        return Err(WalkError::NotObject);
    }
    reader.open();
    let walker = Walker { body, scope };
    let mut out = Walked::default();
    let mut bad_messages = None;
    let mut first = true;
    while let Some(key) = reader.next_key(first)? {
        first = false;
        if walker.is(key, "model") {
            out.model = string_or_skip(&mut reader)?;
        } else if walker.is(key, "system") && scope.system {
            out.system.clear();
            walker.content(&mut reader, SegmentKind::System, &mut out.system)?;
        } else if walker.is(key, "messages") {
            out.messages.clear();
            bad_messages = walker.messages(&mut reader, &mut out.messages)?;
        } else {
            reader.skip()?;
        }
    }
    reader.end()?;
    match bad_messages {
        Some((start, end)) => Err(WalkError::Messages(start, end)),
        None => Ok(out),
    }
}

/// A string value, or `None` after skipping any other value.
fn string_or_skip(reader: &mut Reader<'_>) -> Read<Option<Str>> {
    if reader.peek() == Some(b'"') {
        return reader.string().map(Some);
    }
    reader.skip().map(|()| None)
}

/// A string value and its text, or `None` after skipping any other value.
fn text_or_skip<'b>(reader: &mut Reader<'b>) -> Read<Option<(Str, Cow<'b, str>)>> {
    if reader.peek() == Some(b'"') {
        return reader.text().map(Some);
    }
    reader.skip().map(|()| None)
}

struct Walker<'b> {
    body: &'b str,
    scope: GuardScope,
}

impl<'b> Walker<'b> {
    /// Whether a key (or `type` value) is `name`, escapes decoded.
    fn is(&self, literal: Str, name: &str) -> bool {
        unescape::text(self.body, literal) == name
    }

    /// `messages`: the span of the value when it is not an array of objects.
    fn messages(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
    ) -> Read<Option<(usize, usize)>> {
        let start = reader.pos();
        if reader.peek() != Some(b'[') {
            reader.skip()?;
            return Ok(Some((start, reader.pos())));
        }
        reader.open();
        let mut bad = false;
        let mut first = true;
        while reader.next_element(first)? {
            first = false;
            if reader.peek() == Some(b'{') {
                self.message(reader, out)?;
            } else {
                reader.skip()?;
                bad = true;
            }
        }
        Ok(bad.then(|| (start, reader.pos())))
    }

    /// One message object: the texts of its (last) `content`.
    fn message(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Read<()> {
        reader.open();
        let base = out.len();
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            if self.is(key, "content") {
                out.truncate(base);
                self.message_content(reader, out)?;
            } else {
                reader.skip()?;
            }
        }
        Ok(())
    }

    /// A message's content: a string, or an array of blocks.
    fn message_content(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Read<()> {
        match reader.peek() {
            Some(b'"') => {
                if self.scope.messages {
                    let (literal, text) = reader.text()?;
                    out.push(Found {
                        kind: SegmentKind::Message,
                        literal,
                        text,
                    });
                } else {
                    reader.string()?;
                }
                Ok(())
            }
            Some(b'[') => self.blocks(reader, out, Self::block),
            _ => reader.skip(),
        }
    }

    /// `system` or a `tool_result`'s content: a string, or an array of `text` blocks.
    fn content(
        &self,
        reader: &mut Reader<'b>,
        kind: SegmentKind,
        out: &mut Vec<Found<'b>>,
    ) -> Read<()> {
        match reader.peek() {
            Some(b'"') => {
                let (literal, text) = reader.text()?;
                out.push(Found {
                    kind,
                    literal,
                    text,
                });
                Ok(())
            }
            Some(b'[') => self.blocks(reader, out, |walker, reader, out| {
                let block = walker.fields(reader, None)?;
                if block.type_is(walker, "text")
                    && let Some((literal, text)) = block.text
                {
                    out.push(Found {
                        kind,
                        literal,
                        text,
                    });
                }
                Ok(())
            }),
            _ => reader.skip(),
        }
    }

    /// The object elements of an array, each handed to `block`; other elements are skipped.
    fn blocks(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        block: impl Fn(&Self, &mut Reader<'b>, &mut Vec<Found<'b>>) -> Read<()>,
    ) -> Read<()> {
        reader.open();
        let mut first = true;
        while reader.next_element(first)? {
            first = false;
            if reader.peek() == Some(b'{') {
                block(self, reader, out)?;
            } else {
                reader.skip()?;
            }
        }
        Ok(())
    }

    /// A content block of a message: `text`, `tool_result` or `tool_use`, per scope.
    fn block(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Read<()> {
        let mut nested = Nested::default();
        let block = self.fields(reader, Some(&mut nested))?;
        if block.type_is(self, "text") && self.scope.messages {
            if let Some((literal, text)) = block.text {
                out.push(Found {
                    kind: SegmentKind::Message,
                    literal,
                    text,
                });
            }
        } else if block.type_is(self, "tool_result") && self.scope.tool_results {
            out.append(&mut nested.content);
        } else if block.type_is(self, "tool_use") && self.scope.tool_use {
            out.append(&mut nested.input);
        }
        Ok(())
    }

    /// Reads a block object: its `type` and `text`, and — when `nested` is given — the
    /// texts of its `content` and `input`, kept until the type is known.
    fn fields(
        &self,
        reader: &mut Reader<'b>,
        mut nested: Option<&mut Nested<'b>>,
    ) -> Read<Block<'b>> {
        reader.open();
        let mut block = Block::default();
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            match (&mut nested, key) {
                (_, key) if self.is(key, "type") => block.kind = string_or_skip(reader)?,
                (_, key) if self.is(key, "text") => block.text = text_or_skip(reader)?,
                (Some(nested), key) if self.is(key, "content") && self.scope.tool_results => {
                    nested.content.clear();
                    self.content(reader, SegmentKind::ToolResult, &mut nested.content)?;
                }
                (Some(nested), key) if self.is(key, "input") && self.scope.tool_use => {
                    nested.input.clear();
                    let input = &mut nested.input;
                    let body = self.body;
                    reader.value_strings(|literal| {
                        input.push(Found {
                            kind: SegmentKind::ToolUse,
                            literal,
                            text: unescape::text(body, literal),
                        });
                    })?;
                }
                _ => reader.skip()?,
            }
        }
        Ok(block)
    }
}

/// The `type` and `text` strings of a block.
#[derive(Default)]
struct Block<'b> {
    kind: Option<Str>,
    text: Option<(Str, Cow<'b, str>)>,
}

impl Block<'_> {
    fn type_is(&self, walker: &Walker<'_>, name: &str) -> bool {
        self.kind.is_some_and(|kind| walker.is(kind, name))
    }
}

/// Texts of a block's `content` and `input`, whose use depends on its `type`.
#[derive(Default)]
struct Nested<'b> {
    content: Vec<Found<'b>>,
    input: Vec<Found<'b>>,
}

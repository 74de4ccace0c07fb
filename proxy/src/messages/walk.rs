//! Finding the texts of a Messages body in one pass of the [`Reader`].
//!
//! The walker follows the Messages shape and reads, per scope, every place text can hide:
//! `system` (a string, or blocks), each message's `content` (a string, or blocks of any
//! type, role `system` messages included), and `metadata`. Within a block every string leaf
//! is read, however deeply nested (`tool_result` content as a string, text blocks or arrays,
//! `tool_use.input`, `document` text sources, `thinking`, citations, block types that do not
//! exist yet), except values that are opaque by contract: [`OPAQUE_KEYS`], and the `data` of
//! a `base64` source or a `redacted_thinking` block (never decoded; it still counts toward the
//! body limit). A block's scope follows its type: `tool_use`-like blocks are `ToolUse`,
//! `tool_result`-like blocks are `ToolResult`, all others (unknown ones included) `Messages`.
//! A block's `type` may come after its texts, so they are held until the block closes.
//!
//! A message's fields other than `role` and `content` are read as its text too. What the
//! walker cannot interpret is refused, never skipped: `messages` that is not an array of
//! objects, `content` or `system` of another type, a block that is no object, and
//! (from the reader) duplicate keys, nesting past 128 levels and lone surrogates. Top-level
//! fields other than `model`, `system`, `messages` and `metadata` (`tools`, `tool_choice`,
//! sampling settings) are configuration, validated as JSON and forwarded unread.

use std::borrow::Cow;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;

use super::json::{Read, Reader, Str, SyntaxError};
use super::unescape;

/// Keys whose values are identifiers or opaque blobs the provider validates by format, and
/// no model reads as text: never scanned (a signature's base64 would only give false hits).
pub const OPAQUE_KEYS: &[&str] = &[
    "type",
    "id",
    "tool_use_id",
    "signature",
    "media_type",
    "cache_control",
];

/// Object types whose `data` is an encoding, not text.
const OPAQUE_DATA: &[&str] = &["base64", "redacted_thinking"];

/// A string a guard reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    /// Part of the request it belongs to.
    pub kind: SegmentKind,
    /// Its literal.
    pub literal: Str,
    /// Its text, decoded while it was read.
    pub text: Cow<'a, str>,
    /// Whether it is a `text` block's text following another of the same message, which the
    /// model reads as one text with it.
    pub joins_previous: bool,
}

/// Everything found in a body.
#[derive(Debug, Default)]
pub struct Walked<'a> {
    /// Texts of `system`.
    pub system: Vec<Found<'a>>,
    /// Texts of `messages`, in body order.
    pub messages: Vec<Found<'a>>,
    /// Texts of `metadata`.
    pub metadata: Vec<Found<'a>>,
    /// The top-level `model`, when it is a string.
    pub model: Option<Str>,
}

/// Why a body is not a Messages request a guard can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// Not JSON, or JSON a guard cannot read unambiguously.
    Syntax(SyntaxError),
    /// JSON, but not an object.
    NotObject,
    /// `messages` is not an array of objects; the span of its value.
    Messages(usize, usize),
    /// A part of the body has a shape the walker cannot interpret: where, and what it needs.
    Shape(usize, &'static str),
}

impl From<SyntaxError> for WalkError {
    fn from(err: SyntaxError) -> Self {
        Self::Syntax(err)
    }
}

type Walk<T> = Result<T, WalkError>;

/// Walks `body`, collecting the strings `scope` asks for.
pub fn walk(body: &str, scope: GuardScope) -> Walk<Walked<'_>> {
    let mut reader = Reader::new(body);
    if reader.peek() != Some(b'{') {
        // Syntax errors first, as a full parse would report them.
        reader.skip()?;
        reader.end()?;
        return Err(WalkError::NotObject);
    }
    reader.open()?;
    let walker = Walker { body, scope };
    let mut out = Walked::default();
    let mut bad_messages = None;
    let mut first = true;
    while let Some(key) = reader.next_key(first)? {
        first = false;
        if walker.is(key, "model") {
            out.model = string_or_skip(&mut reader)?;
        } else if walker.is(key, "system") && scope.system {
            walker.system(&mut reader, &mut out.system)?;
        } else if walker.is(key, "messages") {
            bad_messages = walker.messages(&mut reader, &mut out.messages)?;
        } else if walker.is(key, "metadata") && scope.messages {
            walker.leaves(&mut reader, &mut out.metadata, true)?;
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

/// The scope a block of type `name` belongs to.
fn block_kind(name: &str) -> SegmentKind {
    match name {
        "tool_use" | "server_tool_use" | "mcp_tool_use" => SegmentKind::ToolUse,
        _ if name == "tool_result" || name.ends_with("_tool_result") => SegmentKind::ToolResult,
        _ => SegmentKind::Message,
    }
}

fn covers(scope: GuardScope, kind: SegmentKind) -> bool {
    match kind {
        SegmentKind::System => scope.system,
        SegmentKind::Message => scope.messages,
        SegmentKind::ToolResult => scope.tool_results,
        SegmentKind::ToolUse => scope.tool_use,
    }
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

    fn text(reader: &mut Reader<'b>, kind: SegmentKind) -> Walk<Found<'b>> {
        let (literal, text) = reader.text()?;
        Ok(Found {
            kind,
            literal,
            text,
            joins_previous: false,
        })
    }

    /// `system`: a string, or an array of blocks whose every text leaf is read.
    fn system(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<()> {
        match reader.peek() {
            Some(b'"') => out.push(Self::text(reader, SegmentKind::System)?),
            Some(b'[') => {
                reader.open()?;
                let mut first = true;
                while reader.next_element(first)? {
                    first = false;
                    if reader.peek() != Some(b'{') {
                        return Err(WalkError::Shape(
                            reader.pos(),
                            "`system` blocks must be objects",
                        ));
                    }
                    let start = out.len();
                    self.object(reader, out, true, None)?;
                    out[start..]
                        .iter_mut()
                        .for_each(|f| f.kind = SegmentKind::System);
                }
            }
            _ => {
                return Err(WalkError::Shape(
                    reader.pos(),
                    "`system` must be a string or an array of blocks",
                ));
            }
        }
        Ok(())
    }

    /// `messages`: the span of the value when it is not an array of objects.
    fn messages(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
    ) -> Walk<Option<(usize, usize)>> {
        let start = reader.pos();
        if reader.peek() != Some(b'[') {
            reader.skip()?;
            return Ok(Some((start, reader.pos())));
        }
        reader.open()?;
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

    /// One message object: the texts of its `content`.
    fn message(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<()> {
        reader.open()?;
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            if self.is(key, "content") {
                self.message_content(reader, out)?;
            } else if self.is(key, "role") {
                reader.skip()?;
            } else {
                // Other fields (clients add their own, such as Claude Code's) are read as the
                // message's text: forwarded unread, they could carry text to the provider.
                self.leaves(reader, out, self.scope.messages)?;
            }
        }
        Ok(())
    }

    /// A message's content: a string, or an array of blocks (objects).
    fn message_content(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<()> {
        match reader.peek() {
            Some(b'"') if self.scope.messages => {
                out.push(Self::text(reader, SegmentKind::Message)?);
            }
            Some(b'"') => {
                reader.string()?;
            }
            Some(b'[') => {
                reader.open()?;
                let mut first = true;
                let mut previous_text = false;
                while reader.next_element(first)? {
                    first = false;
                    if reader.peek() != Some(b'{') {
                        return Err(WalkError::Shape(
                            reader.pos(),
                            "content blocks must be objects",
                        ));
                    }
                    previous_text = self.block(reader, out, previous_text)?;
                }
            }
            _ => {
                return Err(WalkError::Shape(
                    reader.pos(),
                    "`content` must be a string or an array of blocks",
                ));
            }
        }
        Ok(())
    }

    /// A content block: every text leaf, under the scope of its type. Returns whether it was
    /// a `text` block, whose text the next one's joins (`previous_text`).
    fn block(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        previous_text: bool,
    ) -> Walk<bool> {
        let scope = self.scope;
        let wanted = |name: &str| covers(scope, block_kind(name));
        let mut found = Vec::new();
        let kind = self.object(reader, &mut found, true, Some(&wanted))?;
        let name = kind.map(|k| unescape::text(self.body, k));
        let kind = name.as_deref().map_or(SegmentKind::Message, block_kind);
        let is_text = name.as_deref() == Some("text");
        if covers(scope, kind) {
            for (i, mut f) in found.into_iter().enumerate() {
                f.kind = kind;
                f.joins_previous = is_text && previous_text && i == 0;
                out.push(f);
            }
        }
        Ok(is_text)
    }

    /// Every text leaf of the value at the cursor, when `wanted`; else skipped unread.
    fn leaves(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>, wanted: bool) -> Walk<()> {
        if !wanted {
            return Ok(reader.skip()?);
        }
        match reader.peek() {
            Some(b'"') => out.push(Self::text(reader, SegmentKind::Message)?),
            Some(b'[') => {
                reader.open()?;
                let mut first = true;
                while reader.next_element(first)? {
                    first = false;
                    self.leaves(reader, out, true)?;
                }
            }
            Some(b'{') => {
                self.object(reader, out, true, None)?;
            }
            _ => reader.skip()?,
        }
        Ok(())
    }

    /// An object's text leaves (see the module doc for what is opaque); its `type`. When
    /// `decide` is given, the type, once read, says whether the leaves after it are wanted.
    /// Recursion is bounded: the reader refuses nesting past 128 levels.
    fn object(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        mut wanted: bool,
        decide: Option<&dyn Fn(&str) -> bool>,
    ) -> Walk<Option<Str>> {
        reader.open()?;
        let mut kind = None;
        let mut data = Vec::new();
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            if self.is(key, "type") {
                kind = string_or_skip(reader)?;
                if let (Some(decide), Some(kind)) = (decide, kind) {
                    wanted = decide(&unescape::text(self.body, kind));
                }
            } else if OPAQUE_KEYS.iter().any(|name| self.is(key, name)) {
                reader.skip()?;
            } else if self.is(key, "data") {
                self.leaves(reader, &mut data, wanted)?;
            } else {
                self.leaves(reader, out, wanted)?;
            }
        }
        if !kind.is_some_and(|kind| OPAQUE_DATA.iter().any(|name| self.is(kind, name))) {
            out.append(&mut data);
        }
        Ok(kind)
    }
}

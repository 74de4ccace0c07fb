//! Reading content blocks and any JSON inside them: every string a model reads, keys
//! included, under the scope of the block that holds it.
//!
//! Owns: which values and keys are opaque ([`is_opaque_key`], [`is_schema_key`], the `data` of
//! [`OPAQUE_DATA`] types), the scope a block type belongs to, and the chaining of adjacent
//! `text` blocks of one array. Must not: know the top-level request shape (the walker's
//! `mod.rs` does) or skip a value it cannot interpret without saying so.

use std::borrow::Cow;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;

use super::found::{Found, Walk, WalkError, append};
use crate::messages::json::{Read, Reader, Str};
use crate::messages::unescape;

/// A set of key names as a list (for tests) and a `match` (for the walk: a key is
/// looked up in a few comparisons, not one per name).
macro_rules! key_set {
    ($(#[$doc:meta])* $list:ident, $test:ident, [$($key:literal),* $(,)?]) => {
        $(#[$doc])*
        #[cfg(test)]
        pub const $list: &[&str] = &[$($key),*];

        $(#[$doc])*
        pub fn $test(name: &str) -> bool {
            matches!(name, $($key)|*)
        }
    };
}

key_set!(
    /// Keys whose values are identifiers or opaque blobs the provider validates by format,
    /// and no model reads as text: never scanned (a signature's base64 would only give false
    /// hits).
    OPAQUE_KEYS,
    is_opaque_key,
    [
        "type",
        "id",
        "tool_use_id",
        "signature",
        "media_type",
        "cache_control",
    ]
);

key_set!(
    /// Key names the Messages API defines: their text is the API's, not the client's, so it
    /// is not read as text (a guard on the word `content` would otherwise fire on every
    /// request). Every other key is the client's own and read as text, wherever it is: a key
    /// of `tool_use.input` or `metadata` can carry a secret as well as a value can.
    SCHEMA_KEYS,
    is_schema_key,
    [
        "role",
        "content",
        "text",
        "source",
        "data",
        "url",
        "file_id",
        "title",
        "context",
        "citations",
        "enabled",
        "ttl",
        "name",
        "input",
        "is_error",
        "thinking",
        "user_id",
        "cited_text",
        "document_index",
        "document_title",
        "start_char_index",
        "end_char_index",
        "start_page_number",
        "end_page_number",
        "start_block_index",
        "end_block_index",
        "search_result_index",
        "encrypted_content",
        "encrypted_index",
        "page_age",
    ]
);

/// Object types whose `data` is an encoding, not text.
pub const OPAQUE_DATA: &[&str] = &["base64", "redacted_thinking"];

/// The scope a block of type `name` belongs to.
pub fn block_kind(name: &str) -> SegmentKind {
    match name {
        "tool_use" | "server_tool_use" | "mcp_tool_use" => SegmentKind::ToolUse,
        _ if name == "tool_result" || name.ends_with("_tool_result") => SegmentKind::ToolResult,
        _ => SegmentKind::Message,
    }
}

/// Whether `scope` reads texts of `kind`.
pub fn covers(scope: GuardScope, kind: SegmentKind) -> bool {
    match kind {
        SegmentKind::System => scope.system,
        SegmentKind::Message => scope.messages,
        SegmentKind::ToolResult => scope.tool_results,
        SegmentKind::ToolUse => scope.tool_use,
    }
}

/// The key `key` (named `name`) as a text, unless its name is one the API defines.
pub fn client_key<'b>(key: Str, name: &Cow<'b, str>) -> Option<Found<'b>> {
    (!is_schema_key(name)).then(|| Found {
        key: true,
        ..Found::value(SegmentKind::Message, key, name.clone())
    })
}

/// A string value, or `None` after skipping any other value.
pub fn string_or_skip(reader: &mut Reader<'_>) -> Read<Option<Str>> {
    if reader.peek() == Some(b'"') {
        return reader.string().map(Some);
    }
    reader.skip().map(|()| None)
}

/// What an object was: its `type`, and where (in the list its strings went to) the string
/// value of its `text` key is.
#[derive(Default)]
pub struct Shape {
    /// The `type` value, when a string.
    pub kind: Option<Str>,
    /// Index of the `text` value, when a string that was read.
    pub text: Option<usize>,
}

/// Where a list of blocks is: `system` (every block is `System`) or a message's `content`
/// (a block's type gives its scope).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Blocks {
    /// The `system` array.
    System,
    /// A message's `content` array.
    Content,
}

/// The texts a chain of `text` blocks starts and ends with (indices in the output list).
#[derive(Clone, Copy, Default)]
pub struct Ends {
    /// The first block's text, when the first block is a `text` block that was read.
    pub first: Option<usize>,
    /// The last block's text, when the last block is a `text` block that was read.
    pub last: Option<usize>,
}

/// Reads a body for a scope.
pub struct Walker<'b> {
    /// The body.
    pub body: &'b str,
    /// What the guards read.
    pub scope: GuardScope,
}

impl<'b> Walker<'b> {
    /// The decoded text of a key (or a `type` value).
    pub fn name(&self, literal: Str) -> Cow<'b, str> {
        unescape::text(self.body, literal)
    }

    /// The string at the cursor, as a text of `kind`.
    pub fn text(reader: &mut Reader<'b>, kind: SegmentKind) -> Walk<Found<'b>> {
        let (literal, text) = reader.text()?;
        Ok(Found::value(kind, literal, text))
    }

    /// An array of blocks (objects): every text leaf of each, adjacent `text` blocks chained.
    pub fn blocks(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        within: Blocks,
    ) -> Walk<Ends> {
        reader.open()?;
        let mut ends = Ends::default();
        let mut first = true;
        while reader.next_element(first)? {
            if reader.peek() != Some(b'{') {
                return Err(WalkError::Shape(
                    reader.pos(),
                    match within {
                        Blocks::System => "`system` blocks must be objects",
                        Blocks::Content => "content blocks must be objects",
                    },
                ));
            }
            let text = self.block(reader, out, within, ends.last)?;
            if first {
                ends.first = text;
            }
            ends.last = text;
            first = false;
        }
        Ok(ends)
    }

    /// A block: every text leaf, under the scope of its type (kept until the block closes:
    /// `type` may come last). Its text continues `previous`; returns its index when it is a
    /// `text` block whose text was read.
    fn block(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        within: Blocks,
        previous: Option<usize>,
    ) -> Walk<Option<usize>> {
        let scope = self.scope;
        let kind_of = |name: Option<&str>| match within {
            Blocks::System => SegmentKind::System,
            Blocks::Content => name.map_or(SegmentKind::Message, block_kind),
        };
        let wanted = |name: &str| covers(scope, kind_of(Some(name)));
        let mut found = Vec::new();
        let shape = self.object(reader, &mut found, true, Some(&wanted))?;
        let name = shape.kind.map(|k| self.name(k));
        let kind = kind_of(name.as_deref());
        if !covers(scope, kind) {
            return Ok(None);
        }
        for f in &mut found {
            f.kind = kind;
        }
        let base = out.len();
        append(out, found);
        let text = shape
            .text
            .filter(|_| name.as_deref() == Some("text"))
            .map(|at| base + at);
        if let Some(at) = text {
            out[at].continues = previous;
        }
        Ok(text)
    }

    /// Every text leaf of the value at the cursor, when `wanted`; else skipped unread.
    pub fn leaves(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        wanted: bool,
    ) -> Walk<()> {
        if !wanted {
            return Ok(reader.skip()?);
        }
        match reader.peek() {
            Some(b'"') => out.push(Self::text(reader, SegmentKind::Message)?),
            Some(b'[') => self.array(reader, out)?,
            Some(b'{') => {
                self.object(reader, out, true, None)?;
            }
            _ => reader.skip()?,
        }
        Ok(())
    }

    /// Every text leaf of an array; adjacent `text` blocks in it (a `tool_result`'s content)
    /// are chained, as the model reads them.
    fn array(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<()> {
        reader.open()?;
        let mut previous = None;
        let mut first = true;
        while reader.next_element(first)? {
            first = false;
            if reader.peek() != Some(b'{') {
                self.leaves(reader, out, true)?;
                previous = None;
                continue;
            }
            let shape = self.object(reader, out, true, None)?;
            let is_text = shape.kind.is_some_and(|k| self.name(k) == "text");
            let text = shape.text.filter(|_| is_text);
            if let Some(at) = text {
                out[at].continues = previous;
            }
            previous = text;
        }
        Ok(())
    }

    /// An object's text leaves and keys (see [`is_schema_key`] and [`is_opaque_key`]), and its
    /// shape. When `decide` is given, the type, once read, says whether the leaves after it
    /// are wanted. Recursion is bounded: the reader refuses nesting past 128 levels.
    pub fn object(
        &self,
        reader: &mut Reader<'b>,
        out: &mut Vec<Found<'b>>,
        mut wanted: bool,
        decide: Option<&dyn Fn(&str) -> bool>,
    ) -> Walk<Shape> {
        reader.open()?;
        let mut shape = Shape::default();
        let mut data = Vec::new();
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            let name = self.name(key);
            if name == "type" {
                shape.kind = string_or_skip(reader)?;
                if let (Some(decide), Some(kind)) = (decide, shape.kind) {
                    wanted = decide(&self.name(kind));
                }
                continue;
            }
            if is_opaque_key(&name) {
                reader.skip()?;
                continue;
            }
            if wanted && let Some(key) = client_key(key, &name) {
                out.push(key);
            }
            if name == "data" {
                self.leaves(reader, &mut data, wanted)?;
            } else if wanted && name == "text" && reader.peek() == Some(b'"') {
                shape.text = Some(out.len());
                out.push(Self::text(reader, SegmentKind::Message)?);
            } else {
                self.leaves(reader, out, wanted)?;
            }
        }
        let opaque = shape
            .kind
            .is_some_and(|kind| OPAQUE_DATA.contains(&self.name(kind).as_ref()));
        if !opaque {
            append(out, data);
        }
        Ok(shape)
    }
}

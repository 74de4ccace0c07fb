//! Finding the texts of a Messages body in one pass of the [`Reader`].
//!
//! The walker follows the Messages shape and reads, per scope, every place text can hide:
//! `system` (a string, or blocks), each message's `content` (a string, or blocks of any
//! type, role `system` messages included), and `metadata`. Within a block every string leaf
//! is read, however deeply nested (`tool_result` content as a string, text blocks or arrays,
//! `tool_use.input`, `document` text sources, `thinking`, citations, block types that do not
//! exist yet), and so is every key that is the client's own rather than a name the API
//! defines (see [`blocks`]), except values that are opaque by contract (ids, signatures,
//! `cache_control`), and the `data` of a `base64` source or a `redacted_thinking` block
//! (never decoded; it still counts toward the body limit). A block's scope follows its
//! type: `tool_use`-like blocks are `ToolUse`, `tool_result`-like blocks are `ToolResult`,
//! all others (unknown ones included) `Messages`. A block's `type` may come after its
//! texts, so they are held until the block closes.
//!
//! Texts the model reads as one are linked ([`Found::continues`]): adjacent `text` blocks of
//! one array, and the last text of a message with the first of the next when both have the
//! same role (the provider merges consecutive same-role turns into one). Turns of different
//! roles are not linked: the model reads the turn boundary between them.
//!
//! A message's fields other than `role` and `content` are read as its text too. What the
//! walker cannot interpret is refused, never skipped: `messages` that is not an array of
//! objects, `content` or `system` of another type, a block that is no object, and
//! (from the reader) duplicate keys, nesting past 128 levels and lone surrogates. Top-level
//! fields other than `model`, `system`, `messages` and `metadata` (`tools`, `tool_choice`,
//! sampling settings) are configuration, validated as JSON and forwarded unread.
//!
//! Owns: the Messages request shape. Must not: decide what a text means (the engine does)
//! or edit the body.

mod blocks;
mod found;

use std::borrow::Cow;

use agw_policy::bundle::GuardScope;
use agw_policy::engine::SegmentKind;

use self::blocks::{Blocks, Ends, Walker, client_key, string_or_skip};
#[cfg(test)]
pub use self::blocks::{OPAQUE_DATA, OPAQUE_KEYS, SCHEMA_KEYS};
use self::found::Walk;
pub use self::found::{Found, WalkError, Walked};
use super::json::Reader;

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
        match walker.name(key).as_ref() {
            "model" => out.model = string_or_skip(&mut reader)?,
            "system" if scope.system => walker.system(&mut reader, &mut out.system)?,
            "messages" => bad_messages = walker.messages(&mut reader, &mut out.messages)?,
            "metadata" => {
                // Its span is kept whatever the scope: the access log and the trace take
                // `user_id` from it instead of parsing the body again.
                reader.peek();
                let start = reader.pos();
                walker.leaves(&mut reader, &mut out.metadata, scope.messages)?;
                out.metadata_value = Some((start, reader.pos()));
            }
            _ => reader.skip()?,
        }
    }
    reader.end()?;
    match bad_messages {
        Some((start, end)) => Err(WalkError::Messages(start, end)),
        None => Ok(out),
    }
}

/// What a message was, for linking it to the next.
struct Turn<'b> {
    role: Option<Cow<'b, str>>,
    ends: Ends,
}

impl<'b> Walker<'b> {
    /// `system`: a string, or an array of blocks whose every text leaf is read.
    fn system(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<()> {
        match reader.peek() {
            Some(b'"') => out.push(Self::text(reader, SegmentKind::System)?),
            Some(b'[') => {
                self.blocks(reader, out, Blocks::System)?;
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
        let mut previous: Option<Turn<'b>> = None;
        let mut first = true;
        while reader.next_element(first)? {
            first = false;
            if reader.peek() != Some(b'{') {
                reader.skip()?;
                bad = true;
                continue;
            }
            let turn = self.message(reader, out)?;
            if let (Some(before), Some(at)) = (&previous, turn.ends.first)
                && before.role.is_some()
                && before.role == turn.role
            {
                out[at].continues = before.ends.last;
            }
            previous = Some(turn);
        }
        Ok(bad.then(|| (start, reader.pos())))
    }

    /// One message object: the texts of its `content`, and of its other fields.
    fn message(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<Turn<'b>> {
        reader.open()?;
        let mut turn = Turn {
            role: None,
            ends: Ends::default(),
        };
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            let name = self.name(key);
            match name.as_ref() {
                "content" => turn.ends = self.message_content(reader, out)?,
                "role" => turn.role = string_or_skip(reader)?.map(|role| self.name(role)),
                _ if self.scope.messages => {
                    // Other fields (clients add their own, such as Claude Code's) are read as
                    // the message's text, key and value: forwarded unread, they could carry
                    // text to the provider.
                    out.extend(client_key(key, &name));
                    self.leaves(reader, out, true)?;
                }
                _ => reader.skip()?,
            }
        }
        Ok(turn)
    }

    /// A message's content: a string, or an array of blocks (objects).
    fn message_content(&self, reader: &mut Reader<'b>, out: &mut Vec<Found<'b>>) -> Walk<Ends> {
        match reader.peek() {
            Some(b'"') if self.scope.messages => {
                let at = Some(out.len());
                out.push(Self::text(reader, SegmentKind::Message)?);
                Ok(Ends {
                    first: at,
                    last: at,
                })
            }
            Some(b'"') => {
                reader.string()?;
                Ok(Ends::default())
            }
            Some(b'[') => self.blocks(reader, out, Blocks::Content),
            _ => Err(WalkError::Shape(
                reader.pos(),
                "`content` must be a string or an array of blocks",
            )),
        }
    }
}

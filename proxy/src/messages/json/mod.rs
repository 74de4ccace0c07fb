//! A strict, single-pass JSON reader over a request body.
//!
//! It accepts exactly the syntax serde_json accepts (RFC 8259: no comments, no trailing
//! commas, no control characters in strings) and hands out the byte span of each string
//! instead of building a tree. The walker above it visits only the parts guards read and
//! skips the rest in the same pass, so an 80 KB body is read once, not once per nesting
//! level as re-parsing borrowed `RawValue`s did.
//!
//! Owns: the structure (objects, arrays, keys, depth, duplicate keys) on the tokens of
//! [`lexer`]. Must not: know the Messages shape (that is the walker's) or decode values the
//! walker did not ask for.

use std::borrow::Cow;

use self::frames::Frames;
use self::lexer::Lexer;
pub use self::lexer::{Read, SyntaxError};
pub use crate::messages::span::Str;
use crate::messages::unescape;

mod frames;
mod lexer;
mod specials;

/// A cursor over a body.
pub struct Reader<'a> {
    lexer: Lexer<'a>,
    /// Open containers of a skipped value (`true` for objects), kept to reuse its buffer.
    stack: Vec<bool>,
    /// Open containers: depth and the keys of each object.
    frames: Frames<'a>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            lexer: Lexer::new(text),
            stack: Vec::new(),
            frames: Frames::default(),
        }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.lexer.pos
    }

    /// Skips whitespace and returns the next byte, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.lexer.peek()
    }

    /// Reads the string at the cursor (`peek` returned `"`).
    pub fn string(&mut self) -> Read<Str> {
        self.lexer.string()
    }

    /// Reads the string at the cursor (`peek` returned `"`) and decodes it in the same pass:
    /// borrowed from the body when it has no escape.
    pub fn text(&mut self) -> Read<(Str, Cow<'a, str>)> {
        self.lexer.text()
    }

    /// Consumes `{` or `[`, which `peek` has returned; refuses nesting past [`frames::MAX_DEPTH`].
    pub fn open(&mut self) -> Read<()> {
        let at = self.lexer.pos;
        let object = self.lexer.bytes.get(at) == Some(&b'{');
        if !self.frames.enter(object) {
            return Err(Lexer::ambiguous(at, "nesting deeper than 128 levels"));
        }
        self.lexer.pos += 1;
        Ok(())
    }

    /// After `{` (`first`) or a member's value: the next key, its colon consumed, or `None`
    /// once the closing `}` is consumed. A key the object has already is refused.
    pub fn next_key(&mut self, first: bool) -> Read<Option<Str>> {
        let lexer = &mut self.lexer;
        match lexer.peek() {
            Some(b'}') => {
                lexer.pos += 1;
                self.frames.leave(true);
                return Ok(None);
            }
            Some(b',') if !first => lexer.pos += 1,
            Some(b'"') if first => {}
            _ => {
                return Err(lexer.error(if first {
                    "expected `\"` or `}`"
                } else {
                    "expected `,` or `}`"
                }));
            }
        }
        if lexer.peek() != Some(b'"') {
            return Err(lexer.error("expected a key string"));
        }
        let key = lexer.string()?;
        if !self.frames.insert(unescape::text(lexer.text, key)) {
            return Err(Lexer::ambiguous(key.start, "duplicate key"));
        }
        if lexer.peek() != Some(b':') {
            return Err(lexer.error("expected `:`"));
        }
        lexer.pos += 1;
        Ok(Some(key))
    }

    /// After `[` (`first`) or an element: whether another element follows (its comma
    /// consumed), or `false` once the closing `]` is consumed.
    pub fn next_element(&mut self, first: bool) -> Read<bool> {
        let lexer = &mut self.lexer;
        match lexer.peek() {
            Some(b']') => {
                lexer.pos += 1;
                self.frames.leave(false);
                Ok(false)
            }
            Some(b',') if !first => {
                lexer.pos += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => Err(lexer.error("expected `,` or `]`")),
        }
    }

    /// Skips one value, calling `on_string` for every string in a value position (object
    /// keys excluded), in body order. Iterative, so nesting depth costs no stack.
    pub fn value_strings(&mut self, mut on_string: impl FnMut(Str)) -> Read<()> {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let result = self.value_strings_with(&mut stack, &mut on_string);
        self.stack = stack;
        result
    }

    fn value_strings_with(
        &mut self,
        stack: &mut Vec<bool>,
        on_string: &mut impl FnMut(Str),
    ) -> Read<()> {
        loop {
            match self.peek() {
                Some(b'"') => on_string(self.lexer.string()?),
                Some(b'{') => {
                    self.open()?;
                    if self.next_key(true)?.is_some() {
                        stack.push(true);
                        continue;
                    }
                }
                Some(b'[') => {
                    self.open()?;
                    if self.next_element(true)? {
                        stack.push(false);
                        continue;
                    }
                }
                _ => self.lexer.scalar()?,
            }
            // A value ended: close the containers it ended, until one has another value.
            loop {
                let Some(&object) = stack.last() else {
                    return Ok(());
                };
                let more = if object {
                    self.next_key(false)?.is_some()
                } else {
                    self.next_element(false)?
                };
                if more {
                    break;
                }
                stack.pop();
            }
        }
    }

    /// Skips one value.
    pub fn skip(&mut self) -> Read<()> {
        self.value_strings(|_| {})
    }

    /// After the top-level value: only whitespace may follow.
    pub fn end(&mut self) -> Read<()> {
        match self.lexer.peek() {
            None => Ok(()),
            Some(_) => Err(self.lexer.error("trailing characters")),
        }
    }
}

/// 1-based line and column of a byte offset, as serde_json counts them.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count();
    (line, column)
}

#[cfg(test)]
mod tests;

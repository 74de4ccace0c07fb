//! A strict, single-pass JSON reader over a request body.
//!
//! It accepts exactly the syntax serde_json accepts (RFC 8259: no comments, no trailing
//! commas, no control characters in strings) and hands out the byte span of each string
//! instead of building a tree. The walker above it visits only the parts guards read and
//! skips the rest in the same pass, so an 80 KB body is read once, not once per nesting
//! level as re-parsing borrowed `RawValue`s did.

use std::borrow::Cow;

use agw_policy::bytemask::{BLOCK, Ranges};

use self::frames::Frames;
use super::unescape;

mod frames;

/// A string of the body: the span of its literal, quotes included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Str {
    /// Offset of the opening quote.
    pub start: usize,
    /// Offset just past the closing quote.
    pub end: usize,
    /// Whether the literal holds a backslash escape (else its text is the bytes inside).
    pub escaped: bool,
}

/// What was wrong, and where (a byte offset into the body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What the reader expected or found there.
    pub problem: &'static str,
    /// Whether the body is JSON that a guard cannot read unambiguously (a duplicate key,
    /// nesting past [`MAX_DEPTH`]), rather than not JSON at all.
    pub ambiguous: bool,
}

/// Result of a read.
pub type Read<T> = Result<T, SyntaxError>;

/// A cursor over a body.
pub struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Open containers of a skipped value (`true` for objects), kept to reuse its buffer.
    stack: Vec<bool>,
    /// The special bytes of the block last classified.
    specials: Specials,
    /// Open containers: depth and the keys of each object.
    frames: Frames<'a>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            stack: Vec::new(),
            specials: Specials::default(),
            frames: Frames::default(),
        }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn error(&self, problem: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            problem,
            ambiguous: false,
        }
    }

    fn ambiguous(offset: usize, problem: &'static str) -> SyntaxError {
        SyntaxError {
            offset,
            problem,
            ambiguous: true,
        }
    }

    /// The error for a string that stops at `i` on neither `"` nor `\`: a raw control
    /// character, or the end of the body.
    fn unterminated(&mut self, i: usize) -> SyntaxError {
        self.pos = i;
        self.error(if i < self.bytes.len() {
            "control character in a string"
        } else {
            "EOF while parsing a string"
        })
    }

    /// Skips whitespace and returns the next byte, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Consumes `{` or `[`, which `peek` has returned; refuses nesting past [`MAX_DEPTH`].
    pub fn open(&mut self) -> Read<()> {
        let object = self.bytes.get(self.pos) == Some(&b'{');
        if !self.frames.enter(object) {
            return Err(Self::ambiguous(self.pos, "nesting deeper than 128 levels"));
        }
        self.pos += 1;
        Ok(())
    }

    /// After `{` (`first`) or a member's value: the next key, its colon consumed, or `None`
    /// once the closing `}` is consumed. A key the object has already is refused.
    pub fn next_key(&mut self, first: bool) -> Read<Option<Str>> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.frames.leave(true);
                return Ok(None);
            }
            Some(b',') if !first => self.pos += 1,
            Some(b'"') if first => {}
            _ => {
                return Err(self.error(if first {
                    "expected `\"` or `}`"
                } else {
                    "expected `,` or `}`"
                }));
            }
        }
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key string"));
        }
        let key = self.string()?;
        if !self.frames.insert(unescape::text(self.text, key)) {
            return Err(Self::ambiguous(key.start, "duplicate key"));
        }
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:`"));
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// After `[` (`first`) or an element: whether another element follows (its comma
    /// consumed), or `false` once the closing `]` is consumed.
    pub fn next_element(&mut self, first: bool) -> Read<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.frames.leave(false);
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => Err(self.error("expected `,` or `]`")),
        }
    }

    /// Reads the string at the cursor (`peek` returned `"`).
    pub fn string(&mut self) -> Read<Str> {
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            i = self.specials.find(self.bytes, i);
            match self.bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Str {
                        start,
                        end: i + 1,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i + 1)?;
                }
                _ => return Err(self.unterminated(i)),
            }
        }
    }

    /// Reads the string at the cursor (`peek` returned `"`) and decodes it in the same pass:
    /// borrowed from the body when it has no escape. A lone UTF-16 surrogate is refused
    /// ([`Self::escape`]), so every text decodes exactly.
    pub fn text(&mut self) -> Read<(Str, Cow<'a, str>)> {
        let start = self.pos;
        let mut i = start + 1;
        let mut run = i;
        let mut decoded: Option<String> = None;
        loop {
            i = self.specials.find(self.bytes, i);
            match self.bytes.get(i) {
                Some(b'"') => {
                    let tail = self.text.get(run..i).unwrap_or_default();
                    let text = match decoded {
                        None => Cow::Borrowed(tail),
                        Some(mut out) => {
                            out.push_str(tail);
                            Cow::Owned(out)
                        }
                    };
                    self.pos = i + 1;
                    let literal = Str {
                        start,
                        end: i + 1,
                        escaped: matches!(text, Cow::Owned(_)),
                    };
                    return Ok((literal, text));
                }
                Some(b'\\') => {
                    // Validated first (a surrogate pair as one escape), then decoded.
                    let end = self.escape(i + 1)?;
                    let out = decoded.get_or_insert_with(|| {
                        String::with_capacity((self.bytes.len() - i).min(1 << 14))
                    });
                    out.push_str(self.text.get(run..i).unwrap_or_default());
                    let used = unescape::escape(self.text.get(i + 1..).unwrap_or_default(), out);
                    if used != end - (i + 1) {
                        self.pos = i;
                        return Err(Self::ambiguous(i, "escape decoded inconsistently"));
                    }
                    i = end;
                    run = end;
                }
                _ => return Err(self.unterminated(i)),
            }
        }
    }

    /// Validates the escape whose letter is at `i`; returns the offset after it.
    fn escape(&mut self, i: usize) -> Read<usize> {
        match self.bytes.get(i) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
            Some(b'u') => self.unicode_escape(i),
            _ => {
                self.pos = i;
                Err(self.error("invalid escape"))
            }
        }
    }

    /// Validates `\\uXXXX` whose `u` is at `i`, and its low half when it is a high surrogate;
    /// returns the offset after it. A lone surrogate is refused, as the provider refuses it
    /// ("no low surrogate in string"): no text may be read one way here and another there.
    fn unicode_escape(&mut self, i: usize) -> Read<usize> {
        let code = |at: usize| {
            let hex = std::str::from_utf8(self.bytes.get(at..at + 4)?).ok()?;
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u32::from_str_radix(hex, 16).ok())
                .flatten()
        };
        let Some(unit) = code(i + 1) else {
            self.pos = i + 1;
            return Err(self.error("invalid \\u escape"));
        };
        match unit {
            0xD800..=0xDBFF => {
                let low = (self.bytes.get(i + 5..i + 7) == Some(b"\\u"))
                    .then(|| code(i + 7))
                    .flatten();
                if low.is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) {
                    Ok(i + 11)
                } else {
                    self.pos = i + 5;
                    Err(self.error("no low surrogate in string"))
                }
            }
            0xDC00..=0xDFFF => {
                self.pos = i - 1;
                Err(self.error("lone low surrogate in string"))
            }
            _ => Ok(i + 5),
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
                Some(b'"') => on_string(self.string()?),
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
                _ => self.scalar()?,
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

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Read<()> {
        match self.peek() {
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            None => Err(self.error("EOF while parsing a value")),
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Read<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected value"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Read<()> {
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// After the top-level value: only whitespace may follow.
    pub fn end(&mut self) -> Read<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }
}

/// The bytes that end a plain run of a string: `"`, `\` and the control characters.
const SPECIAL: Ranges<3> = match Ranges::new(&[(b'"', b'"'), (b'\\', b'\\'), (0x00, 0x1f)]) {
    Some(class) => class,
    None => unreachable!(),
};

/// Where the special bytes of one 64-byte block of the body are.
///
/// Texts are runs of plain bytes between escapes a few dozen bytes apart (source code has a
/// `\n` per line), so the search after an escape mostly restarts inside the block it has
/// just classified; keeping that block's mask makes such a restart a shift, not a new scan.
#[derive(Default)]
struct Specials {
    /// Offset of the block's first byte.
    start: usize,
    /// How many bytes of the body the block covers (at most [`BLOCK`]; 0 before the first).
    len: usize,
    /// Bit `i` set when byte `start + i` is special.
    mask: u64,
}

impl Specials {
    /// Offset of the first `"`, `\` or control character at or after `from` (or the
    /// length of `bytes`, which must be the body the blocks were classified from).
    fn find(&mut self, bytes: &[u8], mut from: usize) -> usize {
        loop {
            if from >= bytes.len() {
                return from;
            }
            if let Some(offset) = from.checked_sub(self.start).filter(|&o| o < self.len) {
                let hits = self.mask >> offset;
                if hits != 0 {
                    return from + hits.trailing_zeros() as usize;
                }
                from = self.start + self.len;
                continue;
            }
            self.classify(bytes, from);
        }
    }

    /// Classifies the block of `bytes` that starts at `start` (`start < bytes.len()`).
    fn classify(&mut self, bytes: &[u8], start: usize) {
        let rest = bytes.get(start..).unwrap_or_default();
        self.start = start;
        self.len = rest.len().min(BLOCK);
        self.mask = SPECIAL.mask_prefix(rest);
    }
}

/// Offset of the first `"`, `\` or control character at or after `from` (or the length),
/// by the plain definition the block search is tested against.
#[cfg(test)]
fn find_special(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0x00..=0x1f))
        .unwrap_or(bytes.len().max(from))
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

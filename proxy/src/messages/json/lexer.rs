//! The tokens of a JSON body: whitespace, strings (validated, or decoded in the same pass),
//! numbers and the literals `true`, `false`, `null`.
//!
//! Owns: the cursor and the exact RFC 8259 token syntax serde_json accepts (no control
//! characters in strings, no lone UTF-16 surrogates, no leading zeros). Must not: know about
//! containers, keys or depth; [`super::Reader`] builds the structure on these tokens.

use std::borrow::Cow;

use super::specials::Specials;
use crate::messages::span::Str;
use crate::messages::unescape;

/// What was wrong, and where (a byte offset into the body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What the reader expected or found there.
    pub problem: &'static str,
    /// Whether the body is JSON that a guard cannot read unambiguously (a duplicate key,
    /// nesting past [`super::frames::MAX_DEPTH`]), rather than not JSON at all.
    pub ambiguous: bool,
}

/// Result of a read.
pub type Read<T> = Result<T, SyntaxError>;

/// A cursor over a body, reading one token at a time.
pub struct Lexer<'a> {
    /// The body.
    pub text: &'a str,
    /// The body's bytes.
    pub bytes: &'a [u8],
    /// Offset of the next byte to read.
    pub pos: usize,
    /// The special bytes of the block last classified.
    specials: Specials,
}

impl<'a> Lexer<'a> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            specials: Specials::default(),
        }
    }

    /// The error `problem` at the cursor.
    pub fn error(&self, problem: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            problem,
            ambiguous: false,
        }
    }

    /// The error for JSON a guard cannot read unambiguously, at `offset`.
    pub fn ambiguous(offset: usize, problem: &'static str) -> SyntaxError {
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

    /// A number, `true`, `false` or `null`.
    pub fn scalar(&mut self) -> Read<()> {
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
}

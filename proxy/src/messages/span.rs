//! Where a JSON string literal lies in a body: the one type the reader ([`super::json`]),
//! the decoder ([`super::unescape`]) and the walker share.
//!
//! Owns: the span and its "has an escape" bit. Must not: read or decode anything, so that
//! every module can depend on it and it on none of them.

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

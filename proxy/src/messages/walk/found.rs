//! What the walker hands out: the strings a guard reads, and why a body cannot be walked.
//!
//! Owns: these types and the bookkeeping of a list of found strings (appending one list to
//! another keeps their "continues" links pointing at the same strings). Must not: read the
//! body.

use std::borrow::Cow;

use agw_policy::engine::SegmentKind;

use crate::messages::json::SyntaxError;
use crate::messages::span::Str;

/// A string a guard reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    /// Part of the request it belongs to.
    pub kind: SegmentKind,
    /// Its literal.
    pub literal: Str,
    /// Its text, decoded while it was read.
    pub text: Cow<'a, str>,
    /// Index, in the same list, of the text the model reads this one as the continuation of
    /// (the `text` block before it in the same array, or the last text of the turn before).
    pub continues: Option<usize>,
    /// Whether it is an object key (a client's own, such as a key of `tool_use.input`).
    pub key: bool,
}

impl<'a> Found<'a> {
    /// A value string.
    pub fn value(kind: SegmentKind, literal: Str, text: Cow<'a, str>) -> Self {
        Self {
            kind,
            literal,
            text,
            continues: None,
            key: false,
        }
    }
}

/// Moves `found` to the end of `out`; links inside `found` keep naming the same strings.
/// (A list's links only ever point inside it: a chain starts afresh in each array.)
pub fn append<'a>(out: &mut Vec<Found<'a>>, found: Vec<Found<'a>>) {
    let base = out.len();
    out.extend(found.into_iter().map(|mut f| {
        f.continues = f.continues.map(|at| at + base);
        f
    }));
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
    /// Byte range of the top-level `metadata` value, read or not (the access log takes
    /// `user_id` from it without parsing the body again).
    pub metadata_value: Option<(usize, usize)>,
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

/// Result of a walk.
pub type Walk<T> = Result<T, WalkError>;

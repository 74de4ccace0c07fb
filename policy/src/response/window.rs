//! One text (a content block's `text_delta`s) masked as it arrives, with a bounded
//! hold-back window.
//!
//! Of the text received and not yet sent, the last [`STREAM_WINDOW_BYTES`] are held back;
//! what precedes them is sent, masked, as soon as it is settled. The compiler bounds every
//! streamed guard's match to half the window, so a match that begins in the part being sent
//! is already whole (with a character of context after it) when the decision is made: for
//! any split of a text into pieces, the masked pieces concatenate to the masked whole text.
//! Text already sent is kept as left context (one window), so a phrase's word boundary or an
//! `SSN` mention before bare digits still counts.
//!
//! A phrase's space matches any whitespace run (and format characters vanish), so a match
//! can be longer than the window in the original text. The context keeps such runs cut to
//! [`RUN_KEPT_BYTES`] (enough for every builtin's look-back), so a match whose start was
//! already sent is still seen reaching back into sent text; it can no longer be masked, so
//! the stream is stopped (fail closed), never let through. Memory per text is bounded by
//! [`MAX_HELD_BYTES`].

use super::{Hits, Stopped};
use crate::bundle::GuardAction;
use crate::compile::STREAM_WINDOW_BYTES;
use crate::engine::mask::{self, Replacement};
use crate::engine::normalize::is_format;
use crate::engine::{BackendGuards, Rejected, SegmentKind, TextSpan};

/// Most text held for one block: a cut point is pulled back before a match that crosses it,
/// so the held text can exceed the window by one (bounded) match.
pub const MAX_HELD_BYTES: usize = 4 * STREAM_WINDOW_BYTES;
/// Longest run of whitespace and format characters kept in the left context; longer runs
/// match a phrase's space the same and say nothing more (the `SSN` look-back is 32 bytes).
pub const RUN_KEPT_BYTES: usize = 64;
/// Context a settled match needs after its end: one character (the validators' and `\b`'s).
const RIGHT_CONTEXT: usize = 4;

/// A text being streamed through the guards.
#[derive(Debug)]
pub struct TextWindow {
    kind: SegmentKind,
    /// The end of the text already sent (left context), at most a window.
    sent: String,
    /// Received, not yet sent.
    held: String,
}

impl TextWindow {
    /// A text of `kind` (`Message` for `text_delta`s).
    pub fn new(kind: SegmentKind) -> Self {
        Self {
            kind,
            sent: String::new(),
            held: String::new(),
        }
    }

    /// Takes a piece; returns the masked text to send now (often empty), or why to stop.
    pub fn push(
        &mut self,
        guards: &BackendGuards,
        piece: &str,
        hits: &mut Hits,
    ) -> Result<String, Stopped> {
        self.held.push_str(piece);
        if self.held.len() <= STREAM_WINDOW_BYTES {
            return Ok(String::new());
        }
        self.decide(guards, false, hits)
    }

    /// The text ended: decides on what is held and returns the rest, masked.
    pub fn finish(&mut self, guards: &BackendGuards, hits: &mut Hits) -> Result<String, Stopped> {
        if self.held.is_empty() {
            return Ok(String::new());
        }
        self.decide(guards, true, hits)
    }

    fn decide(
        &mut self,
        guards: &BackendGuards,
        last: bool,
        hits: &mut Hits,
    ) -> Result<String, Stopped> {
        let base = self.sent.len();
        let haystack = format!("{}{}", self.sent, self.held);
        let spans: Vec<TextSpan> = guards
            .text_spans(self.kind, &haystack)
            .into_iter()
            .filter(|s| s.end > base)
            .collect();
        let settled_until = if last {
            haystack.len()
        } else {
            haystack.len().saturating_sub(RIGHT_CONTEXT)
        };
        check_spans(guards, &spans, base, settled_until)?;
        let mut cut = if last {
            self.held.len()
        } else {
            floor_char(&self.held, self.held.len() - STREAM_WINDOW_BYTES)
        };
        // Never cut through a match: pull the cut back to its start (repeatedly, since the
        // new cut may fall inside an earlier, overlapping match).
        while let Some(start) = spans
            .iter()
            .filter(|s| s.start < base + cut && s.end > base + cut)
            .map(|s| s.start - base)
            .min()
        {
            cut = start;
        }
        if !last && self.held.len() - cut > MAX_HELD_BYTES {
            return Err(undecided(
                guards,
                spans.first(),
                "held more than its limit of text",
            ));
        }
        let out = self.masked_prefix(guards, &spans, base, cut, hits);
        self.advance(cut);
        Ok(out)
    }

    /// Applies the Mask spans inside `held[..cut]` and counts them.
    fn masked_prefix(
        &self,
        guards: &BackendGuards,
        spans: &[TextSpan],
        base: usize,
        cut: usize,
        hits: &mut Hits,
    ) -> String {
        let prefix = &self.held[..cut];
        let chosen: Vec<&TextSpan> = spans
            .iter()
            .filter(|s| s.end <= base + cut && is_mask(guards, s.guard))
            .collect();
        let replacements = chosen
            .iter()
            .map(|s| Replacement {
                start: s.start - base,
                end: s.end - base,
                with: s.with,
            })
            .collect();
        let Some(masked) = mask::apply(prefix, replacements) else {
            return prefix.to_owned();
        };
        for span in applied(&chosen) {
            if let Some(guard) = guards.guard(span.guard) {
                hits.add(&guard.id, 1);
            }
        }
        masked
    }

    /// Moves `held[..cut]` to the sent context, keeping one window of it.
    fn advance(&mut self, cut: usize) {
        self.sent.push_str(&self.held[..cut]);
        self.held.drain(..cut);
        self.sent = squeeze_invisible_runs(&self.sent);
        if self.sent.len() > STREAM_WINDOW_BYTES {
            let keep_from = ceil_char(&self.sent, self.sent.len() - STREAM_WINDOW_BYTES);
            self.sent.drain(..keep_from);
        }
    }
}

/// Rejects on the first Reject guard (in order) with a settled match in new text; stops when
/// a match reaches back into sent text, which can no longer be masked.
fn check_spans(
    guards: &BackendGuards,
    spans: &[TextSpan],
    base: usize,
    settled_until: usize,
) -> Result<(), Stopped> {
    if let Some(span) = spans.iter().find(|s| s.start < base) {
        return Err(undecided(
            guards,
            Some(span),
            "matched text that reaches back beyond its window into text already sent",
        ));
    }
    let reject = spans
        .iter()
        .filter(|s| s.end <= settled_until && !is_mask(guards, s.guard))
        .min_by_key(|s| s.guard);
    match reject.and_then(|s| guards.guard(s.guard)) {
        Some(guard) => Err(Stopped {
            rejected: Rejected {
                guard_id: guard.id.clone(),
                status: guard.reject.status,
                message: guard.reject.message.clone(),
            },
            undecided: false,
        }),
        None => Ok(()),
    }
}

/// Fails closed, naming the guard whose match could not be decided (or the first guard).
fn undecided(guards: &BackendGuards, span: Option<&TextSpan>, why: &str) -> Stopped {
    match guards.guard(span.map_or(0, |s| s.guard)) {
        Some(g) => Stopped::undecided(&g.id, g.reject.status, why),
        None => Stopped::undecided("response", 400, why),
    }
}

fn is_mask(guards: &BackendGuards, index: usize) -> bool {
    guards
        .guard(index)
        .is_some_and(|g| g.action == GuardAction::Mask)
}

/// The spans `mask::apply` keeps: earliest first, the longest among equal starts, no overlap.
fn applied<'s>(spans: &[&'s TextSpan]) -> Vec<&'s TextSpan> {
    let mut sorted: Vec<&TextSpan> = spans.iter().copied().filter(|s| s.start < s.end).collect();
    sorted.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = Vec::new();
    let mut copied = 0;
    for span in sorted {
        if span.start >= copied {
            copied = span.end;
            out.push(span);
        }
    }
    out
}

/// `text` with every run of whitespace and format characters cut to [`RUN_KEPT_BYTES`].
fn squeeze_invisible_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = 0;
    for c in text.chars() {
        if c.is_whitespace() || is_format(c) {
            run += c.len_utf8();
            if run > RUN_KEPT_BYTES {
                continue;
            }
        } else {
            run = 0;
        }
        out.push(c);
    }
    out
}

fn floor_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests;

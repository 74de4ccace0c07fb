//! Every guard's matches in one text, as spans: what the response path needs to mask and
//! reject a text it receives in pieces (an SSE stream), where a decision must also say
//! *where* each guard fired.
//!
//! It reuses the request path's scan and span finders, so a response guard matches exactly
//! what the same guard would match in a request. It decides nothing: the caller knows which
//! spans are settled (far enough from the end of what has arrived).

use super::evaluate::{scan, spans};
use super::{BackendGuards, SegmentKind, covers};
use crate::bundle::Guard;

/// A match of one guard in a text, in original-text byte offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextSpan {
    /// Index of the guard (in the order the guards were given).
    pub guard: usize,
    /// Start byte (inclusive).
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// What Mask replaces it with.
    pub with: &'static str,
}

impl BackendGuards {
    /// Every match of every guard whose scope covers `kind`, Reject and Mask guards alike,
    /// ordered by guard, then by position.
    pub fn text_spans(&self, kind: SegmentKind, text: &str) -> Vec<TextSpan> {
        if self.guards.is_empty() || !covers(self.scope, kind) {
            return Vec::new();
        }
        let scanned = scan(self, text);
        let mut out = Vec::new();
        for (index, guard) in self.guards.iter().enumerate() {
            if !covers(guard.guard.scope, kind) {
                continue;
            }
            let mut found: Vec<TextSpan> = spans(self, index, guard, &scanned)
                .into_iter()
                .map(|r| TextSpan {
                    guard: index,
                    start: r.start,
                    end: r.end,
                    with: r.with,
                })
                .collect();
            found.sort_by_key(|s| (s.start, s.end));
            out.extend(found);
        }
        out
    }

    /// The guard at `index`, as compiled into the bundle.
    pub fn guard(&self, index: usize) -> Option<&Guard> {
        self.guards.get(index).map(|g| &g.guard)
    }

    /// Number of guards.
    pub fn len(&self) -> usize {
        self.guards.len()
    }
}

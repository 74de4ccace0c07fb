//! Replacing matched spans in the original text.
//!
//! Spans from different guards and detectors may overlap: overlapping spans are merged into
//! their union, replaced once by the label of the earliest (the longest among those starting
//! together), so no byte any span covers survives. Everything outside the spans is copied
//! byte for byte.

/// A span of the original text and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// Start byte (inclusive).
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// Replacement text, e.g. `<EMAIL_ADDRESS>`.
    pub with: &'static str,
}

/// Applies `replacements` to `original`; returns `None` when none applies.
pub fn apply(original: &str, mut replacements: Vec<Replacement>) -> Option<String> {
    replacements.retain(|r| {
        r.start < r.end && original.is_char_boundary(r.start) && original.is_char_boundary(r.end)
    });
    if replacements.is_empty() {
        return None;
    }
    replacements.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut merged: Vec<Replacement> = Vec::with_capacity(replacements.len());
    for r in replacements {
        match merged.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut out = String::with_capacity(original.len());
    let mut copied = 0;
    for r in merged {
        out.push_str(&original[copied..r.start]);
        out.push_str(r.with);
        copied = r.end.min(original.len());
    }
    out.push_str(&original[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: usize, end: usize, with: &'static str) -> Replacement {
        Replacement { start, end, with }
    }

    #[test]
    fn overlapping_spans_keep_the_earliest_longest() {
        let text = "mail a@b.io now";
        let out = apply(text, vec![r(5, 11, "<E>"), r(5, 8, "<X>"), r(7, 11, "<Y>")]);
        assert_eq!(out.as_deref(), Some("mail <E> now"));
    }

    /// Regression: a span overlapping the end of an earlier one was dropped whole, leaving
    /// its bytes past the earlier span unmasked.
    #[test]
    fn partly_overlapping_spans_are_masked_as_their_union() {
        let text = "key ABCDEFGH end";
        let out = apply(text, vec![r(4, 8, "<A>"), r(6, 12, "<B>")]);
        assert_eq!(out.as_deref(), Some("key <A> end"));
        let out = apply(text, vec![r(4, 6, "<A>"), r(5, 8, "<B>"), r(7, 12, "<C>")]);
        assert_eq!(out.as_deref(), Some("key <A> end"));
    }

    #[test]
    fn nothing_applies_to_empty_or_broken_spans() {
        assert_eq!(apply("é", vec![r(1, 2, "<X>")]), None);
        assert_eq!(apply("abc", vec![]), None);
    }
}

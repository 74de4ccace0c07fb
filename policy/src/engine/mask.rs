//! Replacing matched spans in the original text.
//!
//! Spans from different guards and detectors may overlap; the earliest wins and, among
//! spans starting together, the longest. Everything outside the chosen spans is copied
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
    let mut out = String::with_capacity(original.len());
    let mut copied = 0;
    for r in replacements {
        if r.start < copied {
            continue;
        }
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

    #[test]
    fn nothing_applies_to_empty_or_broken_spans() {
        assert_eq!(apply("é", vec![r(1, 2, "<X>")]), None);
        assert_eq!(apply("abc", vec![]), None);
    }
}

//! Per-request decision: scan each text once, then decide guards in order.

use regex_automata::{Input, PatternSet};

use super::builtin_scan::BuiltinHits;
use super::mask::{self, Replacement};
use super::normalize::Normalized;
use super::{BackendGuards, CompiledGuard, Decision, GuardHit, Masked, Rejected, Segment, covers};
use crate::bundle::{Builtin, CUSTOM_MASK, MinLengthDetector};

/// A text, normalized, with the custom patterns that occur in it and, once asked for, the
/// validated builtin matches.
pub(super) struct Scanned<'a> {
    normalized: Normalized<'a>,
    original: &'a str,
    found: Option<PatternSet>,
    builtins: BuiltinHits,
}

pub(super) fn evaluate(guards: &BackendGuards, segments: &[Segment<'_>]) -> Decision {
    if guards.guards.is_empty() {
        return Decision::Allow;
    }
    let scanned: Vec<Option<Scanned<'_>>> = segments
        .iter()
        .map(|s| covers(guards.scope, s.kind).then(|| scan(guards, s.text)))
        .collect();
    let mut replacements: Vec<Vec<Replacement>> = vec![Vec::new(); segments.len()];
    let mut hits = Vec::new();
    for (index, guard) in guards.guards.iter().enumerate() {
        let mut count = 0;
        for (segment, scanned) in
            segments
                .iter()
                .zip(&scanned)
                .enumerate()
                .filter_map(|(i, (s, sc))| {
                    sc.as_ref()
                        .filter(|_| covers(guard.guard.scope, s.kind))
                        .map(|sc| (i, sc))
                })
        {
            if guard.guard.action.is_reject() {
                if fires(guards, index, guard, scanned) {
                    return Decision::Reject(Rejected {
                        guard_id: guard.guard.id.clone(),
                        status: guard.guard.reject.status,
                        message: guard.guard.reject.message.clone(),
                    });
                }
            } else {
                let spans = spans(guards, index, guard, scanned);
                count += spans.len();
                replacements[segment].extend(spans);
            }
        }
        if count > 0 {
            hits.push(GuardHit {
                guard_id: guard.guard.id.clone(),
                count,
            });
        }
    }
    if hits.is_empty() {
        return Decision::Allow;
    }
    let texts = segments
        .iter()
        .zip(replacements)
        .map(|(s, r)| mask::apply(s.text, r))
        .collect();
    Decision::Mask(Masked { texts, hits })
}

pub(super) fn scan<'a>(guards: &BackendGuards, text: &'a str) -> Scanned<'a> {
    let normalized = Normalized::new(text);
    let found = guards.scan.as_ref().map(|scan| {
        let mut set = PatternSet::new(scan.pattern_len());
        let input = Input::new(normalized.text());
        if guards
            .any
            .as_ref()
            .is_none_or(|any| any.is_match(input.clone()))
        {
            scan.which_overlapping_matches(&input, &mut set);
        }
        set
    });
    Scanned {
        normalized,
        original: text,
        found,
        builtins: guards.builtins.hits(),
    }
}

/// Whether one of guard `index`'s custom patterns occurs in the text.
fn custom_hit(guards: &BackendGuards, index: usize, scanned: &Scanned<'_>) -> bool {
    scanned.found.as_ref().is_some_and(|set| {
        set.iter()
            .any(|p| guards.owners.get(p.as_usize()) == Some(&index))
    })
}

/// Whether the guard fires anywhere in the text (for Reject: no spans needed).
fn fires(
    guards: &BackendGuards,
    index: usize,
    guard: &CompiledGuard,
    scanned: &Scanned<'_>,
) -> bool {
    custom_hit(guards, index, scanned)
        || guard
            .builtins
            .iter()
            .any(|&builtin| builtin_spans(guards, builtin, scanned).next().is_some())
        || guard
            .min_lengths
            .iter()
            .any(|length| too_long(length, scanned.original))
}

/// Spans the guard masks, in original-text coordinates.
pub(super) fn spans(
    guards: &BackendGuards,
    index: usize,
    guard: &CompiledGuard,
    scanned: &Scanned<'_>,
) -> Vec<Replacement> {
    let mut out = Vec::new();
    if let (true, Some(custom)) = (custom_hit(guards, index, scanned), &guard.custom) {
        for m in custom.find_iter(scanned.normalized.text()) {
            let (start, end) = scanned.normalized.original_span(m.start(), m.end());
            out.push(Replacement {
                start,
                end,
                with: CUSTOM_MASK,
            });
        }
    }
    for &builtin in &guard.builtins {
        out.extend(
            builtin_spans(guards, builtin, scanned).map(|(start, end)| Replacement {
                start,
                end,
                with: builtin.mask(),
            }),
        );
    }
    if guard
        .min_lengths
        .iter()
        .any(|length| too_long(length, scanned.original))
    {
        out.push(Replacement {
            start: 0,
            end: scanned.original.len(),
            with: CUSTOM_MASK,
        });
    }
    out
}

/// Validated builtin matches, in original-text coordinates.
fn builtin_spans<'s>(
    guards: &'s BackendGuards,
    builtin: Builtin,
    scanned: &'s Scanned<'_>,
) -> impl Iterator<Item = (usize, usize)> + 's {
    guards
        .builtins
        .spans(builtin, scanned.normalized.text(), &scanned.builtins)
        .iter()
        .map(|&(start, end)| scanned.normalized.original_span(start, end))
}

fn too_long(length: &MinLengthDetector, text: &str) -> bool {
    let wanted = usize::try_from(length.chars).unwrap_or(usize::MAX);
    if text.len() < wanted {
        return false; // fewer bytes than characters wanted: cannot be long enough
    }
    if length.across_lines {
        text.chars().count() >= wanted
    } else {
        text.split('\n')
            .any(|line| line.len() >= wanted && line.chars().count() >= wanted)
    }
}

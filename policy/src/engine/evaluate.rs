//! Per-request decision: scan each text once, then decide guards in order.
//!
//! Texts the model reads as one (adjacent text blocks of a message, marked by the caller) are
//! also scanned joined, so a phrase split across them is found; a Mask match that crosses
//! their seam is replaced in the first text and removed from the rest, so what the model
//! reads is the joined text masked.

use regex_automata::{Input, PatternSet};

use super::builtin_scan::BuiltinHits;
use super::mask::{self, Replacement};
use super::normalize::Normalized;
use super::{
    BackendGuards, CompiledGuard, Decision, GuardHit, Masked, Rejected, Segment, SegmentKind,
    covers,
};
use crate::bundle::{Builtin, CUSTOM_MASK, MinLengthDetector};

/// A text, normalized, with the custom patterns that occur in it and, once asked for, the
/// validated builtin matches.
pub(super) struct Scanned<'a> {
    normalized: Normalized<'a>,
    original: &'a str,
    found: Option<PatternSet>,
    builtins: BuiltinHits,
}

/// Segments `first..=last`, read as one text.
struct Run {
    first: usize,
    kind: SegmentKind,
    text: String,
    /// Where each segment starts in `text`.
    starts: Vec<usize>,
}

/// The maximal runs of two or more segments of one kind, each joining the one before.
fn runs(segments: &[Segment<'_>], joins_previous: &[bool]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let joins =
            i > 0 && joins_previous.get(i) == Some(&true) && segments[i - 1].kind == segment.kind;
        match runs.last_mut() {
            Some(run) if joins && run.first + run.starts.len() == i => {
                run.starts.push(run.text.len());
                run.text.push_str(segment.text);
            }
            _ if joins => runs.push(Run {
                first: i - 1,
                kind: segment.kind,
                text: format!("{}{}", segments[i - 1].text, segment.text),
                starts: vec![0, segments[i - 1].text.len()],
            }),
            _ => {}
        }
    }
    runs
}

/// A Mask span of a run that crosses a seam, as replacements of its segments: the label in
/// the first, the rest removed. Spans inside one segment are found there already: none.
fn split(run: &Run, (start, end): (usize, usize), with: &'static str) -> Vec<(usize, Replacement)> {
    let segment_of = |at: usize| run.starts.partition_point(|&s| s <= at).saturating_sub(1);
    let (a, b) = (segment_of(start), segment_of(end.saturating_sub(1)));
    if a == b {
        return Vec::new();
    }
    (a..=b)
        .map(|k| {
            let base = run.starts[k];
            let len = run.starts.get(k + 1).unwrap_or(&run.text.len()) - base;
            let from = start.saturating_sub(base).min(len);
            let to = (end - base).min(len);
            let with = if k == a { with } else { "" };
            (
                run.first + k,
                Replacement {
                    start: from,
                    end: to,
                    with,
                },
            )
        })
        .collect()
}

pub(super) fn evaluate(
    guards: &BackendGuards,
    segments: &[Segment<'_>],
    joins_previous: &[bool],
) -> Decision {
    if guards.guards.is_empty() {
        return Decision::Allow;
    }
    let scanned: Vec<Option<Scanned<'_>>> = segments
        .iter()
        .map(|s| covers(guards.scope, s.kind).then(|| scan(guards, s.text)))
        .collect();
    let runs = runs(segments, joins_previous);
    let scanned_runs: Vec<Option<Scanned<'_>>> = runs
        .iter()
        .map(|r| covers(guards.scope, r.kind).then(|| scan(guards, &r.text)))
        .collect();
    let mut replacements: Vec<Vec<Replacement>> = vec![Vec::new(); segments.len()];
    let mut hits = Vec::new();
    for (index, guard) in guards.guards.iter().enumerate() {
        let mut count = 0;
        for (run, scanned) in runs.iter().zip(&scanned_runs) {
            let Some(scanned) = scanned
                .as_ref()
                .filter(|_| covers(guard.guard.scope, run.kind))
            else {
                continue;
            };
            if guard.guard.action.is_reject() {
                if fires(guards, index, guard, scanned) {
                    return reject(guard);
                }
                continue;
            }
            for span in spans(guards, index, guard, scanned) {
                let pieces = split(run, (span.start, span.end), span.with);
                count += usize::from(!pieces.is_empty());
                for (segment, piece) in pieces {
                    replacements[segment].push(piece);
                }
            }
        }
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
                    return reject(guard);
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

fn reject(guard: &CompiledGuard) -> Decision {
    Decision::Reject(Rejected {
        guard_id: guard.guard.id.clone(),
        status: guard.guard.reject.status,
        message: guard.guard.reject.message.clone(),
    })
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

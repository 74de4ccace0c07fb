//! The guard engine: given a loaded bundle and the texts of a request, decide.
//!
//! Built once per bundle ([`Engine::from_bundle`]) and shared read-only by every request.
//! A bundle whose guards fail to build is an error, never partly loaded. Per request, each
//! text is normalized ([`normalize`]) and scanned once by a multi-pattern automaton
//! ([`matcher`]); guards are then decided in order: the first `Reject` guard that fires
//! rejects, `Mask` guards accumulate replacements ([`mask`]) in the original text.

mod builtin_scan;
mod digit_gate;
mod evaluate;
pub mod mask;
pub mod matcher;
pub mod normalize;
mod prefilter;
mod seed_scan;
mod text;
mod windows;

use std::collections::BTreeMap;

use regex_automata::meta::Regex;

use self::builtin_scan::BuiltinScanner;
pub use self::matcher::BuildError as EngineError;
pub use self::text::TextSpan;
use crate::builtins;
use crate::bundle::{
    Builtin, Bundle, Detector, Guard, GuardAction, GuardScope, GuardSet, MinLengthDetector,
};

/// The part of a request a text came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// The `system` prompt.
    System,
    /// Text of a message (any role).
    Message,
    /// Content of a `tool_result` block.
    ToolResult,
    /// A string inside a `tool_use` block's `input`.
    ToolUse,
}

/// One text of a request.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Where it came from.
    pub kind: SegmentKind,
    /// The text.
    pub text: &'a str,
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forward unchanged.
    Allow,
    /// Refuse with the guard's response.
    Reject(Rejected),
    /// Forward with some texts replaced.
    Mask(Masked),
}

/// A rejection and the guard that caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Guard id, e.g. `request[0]`.
    pub guard_id: String,
    /// HTTP status.
    pub status: u16,
    /// Message for the client.
    pub message: String,
}

/// Masked texts and which guards masked how much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked {
    /// Parallel to the segments: `Some(new text)` where something was replaced.
    pub texts: Vec<Option<String>>,
    /// Matches per guard.
    pub hits: Vec<GuardHit>,
}

/// How many spans a guard masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardHit {
    /// Guard id.
    pub guard_id: String,
    /// Number of spans.
    pub count: usize,
}

/// Compiled guards of every backend of a bundle.
#[derive(Debug, Default)]
pub struct Engine {
    backends: BTreeMap<String, BackendGuards>,
    /// Response guards, for backends that have any.
    responses: BTreeMap<String, BackendGuards>,
}

impl Engine {
    /// Builds every backend's automata; fails on the first guard that cannot be built.
    pub fn from_bundle(bundle: &Bundle) -> Result<Self, EngineError> {
        let mut backends = BTreeMap::new();
        let mut responses = BTreeMap::new();
        for (key, backend) in &bundle.backends {
            backends.insert(key.clone(), BackendGuards::from_guard_set(&backend.guards)?);
            if !backend.guards.response.is_empty() {
                let guards = BackendGuards::from_guards(&backend.guards.response)?;
                responses.insert(key.clone(), guards);
            }
        }
        Ok(Self {
            backends,
            responses,
        })
    }

    /// Guards of the backend `key` (`namespace/name`).
    pub fn backend(&self, key: &str) -> Option<&BackendGuards> {
        self.backends.get(key)
    }

    /// Response guards of the backend `key`; `None` when it has none.
    pub fn response(&self, key: &str) -> Option<&BackendGuards> {
        self.responses.get(key)
    }
}

/// Compiled request guards of one backend.
#[derive(Debug)]
pub struct BackendGuards {
    guards: Vec<CompiledGuard>,
    /// Every custom pattern of every guard, reporting all overlapping matches.
    scan: Option<Regex>,
    /// The same patterns, leftmost-first: answers "does anything match at all?" in one
    /// forward pass that can stop early and use literal prefilters (the common, allow case).
    /// Builtin candidates stay out: they start with classes and would defeat the prefilter.
    any: Option<Regex>,
    /// For each pattern of `scan`, the index of the guard it belongs to.
    owners: Vec<usize>,
    /// Builtin candidate automata with their prechecks, for validation and spans.
    builtins: BuiltinScanner,
    scope: GuardScope,
}

#[derive(Debug)]
struct CompiledGuard {
    guard: Guard,
    /// This guard's custom patterns alone, for Mask spans.
    custom: Option<Regex>,
    builtins: Vec<Builtin>,
    min_lengths: Vec<MinLengthDetector>,
}

impl BackendGuards {
    /// Builds the automata for a backend's request guards.
    pub fn from_guard_set(set: &GuardSet) -> Result<Self, EngineError> {
        Self::from_guards(&set.request)
    }

    /// Builds the automata for `guards`, decided in order: the request guards of a backend,
    /// or its response guards (one engine for both directions).
    pub fn from_guards(set: &[Guard]) -> Result<Self, EngineError> {
        let mut scan_hirs = Vec::new();
        let mut owners = Vec::new();
        let mut guards = Vec::new();
        let mut builtins = BuiltinScanner::new();
        let mut scope = GuardScope {
            system: false,
            messages: false,
            tool_results: false,
            tool_use: false,
        };
        for (index, guard) in set.iter().enumerate() {
            let compiled = compile_guard(guard, index, &mut scan_hirs, &mut owners, &mut builtins)?;
            scope = union(scope, guard.scope);
            guards.push(compiled);
        }
        let (scan, any) = if scan_hirs.is_empty() {
            (None, None)
        } else {
            (
                Some(matcher::build_scan(&scan_hirs, "guards")?),
                Some(matcher::build(&scan_hirs, "guards")?),
            )
        };
        Ok(Self {
            guards,
            scan,
            any,
            owners,
            builtins,
            scope,
        })
    }

    /// Whether there is no request guard.
    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }

    /// Every part of a request some guard inspects; the proxy extracts only these.
    pub fn scope(&self) -> GuardScope {
        self.scope
    }

    /// Decides a request from its texts.
    pub fn evaluate_request(&self, segments: &[Segment<'_>]) -> Decision {
        evaluate::evaluate(self, segments, &[])
    }

    /// Decides a request from its texts, where `joins_previous[i]` says the model reads
    /// segment `i` as the continuation of segment `i - 1` (adjacent text blocks of one
    /// message): a match across them counts, and a masked one is masked in both.
    pub fn evaluate_request_joined(
        &self,
        segments: &[Segment<'_>],
        joins_previous: &[bool],
    ) -> Decision {
        evaluate::evaluate(self, segments, joins_previous)
    }
}

fn compile_guard(
    guard: &Guard,
    index: usize,
    scan_hirs: &mut Vec<regex_syntax::hir::Hir>,
    owners: &mut Vec<usize>,
    scanner: &mut BuiltinScanner,
) -> Result<CompiledGuard, EngineError> {
    let mut custom_hirs = Vec::new();
    let mut builtins = Vec::new();
    let mut min_lengths = Vec::new();
    for detector in &guard.detectors {
        match detector {
            Detector::Regex(regex) => {
                let hir = matcher::custom_hir(&regex.pattern, &regex.path)?;
                scan_hirs.push(hir.clone());
                owners.push(index);
                custom_hirs.push(hir);
            }
            Detector::Builtin(builtin) => {
                let path = format!("{}/{}", guard.id, builtin.name());
                match builtins::candidate_pattern(*builtin) {
                    Some(pattern) => {
                        let hir = matcher::builtin_hir(pattern, &path)?;
                        scanner.add(*builtin, &hir, &path)?;
                    }
                    None => scanner.add_credential(*builtin, &path)?,
                }
                if !builtins.contains(builtin) {
                    builtins.push(*builtin);
                }
            }
            Detector::MinLength(length) => min_lengths.push(length.clone()),
        }
    }
    let custom = if custom_hirs.is_empty() {
        None
    } else {
        Some(matcher::build(&custom_hirs, &guard.id)?)
    };
    Ok(CompiledGuard {
        guard: guard.clone(),
        custom,
        builtins,
        min_lengths,
    })
}

fn union(a: GuardScope, b: GuardScope) -> GuardScope {
    GuardScope {
        system: a.system || b.system,
        messages: a.messages || b.messages,
        tool_results: a.tool_results || b.tool_results,
        tool_use: a.tool_use || b.tool_use,
    }
}

fn covers(scope: GuardScope, kind: SegmentKind) -> bool {
    match kind {
        SegmentKind::System => scope.system,
        SegmentKind::Message => scope.messages,
        SegmentKind::ToolResult => scope.tool_results,
        SegmentKind::ToolUse => scope.tool_use,
    }
}

impl GuardAction {
    fn is_reject(self) -> bool {
        self == Self::Reject
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

//! Guard engine throughput on Claude Code-like requests: allow, reject and mask paths, and the
//! build time of a 50-phrase guard set. Prints a table; run with `hack/bench-guards` or
//! `cargo bench -p agw-policy --bench scan`. Each case is timed per evaluation in 5 rounds
//! that take turns with the other cases; p50 and p99 are over all rounds.
// A benchmark binary: a guard set that fails to build should stop it loudly.
#![allow(clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use agw_policy::bundle::{
    Builtin, Detector, Guard, GuardAction, GuardScope, GuardSet, RegexDetector, Rejection,
};
use agw_policy::engine::{BackendGuards, Decision, Segment, SegmentKind};

const SYSTEM: &str = "You are an interactive CLI tool that helps users with software engineering tasks. \
Use the instructions below and the tools available to you to assist the user. Be concise, direct and to the point. \
When you run a non-trivial bash command, explain what the command does and why you are running it. ";

const CODE: &str = r"fn handle(req: Request<Incoming>) -> Result<Response<Body>, Error> {
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    match router.lookup(&path) {
        Some(route) => route.forward(req).await.map_err(Error::from),
        None => Ok(not_found(&path)),
    }
}
";

const LOG: &str = "2024-05-01T12:00:00.123Z INFO request id=550e8400-e29b-41d4-a716-446655440000 \
peer=192.168.100.200:51234 status=200 bytes=1714567890 version=1.2.3 commit=4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";

/// The same request as Claude Code really sends it: tool results carry line numbers with an
/// arrow (`     1→`), prose has dashes and an ellipsis (the one character here that NFKC changes).
fn unicode_request(size: usize) -> Vec<(SegmentKind, String)> {
    let mut segments = request(size, None);
    for (kind, text) in &mut segments {
        *text = if *kind == SegmentKind::System {
            text.replace(". ", " — ")
                .replace("to the point", "to the point…")
        } else {
            numbered(text)
        };
    }
    segments
}

fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for (i, line) in text.lines().enumerate() {
        writeln!(out, "{:>6}→{line}", i + 1).expect("writing to a String cannot fail");
    }
    out
}

/// A Claude Code-like request's texts totalling about `size` bytes.
fn request(size: usize, needle: Option<&str>) -> Vec<(SegmentKind, String)> {
    let mut segments = vec![(SegmentKind::System, SYSTEM.repeat(20))];
    let mut total = segments[0].1.len();
    let mut turn = 0;
    while total < size {
        let text = match turn % 3 {
            0 => format!(
                "Please refactor the handler in src/server.rs and explain the change (turn {turn})."
            ),
            1 => CODE.repeat(12),
            _ => LOG.repeat(20),
        };
        total += text.len();
        segments.push((SegmentKind::Message, text));
        turn += 1;
    }
    if let (Some(needle), Some(last)) = (needle, segments.last_mut()) {
        last.1.push_str(needle);
    }
    segments
}

fn guard(id: &str, action: GuardAction, detectors: Vec<Detector>) -> Guard {
    Guard {
        id: id.into(),
        action,
        reject: Rejection {
            status: 400,
            message: "rejected".into(),
        },
        scope: GuardScope::default(),
        detectors,
        webhook: None,
    }
}

fn phrase(p: &str) -> Detector {
    Detector::Regex(RegexDetector {
        pattern: p.into(),
        path: "bench".into(),
    })
}

/// The tutorial's extended example.
fn tutorial_extended() -> GuardSet {
    let phrases = ["SSN", "Social Security", "delete all", "drop database"]
        .map(phrase)
        .to_vec();
    GuardSet {
        request: vec![
            guard("request[0]", GuardAction::Reject, phrases),
            guard(
                "request[1]",
                GuardAction::Reject,
                vec![
                    Detector::Builtin(Builtin::Email),
                    Detector::Builtin(Builtin::CreditCard),
                ],
            ),
        ],
        response: vec![],
        streaming: false,
    }
}

/// 50 phrases plus `builtins`, as `action`.
fn fifty_phrases(action: GuardAction, builtins: &[Builtin]) -> GuardSet {
    let phrases: Vec<Detector> = (0..50)
        .map(|i| phrase(&format!("project codename {i} secret")))
        .collect();
    let builtins = builtins.iter().copied().map(Detector::Builtin).collect();
    GuardSet {
        request: vec![
            guard("request[0]", action, phrases),
            guard("request[1]", action, builtins),
        ],
        response: vec![],
        streaming: false,
    }
}

/// Measuring rounds per case; see `main`.
const ROUNDS: usize = 5;

/// A case: its name, guards, request texts and the decision it must give.
type Case<'a> = (
    &'static str,
    &'a BackendGuards,
    &'a [(SegmentKind, String)],
    fn(&Decision) -> bool,
);

struct Row<'a> {
    case: &'static str,
    guards: &'a BackendGuards,
    segments: Vec<Segment<'a>>,
    size: usize,
    per_iter: Vec<Duration>,
}

impl<'a> Row<'a> {
    fn new(
        case: &'static str,
        guards: &'a BackendGuards,
        texts: &'a [(SegmentKind, String)],
        expect: fn(&Decision) -> bool,
    ) -> Self {
        let segments: Vec<Segment<'_>> = texts
            .iter()
            .map(|(kind, text)| Segment { kind: *kind, text })
            .collect();
        assert!(
            expect(&guards.evaluate_request(&segments)),
            "{case}: unexpected decision"
        );
        Self {
            case,
            guards,
            segments,
            size: texts.iter().map(|(_, t)| t.len()).sum(),
            per_iter: Vec::new(),
        }
    }

    /// One round: about 40 MB of input (at least 4 evaluations), timed one by one.
    fn measure_round(&mut self) {
        let iterations = (40_000_000 / self.size).clamp(4, 400);
        for _ in 0..iterations {
            let started = Instant::now();
            black_box(self.guards.evaluate_request(black_box(&self.segments)));
            self.per_iter.push(started.elapsed());
        }
    }
}

fn print(rows: &[Row]) {
    println!(
        "{:<40} {:>9} {:>12} {:>12} {:>12}",
        "case", "input", "MB/s (p50)", "p50", "p99"
    );
    for row in rows {
        let p50 = row.per_iter[row.per_iter.len() / 2];
        let p99 = row.per_iter[row.per_iter.len() * 99 / 100];
        #[allow(clippy::cast_precision_loss)]
        let mbps = row.size as f64 / p50.as_secs_f64() / 1e6;
        println!(
            "{:<40} {:>7}KB {:>12.0} {:>12.2?} {:>12.2?}",
            row.case,
            row.size / 1024,
            mbps,
            p50,
            p99
        );
    }
}

/// The case filter: the first argument that is not a flag (`cargo bench … -- allow`).
fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

fn main() {
    let filter = filter();
    let wanted = |case: &str| filter.as_deref().is_none_or(|f| case.contains(f));
    let allow: fn(&Decision) -> bool = |d| matches!(d, Decision::Allow);
    let reject: fn(&Decision) -> bool = |d| matches!(d, Decision::Reject(_));
    let mask: fn(&Decision) -> bool = |d| matches!(d, Decision::Mask(_));
    let extended = BackendGuards::from_guard_set(&tutorial_extended()).expect("builds");
    let fifty_reject =
        BackendGuards::from_guard_set(&fifty_phrases(GuardAction::Reject, &Builtin::PII))
            .expect("builds");
    let fifty_secrets =
        BackendGuards::from_guard_set(&fifty_phrases(GuardAction::Reject, &Builtin::ALL))
            .expect("builds");
    let fifty_mask =
        BackendGuards::from_guard_set(&fifty_phrases(GuardAction::Mask, &Builtin::PII))
            .expect("builds");
    let sizes = [100 * 1024, 1024 * 1024];
    let inputs: Vec<[Vec<(SegmentKind, String)>; 4]> = sizes
        .iter()
        .map(|&size| {
            [
                request(size, None),
                request(size, Some(" then drop database production")),
                request(
                    size,
                    Some(" mail jane.doe@example.com or call (415) 555-2671"),
                ),
                unicode_request(size),
            ]
        })
        .collect();
    let mut rows = Vec::new();
    for [innocent, bad, pii, unicode] in &inputs {
        let cases: [Case<'_>; 6] = [
            ("allow: tutorial extended", &extended, innocent, allow),
            (
                "allow: 50 phrases + builtins",
                &fifty_reject,
                innocent,
                allow,
            ),
            (
                "allow: 50 phrases + builtins + Secrets",
                &fifty_secrets,
                innocent,
                allow,
            ),
            ("allow: tutorial extended, → — …", &extended, unicode, allow),
            ("reject: tutorial extended (at end)", &extended, bad, reject),
            ("mask: 50 phrases + builtins", &fifty_mask, pii, mask),
        ];
        for (case, guards, texts, expect) in cases {
            if wanted(case) {
                rows.push(Row::new(case, guards, texts, expect));
            }
        }
    }
    // Rounds take turns, so a burst of load from elsewhere on the machine spreads over all
    // cases instead of spoiling one; the samples of all rounds are pooled.
    for _ in 0..ROUNDS {
        for row in &mut rows {
            row.measure_round();
        }
    }
    for row in &mut rows {
        row.per_iter.sort();
    }
    print(&rows);
    if !wanted("build") {
        return;
    }
    let builds: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            black_box(
                BackendGuards::from_guard_set(&fifty_phrases(GuardAction::Reject, &Builtin::ALL))
                    .expect("builds"),
            );
            started.elapsed()
        })
        .collect();
    let mut sorted = builds;
    sorted.sort();
    println!(
        "\nbuild: 50 phrases + all builtins (Secrets too)   p50 {:.2?}   max {:.2?}",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
}

//! Fuzz target for the normalizer and the matcher, run on stable by `hack/fuzz` (`#[ignore]`d
//! here: it runs for a time budget, `AGW_FUZZ_SECONDS`, default 10).
//!
//! A guarded phrase or credential dressed up the ways a client can dress it (case, full-width
//! letters, zero-width and format characters, whitespace runs, JSON-escape-like noise around
//! it) inside arbitrary text must be rejected; with every builtin on, arbitrary text never
//! panics, and a Mask removes the needle from the text.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::*;
use crate::bundle::{RegexDetector, Rejection};

fn budget() -> Duration {
    let seconds = std::env::var("AGW_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs(seconds.unwrap_or(10))
}

fn guards(action: GuardAction) -> BackendGuards {
    let mut detectors: Vec<Detector> = Builtin::ALL.map(Detector::Builtin).to_vec();
    detectors.push(Detector::Regex(RegexDetector {
        pattern: "credit card".to_owned(),
        path: "p".to_owned(),
    }));
    let guard = Guard {
        id: "request[0]".to_owned(),
        action,
        reject: Rejection {
            status: 400,
            message: "no".to_owned(),
        },
        scope: GuardScope::default(),
        detectors,
        webhook: None,
    };
    BackendGuards::from_guard_set(&GuardSet {
        request: vec![guard],
        response: vec![],
        streaming: false,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The phrase or a credential, dressed up.
fn dressed() -> impl Strategy<Value = String> {
    let needle = prop_oneof![
        Just("credit card".to_owned()),
        Just("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".to_owned()),
        Just("AKIALH4VPM77L6S5QMQH".to_owned()),
    ];
    let dress = proptest::collection::vec((0u8..5, any::<bool>()), 0..40);
    (needle, dress).prop_map(|(needle, dress)| {
        let mut out = String::new();
        for (i, c) in needle.chars().enumerate() {
            let (how, upper) = dress.get(i).copied().unwrap_or((0, false));
            let c = if upper && needle == "credit card" {
                c.to_ascii_uppercase()
            } else {
                c
            };
            match how {
                1 if c.is_ascii_alphabetic() => {
                    out.push(char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap_or(c));
                }
                2 => {
                    out.push(c);
                    out.push('\u{200b}');
                }
                3 if c == ' ' => out.push_str(" \n\t "),
                4 => {
                    out.push(c);
                    out.push('\u{00ad}');
                }
                _ => out.push(c),
            }
        }
        out
    })
}

fn text() -> impl Strategy<Value = String> {
    "(\\PC|[ \n\t0-9@._:/=+-]|AKIA|ghp_|eyJ|-----BEGIN |token: |Bearer |sk-ant-){0,40}"
}

#[test]
#[ignore = "a fuzz target: run with hack/fuzz"]
fn fuzz_dressed_needles_are_found_and_nothing_panics() {
    let reject = guards(GuardAction::Reject);
    let mask = guards(GuardAction::Mask);
    let strategy = (text(), dressed(), text(), any::<bool>());
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let (before, needle, after, with_needle) = tree.current();
        // A separator keeps the needle a word (and a token) of its own.
        let input = if with_needle {
            format!("{before} {needle} {after}")
        } else {
            format!("{before}{after}")
        };
        let segments = [Segment {
            kind: SegmentKind::Message,
            text: &input,
        }];
        let held = std::panic::catch_unwind(|| {
            let decision = reject.evaluate_request(&segments);
            if with_needle {
                assert!(matches!(decision, Decision::Reject(_)), "{input:?} passed");
            }
            if with_needle {
                let Decision::Mask(masked) = mask.evaluate_request(&segments) else {
                    panic!("{input:?} not masked");
                };
                let out = masked.texts[0].clone().unwrap_or_default();
                assert!(!out.contains(&needle), "{input:?} masked to {out:?}");
            } else {
                // Whatever it finds, masking text never panics.
                mask.evaluate_request(&segments);
            }
        });
        assert!(held.is_ok(), "failing input after {cases} cases: {input:?}");
        cases += 1;
    }
    eprintln!("fuzz matcher: {cases} cases in {:?}, no failure", budget());
}

//! Decisions on hand-built guard sets (the engine does not need the compiler).

use proptest::prelude::*;

use super::*;
use crate::bundle::{RegexDetector, Rejection};

fn guard(id: &str, action: GuardAction, detectors: Vec<Detector>) -> Guard {
    Guard {
        id: id.to_owned(),
        action,
        reject: Rejection {
            status: 400,
            message: format!("rejected by {id}"),
        },
        scope: GuardScope::default(),
        detectors,
        webhook: None,
    }
}

fn phrase(p: &str) -> Detector {
    Detector::Regex(RegexDetector {
        pattern: p.to_owned(),
        path: "p".to_owned(),
    })
}

fn engine(guards: Vec<Guard>) -> BackendGuards {
    BackendGuards::from_guard_set(&GuardSet {
        request: guards,
        response: vec![],
        streaming: false,
    })
    .expect("builds")
}

fn message(text: &str) -> [Segment<'_>; 1] {
    [Segment {
        kind: SegmentKind::Message,
        text,
    }]
}

fn tutorial() -> BackendGuards {
    engine(vec![guard(
        "request[0]",
        GuardAction::Reject,
        vec![phrase("credit card")],
    )])
}

#[test]
fn tutorial_guard_sees_through_presentation() {
    let g = tutorial();
    for text in [
        "What is a credit card",
        "Credit Card",
        "CREDIT\u{200b}CARD",
        "ｃｒｅｄｉｔ card",
        "credit\n\tcard",
    ] {
        let decision = g.evaluate_request(&message(text));
        assert!(
            matches!(&decision, Decision::Reject(r) if r.guard_id == "request[0]"),
            "{text:?}: {decision:?}"
        );
    }
    assert_eq!(
        g.evaluate_request(&message("What is Kubernetes?")),
        Decision::Allow
    );
}

#[test]
fn first_reject_in_order_wins_over_earlier_mask() {
    let g = engine(vec![
        guard(
            "request[0]",
            GuardAction::Mask,
            vec![Detector::Builtin(Builtin::Email)],
        ),
        guard(
            "request[1]",
            GuardAction::Reject,
            vec![phrase("drop database")],
        ),
    ]);
    let decision = g.evaluate_request(&message("mail a@example.com then drop database"));
    assert!(matches!(decision, Decision::Reject(r) if r.guard_id == "request[1]"));
}

#[test]
fn overlapping_guards_cannot_hide_each_other() {
    let g = engine(vec![
        guard("request[0]", GuardAction::Mask, vec![phrase("credit card")]),
        guard("request[1]", GuardAction::Reject, vec![phrase("card")]),
    ]);
    assert!(matches!(
        g.evaluate_request(&message("my credit card")),
        Decision::Reject(_)
    ));
}

#[test]
fn mask_replaces_the_original_span_only() {
    let g = engine(vec![guard(
        "request[0]",
        GuardAction::Mask,
        vec![Detector::Builtin(Builtin::Email), phrase("secret")],
    )]);
    let text = "Write to ｊａｎｅ@example.com about the SECRET plan";
    let Decision::Mask(masked) = g.evaluate_request(&message(text)) else {
        panic!("expected mask")
    };
    assert_eq!(
        masked.texts[0].as_deref(),
        Some("Write to <EMAIL_ADDRESS> about the <masked> plan")
    );
    assert_eq!(
        masked.hits,
        [GuardHit {
            guard_id: "request[0]".into(),
            count: 2
        }]
    );
}

#[test]
fn scope_limits_what_a_guard_sees() {
    let g = tutorial();
    let segments = [Segment {
        kind: SegmentKind::ToolResult,
        text: "credit card",
    }];
    assert_eq!(g.evaluate_request(&segments), Decision::Allow);
    assert!(!g.scope().tool_results);
}

#[test]
fn length_checks_act_like_guards() {
    let g = engine(vec![guard(
        "request[0]",
        GuardAction::Reject,
        vec![Detector::MinLength(MinLengthDetector {
            chars: 10,
            across_lines: false,
            path: "p".into(),
        })],
    )]);
    assert!(matches!(
        g.evaluate_request(&message("0123456789")),
        Decision::Reject(_)
    ));
    assert_eq!(
        g.evaluate_request(&message("01234\n56789")),
        Decision::Allow
    );
}

#[test]
fn invalid_pattern_in_a_bundle_is_an_error_not_skipped() {
    let set = GuardSet {
        request: vec![guard(
            "request[0]",
            GuardAction::Reject,
            vec![phrase("(unclosed")],
        )],
        response: vec![],
        streaming: false,
    };
    let err = BackendGuards::from_guard_set(&set).expect_err("invalid");
    assert_eq!(err.path, "p");
}

proptest! {
    #[test]
    fn masking_changes_nothing_outside_matches(prefix in "\\PC{0,40}", suffix in "\\PC{0,40}") {
        let g = engine(vec![guard("request[0]", GuardAction::Mask, vec![Detector::Builtin(Builtin::Email)])]);
        let text = format!("{prefix} jane@example.com {suffix}");
        match g.evaluate_request(&message(&text)) {
            Decision::Mask(masked) => {
                let out = masked.texts[0].clone().unwrap_or_default();
                prop_assert!(out.starts_with(&prefix), "{out:?}");
                prop_assert!(out.ends_with(&suffix), "{out:?}");
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn never_panics_and_allow_leaves_text_alone(text in "\\PC{0,200}") {
        let g = engine(vec![
            guard("request[0]", GuardAction::Mask, vec![Detector::Builtin(Builtin::Email), Detector::Builtin(Builtin::CreditCard), phrase("zz top")]),
            guard("request[1]", GuardAction::Reject, vec![phrase("forbidden phrase")]),
        ]);
        if let Decision::Mask(masked) = g.evaluate_request(&message(&text)) {
            prop_assert!(masked.texts[0].is_some());
        }
    }
}

fn secrets(action: GuardAction) -> BackendGuards {
    let mut g = guard(
        "request[0]",
        action,
        Builtin::CREDENTIALS.map(Detector::Builtin).to_vec(),
    );
    g.scope.tool_results = true;
    engine(vec![g])
}

const DOT_ENV: &str = "# local settings\nAWS_ACCESS_KEY_ID=AKIALH4VPM77L6S5QMQH\nAWS_SECRET_ACCESS_KEY=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\nGITHUB_TOKEN=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\nDEBUG=true\n";

#[test]
fn a_masked_dot_env_still_reads_as_a_dot_env() {
    let segments = [Segment {
        kind: SegmentKind::ToolResult,
        text: DOT_ENV,
    }];
    let Decision::Mask(masked) = secrets(GuardAction::Mask).evaluate_request(&segments) else {
        panic!("masked");
    };
    assert_eq!(
        masked.texts[0].as_deref(),
        Some(
            "# local settings\nAWS_ACCESS_KEY_ID=<AWS_ACCESS_KEY>\nAWS_SECRET_ACCESS_KEY=<AWS_ACCESS_KEY>\nGITHUB_TOKEN=<GITHUB_TOKEN>\nDEBUG=true\n"
        )
    );
    assert_eq!(masked.hits[0].count, 3);
}

#[test]
fn credentials_reject_and_leave_innocent_text_alone() {
    let g = secrets(GuardAction::Reject);
    let rejected = g.evaluate_request(&[Segment {
        kind: SegmentKind::ToolResult,
        text: DOT_ENV,
    }]);
    assert!(matches!(rejected, Decision::Reject(_)), "{rejected:?}");
    let innocent = "checksum = \"63c2334d7be0c3f6258e4433506a10b24499dbf9dcb9d4aee250f6ab1ea32424\"\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n";
    assert_eq!(g.evaluate_request(&message(innocent)), Decision::Allow);
}

#[test]
fn credentials_are_found_through_presentation() {
    // Full-width letters normalize to the token; the mask covers the original characters.
    let text = "key: ｇｈｐ_BOQ8HjPhiN9LLksdJw8RiYt1vaR9nA0gzFjh.";
    let Decision::Mask(masked) = secrets(GuardAction::Mask).evaluate_request(&message(text)) else {
        panic!("masked");
    };
    assert_eq!(masked.texts[0].as_deref(), Some("key: <GITHUB_TOKEN>."));
}

#[test]
fn overlapping_seeds_are_each_asked() {
    // `sk-` (OpenAI) and `sk-ant-` (Anthropic) start at the same byte: both are asked, and
    // only the one whose format holds fires.
    let ant = "sk-ant-api03-J7UKhcffgXajTylrrkEZxJQ-kTxaOzIXdniX-dOb2nTo5Dj7os8rjziPscoVAS8shXsjekjNaM4e2OnVf-DycfIAcSYSqAA";
    let Decision::Mask(masked) =
        secrets(GuardAction::Mask).evaluate_request(&message(&format!("use {ant} now")))
    else {
        panic!("masked");
    };
    assert_eq!(masked.texts[0].as_deref(), Some("use <ANTHROPIC_KEY> now"));
}

#[test]
fn a_phrase_split_across_joined_blocks_is_found() {
    let parts = [
        "What is a credit",
        " card? And mail jane.d",
        "oe@example.com please",
    ];
    let segments = parts.map(|text| Segment {
        kind: SegmentKind::Message,
        text,
    });
    let joined = [false, true, true];
    assert_eq!(
        tutorial().evaluate_request(&segments),
        Decision::Allow,
        "apart, no block matches"
    );
    assert!(matches!(
        tutorial().evaluate_request_joined(&segments, &joined),
        Decision::Reject(_)
    ));
    let mask = engine(vec![guard(
        "request[0]",
        GuardAction::Mask,
        vec![Detector::Builtin(Builtin::Email)],
    )]);
    let Decision::Mask(masked) = mask.evaluate_request_joined(&segments, &joined) else {
        panic!("masked");
    };
    let texts: Vec<&str> = (masked.texts.iter().zip(parts))
        .map(|(new, old)| new.as_deref().unwrap_or(old))
        .collect();
    assert_eq!(
        texts.concat(),
        "What is a credit card? And mail <EMAIL_ADDRESS> please"
    );
    // `oe@example.com` alone is an address too: both spans merge into one mask.
    assert_eq!(texts[2], " please");
}

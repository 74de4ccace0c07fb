use proptest::prelude::*;

use super::*;
use crate::engine::{Decision, Segment};
use crate::response::testing::{maskers, rejecter};

/// What the engine does with the whole text at once.
fn masked_whole(guards: &BackendGuards, text: &str) -> String {
    let segment = [Segment {
        kind: SegmentKind::Message,
        text,
    }];
    match guards.evaluate_request(&segment) {
        Decision::Allow => text.to_owned(),
        Decision::Mask(masked) => masked.texts[0].clone().unwrap_or_else(|| text.to_owned()),
        Decision::Reject(r) => panic!("rejected by {}", r.guard_id),
    }
}

/// Streams `pieces` through a window; returns what was sent, or why it stopped.
fn stream(guards: &BackendGuards, pieces: &[&str]) -> (String, Option<Stopped>, Hits) {
    let mut window = TextWindow::new(SegmentKind::Message);
    let mut hits = Hits::default();
    let mut sent = String::new();
    for piece in pieces {
        match window.push(guards, piece, &mut hits) {
            Ok(out) => sent.push_str(&out),
            Err(stop) => return (sent, Some(stop), hits),
        }
        assert!(window.held.len() <= MAX_HELD_BYTES + piece.len());
        assert!(window.sent.len() <= STREAM_WINDOW_BYTES);
    }
    match window.finish(guards, &mut hits) {
        Ok(out) => sent.push_str(&out),
        Err(stop) => return (sent, Some(stop), hits),
    }
    (sent, None, hits)
}

fn split_every(text: &str, n: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut at = n.min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (piece, tail) = rest.split_at(at);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[test]
fn an_email_and_a_card_split_one_byte_at_a_time_are_masked() {
    let filler = "Here is what I found in the file. ".repeat(20);
    let text = format!("{filler}Contact jane.doe@example.com, card 4111 1111 1111 1111. {filler}");
    let (sent, stopped, hits) = stream(&maskers(), &split_every(&text, 1));
    assert!(stopped.is_none());
    assert_eq!(sent, masked_whole(&maskers(), &text));
    assert!(
        sent.contains("Contact <EMAIL_ADDRESS>, card <CREDIT_CARD>."),
        "{sent}"
    );
    assert_eq!(hits.as_slice()[0].count, 2);
}

#[test]
fn text_is_held_back_by_at_most_the_window() {
    let text = "word ".repeat(400);
    let mut window = TextWindow::new(SegmentKind::Message);
    let mut hits = Hits::default();
    let mut sent = 0;
    for (i, piece) in split_every(&text, 50).iter().enumerate() {
        sent += window
            .push(&maskers(), piece, &mut hits)
            .expect("allowed")
            .len();
        let received = (i + 1) * 50;
        assert!(
            received - sent <= STREAM_WINDOW_BYTES,
            "{received} received, {sent} sent"
        );
    }
}

#[test]
fn a_reject_phrase_split_across_pieces_stops_before_any_of_it_is_sent() {
    let text = format!("{}so the credit card number is", "a ".repeat(400));
    let (sent, stopped, _) = stream(&rejecter(), &split_every(&text, 7));
    let stopped = stopped.expect("stopped");
    assert_eq!(stopped.rejected.guard_id, "response[0]");
    assert_eq!(stopped.rejected.message, "stopped by response[0]");
    assert!(!stopped.undecided);
    assert!(!sent.contains("credit"), "{sent}");
}

#[test]
fn a_match_reaching_back_into_sent_text_fails_closed() {
    // `credit card` with a whitespace run longer than the window between its words: its
    // start was sent before its end arrived, so it can no longer be masked.
    let text = format!("credit{}card", " ".repeat(3 * STREAM_WINDOW_BYTES));
    let mask_only = BackendGuards::from_guards(&[crate::response::testing::guard(
        "response[0]",
        crate::bundle::GuardAction::Mask,
        vec![crate::response::testing::phrase("credit card")],
    )])
    .expect("builds");
    let (_, stopped, _) = stream(&mask_only, &split_every(&text, 16));
    let stopped = stopped.expect("fails closed");
    assert!(stopped.undecided);
    assert!(
        stopped.rejected.message.contains("response[0]"),
        "{stopped:?}"
    );
}

/// Fragments that make up model replies: plain words, the builtins' kinds of data (valid
/// and look-alike), a phrase, whitespace and non-ASCII text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("the ".to_owned()),
        Just("Here is the file:\n".to_owned()),
        Just("jane.doe@example.com".to_owned()),
        Just("a@b".to_owned()),
        Just("4111 1111 1111 1111".to_owned()),
        Just("4111-1111-1111-1112".to_owned()),
        Just("SSN 123-45-6789".to_owned()),
        Just("ssn: 123456789".to_owned()),
        Just("(415) 555-2671".to_owned()),
        Just("Project Falcon".to_owned()),
        Just("project\n falcon".to_owned()),
        Just("  ".to_owned()),
        Just("é→ ".to_owned()),
        "[a-z0-9 .@-]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_masks_like_the_whole_text(
        fragments in prop::collection::vec(fragment(), 0..120),
        cuts in prop::collection::vec(0usize..4000, 0..60),
    ) {
        let guards = maskers();
        let text = fragments.concat();
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= text.len() && text.is_char_boundary(c)).collect();
        cuts.push(text.len());
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = Vec::new();
        let mut from = 0;
        for cut in cuts {
            pieces.push(&text[from..cut]);
            from = cut;
        }
        let (sent, stopped, _) = stream(&guards, &pieces);
        prop_assert!(stopped.is_none());
        prop_assert_eq!(sent, masked_whole(&guards, &text));
    }
}

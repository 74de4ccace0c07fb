//! Texts the model reads as one: adjacent text blocks and same-role turns, and the order
//! the guards read them in.

use std::borrow::Cow;

use super::ALL;
use crate::messages::*;

fn links(body: &str) -> Vec<(String, Option<usize>)> {
    extract(body, ALL)
        .expect("parses")
        .texts
        .into_iter()
        .map(|t| (t.text.into_owned(), t.continues))
        .collect()
}

fn linked(pairs: &[(&str, Option<usize>)]) -> Vec<(String, Option<usize>)> {
    pairs.iter().map(|(t, c)| ((*t).to_owned(), *c)).collect()
}

#[test]
fn adjacent_text_blocks_are_linked_as_read_together() {
    let body = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"credit"},{"type":"text","text":" card"},{"type":"image","source":{"type":"url","url":"x"}},{"type":"text","text":"z"}]},{"role":"assistant","content":[{"type":"text","text":"next"}]}]}"#;
    assert_eq!(
        links(body),
        linked(&[
            ("credit", None),
            (" card", Some(0)),
            ("x", None),
            ("z", None),
            ("next", None)
        ])
    );
}

/// Found in review: the link went to a text block's first string, which is not its text
/// when a key or citation comes first, so "credit" was joined with the citation.
#[test]
fn the_link_is_on_the_text_whatever_else_the_block_holds() {
    let body = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"credit","citations":[{"type":"char_location","cited_text":"c1"}]},{"citations":[{"type":"char_location","cited_text":"c2"}],"type":"text","text":" card"}]}]}"#;
    assert_eq!(
        links(body),
        linked(&[
            ("credit", None),
            ("c1", None),
            ("c2", None),
            (" card", Some(0))
        ])
    );
}

#[test]
fn consecutive_turns_of_one_role_are_linked_and_others_are_not() {
    // The provider merges consecutive same-role turns; `role` may follow `content`.
    let body = r#"{"messages":[
        {"role":"user","content":"credit"},
        {"content":[{"type":"text","text":" card"}],"role":"user"},
        {"role":"assistant","content":"a"},
        {"role":"user","content":"b"},
        {"role":"user","content":[{"type":"image","source":{"type":"url","url":"i"}},{"type":"text","text":"c"}]},
        {"content":"no role"},
        {"content":"no role either"}]}"#;
    assert_eq!(
        links(body),
        linked(&[
            ("credit", None),
            (" card", Some(0)),
            ("a", None),
            ("b", None),
            ("i", None),
            ("c", None),
            ("no role", None),
            ("no role either", None)
        ])
    );
}

#[test]
fn text_blocks_of_system_and_of_tool_results_are_linked() {
    let body = r#"{"system":[{"type":"text","text":"s1"},{"type":"text","text":"s2"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r1"},{"type":"text","text":"r2"},"loose",{"type":"text","text":"r3"}]}]}]}"#;
    assert_eq!(
        links(body),
        linked(&[
            ("s1", None),
            ("s2", Some(0)),
            ("r1", None),
            ("r2", Some(2)),
            ("loose", None),
            ("r3", None)
        ])
    );
}

#[test]
fn the_reading_order_puts_each_text_after_the_one_it_continues() {
    let body = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"credit","zz":"side"}],"extra":"x"},{"role":"user","content":" card"}]}"#;
    let out = extract(body, ALL).expect("parses");
    let read: Vec<(&str, bool)> = out
        .reading_order()
        .into_iter()
        .map(|(i, joins)| (out.texts[i].text.as_ref(), joins))
        .collect();
    assert_eq!(
        read,
        [
            ("credit", false),
            (" card", true),
            ("zz", false),
            ("side", false),
            ("extra", false),
            ("x", false)
        ]
    );
}

#[test]
fn a_broken_link_never_drops_a_text_from_the_reading_order() {
    let text = |t: &'static str, continues| Literal {
        kind: SegmentKind::Message,
        span: (0, 0),
        text: Cow::Borrowed(t),
        continues,
        key: false,
    };
    // Two texts claim to continue the first, one points forward, one at itself.
    let out = Extracted {
        texts: vec![
            text("a", None),
            text("b", Some(0)),
            text("c", Some(0)),
            text("d", Some(4)),
            text("e", Some(4)),
        ],
        model: None,
        metadata: None,
    };
    let mut order = out.reading_order();
    assert_eq!(order.len(), 5);
    order.sort_unstable();
    order.dedup_by_key(|(i, _)| *i);
    assert_eq!(order.len(), 5, "every text exactly once");
}

use super::*;
use crate::bundle::{Builtin, Detector, GuardAction, GuardScope};
use crate::response::testing::{guard, maskers, rejecter};

/// A Messages response with spacing, escapes, numbers and fields a re-serializer would change.
const REPLY: &str = "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\n \"content\":[{\"type\":\"text\",\"text\":\"Mail jane.doe@example.com \\u00e9\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{\"command\":\"echo jane.doe@example.com\",\"n\":1.50e3}}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":12,\"output_tokens\":34}}";

fn masked(outcome: JsonOutcome) -> (String, Vec<GuardHit>) {
    match outcome {
        JsonOutcome::Mask { body, hits } => (body, hits),
        other => panic!("not masked: {other:?}"),
    }
}

#[test]
fn mask_rewrites_only_the_text_literal() {
    let (body, hits) = masked(guard_response(&maskers(), REPLY).expect("json"));
    // The literal is re-encoded from its masked text (`\u00e9` becomes `é`); every other
    // byte, the unscoped tool input included, is the upstream's.
    assert_eq!(
        body,
        REPLY.replace(
            "Mail jane.doe@example.com \\u00e9",
            "Mail <EMAIL_ADDRESS> é"
        )
    );
    assert_eq!(
        hits,
        vec![GuardHit {
            guard_id: "response[0]".into(),
            count: 1
        }]
    );
}

#[test]
fn tool_input_string_leaves_are_masked_when_scoped() {
    let mut g = guard(
        "response[0]",
        GuardAction::Mask,
        vec![Detector::Builtin(Builtin::Email)],
    );
    g.scope = GuardScope {
        messages: false,
        tool_use: true,
        ..g.scope
    };
    let guards = BackendGuards::from_guards(&[g]).expect("builds");
    let (body, _) = masked(guard_response(&guards, REPLY).expect("json"));
    assert_eq!(
        body,
        REPLY.replace("\"echo jane.doe@example.com\"", "\"echo <EMAIL_ADDRESS>\"")
    );
}

#[test]
fn reject_names_the_guard() {
    let reply = REPLY.replace("Mail jane", "your credit card, jane");
    match guard_response(&rejecter(), &reply).expect("json") {
        JsonOutcome::Reject(r) => assert_eq!(r.guard_id, "response[0]"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_duplicated_text_key_is_masked_in_every_copy() {
    let reply = r#"{"content":[{"type":"text","text":"a@b.io","text":"x jane@example.com"}]}"#;
    let (body, _) = masked(guard_response(&maskers(), reply).expect("json"));
    assert_eq!(
        body,
        r#"{"content":[{"type":"text","text":"<EMAIL_ADDRESS>","text":"x <EMAIL_ADDRESS>"}]}"#
    );
}

#[test]
fn clean_replies_and_other_blocks_are_allowed() {
    let reply = r#"{"content":[{"type":"thinking","thinking":"jane@example.com","signature":"s"},{"type":"text","text":"hello"}]}"#;
    assert_eq!(
        guard_response(&maskers(), reply).expect("json"),
        JsonOutcome::Allow
    );
    assert_eq!(
        guard_response(&maskers(), r#"{"type":"message","content":null}"#).expect("json"),
        JsonOutcome::Allow
    );
}

#[test]
fn invalid_json_is_an_error() {
    let err = guard_response(&maskers(), "{\"content\": [").expect_err("invalid");
    assert!(
        err.to_string()
            .starts_with("the response is not valid JSON"),
        "{err}"
    );
}

use super::*;
use crate::response::testing::{maskers, rejecter};

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn text_delta_event(index: u64, text: &str) -> String {
    event(
        "content_block_delta",
        &format!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{}}}}}"#,
            serde_json::Value::from(text)
        ),
    )
}

/// A reply as the API streams it, its text split into `deltas`.
fn reply(deltas: &[&str]) -> String {
    let mut s = event(
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#,
    );
    s += &event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    );
    s += &event("ping", r#"{"type": "ping"}"#);
    for d in deltas {
        s += &text_delta_event(0, d);
    }
    s += &event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    );
    s += &event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":34}}"#,
    );
    s += &event("message_stop", r#"{"type":"message_stop"}"#);
    s
}

fn run(guards: &BackendGuards, input: &str, chunk: usize) -> String {
    let mut g = SseGuard::new();
    let mut out = Vec::new();
    for piece in input.as_bytes().chunks(chunk) {
        out.extend(g.push(guards, piece));
    }
    out.extend(g.finish(guards));
    String::from_utf8(out).expect("utf8")
}

/// What a client accumulates: text per block index, and every event type in order.
fn accumulate(stream: &str) -> (BTreeMap<u64, String>, Vec<String>) {
    let mut texts = BTreeMap::new();
    let mut kinds = Vec::new();
    for block in stream.split("\n\n").filter(|b| !b.is_empty()) {
        let data = data(block.as_bytes()).expect("data");
        let v: serde_json::Value = serde_json::from_str(&data).expect("json");
        kinds.push(v["type"].as_str().unwrap_or_default().to_owned());
        if let Some(t) = v["delta"]["text"].as_str() {
            texts
                .entry(v["index"].as_u64().unwrap_or(0))
                .or_insert_with(String::new)
                .push_str(t);
        }
    }
    (texts, kinds)
}

#[test]
fn masks_an_email_and_a_card_split_across_deltas_whatever_the_chunking() {
    let deltas = [
        "Sure: jane.d",
        "oe@exam",
        "ple.com and 4111 11",
        "11 1111 1111",
        " done",
    ];
    let input = reply(&deltas);
    let out = run(&maskers(), &input, input.len());
    for chunk in [1, 7, 64] {
        assert_eq!(run(&maskers(), &input, chunk), out, "chunks of {chunk}");
    }
    let (texts, kinds) = accumulate(&out);
    assert_eq!(texts[&0], "Sure: <EMAIL_ADDRESS> and <CREDIT_CARD> done");
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    insta::assert_snapshot!(out);
}

#[test]
fn events_without_text_pass_at_once_and_unchanged() {
    let mut g = SseGuard::new();
    let start = event(
        "message_start",
        r#"{"type":"message_start","message":{"usage":{"input_tokens":1}}}"#,
    );
    assert_eq!(g.push(&maskers(), start.as_bytes()), start.as_bytes());
    let thinking = event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
    ) + &event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"mail a@b.io"}}"#,
    );
    assert_eq!(g.push(&maskers(), thinking.as_bytes()), thinking.as_bytes());
}

#[test]
fn a_reject_ends_the_stream_with_an_error_event() {
    let filler = "word ".repeat(200);
    let input = reply(&[&filler, "your cred", "it card is"]);
    let out = run(&rejecter(), &input, 16);
    let (texts, kinds) = accumulate(&out);
    assert_eq!(kinds.last().map(String::as_str), Some("error"));
    assert!(!kinds.contains(&"message_stop".to_owned()));
    assert!(!texts[&0].contains("cred"), "{}", texts[&0]);
    assert!(out.ends_with(&event("error", r#"{"type":"error","error":{"type":"invalid_request_error","message":"stopped by response[0]"}}"#)), "{out}");
}

#[test]
fn tool_input_is_gathered_and_masked_as_json_when_scoped() {
    use crate::bundle::{Builtin, Detector, GuardAction, GuardScope};
    let mut g = crate::response::testing::guard(
        "response[0]",
        GuardAction::Mask,
        vec![Detector::Builtin(Builtin::Email)],
    );
    g.scope = GuardScope {
        tool_use: true,
        ..g.scope
    };
    let guards = BackendGuards::from_guards(&[g]).expect("builds");
    let mut input = event(
        "content_block_start",
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"Bash","input":{}}}"#,
    );
    for part in [r#"{"command": "echo ja"#, r#"ne@example.com"}"#] {
        input += &event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":1,"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                serde_json::Value::from(part)
            ),
        );
    }
    input += &event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":1}"#,
    );
    let out = run(&guards, &input, 5);
    assert!(
        out.contains(r#""partial_json":"{\"command\": \"echo <EMAIL_ADDRESS>\"}""#),
        "{out}"
    );
    assert_eq!(out.matches("input_json_delta").count(), 1);
}

#[test]
fn a_content_event_the_guard_cannot_read_stops_the_stream() {
    // `index` as a string: a lenient client might still show the text; agw does not guess.
    let input = event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    ) + &event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":"0","delta":{"type":"text_delta","text":"a@b.io"}}"#,
    );
    let out = run(&maskers(), &input, input.len());
    assert!(!out.contains("a@b.io"), "{out}");
    assert!(out.ends_with(&event("error", r#"{"type":"error","error":{"type":"invalid_request_error","message":"the response was stopped: agw got a content event it cannot read"}}"#)), "{out}");
}

mod split {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::{Decision, Segment};

    fn masked_whole(guards: &BackendGuards, text: &str) -> String {
        let segment = [Segment {
            kind: SegmentKind::Message,
            text,
        }];
        match guards.evaluate_request(&segment) {
            Decision::Mask(m) => m.texts[0].clone().unwrap_or_else(|| text.to_owned()),
            _ => text.to_owned(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the deltas and however the bytes arrive, a client accumulates the masked
        /// whole text, and every event but the text deltas is kept in order.
        #[test]
        fn any_deltas_and_chunking_accumulate_the_masked_text(
            words in prop::collection::vec(prop_oneof![
                Just("mail jane.doe@example.com "), Just("card 4111 1111 1111 1111 "),
                Just("project falcon "), Just("plain words here "), Just("é→\n"),
            ], 1..80),
            cuts in prop::collection::vec(1usize..64, 1..40),
            chunk in 1usize..200,
        ) {
            let text = words.concat();
            let mut deltas = Vec::new();
            let mut rest = text.as_str();
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let mut at = (*cut).min(rest.len());
                while !rest.is_char_boundary(at) {
                    at += 1;
                }
                let (head, tail) = rest.split_at(at);
                deltas.push(head);
                rest = tail;
            }
            let out = run(&maskers(), &reply(&deltas), chunk);
            let (texts, kinds) = accumulate(&out);
            prop_assert_eq!(&texts[&0], &masked_whole(&maskers(), &text));
            let others: Vec<&str> = kinds
                .iter()
                .map(String::as_str)
                .filter(|k| *k != "content_block_delta")
                .collect();
            let expected = ["message_start", "content_block_start", "ping", "content_block_stop", "message_delta", "message_stop"];
            prop_assert_eq!(others, expected);
        }
    }
}

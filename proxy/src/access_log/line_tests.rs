use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::super::record::{Record, Timestamp, Usage};
use super::*;

/// What `serde_json` makes of the record's `Serialize`: the reference layout.
fn reference(record: &Record) -> Vec<u8> {
    let mut line = serde_json::to_vec(record).unwrap();
    line.push(b'\n');
    line
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/._-]{0,40}",
        any::<String>(),
        Just("quote\" back\\ tab\t nl\n \u{1} \u{7f} \u{1F600}".to_owned()),
    ]
}

/// Times humantime can write (years 1970–9999), most of them near now.
fn time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        (1_700_000_000u64..1_900_000_000, 0u32..1_000_000_000),
        (0u64..=LAST_SECOND, 0u32..1_000_000_000),
    ]
    .prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
}

prop_compose! {
    fn record()(
        time in time(),
        strings in proptest::collection::vec(text(), 12),
        present in proptest::collection::vec(any::<bool>(), 12),
        numbers in proptest::collection::vec(any::<u64>(), 8),
        micros in proptest::collection::vec(0u64..5_000_000_000, 2),
        guards in proptest::collection::vec((text(), any::<u64>()), 0..12),
        address in any::<Option<std::net::IpAddr>>(),
        error in proptest::option::of(Just("client_aborted")),
    ) -> Record {
        let pick = |i: usize| present[i].then(|| strings[i].clone());
        let num = |i: usize| present[i].then_some(numbers[i % numbers.len()]);
        let small = |i: usize| num(i).and_then(|n| u16::try_from(n & 0xffff).ok());
        let mut record = Record {
            time: Timestamp(time),
            request_id: strings[0].clone(),
            trace_id: pick(1),
            backend: if present[2] { strings[2].clone() } else { String::new() },
            route_type: if present[3] { "Messages" } else { "" },
            method: strings[3].clone(),
            path: strings[4].clone(),
            status: small(5),
            client_address: address,
            client_port: small(6),
            key_hash: pick(5),
            identity: pick(6),
            user_id: pick(7),
            session_id: pick(8),
            user_agent: pick(9),
            requested_model: pick(10),
            upstream_model: pick(11),
            response_model: pick(0),
            stream: present[1],
            usage: Usage {
                input: num(7),
                output: num(8),
                cache_read: num(9).map(|n| n >> 3),
                cache_creation: num(10).map(|n| n >> 3),
            },
            bytes_in: num(11),
            bytes_out: numbers[3],
            duration: Duration::from_micros(micros[0]),
            upstream_ttfb: present[4].then(|| Duration::from_micros(micros[1])),
            upstream_status: small(2),
            error,
            ..Record::default()
        };
        for (id, spans) in guards {
            record.push_guard(&id, "mask", spans);
        }
        record
    }
}

proptest! {
    #[test]
    fn the_json_line_is_what_serde_json_writes(record in record()) {
        prop_assert_eq!(
            String::from_utf8(record.to_json_line()).unwrap(),
            String::from_utf8(reference(&record)).unwrap()
        );
    }

    #[test]
    fn the_time_is_what_humantime_writes(times in proptest::collection::vec(time(), 1..8)) {
        // Several times on one thread: the cached second must follow each of them.
        for time in times {
            let mut out = Vec::new();
            write_time(&mut out, time);
            prop_assert_eq!(
                String::from_utf8(out).unwrap(),
                humantime::format_rfc3339_millis(time).to_string()
            );
        }
    }
}

#[test]
fn a_clock_outside_the_writable_years_is_written_as_the_nearest_end() {
    let written = |time: SystemTime| {
        let mut out = Vec::new();
        write_time(&mut out, time);
        String::from_utf8(out).unwrap()
    };
    let before = UNIX_EPOCH - Duration::from_secs(5);
    assert_eq!(written(before), "1970-01-01T00:00:00.000Z");
    let after = UNIX_EPOCH + Duration::from_secs(LAST_SECOND + 10);
    assert_eq!(written(after), "9999-12-31T23:59:59.999Z");
}

#[test]
fn lines_append_to_what_the_buffer_holds() {
    let record = Record {
        request_id: "id".to_owned(),
        ..Record::default()
    };
    let mut out = b"before\n".to_vec();
    record.write_json(&mut out);
    record.write_text(&mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "before");
    assert!(
        lines[1].starts_with("{\"time\":\"1970-01-01T00:00:00.000Z\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("1970-01-01T00:00:00.000Z id "),
        "{}",
        lines[2]
    );
}

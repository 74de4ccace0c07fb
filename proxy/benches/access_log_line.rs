//! What writing one access-log line costs on the request path, without the proxy around it:
//! the tutorial's Claude Code request as a record (every field a Messages request fills),
//! rendered by `serde_json` from the record's `Serialize` into a fresh `Vec` (how lines were
//! made before the line writer) against the line writer appending to a reused buffer (what
//! the proxy does), for JSON and text, and the timestamp alone.
//!
//! `cargo bench -p agw-proxy --bench access_log_line` (`-- --iters N`, default 200000).
// A benchmark binary: numbers are converted for display.
#![allow(clippy::cast_precision_loss, clippy::unwrap_used, dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

// The two modules as the proxy has them (`line` reaches `record` as `super::record`).
#[path = "../src/access_log/line.rs"]
mod line;
#[path = "../src/access_log/record.rs"]
mod record;

use record::{Record, Timestamp, Usage};

fn record() -> Record {
    let mut record = Record {
        time: Timestamp(SystemTime::now()),
        request_id: "0f6b2c1e6a9d4d7e9a513c2f1b0e7d88".to_owned(),
        backend: "default/anthropic".to_owned(),
        route_type: "Messages",
        method: "POST".to_owned(),
        path: "/v1/messages".to_owned(),
        status: Some(200),
        client_address: Some("127.0.0.1".parse().unwrap()),
        client_port: Some(51234),
        key_hash: Some("sha256:9ab0981f54490dd8".to_owned()),
        user_id: Some("user_abc_account__session_123".to_owned()),
        session_id: Some("1b7e3f0c-6d0e-4b59-9a4e-2f5d8c1a7e60".to_owned()),
        user_agent: Some("claude-cli/2.1.331 (external, sdk-cli)".to_owned()),
        requested_model: Some("claude-sonnet-4-5".to_owned()),
        upstream_model: Some("claude-sonnet-4-5".to_owned()),
        response_model: Some("claude-sonnet-4-5".to_owned()),
        stream: true,
        usage: Usage {
            input: Some(12),
            output: Some(34),
            cache_read: Some(100),
            cache_creation: Some(7),
        },
        bytes_in: Some(10_240),
        bytes_out: 4096,
        duration: Duration::from_micros(1_234),
        upstream_ttfb: Some(Duration::from_micros(345)),
        upstream_status: Some(200),
        ..Record::default()
    };
    record.push_guard("request[1]", "mask", 2);
    record
}

/// Nanoseconds per call of `work`, the best of five runs of `iters`.
fn time(iters: u64, mut work: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                work();
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut args = std::env::args().skip_while(|a| a != "--iters").skip(1);
    let iters = args.next().map_or(200_000, |n| n.parse().unwrap());
    let record = record();
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut reused = |write: fn(&Record, &mut Vec<u8>)| {
        time(iters, || {
            write(black_box(&record), &mut buffer);
            if buffer.len() > 60 * 1024 {
                buffer.clear();
            }
        })
    };
    let json_new = reused(Record::write_json);
    let text_new = reused(Record::write_text);
    let json_old = time(iters, || {
        let mut line = serde_json::to_vec(black_box(&record)).unwrap();
        line.push(b'\n');
        black_box(line);
    });
    let stamp_old = time(iters, || {
        black_box(humantime::format_rfc3339_millis(black_box(SystemTime::now())).to_string());
    });
    let mut line = Vec::new();
    record.write_json(&mut line);
    println!(
        "one access-log line ({} B JSON), best of 5 x {iters} iterations",
        line.len()
    );
    println!("{:<52} {:>10}", "rendering", "ns/line");
    for (name, ns) in [
        ("JSON: serde_json::to_vec(&record) (before)", json_old),
        ("JSON: line writer into a reused buffer (now)", json_new),
        ("text: line writer into a reused buffer (now)", text_new),
        ("time only: humantime to a String (before)", stamp_old),
    ] {
        println!("{name:<52} {ns:>10.0}");
    }
    println!(
        "{:<52} {:>9.1}x",
        "JSON speed-up (before / now)",
        json_old / json_new
    );
}

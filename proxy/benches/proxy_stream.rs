//! Streaming benchmark: what a streamed response guard (regex Mask, `streaming: Enabled`)
//! adds to time to first token and to each event's latency, against the same proxy without
//! guards and the upstream reached directly.
//!
//! An in-process upstream answers every Messages call with an Anthropic SSE stream: a 2 KB
//! reply in 40 `text_delta`s, one every `--pace-us` (1 ms by default), noting when it wrote
//! each. An open-loop generator starts `--rate` streams a second (1,000 by default, on a fixed
//! schedule whatever earlier ones do) on three paths — direct, via a proxy without guards,
//! via a proxy with the response guard — alternated in rounds. Per stream it records the time
//! to the first text byte (TTFT) and, for each delta, the time from the upstream writing it
//! to the client holding all its text (per-event latency). The reply holds no match, so the
//! guard's cost shown is its hold-back window (512 bytes of text) plus its scanning.
//!
//! Run with `hack/bench-proxy --stream`, or
//! `cargo bench -p agw-proxy --bench proxy_stream -- --rate 1000 --secs 5 --rounds 3`.
// A benchmark binary: a broken setup should stop it loudly; numbers are converted for display.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Uri;
use tokio::runtime::Runtime;

#[path = "proxy_stream/client.rs"]
mod client;
#[path = "proxy_stream/upstream.rs"]
mod upstream;

use self::client::{Samples, open_loop};
use self::upstream::{DELTAS, REPLY_BYTES, Sent, start_upstream};

struct Args {
    rate: u64,
    secs: u64,
    rounds: u64,
    pace_us: u64,
    proxy_bin: PathBuf,
}

impl Args {
    fn parse() -> Self {
        let mut args = Self {
            rate: 1000,
            secs: 5,
            rounds: 3,
            pace_us: 1000,
            proxy_bin: PathBuf::from(env!("CARGO_BIN_EXE_agw-proxy")),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--bench" || !flag.starts_with("--") {
                continue;
            }
            let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || {
                value
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{flag}: {value:?}"))
            };
            match flag.as_str() {
                "--rate" => args.rate = number(),
                "--secs" => args.secs = number(),
                "--rounds" => args.rounds = number(),
                "--pace-us" => args.pace_us = number(),
                "--proxy-bin" => args.proxy_bin = PathBuf::from(value),
                _ => panic!(
                    "unknown flag {flag}; flags: --rate --secs --rounds --pace-us --proxy-bin"
                ),
            }
        }
        args
    }
}

const GUARD: &str = "      promptGuard:
        streaming: Enabled
        response:
        - regex: {action: Mask, builtins: [Email, CreditCard, SSN]}
";

fn config(upstream_port: u16, guarded: bool) -> String {
    let ai = if guarded {
        format!("    ai:\n{GUARD}")
    } else {
        String::new()
    };
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData: {{Authorization: sk-ant-bench}}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider:
      anthropic: {{}}
      host: 127.0.0.1
      port: {upstream_port}
  policies:
{ai}    auth:
      secretRef: {{name: anthropic-secret}}
"
    )
}

struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    fn start(bin: &PathBuf, upstream_port: u16, guarded: bool) -> Self {
        let dir = std::env::temp_dir();
        let file = dir.join(format!(
            "agw-bench-stream-{}-{guarded}.yaml",
            std::process::id()
        ));
        std::fs::write(&file, config(upstream_port, guarded)).unwrap();
        let (port, admin) = (free_port(), free_port());
        let child = Command::new(bin)
            .arg("--config")
            .arg(&file)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin", &format!("127.0.0.1:{admin}")])
            .args(["--access-log", "off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
            assert!(Instant::now() < deadline, "the proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        Self { child, port }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ms(nanos: u64) -> String {
    format!("{:.2}", nanos as f64 / 1e6)
}

fn main() {
    let args = Args::parse();
    let upstream_rt = runtime("upstream");
    let client_rt = runtime("loadgen");
    let sent = Arc::new(Sent::default());
    let upstream = start_upstream(
        &upstream_rt,
        Arc::clone(&sent),
        Duration::from_micros(args.pace_us),
    );
    let plain = Proxy::start(&args.proxy_bin, upstream.port(), false);
    let guarded = Proxy::start(&args.proxy_bin, upstream.port(), true);
    let paths: [(&str, Uri); 3] = [
        (
            "direct",
            format!("http://{upstream}/v1/messages").parse().unwrap(),
        ),
        (
            "proxy, no guard",
            format!("http://127.0.0.1:{}/v1/messages", plain.port)
                .parse()
                .unwrap(),
        ),
        (
            "proxy, response guard (Mask, streaming)",
            format!("http://127.0.0.1:{}/v1/messages", guarded.port)
                .parse()
                .unwrap(),
        ),
    ];
    // Warm up each path (connections, allocator), then alternate rounds.
    for (_, uri) in &paths {
        let _ = open_loop(&client_rt, uri, &sent, args.rate, Duration::from_secs(1), 0);
    }
    let mut totals: Vec<Samples> = paths.iter().map(|_| Samples::default()).collect();
    let mut next_id = 1_000_000_u64;
    for _ in 0..args.rounds {
        for (i, (_, uri)) in paths.iter().enumerate() {
            let run = open_loop(
                &client_rt,
                uri,
                &sent,
                args.rate,
                Duration::from_secs(args.secs),
                next_id,
            );
            next_id += 10_000_000;
            totals[i].merge(run);
        }
    }
    for samples in &mut totals {
        samples.sort();
    }
    println!(
        "stream bench: {} streams/s for {} s x {} rounds per path; reply {} B in {} text_deltas, one every {} us; {} CPUs, load {}",
        args.rate,
        args.secs,
        args.rounds,
        REPLY_BYTES,
        DELTAS,
        args.pace_us,
        std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim(),
    );
    println!();
    println!(
        "| path | streams | failed | TTFT p50 ms | TTFT p99 ms | per-event p50 ms | per-event p99 ms | added TTFT p50/p99 ms | added per-event p50/p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let base = &totals[0];
    for ((name, _), s) in paths.iter().zip(&totals) {
        let added = |a: u64, b: u64| ms(a.saturating_sub(b));
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} |",
            s.ttft.len(),
            s.failed,
            ms(s.ttft_p(0.50)),
            ms(s.ttft_p(0.99)),
            ms(s.event_p(0.50)),
            ms(s.event_p(0.99)),
            added(s.ttft_p(0.50), base.ttft_p(0.50)),
            added(s.ttft_p(0.99), base.ttft_p(0.99)),
            added(s.event_p(0.50), base.event_p(0.50)),
            added(s.event_p(0.99), base.event_p(0.99)),
        );
    }
    let window_ms = 512.0 / (REPLY_BYTES as f64 / DELTAS as f64) * args.pace_us as f64 / 1000.0;
    println!();
    println!(
        "The guard holds back 512 bytes of text: at {} B per delta and one delta every {} us, about {window_ms:.1} ms of model output.",
        REPLY_BYTES / DELTAS,
        args.pace_us
    );
    drop((plain, guarded));
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

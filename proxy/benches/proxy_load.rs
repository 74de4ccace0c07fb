//! End-to-end proxy benchmark: the real `agw-proxy` binary (release build, the tutorial's guards
//! from `examples/claude-code.yaml`) in front of a fast in-process upstream, against the same
//! upstream reached directly.
//!
//! Measures, with an open-loop load generator (requests are sent on a fixed schedule whether or
//! not earlier ones have answered, so a slow proxy cannot slow the load down):
//! - latency p50/p90/p99/p99.9/max at a steady rate on three paths: direct; through the proxy
//!   on the Messages route (body read, guarded, forwarded); and through the proxy on a
//!   Passthrough route (streamed on unread: the floor any store-and-forward hop costs here),
//!   and the latency the proxy adds on each;
//! - the proxy's RSS idle, under that load, and its peak (VmHWM), from `/proc/<pid>/status`;
//! - the proxy's CPU time per 1,000 requests at that rate, per route;
//! - the highest rate a closed loop of concurrent clients reaches, direct and through the proxy;
//! - what the access log costs: latency and CPU per 1k requests with `--access-log json` (to a
//!   file) against `--access-log off` (`proxy_load/access_log.rs`).
//!
//! Run with `hack/bench-proxy` (builds the proxy, passes its path), or
//! `cargo bench -p agw-proxy --bench proxy_load -- --rate 1000 --secs 10 --body-kb 10`.
// A benchmark binary: a broken setup should stop it loudly; numbers are converted for display.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::similar_names,
    clippy::too_many_lines
)]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::runtime::Runtime;

#[path = "proxy_load/access_log.rs"]
mod access_log;
#[path = "proxy_load/load.rs"]
mod load;
#[path = "proxy_load/process.rs"]
mod process;
#[path = "proxy_load/request.rs"]
mod request;
#[path = "proxy_load/upstream.rs"]
mod upstream;

use self::load::{HttpClient, Run, call, closed_loop, http_client, open_loop};
use self::process::{Proxy, clock_ticks_per_sec, cpu_ticks, memory, sampling_rss};
use self::request::request_body;
use self::upstream::{ANSWER, PASSTHROUGH_PATH, UpstreamStats, start_upstream};

/// The key the proxy injects; the upstream counts requests that carry it.
const PROXY_KEY: &str = "sk-ant-bench-proxy-key";

struct Args {
    rate: u64,
    secs: u64,
    warmup_secs: u64,
    rounds: u64,
    body_kb: usize,
    max_secs: u64,
    concurrency: usize,
    proxy_bin: PathBuf,
    config: PathBuf,
}

impl Args {
    fn parse() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut args = Self {
            rate: 1000,
            secs: 10,
            warmup_secs: 3,
            rounds: 5,
            body_kb: 10,
            max_secs: 5,
            concurrency: 32,
            proxy_bin: PathBuf::from(env!("CARGO_BIN_EXE_agw-proxy")),
            config: root.join("examples/claude-code.yaml"),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            // `cargo bench` adds `--bench`; a filter word may follow it.
            if flag == "--bench" || !flag.starts_with("--") {
                continue;
            }
            let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || {
                value
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{flag}: {value:?} is not a number"))
            };
            match flag.as_str() {
                "--rate" => args.rate = number(),
                "--secs" => args.secs = number(),
                "--warmup-secs" => args.warmup_secs = number(),
                "--rounds" => args.rounds = number(),
                "--body-kb" => args.body_kb = number() as usize,
                "--max-secs" => args.max_secs = number(),
                "--concurrency" => args.concurrency = number() as usize,
                "--proxy-bin" => args.proxy_bin = PathBuf::from(value),
                "--config" => args.config = PathBuf::from(value),
                _ => panic!(
                    "unknown flag {flag}; flags: --rate --secs --warmup-secs --rounds --body-kb --max-secs \
                     --concurrency --proxy-bin --config"
                ),
            }
        }
        args
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn main() {
    let args = Args::parse();
    let upstream_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("upstream")
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("loadgen")
        .enable_all()
        .build()
        .unwrap();
    let stats = Arc::new(UpstreamStats::default());
    let upstream_addr = start_upstream(&upstream_rt, stats.clone());
    let client = http_client();
    let mut proxy = Proxy::start(&args, upstream_addr);
    proxy.wait_ready(&client_rt, &client);
    let pid = proxy.pid();
    thread::sleep(Duration::from_secs(1));
    let (idle_rss, _) = memory(pid);

    let body = request_body(args.body_kb * 1024);
    let direct: Uri = format!("http://{upstream_addr}/v1/messages")
        .parse()
        .unwrap();
    let proxied: Uri = format!("http://127.0.0.1:{}/v1/messages", proxy.port)
        .parse()
        .unwrap();
    let passthrough: Uri = format!("http://127.0.0.1:{}{PASSTHROUGH_PATH}", proxy.port)
        .parse()
        .unwrap();

    // Sanity: both paths answer, the proxy injects its key, the tutorial's guards are on.
    let (status, _, answer) = client_rt.block_on(call(&client, &direct, body.clone()));
    assert_eq!(status, StatusCode::OK, "direct: {answer:?}");
    let (status, _, answer) = client_rt.block_on(call(&client, &proxied, body.clone()));
    assert_eq!(status, StatusCode::OK, "through the proxy: {answer:?}");
    assert_eq!(answer, ANSWER.as_bytes(), "the proxy changed the answer");
    assert_eq!(
        stats.with_proxy_key.load(Ordering::Relaxed),
        1,
        "the proxy did not inject its key"
    );
    let (status, _, answer) = client_rt.block_on(call(&client, &passthrough, body.clone()));
    assert_eq!(status, StatusCode::OK, "Passthrough route: {answer:?}");
    assert_eq!(answer, ANSWER.as_bytes(), "the proxy changed the answer");
    let rejected =
        String::from_utf8_lossy(&body).replacen("What is Kubernetes?", "What is a credit card", 1);
    let (status, _, _) = client_rt.block_on(call(&client, &proxied, Bytes::from(rejected)));
    let guards = if status == StatusCode::BAD_REQUEST {
        "on (\"What is a credit card\" is rejected)"
    } else {
        "OFF (\"What is a credit card\" is not rejected)"
    };

    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned());
    println!(
        "machine: {} CPUs usable by the bench (online: {online}), {}; proxy {}",
        thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        std::env::consts::ARCH,
        args.proxy_bin.display(),
    );
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the run: {} (other processes on this machine skew the figures)",
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("config: {}; guards {guards}", args.config.display());
    println!(
        "request: {} B Claude Code-like Messages JSON (allowed by the guards, answered with {} B JSON)",
        body.len(),
        ANSWER.len()
    );
    println!(
        "load: open loop at {} rps, {} s per path in {} alternating rounds after {} s warm-up; \
         latency = send to last byte",
        args.rate, args.secs, args.rounds, args.warmup_secs
    );
    println!(
        "paths: direct; via agw-proxy on /v1/messages (Messages: read, guarded, forwarded); \
         via agw-proxy on {PASSTHROUGH_PATH} (Passthrough: streamed on unread, no guards)\n"
    );

    // Warm every path (connection pools, allocator, caches), then measure.
    if args.warmup_secs > 0 {
        for uri in [&direct, &proxied, &passthrough] {
            open_loop(
                &client_rt,
                &client,
                uri,
                &body,
                args.rate,
                args.rate * args.warmup_secs,
            );
        }
    }
    // Alternate short rounds of the three paths so that a slow spell of the machine falls on
    // all of them alike; the samples of all rounds are pooled.
    let rounds = args.rounds.max(1);
    let per_round = (args.rate * args.secs / rounds).max(1);
    let (mut direct_run, mut proxy_run, mut pass_run) =
        (Run::default(), Run::default(), Run::default());
    let (mut ticks, mut pass_ticks, mut load_rss) = (0, 0, 0);
    for _ in 0..rounds {
        direct_run.absorb(open_loop(
            &client_rt, &client, &direct, &body, args.rate, per_round,
        ));
        for (uri, run_of, ticks_of) in [
            (&proxied, &mut proxy_run, &mut ticks),
            (&passthrough, &mut pass_run, &mut pass_ticks),
        ] {
            let before = cpu_ticks(pid);
            let (run, rss) = sampling_rss(pid, || {
                open_loop(&client_rt, &client, uri, &body, args.rate, per_round)
            });
            *ticks_of += cpu_ticks(pid) - before;
            load_rss = load_rss.max(rss);
            run_of.absorb(run);
        }
    }
    let cpu_per_1k = |ticks: u64, run: &Run| {
        let cpu_ms = ticks as f64 * 1000.0 / clock_ticks_per_sec() as f64;
        cpu_ms * 1000.0 / (run.latency.len() as f64 + run.errors as f64)
    };
    // VmHWM lags VmRSS (per-thread RSS counters are folded in lazily): take the larger.
    let load_hwm = memory(pid).1.max(load_rss);
    thread::sleep(Duration::from_secs(2));
    let (after_rss, _) = memory(pid);

    // Maximum rate: closed loop, same request.
    let direct_max = closed_loop(
        &client_rt,
        &client,
        &direct,
        &body,
        args.concurrency,
        args.max_secs,
    );
    let (proxy_max, max_rss) = sampling_rss(pid, || {
        closed_loop(
            &client_rt,
            &client,
            &proxied,
            &body,
            args.concurrency,
            args.max_secs,
        )
    });
    let final_hwm = memory(pid).1.max(max_rss).max(load_hwm);

    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        format!("latency @{} rps", args.rate),
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "rps",
        "errors"
    );
    for (name, run) in [
        ("direct", &direct_run),
        ("via agw-proxy (Messages + guards)", &proxy_run),
        ("via agw-proxy (Passthrough)", &pass_run),
    ] {
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.0} {:>7}",
            name,
            run.p(50.0),
            run.p(90.0),
            run.p(99.0),
            run.p(99.9),
            run.p(100.0),
            run.rps(),
            run.errors
        );
    }
    let added = |p: f64| proxy_run.p(p) - direct_run.p(p);
    let added_pass = |p: f64| pass_run.p(p) - direct_run.p(p);
    for (name, added) in [
        (
            "added by proxy (Messages + guards)",
            &added as &dyn Fn(f64) -> f64,
        ),
        ("added by proxy (Passthrough)", &added_pass),
    ] {
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            name,
            added(50.0),
            added(90.0),
            added(99.0),
            added(99.9)
        );
    }
    println!(
        "generator lateness p99: direct {:.3} ms, Messages {:.3} ms, Passthrough {:.3} ms \
         (how late requests left vs schedule; above ~0.5 ms the run was disturbed)\n",
        Run::pct(&direct_run.lateness, 99.0),
        Run::pct(&proxy_run.lateness, 99.0),
        Run::pct(&pass_run.lateness, 99.0)
    );

    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>7}",
        format!("max rate (c={})", args.concurrency),
        "rps",
        "p50 ms",
        "p99 ms",
        "errors"
    );
    for (name, run) in [
        ("direct", &direct_max),
        ("via agw-proxy (Messages + guards)", &proxy_max),
    ] {
        println!(
            "{:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            name,
            run.rps(),
            run.p(50.0),
            run.p(99.0),
            run.errors
        );
    }
    println!();

    let idle_ok = idle_rss <= 15 * 1024;
    let load_ok = load_hwm <= 40 * 1024;
    // Proxied faster than direct means the runs were disturbed more than the proxy costs: the
    // figure says nothing, so it must not read as met.
    let p99_verdict = match added(99.0) {
        p99 if p99 < 0.0 => "NOISY: rerun",
        p99 => verdict(p99 <= 0.2),
    };
    println!(
        "{:<42} {:>12} {:>10} {:>8}",
        "proxy figure", "value", "target", ""
    );
    let rows = [
        (
            format!("added latency p50 @{} rps", args.rate),
            format!("{:.3} ms", added(50.0)),
            String::new(),
            "",
        ),
        (
            format!("added latency p99 @{} rps", args.rate),
            format!("{:.3} ms", added(99.0)),
            "≤ 0.2 ms".to_owned(),
            p99_verdict,
        ),
        (
            format!("CPU per 1k requests @{} rps", args.rate),
            format!("{:.1} ms", cpu_per_1k(ticks, &proxy_run)),
            String::new(),
            "",
        ),
        (
            format!("Passthrough: added p50 @{} rps", args.rate),
            format!("{:.3} ms", added_pass(50.0)),
            String::new(),
            "",
        ),
        (
            format!("Passthrough: added p99 @{} rps", args.rate),
            format!("{:.3} ms", added_pass(99.0)),
            String::new(),
            "",
        ),
        (
            format!("Passthrough: CPU per 1k requests @{} rps", args.rate),
            format!("{:.1} ms", cpu_per_1k(pass_ticks, &pass_run)),
            String::new(),
            "",
        ),
        (
            "RSS idle (after start)".to_owned(),
            mib(idle_rss),
            "≤ 15 MiB".to_owned(),
            verdict(idle_ok),
        ),
        (
            format!("RSS under load @{} rps (max sampled)", args.rate),
            mib(load_rss),
            String::new(),
            "",
        ),
        (
            format!("RSS peak (VmHWM) after {} rps", args.rate),
            mib(load_hwm),
            "≤ 40 MiB".to_owned(),
            verdict(load_ok),
        ),
        (
            "RSS idle after load".to_owned(),
            mib(after_rss),
            String::new(),
            "",
        ),
        (
            format!("RSS at max rate (max sampled, c={})", args.concurrency),
            mib(max_rss),
            String::new(),
            "",
        ),
        (
            "RSS peak (VmHWM) overall".to_owned(),
            mib(final_hwm),
            String::new(),
            "",
        ),
    ];
    for (name, value, target, verdict) in rows {
        println!("{name:<42} {value:>12} {target:>10} {verdict:>8}");
    }
    drop(proxy);
    access_log::compare(&args, upstream_addr, &client_rt, &client, &body);
    println!(
        "\nupstream saw {} requests, {} with the proxy's key",
        stats.requests.load(Ordering::Relaxed),
        stats.with_proxy_key.load(Ordering::Relaxed)
    );
}

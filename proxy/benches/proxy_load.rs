//! End-to-end proxy benchmark: the real `agw-proxy` binary (release build, the tutorial's guards
//! from `examples/claude-code.yaml`) in front of a fast in-process upstream, against the same
//! upstream reached directly.
//!
//! Measures, with an open-loop load generator (requests are sent on a fixed schedule whether or
//! not earlier ones have answered, so a slow proxy cannot slow the load down):
//! - latency p50/p90/p99/p99.9/max at a steady rate, direct vs through the proxy, and the
//!   difference (the latency the proxy adds);
//! - the proxy's RSS idle, under that load, and its peak (VmHWM), from `/proc/<pid>/status`;
//! - the proxy's CPU time per 1,000 requests at that rate;
//! - the highest rate a closed loop of concurrent clients reaches, direct and through the proxy.
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

// --- the upstream -----------------------------------------------------------------------

const ANSWER: &str = r#"{"id":"msg_bench0001","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Kubernetes is an open-source system for automating deployment, scaling and management of containerized applications."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2600,"output_tokens":17}}"#;

#[derive(Default)]
struct UpstreamStats {
    requests: AtomicU64,
    with_proxy_key: AtomicU64,
}

/// A minimal Anthropic stand-in: reads the whole body, answers a fixed Messages JSON at once.
async fn upstream(
    stats: Arc<UpstreamStats>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if req
        .headers()
        .get("x-api-key")
        .is_some_and(|v| v == PROXY_KEY)
    {
        stats.with_proxy_key.fetch_add(1, Ordering::Relaxed);
    }
    let path = req.uri().path().to_owned();
    let _ = req.into_body().collect().await;
    let (status, body) = if path == "/v1/messages" {
        (StatusCode::OK, Bytes::from_static(ANSWER.as_bytes()))
    } else {
        (
            StatusCode::NOT_FOUND,
            Bytes::from(format!(
                r#"{{"type":"error","error":{{"type":"not_found_error","message":"Not found: {path}"}}}}"#
            )),
        )
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("request-id", "req_bench")
        .body(Full::new(body))
        .unwrap())
}

fn start_upstream(rt: &Runtime, stats: Arc<UpstreamStats>) -> SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the upstream");
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let stats = stats.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| upstream(stats.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

// --- the proxy process ------------------------------------------------------------------

struct Proxy {
    child: Child,
    port: u16,
    admin_port: u16,
    log: PathBuf,
}

impl Proxy {
    fn start(args: &Args, upstream: SocketAddr) -> Self {
        let (port, admin_port) = (free_port(), free_port());
        let log = std::env::temp_dir().join(format!("agw-bench-proxy-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create the proxy log");
        let child = Command::new(&args.proxy_bin)
            .arg("--config")
            .arg(&args.config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin", &format!("127.0.0.1:{admin_port}")])
            .env("ANTHROPIC_API_KEY", PROXY_KEY)
            .env("AGW_UPSTREAM_HOST", "127.0.0.1")
            .env("AGW_UPSTREAM_PORT", upstream.port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", args.proxy_bin.display()));
        Self {
            child,
            port,
            admin_port,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self, rt: &Runtime, client: &HttpClient) {
        let uri: Uri = format!("http://127.0.0.1:{}/readyz", self.admin_port)
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "agw-proxy exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let ready = rt.block_on(async {
                let req = Request::get(uri.clone())
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                matches!(client.request(req).await, Ok(r) if r.status() == StatusCode::OK)
            });
            if ready {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("agw-proxy not ready within 20 s");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3, `state`.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12) // utime (14) and stime (15)
}

fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

// --- the request ------------------------------------------------------------------------

const SYSTEM: &str = "You are an interactive CLI tool that helps users with software engineering tasks. \
Use the instructions below and the tools available to you to assist the user. Be concise, direct and to the point. \
When you run a non-trivial bash command, explain what the command does and why you are running it. ";

const CODE: &str = "fn handle(req: Request<Incoming>) -> Result<Response<Body>, Error> {\n    \
let path = req.uri().path().to_owned();\n    let started = Instant::now();\n    \
match router.lookup(&path) {\n        Some(route) => route.forward(req).await.map_err(Error::from),\n        \
None => Ok(not_found(&path)),\n    }\n}\n";

/// A Claude Code-like Messages request (system blocks, tools, a tool round trip, the prompt)
/// of about `size` bytes, that the tutorial's guards allow.
fn request_body(size: usize) -> Bytes {
    let tool = |name: &str, description: &str| {
        serde_json::json!({
            "name": name,
            "description": description,
            "input_schema": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command to execute"},
                    "timeout": {"type": "number", "description": "Optional timeout in milliseconds"}
                },
                "required": ["command"],
                "additionalProperties": false
            }
        })
    };
    let mut file = String::new();
    let mut reminder = String::from(
        "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n",
    );
    let base = serde_json::to_vec(&build(&tool, SYSTEM, &reminder, &file))
        .unwrap()
        .len();
    let mut n = 0;
    while base + file.len() + reminder.len() < size {
        if n % 4 == 0 {
            let _ = writeln!(
                reminder,
                "- Keep the handler small; see docs/design.md section {n}."
            );
        }
        let _ = write!(file, "// revision {n}\n{CODE}");
        n += 1;
    }
    reminder.push_str("</system-reminder>");
    let body = build(&tool, SYSTEM, &reminder, &file);
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

fn build(
    tool: &dyn Fn(&str, &str) -> serde_json::Value,
    system: &str,
    reminder: &str,
    file: &str,
) -> serde_json::Value {
    serde_json::json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": system.repeat(4), "cache_control": {"type": "ephemeral"}}
        ],
        "tools": [
            tool("Bash", "Executes a given bash command in a persistent shell session."),
            tool("Read", "Reads a file from the local filesystem."),
            tool("Grep", "A powerful search tool built on ripgrep.")
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": reminder},
                {"type": "text", "text": "Read src/server.rs and tell me what handle does."}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll read the file."},
                {"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {"file_path": "/work/src/server.rs"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": file},
                {"type": "text", "text": "What is Kubernetes?"}
            ]}
        ],
        "metadata": {"user_id": "user_bench_session"},
        "stream": false
    })
}

// --- load generation ----------------------------------------------------------------------

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// One request; its status and the time from sending it to the last byte of the answer.
async fn call(client: &HttpClient, uri: &Uri, body: Bytes) -> (StatusCode, Duration, Bytes) {
    let req = Request::post(uri.clone())
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-client-dummy")
        .body(Full::new(body))
        .unwrap();
    let started = Instant::now();
    match client.request(req).await {
        Ok(response) => {
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            (status, started.elapsed(), bytes)
        }
        Err(_) => (StatusCode::BAD_GATEWAY, started.elapsed(), Bytes::new()),
    }
}

#[derive(Default)]
struct Run {
    /// Send to last byte, per request, in nanoseconds (sorted).
    latency: Vec<u64>,
    /// How late the generator sent each request against its schedule, in nanoseconds (sorted).
    lateness: Vec<u64>,
    errors: u64,
    elapsed: Duration,
}

impl Run {
    fn pct(v: &[u64], p: f64) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 - 1.0) * p / 100.0).round() as usize;
        v[i] as f64 / 1e6
    }
    fn p(&self, p: f64) -> f64 {
        Self::pct(&self.latency, p)
    }
    /// Pools another run's samples into this one (kept sorted).
    fn absorb(&mut self, other: Run) {
        self.latency.extend(other.latency);
        self.lateness.extend(other.lateness);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency.sort_unstable();
        self.lateness.sort_unstable();
    }
    fn rps(&self) -> f64 {
        (self.latency.len() as u64 + self.errors) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Open loop: request `i` is due at `start + i / rate`, sent then no matter what.
fn open_loop(
    rt: &Runtime,
    client: &HttpClient,
    uri: &Uri,
    body: &Bytes,
    rate: u64,
    total: u64,
) -> Run {
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let (tx, rx) = mpsc::channel();
    let start = Instant::now() + Duration::from_millis(20);
    for i in 0..total {
        let due = start + period * u32::try_from(i).expect("fewer than 4e9 requests");
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let (tx, client, uri, body) = (tx.clone(), client.clone(), uri.clone(), body.clone());
        rt.spawn(async move {
            let late = Instant::now().saturating_duration_since(due);
            let (status, took, _) = call(&client, &uri, body).await;
            let _ = tx.send((status, took, late));
        });
    }
    drop(tx);
    let mut run = Run::default();
    for (status, took, late) in rx {
        if status == StatusCode::OK {
            run.latency.push(took.as_nanos() as u64);
        } else {
            run.errors += 1;
        }
        run.lateness.push(late.as_nanos() as u64);
    }
    run.elapsed = start.elapsed();
    run.latency.sort_unstable();
    run.lateness.sort_unstable();
    run
}

/// Closed loop: `concurrency` clients, each sending its next request when the last answers.
fn closed_loop(
    rt: &Runtime,
    client: &HttpClient,
    uri: &Uri,
    body: &Bytes,
    concurrency: usize,
    secs: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, uri, body) = (client.clone(), uri.clone(), body.clone());
            rt.spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let (status, took, _) = call(&client, &uri, body.clone()).await;
                    if status == StatusCode::OK {
                        run.latency.push(took.as_nanos() as u64);
                    } else {
                        run.errors += 1;
                    }
                }
                run
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        let part = rt.block_on(task).expect("a load task");
        run.latency.extend(part.latency);
        run.errors += part.errors;
    }
    run.elapsed = started.elapsed();
    run.latency.sort_unstable();
    run
}

/// Samples the proxy's RSS while `work` runs; returns its result and the largest RSS seen (KiB).
fn sampling_rss<T>(pid: u32, work: impl FnOnce() -> T) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory(pid).0, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = work();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    (out, peak.load(Ordering::Relaxed))
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
         latency = send to last byte\n",
        args.rate, args.secs, args.rounds, args.warmup_secs
    );

    // Warm both paths (connection pools, allocator, caches), then measure.
    if args.warmup_secs > 0 {
        open_loop(
            &client_rt,
            &client,
            &direct,
            &body,
            args.rate,
            args.rate * args.warmup_secs,
        );
        open_loop(
            &client_rt,
            &client,
            &proxied,
            &body,
            args.rate,
            args.rate * args.warmup_secs,
        );
    }
    // Alternate short direct and proxied rounds so that a slow spell of the machine falls on
    // both paths alike; the samples of all rounds are pooled.
    let rounds = args.rounds.max(1);
    let per_round = (args.rate * args.secs / rounds).max(1);
    let (mut direct_run, mut proxy_run) = (Run::default(), Run::default());
    let (mut ticks, mut load_rss) = (0, 0);
    for _ in 0..rounds {
        direct_run.absorb(open_loop(
            &client_rt, &client, &direct, &body, args.rate, per_round,
        ));
        let before = cpu_ticks(pid);
        let (run, rss) = sampling_rss(pid, || {
            open_loop(&client_rt, &client, &proxied, &body, args.rate, per_round)
        });
        ticks += cpu_ticks(pid) - before;
        load_rss = load_rss.max(rss);
        proxy_run.absorb(run);
    }
    let cpu_ms = ticks as f64 * 1000.0 / clock_ticks_per_sec() as f64;
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
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        format!("latency @{} rps", args.rate),
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "rps",
        "errors"
    );
    for (name, run) in [("direct", &direct_run), ("via agw-proxy", &proxy_run)] {
        println!(
            "{:<18} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.0} {:>7}",
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
    println!(
        "{:<18} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
        "added by proxy",
        added(50.0),
        added(90.0),
        added(99.0),
        added(99.9)
    );
    println!(
        "generator lateness p99: direct {:.3} ms, proxy {:.3} ms (how late requests left vs schedule)\n",
        Run::pct(&direct_run.lateness, 99.0),
        Run::pct(&proxy_run.lateness, 99.0)
    );

    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>7}",
        format!("max rate (c={})", args.concurrency),
        "rps",
        "p50 ms",
        "p99 ms",
        "errors"
    );
    for (name, run) in [("direct", &direct_max), ("via agw-proxy", &proxy_max)] {
        println!(
            "{:<18} {:>10.0} {:>9.3} {:>9.3} {:>7}",
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
            format!(
                "{:.1} ms",
                cpu_ms * 1000.0 / (proxy_run.latency.len() as f64 + proxy_run.errors as f64)
            ),
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
    println!(
        "\nupstream saw {} requests, {} with the proxy's key",
        stats.requests.load(Ordering::Relaxed),
        stats.with_proxy_key.load(Ordering::Relaxed)
    );
}

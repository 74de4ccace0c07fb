//! The proxy under test as a child process, and its memory and CPU read from /proc.

use super::*;

pub(super) struct Proxy {
    pub(super) child: Child,
    pub(super) port: u16,
    pub(super) admin_port: u16,
    pub(super) log: PathBuf,
}

impl Proxy {
    pub(super) fn start(args: &Args, upstream: SocketAddr) -> Self {
        Self::start_with(args, upstream, &[], Stdio::null())
    }

    /// A proxy with `extra` flags and its stdout (the access log) sent to `stdout`.
    pub(super) fn start_with(
        args: &Args,
        upstream: SocketAddr,
        extra: &[&str],
        stdout: Stdio,
    ) -> Self {
        let (port, admin_port) = (free_port(), free_port());
        let log =
            std::env::temp_dir().join(format!("agw-bench-proxy-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create the proxy log");
        let child = Command::new(&args.proxy_bin)
            .arg("--config")
            .arg(&args.config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin", &format!("127.0.0.1:{admin_port}")])
            .args(extra)
            .env("ANTHROPIC_API_KEY", PROXY_KEY)
            .env("AGW_UPSTREAM_HOST", "127.0.0.1")
            .env("AGW_UPSTREAM_PORT", upstream.port().to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
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

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn wait_ready(&mut self, rt: &Runtime, client: &HttpClient) {
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

impl Proxy {
    /// The sum of a metric's samples on the admin port (0 when it cannot be read).
    pub(super) fn metric(&self, name: &str) -> f64 {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.admin_port)) else {
            return 0.0;
        };
        let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub(super) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub(super) fn memory(pid: u32) -> (u64, u64) {
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
pub(super) fn cpu_ticks(pid: u32) -> u64 {
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

pub(super) fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Samples the proxy's RSS while `work` runs; returns its result and the largest RSS seen (KiB).
pub(super) fn sampling_rss<T>(pid: u32, work: impl FnOnce() -> T) -> (T, u64) {
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

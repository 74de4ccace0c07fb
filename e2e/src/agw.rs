//! agw's own binaries as processes under test. Owns: starting `agw-webhook`, `agw-operator`
//! or `agw-proxy` with a log file, waiting for its admin `/readyz`, reading its admin
//! endpoints, and stopping it (SIGTERM first, to exercise graceful shutdown). Must not: know
//! what the component does; tests drive it from outside like the cluster would.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::binaries::try_agw_binary;
use crate::envtest::process::{Supervised, log_tail};
use crate::error::{Error, Result};

/// How long a component may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running agw binary, killed when dropped.
#[derive(Debug)]
pub struct AgwProcess {
    process: Supervised,
    admin: SocketAddr,
}

impl AgwProcess {
    /// Starts the binary `name` (see [`crate::binaries::agw_binary`]) with `args` and `env`,
    /// logging to `log`, and waits until `GET /readyz` on `127.0.0.1:admin_port` answers 200.
    pub async fn start(
        name: &'static str,
        args: &[String],
        env: &[(String, String)],
        admin_port: u16,
        log: PathBuf,
    ) -> Result<Self> {
        let bin = try_agw_binary(name)?;
        let mut process = Supervised::spawn_with_env(name, &bin, args, env, log)?;
        let admin = SocketAddr::from((Ipv4Addr::LOCALHOST, admin_port));
        // A plain loop rather than `wait_ready`'s async closure, so this future stays `Send`
        // (callers may spawn it).
        let started = Instant::now();
        let mut last_error = String::from("not probed yet");
        while started.elapsed() < READY_TIMEOUT {
            process.ensure_running()?;
            match get(admin, "/readyz").await {
                Ok((200, _)) => return Ok(Self { process, admin }),
                Ok((status, body)) => {
                    last_error = format!("/readyz answered {status}: {}", body.trim());
                }
                Err(err) => last_error = err.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(Error::NotReady {
            name: name.to_owned(),
            waited: READY_TIMEOUT,
            last_error,
            log: process.log().to_path_buf(),
            tail: log_tail(process.log()),
        })
    }

    /// `GET path` on the admin port: (status, body).
    pub async fn admin_get(&self, path: &str) -> Result<(u16, String)> {
        get(self.admin, path).await
    }

    /// The value of an unlabelled-or-labelled Prometheus sample, summed over every series whose
    /// line starts with `series` (e.g. `agw_webhook_admissions_total{operation="CREATE"`).
    pub async fn metric_sum(&self, series: &str) -> Result<f64> {
        let (_, text) = self.admin_get("/metrics").await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with(series))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        self.process.log()
    }

    /// The last lines of the log, for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(self.process.log())
    }

    /// Whole log text.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log()).unwrap_or_default()
    }

    /// `Ok` while the process runs; an error with the log tail once it has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.process.ensure_running()
    }

    /// SIGTERM, then up to `grace` for a clean exit; the exit status if it exited by itself.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.process.terminate(grace)
    }
}

/// A minimal HTTP/1.0 GET on loopback: the harness should not need a client stack of its own to
/// read a probe.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let context = || format!("GET http://{addr}{path}");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| Error::Timeout {
            what: context(),
            waited: Duration::from_secs(5),
        })?
        .map_err(|e| Error::io(context(), e))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| Error::UnexpectedResponse {
            what: context(),
            message: format!("no HTTP status line in {head:?}"),
        })?;
    Ok((status, body.to_owned()))
}

//! etcd for one control plane. Owns: etcd's flags (those envtest uses, plus a single-member
//! cluster bound to loopback) and its readiness probe. Must not: fsync (`--unsafe-no-fsync`: the
//! data is thrown away after the test, and fsync dominates etcd's latency on CI disks).

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::process::{Supervised, wait_ready};
use crate::error::Result;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn args(data_dir: &Path, client_port: u16, peer_port: u16) -> Vec<String> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    vec![
        "--name=agw-e2e".to_owned(),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=agw-e2e={peer}"),
        "--unsafe-no-fsync=true".to_owned(),
        // A single member elects itself after one election timeout (randomized up to 2x the
        // default 1 s): with these, etcd is healthy in ~50 ms instead of 0.1–1 s. There are no
        // peers, so a short heartbeat costs nothing.
        "--heartbeat-interval=10".to_owned(),
        "--election-timeout=100".to_owned(),
    ]
}

/// Waits until `GET /health` answers `"health":"true"`.
pub(crate) async fn wait_healthy(etcd: &mut Supervised, client_port: u16) -> Result<Duration> {
    wait_ready(etcd, READY_TIMEOUT, async || health(client_port).await).await
}

async fn health(port: u16) -> std::result::Result<(), String> {
    let probe = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok(body)) if body.contains(r#""health":"true""#) => Ok(()),
        Ok(Ok(body)) => Err(format!(
            "/health answered {:?}",
            body.lines().last().unwrap_or_default()
        )),
        Ok(Err(e)) => Err(format!("/health: {e}")),
        Err(_) => Err(format!("/health did not answer within {PROBE_TIMEOUT:?}")),
    }
}

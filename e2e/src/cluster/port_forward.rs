//! `kubectl port-forward` as a user runs it. Owns: starting it, learning the local port it
//! picked from its "Forwarding from" line, and stopping it when dropped.
//! Must not: outlive the test (the child is killed on drop).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::error::{Error, Result};
use crate::kubectl::Kubectl;

/// How long kubectl may take to open the forward (it resolves the target to a pod first).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `kubectl port-forward`.
#[derive(Debug)]
pub struct PortForward {
    child: Child,
    local: SocketAddr,
}

impl PortForward {
    /// Starts `kubectl port-forward -n namespace target :remote --address 127.0.0.1`.
    pub async fn start(
        kubectl: &Kubectl,
        namespace: &str,
        target: &str,
        remote: u16,
    ) -> Result<Self> {
        let what = format!("kubectl port-forward -n {namespace} {target} :{remote}");
        let mut child = Command::new(kubectl.bin())
            .args(["--kubeconfig", &kubectl.kubeconfig().display().to_string()])
            .args([
                "port-forward",
                "-n",
                namespace,
                target,
                &format!(":{remote}"),
            ])
            .args(["--address", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("starting {what}"), e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::UnexpectedResponse {
                what: what.clone(),
                message: "no stdout".to_owned(),
            })?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(READY_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(port) = forwarded_port(&line) {
                    return Ok(Some(port));
                }
            }
            Ok::<_, std::io::Error>(None)
        })
        .await
        .map_err(|_| Error::Timeout {
            what: format!("{what} to listen"),
            waited: READY_TIMEOUT,
        })?
        .map_err(|e| Error::io(format!("reading {what}"), e))?;
        let Some(port) = port else {
            let output = child
                .wait_with_output()
                .await
                .map_err(|e| Error::io(what.clone(), e))?;
            return Err(Error::UnexpectedResponse {
                what,
                message: format!("exited: {}", String::from_utf8_lossy(&output.stderr)),
            });
        };
        // Keep draining stdout so kubectl never blocks on a full pipe ("Handling connection").
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            local: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        })
    }

    /// The local address, e.g. for `ANTHROPIC_BASE_URL=http://<local>`.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local)
    }

    /// Whether kubectl still runs (it exits when the pod it forwards to goes away).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The local port of kubectl's `Forwarding from 127.0.0.1:43121 -> 80` line.
fn forwarded_port(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("Forwarding from 127.0.0.1:")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::forwarded_port;

    #[test]
    fn reads_the_local_port_of_kubectls_line() {
        assert_eq!(
            forwarded_port("Forwarding from 127.0.0.1:43121 -> 80"),
            Some(43121)
        );
        assert_eq!(forwarded_port("Forwarding from [::1]:43121 -> 80"), None);
        assert_eq!(forwarded_port("Handling connection for 43121"), None);
    }
}

//! Waiting for an eventually consistent cluster. Owns: polling a check until it passes or a
//! deadline passes, reporting the check's last failure. Needed because nothing in Kubernetes is
//! instant even without controllers: a new RoleBinding reaches the RBAC authorizer's cache, a
//! CRD reaches discovery and OpenAPI, a status reaches a watch — each a little later. Must not:
//! hide a real failure — the deadline is the caller's, and the error says what was awaited and
//! why the last attempt failed.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often [`eventually`] retries.
const INTERVAL: Duration = Duration::from_millis(100);

/// Runs `check` until it returns `Ok`, every 100 ms, for at most `timeout`; returns its value,
/// or a timeout error naming `what` and the last failure.
///
/// ```no_run
/// # async fn f(cp: &agw_e2e::ControlPlane, ns: &str) -> agw_e2e::Result<()> {
/// use std::time::Duration;
/// let kubectl = cp.kubectl();
/// agw_e2e::eventually(Duration::from_secs(10), "the Backend to be Accepted", async || {
///     let out = kubectl.run(["get", "backend", "anthropic", "-n", ns,
///                            "-o", "jsonpath={.status.conditions[?(@.type=='Accepted')].status}"])
///         .await.map_err(|e| e.to_string())?;
///     if out.stdout == "True" { Ok(()) } else { Err(format!("Accepted is {:?}", out.stdout)) }
/// }).await?;
/// # Ok(()) }
/// ```
pub async fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> std::result::Result<T, String>,
) -> Result<T> {
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: format!("{what} (last attempt: {last})"),
                waited: timeout,
            });
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_success() {
        let mut calls = 0;
        let value = eventually(Duration::from_secs(5), "three calls", async || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(format!("call {calls}"))
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn a_timeout_names_what_and_the_last_failure() {
        let err = eventually(Duration::from_millis(250), "the impossible", async || {
            Err::<(), _>("still no".to_owned())
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the impossible") && err.contains("still no"),
            "{err}"
        );
    }
}

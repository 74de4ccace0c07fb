//! Errors a proxy pod reports become Events on its Backend: the proxy keeps its recent
//! upstream failures on its admin port (it does not talk to Kubernetes), and the leading
//! operator polls every ready proxy pod and publishes a Warning `ProxyError` Event that names
//! the request id, which the pod's access log also holds.

use std::net::SocketAddr;
use std::time::Duration;

use agw_e2e::eventually;
use agw_e2e::operator_env::SECRET_KEY;
use agw_e2e::tutorial::{self, NAMESPACE, Upstream};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::env::Env;

/// The operator's Event reason (`agw_operator::proxy_errors::PROXY_ERROR`).
const PROXY_ERROR: &str = "ProxyError";
/// A port nothing listens on at the node's address: the upstream refuses connections.
const CLOSED_PORT: u16 = 9;

/// A Backend whose upstream refuses connections: the client gets a 502 with its request id,
/// and within a minute a Warning Event `ProxyError` on that Backend names the request id and
/// the pod whose access log has its line.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn an_upstream_failure_becomes_an_event_naming_the_request_id() {
    let env = Env::new().await;
    let ns = "proxy-errors";
    env.ensure_namespace(ns).await;
    env.apply(&tutorial::secret(SECRET_KEY).replace(NAMESPACE, ns))
        .await;
    let node_ip = env.cluster.node_ip().to_string();
    let refusing = Upstream {
        host: &node_ip,
        port: CLOSED_PORT,
    };
    env.apply(&tutorial::backend("Backend", refusing, false).replace(NAMESPACE, ns))
        .await;
    env.wait_available(ns, "anthropic-proxy").await;

    let forward = env.port_forward(ns, "svc/anthropic-proxy", 80).await;
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .unwrap()
        .subsec_nanos();
    let request_id = format!("agw-e2e-proxy-error-{}-{nanos}", std::process::id());
    let (status, head) = post_messages(forward.local(), &request_id).await;
    assert_eq!(status, 502, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-request-id: {request_id}")),
        "the client got its request id back: {head}"
    );

    let note = event_naming(&env, ns, &request_id).await;
    assert!(
        note.contains("upstream_connect") && note.contains("HTTP 502"),
        "{note}"
    );
    assert!(note.contains("access log"), "{note}");

    // The pod the note names has the request's line in its access log.
    let pod = note
        .strip_prefix("proxy pod ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default();
    let logs = env.kubectl(&["logs", "-n", ns, pod]).await;
    assert!(logs.success(), "{logs}");
    // The access-log line (top-level `request_id`), not the proxy's own log of the failure.
    let line = logs
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access-log line of {request_id} in {pod}: {logs}"));
    assert_eq!(line["error.type"], "upstream_connect", "{line}");
    assert_eq!(line["http.response.status_code"], 502, "{line}");

    // A later failure is an Event of its own, with its own request id (not folded into the
    // first Event's series, which would keep the first note).
    let second = format!("{request_id}-again");
    let (status, head) = post_messages(forward.local(), &second).await;
    assert_eq!(status, 502, "{head}");
    let note = event_naming(&env, ns, &second).await;
    assert!(note.contains("upstream_connect"), "{note}");
}

/// The note of the Warning `ProxyError` Event on backend/anthropic in `ns` naming
/// `request_id`, waiting up to a minute (the operator polls every 15 s).
async fn event_naming(env: &Env, ns: &str, request_id: &str) -> String {
    let what = format!("a {PROXY_ERROR} Event on backend/anthropic naming {request_id}");
    let note = eventually(Duration::from_mins(1), &what, async || {
        let events = env
            .kubectl(&[
                "get",
                "events",
                "-n",
                ns,
                "--field-selector",
                &format!("reason={PROXY_ERROR}"),
                "-o",
                "json",
            ])
            .await;
        if !events.success() {
            return Err(events.to_string());
        }
        let list: serde_json::Value =
            serde_json::from_str(&events.stdout).map_err(|e| e.to_string())?;
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| {
                e["type"] == "Warning"
                    && e["involvedObject"]["kind"] == "Backend"
                    && e["involvedObject"]["name"] == "anthropic"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(request_id))
            })
            .and_then(|e| e["message"].as_str().map(str::to_owned))
            .ok_or_else(|| events.stdout.clone())
    })
    .await;
    match note {
        Ok(note) => note,
        Err(e) => panic!("{e}\n{}", env.cluster.describe(ns).await),
    }
}

/// POSTs a small Messages request with `x-request-id: request_id`; returns the status and the
/// response head.
async fn post_messages(addr: SocketAddr, request_id: &str) -> (u16, String) {
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"What is Kubernetes?"}]}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         anthropic-version: 2023-06-01\r\nx-request-id: {request_id}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("the proxy answered in time")
        .expect("the exchange");
    let text = String::from_utf8_lossy(&response).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    (status, text)
}

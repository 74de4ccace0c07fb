//! The poll and its bookkeeping against a tiny HTTP server on loopback that answers
//! `/errors?after=<seq>` as a proxy's admin port does.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use kube::api::ObjectMeta;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

/// A proxy's ring as the test sets it: instance, kept faults, last sequence number.
#[derive(Default)]
struct Ring {
    instance: String,
    kept: Vec<ProxyFault>,
    last: u64,
}

impl Ring {
    fn push(&mut self, request_id: &str) {
        self.last += 1;
        self.kept.push(ProxyFault {
            seq: self.last,
            request_id: request_id.to_owned(),
            kind: "upstream_connect".to_owned(),
            status: 502,
            message: "could not connect to the upstream 10.0.0.1:9".to_owned(),
        });
    }
}

/// Serves `ring` on a loopback port, one request per connection.
async fn serve(ring: Arc<Mutex<Ring>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let n = stream.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let after: u64 = head
                .split_whitespace()
                .nth(1)
                .and_then(|target| target.strip_prefix("/errors?after="))
                .and_then(|n| n.parse().ok())
                .unwrap();
            let body = {
                let ring = ring.lock().unwrap();
                let errors: Vec<_> = ring
                    .kept
                    .iter()
                    .filter(|e| e.seq > after)
                    .map(|e| {
                        serde_json::json!({"seq": e.seq, "time": "2026-01-01T00:00:00.000Z",
                            "backend": "team-a/anthropic", "request_id": e.request_id,
                            "kind": e.kind, "status": e.status, "message": e.message})
                    })
                    .collect();
                serde_json::json!({"instance": ring.instance, "errors": errors, "next": ring.last})
                    .to_string()
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    addr
}

fn ids(news: &News) -> Vec<&str> {
    news.shown.iter().map(|f| f.request_id.as_str()).collect()
}

#[tokio::test]
async fn each_fault_is_reported_once_and_a_burst_is_summarised() {
    let ring = Arc::new(Mutex::new(Ring {
        instance: "a".into(),
        ..Ring::default()
    }));
    let admin = serve(ring.clone()).await;
    let http = http_client();

    // Nothing yet: nothing to report, and the cursor stays at 0.
    let (news, cursor) = poll(&http, admin, None).await.unwrap();
    assert_eq!(news, News::default());
    for id in ["r1", "r2", "r3", "r4", "r5"] {
        ring.lock().unwrap().push(id);
    }
    let (news, cursor) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!(ids(&news), ["r1", "r2", "r3"]);
    assert_eq!(news.more, 2);
    // Polled again: the summarised ones are not reported later, nothing is reported twice.
    let (news, cursor) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!(news, News::default());
    ring.lock().unwrap().push("r6");
    let (news, _) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!((ids(&news), news.more), (vec!["r6"], 0));
}

#[tokio::test]
async fn faults_the_ring_dropped_before_a_poll_are_counted() {
    let ring = Arc::new(Mutex::new(Ring {
        instance: "a".into(),
        ..Ring::default()
    }));
    let admin = serve(ring.clone()).await;
    let http = http_client();
    ring.lock().unwrap().push("r1");
    let (_, cursor) = poll(&http, admin, None).await.unwrap();
    {
        let mut ring = ring.lock().unwrap();
        for n in 2..=10 {
            ring.push(&format!("r{n}"));
        }
        // The proxy kept only the last two.
        ring.kept.drain(..8);
    }
    let (news, _) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!(ids(&news), ["r9", "r10"]);
    assert_eq!(news.more, 7, "r2..=r8 were dropped");
}

#[tokio::test]
async fn a_restarted_proxy_is_read_from_its_start() {
    let ring = Arc::new(Mutex::new(Ring {
        instance: "a".into(),
        ..Ring::default()
    }));
    let admin = serve(ring.clone()).await;
    let http = http_client();
    for id in ["r1", "r2", "r3"] {
        ring.lock().unwrap().push(id);
    }
    let (_, cursor) = poll(&http, admin, None).await.unwrap();
    // The container restarted: a new ring, numbered from 1 again, behind the old cursor.
    *ring.lock().unwrap() = Ring {
        instance: "b".into(),
        ..Ring::default()
    };
    ring.lock().unwrap().push("after-restart");
    let (news, cursor) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!(ids(&news), ["after-restart"]);
    let (news, _) = poll(&http, admin, Some(&cursor)).await.unwrap();
    assert_eq!(news, News::default());
}

#[tokio::test]
async fn a_pod_that_does_not_answer_is_an_error_not_a_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let started = std::time::Instant::now();
    let result = poll(&http_client(), closed, None).await;
    assert!(matches!(result, Err(PollError::Request(_))), "{result:?}");
    assert!(started.elapsed() < POLL_TIMEOUT);
}

fn pod(ready: &str, ip: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("anthropic-proxy-7d9f-abcde".into()),
            namespace: Some("team-a".into()),
            uid: Some("uid-1".into()),
            labels: Some([(BACKEND_LABEL.to_owned(), "anthropic".to_owned())].into()),
            ..ObjectMeta::default()
        },
        status: Some(PodStatus {
            pod_ip: ip.map(str::to_owned),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    }
}

#[test]
fn only_ready_pods_with_an_ip_are_polled_on_the_admin_port() {
    let target = target(&pod("True", Some("10.1.0.7"))).unwrap();
    assert_eq!(target.admin, "10.1.0.7:9091".parse().unwrap());
    assert_eq!(
        (target.backend.as_str(), target.namespace.as_str()),
        ("anthropic", "team-a")
    );
    assert_eq!(super::target(&pod("False", Some("10.1.0.7"))), None);
    assert_eq!(super::target(&pod("True", None)), None);
}

#[test]
fn a_note_points_at_the_request_id_in_the_access_log() {
    let target = target(&pod("True", Some("10.1.0.7"))).unwrap();
    let news = News {
        shown: vec![ProxyFault {
            seq: 4,
            request_id: "0f6b2c1e".into(),
            kind: "upstream_connect".into(),
            status: 502,
            message: "could not connect to the upstream 10.0.0.1:9".into(),
        }],
        more: 5,
    };
    let notes = notes(&target, &news);
    assert_eq!(
        notes,
        [
            "proxy pod anthropic-proxy-7d9f-abcde: request 0f6b2c1e failed: upstream_connect, HTTP 502: could not connect to the upstream 10.0.0.1:9. Look for request_id 0f6b2c1e in the proxy's access log (kubectl logs -n team-a anthropic-proxy-7d9f-abcde)",
            "proxy pod anthropic-proxy-7d9f-abcde: and 5 more failed requests since the last poll; see the proxy's access log (kubectl logs -n team-a anthropic-proxy-7d9f-abcde)",
        ]
    );
    assert!(super::notes(&target, &News::default()).is_empty());
}

#[test]
fn each_fault_is_its_own_event_on_the_backend_related_to_the_pod() {
    let target = target(&pod("True", Some("10.1.0.7"))).unwrap();
    let backend = ObjectReference {
        api_version: Some("agentgateway.dev/v1alpha1".into()),
        kind: Some("Backend".into()),
        name: Some("anthropic".into()),
        namespace: Some("team-a".into()),
        ..ObjectReference::default()
    };
    let reporter = events::Reporter {
        controller: "agw-operator".into(),
        instance: "agw-operator-0".into(),
    };
    let first = events::event(
        &reporter,
        &backend,
        occurrence(&target, "request r1 failed".into()),
    );
    let second = events::event(
        &reporter,
        &backend,
        occurrence(&target, "request r2 failed".into()),
    );
    // Two objects of their own: no Event replaces or folds into another.
    assert_ne!(first.metadata.name, second.metadata.name);
    assert!(
        first
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("anthropic.")),
        "{:?}",
        first.metadata.name
    );
    assert_eq!(
        (first.note.as_deref(), second.note.as_deref()),
        (Some("request r1 failed"), Some("request r2 failed"))
    );
    assert_eq!(
        (
            first.type_.as_deref(),
            first.reason.as_deref(),
            first.action.as_deref()
        ),
        (Some("Warning"), Some(PROXY_ERROR), Some(ACTION))
    );
    assert_eq!(first.regarding.as_ref(), Some(&backend));
    let related = first.related.unwrap();
    assert_eq!(
        (
            related.kind.as_deref(),
            related.name.as_deref(),
            related.uid.as_deref()
        ),
        (
            Some("Pod"),
            Some("anthropic-proxy-7d9f-abcde"),
            Some("uid-1")
        )
    );
}

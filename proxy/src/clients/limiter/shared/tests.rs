//! The shared store against a real `redis-server` (the binary `AGW_REDIS_SERVER` names;
//! hack/test.sh installs it), and the limiter's fallback when there is none.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agw_policy::bundle::{Limit, LimitKind, LimitSubject};
use prometheus_client::metrics::counter::Counter as Metric;
use prometheus_client::metrics::gauge::Gauge;

use super::super::Limiter;
use super::super::breaker::State;
use super::*;

/// A `redis-server` of this test alone on a free loopback port, without persistence;
/// killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// The redis-server of `AGW_REDIS_SERVER`; `None` (and a line saying so) only when asked
    /// with `AGW_SKIP_REDIS=1`, as `AGW_SKIP_JAEGER` does for Jaeger: a missing server never
    /// lets the tests pass unseen.
    fn start() -> Option<Self> {
        let Some(binary) = std::env::var_os("AGW_REDIS_SERVER") else {
            assert!(
                std::env::var("AGW_SKIP_REDIS").as_deref() == Ok("1"),
                "AGW_REDIS_SERVER is unset: run hack/redis/install.sh and export what it prints \
                 (hack/test.sh does), or set AGW_SKIP_REDIS=1 to skip the Redis tests"
            );
            eprintln!("SKIPPED on request (AGW_SKIP_REDIS=1): the tests against redis-server");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Some(Self::on(&binary, port))
    }

    fn on(binary: &std::ffi::OsStr, port: u16) -> Self {
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn counter(key: &str, requests: bool, amount: u64) -> Counter {
    Counter {
        key: key.to_owned(),
        requests,
        amount,
        expire_at: unix_now() + 120,
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn keys_name_every_part_of_a_budget_and_no_two_budgets_share_one() {
    let k = key("ns/b", Some("alice"), "requests", 60, 29_000_000);
    assert_eq!(k, "agw:rl:v1:requests:60s:29000000:4:ns/b:identity:5:alice");
    let all = [
        key("ns/b", None, "requests", 60, 1),
        key("ns/b", None, "tokens", 60, 1),
        key("ns/b", None, "requests", 3600, 1),
        key("ns/b", None, "requests", 60, 2),
        key("ns/c", None, "requests", 60, 1),
        key("ns/b", Some("backend"), "requests", 60, 1),
        // Separators inside names cannot make one budget look like another.
        key("ns/b:identity:1:x", None, "requests", 60, 1),
        key("ns/b", Some("x"), "requests", 60, 1),
        key("ns/b:4", Some("a"), "requests", 60, 1),
        key("ns/b", Some("4:a"), "requests", 60, 1),
    ];
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "{all:#?}");
}

#[test]
fn a_url_that_is_not_redis_is_refused_at_startup() {
    let err = SharedStore::open("http://127.0.0.1:6379").unwrap_err();
    assert!(matches!(err, StoreError::Url(_)), "{err}");
    assert!(err.to_string().contains("--rate-limit-redis"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_redis_admit_exactly_the_budget_under_contention() {
    let Some(server) = Server::start() else {
        return;
    };
    let (a, b) = (
        SharedStore::open(&server.url()).unwrap(),
        SharedStore::open(&server.url()).unwrap(),
    );
    let budget = [counter("t:exact", true, 25)];
    let mut calls = Vec::new();
    for i in 0..100 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let budget = budget.clone();
        calls.push(tokio::spawn(async move { store.admit(&budget).await }));
    }
    let mut admitted = 0;
    for call in calls {
        if call.await.unwrap().unwrap().is_none() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 25);
    let mut connection = a.connection.clone();
    let used: u64 = redis::cmd("GET")
        .arg("t:exact")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(used, 25, "refusals count nothing");
    let ttl: i64 = redis::cmd("TTL")
        .arg("t:exact")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((60..=120).contains(&ttl), "the counter expires: {ttl}");
}

#[tokio::test]
async fn a_spent_token_budget_refuses_on_the_other_store_and_names_which() {
    let Some(server) = Server::start() else {
        return;
    };
    let (a, b) = (
        SharedStore::open(&server.url()).unwrap(),
        SharedStore::open(&server.url()).unwrap(),
    );
    let request = [
        counter("t:req", true, 100),
        counter("t:tok", false, 50),
        counter("t:req2", true, 100),
    ];
    assert_eq!(a.admit(&request).await.unwrap(), None);
    a.charge(&request[1..2], 49).await.unwrap();
    assert_eq!(b.admit(&request).await.unwrap(), None, "49 of 50 spent");
    b.charge(&request[1..2], 10).await.unwrap();
    assert_eq!(a.admit(&request).await.unwrap(), Some(1));
    let mut connection = a.connection.clone();
    let used: Vec<Option<u64>> = redis::cmd("MGET")
        .arg(&["t:req", "t:tok", "t:req2"][..])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        used,
        [Some(2), Some(59), Some(2)],
        "the refusal counted nothing"
    );
}

#[tokio::test]
async fn a_stopped_redis_fails_fast_and_a_restarted_one_is_used_again() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let store = SharedStore::open(&server.url()).unwrap();
    let budget = [counter("t:restart", true, 10)];
    assert_eq!(store.admit(&budget).await.unwrap(), None);
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        assert!(store.admit(&budget).await.is_err());
        assert!(
            started.elapsed() < CALL_TIMEOUT + Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }
    let binary = std::env::var_os("AGW_REDIS_SERVER").unwrap();
    let _restarted = Server::on(&binary, server.port);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.admit(&budget).await {
            Ok(answer) => {
                assert_eq!(answer, None, "a restarted Redis starts empty");
                break;
            }
            Err(err) => assert!(Instant::now() < deadline, "never reconnected: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing listens on the port: every request is decided in process, at once; the first
/// failure is counted and opens the breaker, so the others do not ask Redis.
#[tokio::test]
async fn without_redis_the_limiter_falls_back_to_the_per_replica_count() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = SharedStore::open(&format!("redis://127.0.0.1:{port}")).unwrap();
    let (admit_errors, charge_errors) = (Metric::default(), Metric::default());
    let up = Gauge::default();
    let limiter = Limiter::shared(
        store,
        admit_errors.clone(),
        charge_errors.clone(),
        up.clone(),
    );
    let backend: Arc<str> = Arc::from("ns/b");
    let limits = [Limit {
        kind: LimitKind::Requests,
        amount: 3,
        window_seconds: 60,
        per: LimitSubject::Backend,
        identities: Vec::new(),
    }];
    let now = unix_now();
    let started = Instant::now();
    for _ in 0..3 {
        assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    }
    let refused = limiter
        .admit(&backend, None, &limits, now)
        .await
        .unwrap_err();
    assert_eq!(refused.retry_after, 60 - now % 60);
    assert_eq!(
        admit_errors.get(),
        1,
        "one call failed, the breaker held the rest"
    );
    assert_eq!(up.get(), 0);
    assert!(started.elapsed() < 4 * (CALL_TIMEOUT + Duration::from_millis(100)));
    // No budget applies: Redis is not asked, nothing fails.
    assert!(limiter.admit(&backend, None, &[], now).await.is_ok());
    assert_eq!(admit_errors.get(), 1);
}

/// With Redis deciding, the in-process count still counts, so a later outage in the same
/// window continues from what this replica admitted.
#[tokio::test]
async fn the_fallback_continues_from_what_this_replica_admitted_through_redis() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let store = SharedStore::open(&server.url()).unwrap();
    let errors = Metric::default();
    let limiter = Limiter::shared(store, errors.clone(), Metric::default(), Gauge::default());
    let backend: Arc<str> = Arc::from("ns/shadow");
    let limits = [Limit {
        kind: LimitKind::Requests,
        amount: 3,
        window_seconds: 3600,
        per: LimitSubject::Backend,
        identities: Vec::new(),
    }];
    let now = unix_now();
    for _ in 0..2 {
        assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    }
    assert_eq!(errors.get(), 0);
    server.stop();
    assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    assert!(limiter.admit(&backend, None, &limits, now).await.is_err());
    assert_eq!(
        errors.get(),
        1,
        "the second was decided with the breaker open"
    );
}

/// How long the hanging-Redis test pauses every client of its server.
const PAUSE: Duration = Duration::from_secs(3);

/// Budgets the hanging-Redis test never spends, so every decision is an admission.
fn roomy() -> [Limit; 1] {
    [Limit {
        kind: LimitKind::Requests,
        amount: 1000,
        window_seconds: 3600,
        per: LimitSubject::Backend,
        identities: Vec::new(),
    }]
}

async fn used(url: &str, key: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

/// Redis accepts but does not answer (`CLIENT PAUSE … ALL`): the first request waits the
/// timeout and opens the breaker; the next ones are decided in process without calling Redis
/// (no further failure, nothing counted there); once the pause is over and the cool-down has
/// passed, one probe closes the breaker and Redis counts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_redis_opens_the_breaker_and_a_probe_closes_it_once_it_answers() {
    let Some(server) = Server::start() else {
        return;
    };
    let (errors, up) = (Metric::default(), Gauge::default());
    let store = SharedStore::open(&server.url()).unwrap();
    let limiter = Limiter::shared(store, errors.clone(), Metric::default(), up.clone());
    let breaker = &limiter.shared.as_ref().unwrap().breaker;
    let (backend, limits, now): (Arc<str>, _, _) = (Arc::from("ns/hang"), roomy(), unix_now());
    let key = super::super::key(&backend, None, &limits[0])
        .counter(1000, now)
        .key;
    assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    assert_eq!((errors.get(), up.get()), (0, 1));

    let pauser = redis::Client::open(server.url()).unwrap();
    let mut pauser = pauser.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(PAUSE.as_millis().to_string())
        .arg("ALL")
        .query_async::<()>(&mut pauser)
        .await
        .unwrap();
    assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    assert_eq!((errors.get(), up.get()), (1, 0), "the first call timed out");
    assert!(matches!(breaker.state(), State::Open { failures: 1, .. }));
    for _ in 0..20 {
        assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    }
    // Any call to the paused Redis would have timed out and counted a failure.
    assert_eq!(errors.get(), 1, "a request asked the paused Redis");
    assert!(matches!(breaker.state(), State::Open { failures: 1, .. }));
    assert_eq!(up.get(), 0);

    // The pause is over once a bounded PING answers (Redis lifts it on its own timer).
    let watcher = SharedStore::open(&server.url()).unwrap();
    let deadline = Instant::now() + PAUSE + Duration::from_secs(5);
    while watcher.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the pause never ended");
    }
    // The cool-down (1 s) ended during the pause: the next request probes, and it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while breaker.state() != State::Closed {
        assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
        assert!(
            Instant::now() < deadline,
            "never closed: {:?}",
            breaker.state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.get(), 1);
    let probes = errors.get();
    let before = used(&server.url(), &key).await;
    assert!(limiter.admit(&backend, None, &limits, now).await.is_ok());
    assert_eq!(
        used(&server.url(), &key).await,
        before + 1,
        "Redis counts again"
    );
    // Before the pause 1, the probe 1, and the call that timed out if Redis ran it once
    // the pause ended: none of the requests decided in process.
    assert!(
        (2..=3).contains(&before) && probes == 1,
        "Redis counted {before} with {probes} failures"
    );
}

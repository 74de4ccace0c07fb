//! Operator latency and throughput on a real kube-apiserver: `kubectl apply` (a create) →
//! `Accepted=True`, → bundle Secret written, → `Programmed=True`, p50/p99 over 100 Backends
//! applied one after another; then 1,000 Backends created at once and the time until every one
//! is Programmed. Target: apply → Programmed ≤ 1 s p99. Run with `hack/bench-operator`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agw_crds::Backend;
use agw_e2e::ControlPlane;
use agw_e2e::operator::{self, OperatorOptions};
use futures_util::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

/// When each Backend was first seen Accepted and Programmed, and its bundle Secret written.
#[derive(Default)]
struct Seen {
    accepted: HashMap<String, Instant>,
    programmed: HashMap<String, Instant>,
    bundle: HashMap<String, Instant>,
}

fn condition_true(backend: &Backend, type_: &str) -> bool {
    backend.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
    })
}

fn watch(cp: &ControlPlane, ns: &str, seen: Arc<Mutex<Seen>>) {
    let backends: Api<Backend> = Api::namespaced(cp.client().unwrap(), ns);
    let secrets: Api<Secret> = Api::namespaced(cp.client().unwrap(), ns);
    let seen_b = seen.clone();
    tokio::spawn(async move {
        let mut stream = watcher(backends, watcher::Config::default()).boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            let now = Instant::now();
            let objects: Vec<Backend> = match event {
                watcher::Event::Apply(b) | watcher::Event::InitApply(b) => vec![b],
                _ => vec![],
            };
            let mut seen = seen_b.lock().unwrap();
            for backend in objects {
                let name = backend.name_any();
                if condition_true(&backend, "Accepted") {
                    seen.accepted.entry(name.clone()).or_insert(now);
                }
                if condition_true(&backend, "Programmed") {
                    seen.programmed.entry(name).or_insert(now);
                }
            }
        }
    });
    tokio::spawn(async move {
        let config = watcher::Config::default().labels("app.kubernetes.io/managed-by=agw-operator");
        let mut stream = watcher(secrets, config).boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            if let watcher::Event::Apply(s) | watcher::Event::InitApply(s) = event {
                let name = s.name_any().trim_end_matches("-bundle").to_owned();
                seen.lock()
                    .unwrap()
                    .bundle
                    .entry(name)
                    .or_insert_with(Instant::now);
            }
        }
    });
}

fn backend(name: &str) -> Backend {
    let yaml = format!(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {{name: {name}}}\nspec:\n  \
         ai: {{provider: {{anthropic: {{}}}}}}\n  policies:\n    auth: {{secretRef: {{name: anthropic-secret}}}}\n    \
         ai:\n      routes: {{/v1/messages: Messages, '*': Passthrough}}\n      promptGuard:\n        request:\n        \
         - regex: {{action: Reject, matches: ['credit card'], builtins: [CreditCard, Email]}}\n"
    );
    serde_norway::from_str(&yaml).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn sequential(api: &Api<Backend>, seen: &Arc<Mutex<Seen>>, n: usize) -> [Vec<Duration>; 3] {
    let mut out: [Vec<Duration>; 3] = [vec![], vec![], vec![]];
    for i in 0..n {
        let name = format!("seq-{i}");
        let created = Instant::now();
        api.create(&PostParams::default(), &backend(&name))
            .await
            .unwrap();
        loop {
            let done = {
                let seen = seen.lock().unwrap();
                match (
                    seen.accepted.get(&name),
                    seen.bundle.get(&name),
                    seen.programmed.get(&name),
                ) {
                    (Some(a), Some(b), Some(p)) => Some([*a, *b, *p]),
                    _ => None,
                }
            };
            if let Some(times) = done {
                for (k, t) in times.iter().enumerate() {
                    out[k].push(t.saturating_duration_since(created));
                }
                break;
            }
            assert!(
                created.elapsed() < Duration::from_secs(30),
                "{name} was not programmed in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for times in &mut out {
        times.sort();
    }
    out
}

async fn burst(
    api: &Api<Backend>,
    seen: &Arc<Mutex<Seen>>,
    n: usize,
    operator: &agw_e2e::agw::AgwProcess,
) -> (Duration, Duration) {
    let started = Instant::now();
    futures_util::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &backend(&format!("burst-{i}")))
                    .await
                    .unwrap();
            }
        })
        .await;
    let created = started.elapsed();
    let mut last_report = Instant::now();
    loop {
        let done = seen
            .lock()
            .unwrap()
            .programmed
            .keys()
            .filter(|k| k.starts_with("burst-"))
            .count();
        if done == n {
            return (created, started.elapsed());
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let reconciles = operator
                .metric_sum("agw_operator_reconciles_total")
                .await
                .unwrap_or(f64::NAN);
            let errors = operator
                .metric_sum("agw_operator_reconcile_errors_total")
                .await
                .unwrap_or(f64::NAN);
            eprintln!(
                "  {:>4.0}s: {done}/{n} programmed, {reconciles} reconciles, {} errors",
                started.elapsed().as_secs_f64(),
                errors.abs()
            );
        }
        assert!(
            started.elapsed() < Duration::from_mins(10),
            "only {done}/{n} programmed; the operator's log ends with:\n{}",
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let cp = ControlPlane::start().await.unwrap();
    let ns = cp.namespace("bench").await.unwrap();
    let identity = operator::grant(&cp, &ns).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = OperatorOptions {
        namespace: ns.clone(),
        identity: "bench".to_owned(),
        mount_root: dir.path().join("mounts"),
        log_dir: dir.path().join("logs"),
        extra_args: vec![],
    };
    let operator = operator::start(&identity, &options).await.unwrap();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: anthropic-secret}\nstringData: {Authorization: sk-ant-bench}\n";
    cp.kubectl()
        .apply_stdin(&ns, secret)
        .await
        .unwrap()
        .check()
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    watch(&cp, &ns, seen.clone());
    let api: Api<Backend> = Api::namespaced(cp.client().unwrap(), &ns);

    let [accepted, bundle, programmed] = sequential(&api, &seen, 100).await;
    println!("\nagw-operator on a real kube-apiserver (operator as a process, its shipped RBAC)\n");
    println!("| 100 Backends, one at a time | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (what, times) in [
        ("create → Accepted=True", &accepted),
        ("create → bundle Secret written", &bundle),
        ("create → Programmed=True (target p99 ≤ 1 s)", &programmed),
    ] {
        println!(
            "| {what} | {} | {} | {} |",
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.99)),
            ms(times[times.len() - 1])
        );
    }
    let n = std::env::var("AGW_BENCH_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let (created, all) = burst(&api, &seen, n, &operator).await;
    println!("\n| {n} Backends created at once | value |");
    println!("|---|---|");
    println!(
        "| time to create them (32 concurrent clients) | {} |",
        ms(created)
    );
    println!("| time until all are Programmed | {} |", ms(all));
    println!(
        "| reconcile throughput | {:.0} Backends/s |",
        n as f64 / all.as_secs_f64()
    );
}

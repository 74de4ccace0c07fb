//! Admission latency at the webhook: the time `admission::review` takes for one AdmissionReview
//! body (parse, compile, answer), which is what `POST /validate` spends besides TLS and HTTP.
//! Target: p99 ≤ 2 ms. Run with `hack/bench-webhook` (or `cargo bench -p agw-webhook`).
//!
//! Each case is measured as a CREATE and as an UPDATE (which also carries, and parses, the old
//! object). Nothing is cached across reviews, so every review judges every pattern afresh; the
//! `compile` column is `agw_policy::compile` alone on the already-parsed spec.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ROUNDS: usize = 2_000;

fn review(object: &Value, update: bool) -> Vec<u8> {
    let mut old = object.clone();
    old["metadata"]["generation"] = json!(1);
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "agentgateway.dev", "version": "v1alpha1", "kind": "Backend"},
            "resource": {"group": "agentgateway.dev", "version": "v1alpha1", "resource": "backends"},
            "name": object["metadata"]["name"],
            "namespace": "bench",
            "operation": if update { "UPDATE" } else { "CREATE" },
            "userInfo": {"username": "bench"},
            "object": object,
            "oldObject": if update { old } else { Value::Null },
            "dryRun": false
        }
    }))
    .unwrap_or_default()
}

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../config/samples/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// How the patterns of [`many_patterns`] are judged.
#[derive(Clone, Copy)]
enum Patterns {
    /// Plain phrases: no parse.
    Phrases,
    /// Regexes with classes and alternations, judged from their syntax tree.
    Regexes,
    /// Regexes with a negated class and a case-sensitive part, which the judge also translates
    /// (and case-folds) before bounding their automaton.
    Translated,
}

/// A Backend with `n` patterns spread over guards of 50, like a large policy library.
fn many_patterns(n: usize, kind: Patterns) -> Value {
    let mut backend = sample("backend-guarded");
    let guards: Vec<Value> = (0..n)
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|chunk| {
            let matches: Vec<String> = chunk
                .iter()
                .map(|i| match kind {
                    Patterns::Phrases => format!("internal project codename {i}"),
                    Patterns::Regexes => format!("(project|codename)[- ]?{i}\\b"),
                    Patterns::Translated => format!("[^\\s]?(?-i:Project)[- ]?{i}\\b"),
                })
                .collect();
            json!({"regex": {"action": "Reject", "matches": matches}})
        })
        .collect();
    backend["spec"]["policies"]["ai"]["promptGuard"]["request"] = Value::Array(guards);
    backend
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn measure(body: &[u8]) -> Vec<Duration> {
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let answer = agw_webhook::admission::review(black_box(body));
        times.push(started.elapsed());
        assert!(answer.is_ok_and(|a| a.review.response.is_some_and(|r| r.allowed)));
    }
    times.sort();
    times
}

/// `agw_policy::compile` alone, p50 over the same rounds.
fn compile_p50(object: &Value) -> Duration {
    let spec: agw_crds::BackendSpec =
        serde_json::from_value(object["spec"].clone()).unwrap_or_else(|e| panic!("spec: {e}"));
    let options = agw_policy::CompileOptions::new("bench", "bench");
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            let compiled = agw_policy::compile(black_box(&spec), &options);
            let elapsed = started.elapsed();
            assert!(compiled.is_ok());
            elapsed
        })
        .collect();
    times.sort();
    percentile(&times, 0.50)
}

fn main() {
    let cases = [
        (
            "tutorial backend-extended-guards",
            sample("backend-extended-guards"),
        ),
        (
            "200 phrases in 4 guards",
            many_patterns(200, Patterns::Phrases),
        ),
        (
            "200 regexes in 4 guards",
            many_patterns(200, Patterns::Regexes),
        ),
        (
            "200 translated regexes in 4 guards",
            many_patterns(200, Patterns::Translated),
        ),
    ];
    println!("\nadmission latency at the webhook ({ROUNDS} reviews each; target p99 <= 2 ms)\n");
    println!("| Backend | operation | p50 | p99 | max | compile p50 | p99 target |");
    println!("|---|---|---|---|---|---|---|");
    for ((name, object), update) in cases.iter().flat_map(|case| [(case, false), (case, true)]) {
        let body = review(object, update);
        let times = measure(&body);
        let compile = compile_p50(object);
        let operation = if update { "UPDATE" } else { "CREATE" };
        let p99 = percentile(&times, 0.99);
        let verdict = if p99 <= Duration::from_millis(2) {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "| {name} | {operation} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {verdict} |",
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            compile.as_secs_f64() * 1e3,
        );
    }
}

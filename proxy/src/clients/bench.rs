//! The cost the client policy adds to a request: authentication (hash, bucket lookup,
//! constant-time compare; or a JWT's digest looked up among verified tokens) plus the allow
//! list and the budget check, with 10,000 identities.
//! Not a correctness test: run with
//! `cargo test --release -p agw-proxy clients::bench -- --ignored --nocapture`; it prints a
//! table (samples, rate, p50/p90/p99/p99.9/max) to compare run to run.
// A benchmark: numbers are converted for display.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use agw_policy::bundle::{
    AllowRule, ClientPolicy, JwksSource, JwtProvider, Limit, LimitKind, LimitSubject,
};
use agw_policy::client_keys;
use http::{HeaderMap, HeaderValue};

use futures_util::FutureExt as _;

use super::jwt::{JwtVerifier, KeySet, testkeys};
use super::limiter::Limiter;
use super::{BackendClients, KeyTable};

const IDENTITIES: usize = 10_000;

fn key(i: usize) -> String {
    format!("agw-bench-key-{i:08}-0123456789abcdef")
}

fn policy() -> ClientPolicy {
    ClientPolicy {
        key_sources: Vec::new(),
        jwt_providers: Vec::new(),
        allow: Some(
            (0..50)
                .map(|g| AllowRule {
                    groups: vec![format!("g{g}")],
                    ..AllowRule::default()
                })
                .collect(),
        ),
        limits: [
            (LimitKind::Requests, 60, LimitSubject::Identity),
            (LimitKind::Tokens, 86_400, LimitSubject::Identity),
            (LimitKind::Tokens, 86_400, LimitSubject::Backend),
        ]
        .into_iter()
        .map(|(kind, window_seconds, per)| Limit {
            kind,
            amount: u64::MAX,
            window_seconds,
            per,
            identities: Vec::new(),
        })
        .collect(),
    }
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|e| panic!("{e}"));
    headers.insert(http::header::AUTHORIZATION, value);
    headers
}

fn setup() -> (BackendClients, Vec<HeaderMap>) {
    let entries = (0..IDENTITIES)
        .map(|i| {
            let value = format!(
                r#"{{"key": "{}", "metadata": {{"groups": ["g{}"]}}}}"#,
                key(i),
                i % 50
            );
            client_keys::parse_entry("bench", &format!("user-{i}"), &value)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let policy = policy();
    let table = KeyTable::new(entries).unwrap_or_else(|e| panic!("{e}"));
    let headers = (0..IDENTITIES).map(|i| bearer(&key(i))).collect();
    (
        BackendClients::new("ns/b", &policy, Some(table), None),
        headers,
    )
}

fn row(label: &str, mut samples: Vec<Duration>, elapsed: Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label:<22} {:>8} {:>9.0} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>8.2}",
        samples.len(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        us(at(0.5)),
        us(at(0.9)),
        us(at(0.99)),
        us(at(0.999)),
        us(samples[samples.len() - 1]),
    );
}

/// 10,000 identities holding RS256 tokens of one issuer (an inline key set).
fn setup_jwt() -> (BackendClients, Vec<HeaderMap>) {
    let key = testkeys::rsa_a();
    let mut policy = policy();
    policy.jwt_providers = vec![JwtProvider {
        issuer: "https://idp.example.com".into(),
        audiences: vec!["agw".into()],
        jwks: JwksSource::Inline(String::new()),
        claims: BTreeMap::new(),
        identity_claim: "sub".into(),
        groups_claim: Some("groups".into()),
    }];
    let keys = KeySet::Fixed(Arc::new(testkeys::parsed(&[key.jwk("k1")])));
    let verifier = JwtVerifier::new(vec![(policy.jwt_providers[0].clone(), keys)]);
    let exp = super::unix_now() + 3600;
    let headers = (0..IDENTITIES)
        .map(|i| {
            let claims = serde_json::json!({"iss": "https://idp.example.com", "aud": "agw",
                "sub": format!("user-{i}"), "groups": [format!("g{}", i % 50)], "exp": exp});
            bearer(&testkeys::token(
                &key,
                &serde_json::json!({"alg": "RS256", "kid": "k1"}),
                &claims,
            ))
        })
        .collect();
    (
        BackendClients::new("ns/b", &policy, None, Some(verifier)),
        headers,
    )
}

fn measure(label: &str, clients: &BackendClients, headers: &[HeaderMap]) {
    let limiter = Arc::new(Limiter::default());
    let check = |i: usize| {
        let started = Instant::now();
        let identity = clients
            .authenticate(&headers[i % headers.len()])
            .now_or_never()
            .unwrap_or_else(|| panic!("authentication waited"))
            .unwrap_or_else(|e| panic!("{e}"));
        let ticket = clients
            .admit(&limiter, identity.as_ref(), None)
            .now_or_never()
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        let took = started.elapsed();
        drop(ticket);
        took
    };
    println!(
        "\nclient policy check (authenticate + allow list + 3 budgets), {label}, {IDENTITIES} identities, µs"
    );
    println!(
        "{:<22} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "load", "samples", "rate/s", "p50", "p90", "p99", "p99.9", "max"
    );
    // Every identity once, in order: for JWTs, each token's first (verifying) sight.
    let started = Instant::now();
    let samples: Vec<Duration> = (0..headers.len()).map(check).collect();
    row("first sight", samples, started.elapsed());
    // Paced at 1000 requests a second, identities in a scattered order, as a real load.
    let started = Instant::now();
    let mut samples = Vec::new();
    for n in 0..10_000usize {
        let due = started + Duration::from_micros(n as u64 * 1000);
        while Instant::now() < due {
            std::thread::yield_now();
        }
        samples.push(check(n.wrapping_mul(7919)));
    }
    row("paced 1000/s", samples, started.elapsed());
    let started = Instant::now();
    let samples: Vec<Duration> = (0..200_000usize)
        .map(|n| check(n.wrapping_mul(7919)))
        .collect();
    row("back to back", samples, started.elapsed());
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture (and --release)"]
fn authentication_and_budget_check_with_10k_identities() {
    let (clients, headers) = setup();
    measure("gateway keys", &clients, &headers);
    let (clients, headers) = setup_jwt();
    measure("RS256 JWTs", &clients, &headers);
}

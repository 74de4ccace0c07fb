use agw_policy::bundle::LimitSubject;
use agw_policy::client_keys;
use http::HeaderValue;

use futures_util::FutureExt as _;

use super::*;

const ALICE: &str = "agw-alice-0123456789";
const BOB: &str = "agw-bob-0123456789ab";

fn clients(allow: Option<Vec<AllowRule>>, limits: Vec<Limit>) -> BackendClients {
    let entries = vec![
        client_keys::parse_entry(
            "t",
            "alice",
            &format!(r#"{{"key": "{ALICE}", "metadata": {{"groups": ["dev"]}}}}"#),
        )
        .unwrap(),
        client_keys::parse_entry("t", "bob", BOB).unwrap(),
    ];
    let policy = ClientPolicy {
        key_sources: Vec::new(),
        jwt_providers: Vec::new(),
        allow,
        limits,
    };
    BackendClients::new("ns/b", &policy, Some(KeyTable::new(entries).unwrap()), None)
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

#[test]
fn a_key_in_either_header_names_its_identity() {
    let clients = clients(None, Vec::new());
    let by_bearer = clients
        .authenticate(&headers("authorization", &format!("Bearer {ALICE}")))
        .now_or_never()
        .unwrap();
    assert_eq!(&*by_bearer.unwrap().unwrap().name, "alice");
    let by_api_key = clients
        .authenticate(&headers("x-api-key", BOB))
        .now_or_never()
        .unwrap();
    assert_eq!(&*by_api_key.unwrap().unwrap().name, "bob");
    let lower = clients
        .authenticate(&headers("authorization", &format!("bearer {BOB}")))
        .now_or_never()
        .unwrap();
    assert_eq!(&*lower.unwrap().unwrap().name, "bob");
}

#[test]
fn a_missing_or_unknown_key_is_401_without_retry() {
    let clients = clients(None, Vec::new());
    let missing = clients
        .authenticate(&HeaderMap::new())
        .now_or_never()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        missing,
        ProxyError::Unauthenticated { presented: false }
    ));
    let wrong = clients
        .authenticate(&headers("x-api-key", "agw-mallory-0123456789"))
        .now_or_never()
        .unwrap()
        .unwrap_err();
    assert!(wrong.to_string().contains("not valid"), "{wrong}");
    let response = wrong.into_response();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-should-retry"], "false");
}

#[test]
fn the_allow_list_names_identities_groups_and_models() {
    let rules = vec![
        AllowRule {
            groups: vec!["dev".into()],
            ..AllowRule::default()
        },
        AllowRule {
            identities: vec!["bob".into()],
            models: vec!["claude-haiku-*".into()],
            ..AllowRule::default()
        },
    ];
    let clients = clients(Some(rules), Vec::new());
    assert!(clients.needs_model());
    let limiter = Arc::new(Limiter::default());
    let alice = clients
        .authenticate(&headers("x-api-key", ALICE))
        .now_or_never()
        .unwrap()
        .unwrap();
    let bob = clients
        .authenticate(&headers("x-api-key", BOB))
        .now_or_never()
        .unwrap()
        .unwrap();
    assert!(
        clients
            .admit(&limiter, alice.as_ref(), Some("claude-opus-4"))
            .now_or_never()
            .unwrap()
            .is_ok()
    );
    assert!(
        clients
            .admit(&limiter, bob.as_ref(), Some("claude-haiku-4-5"))
            .now_or_never()
            .unwrap()
            .is_ok()
    );
    let denied = clients
        .admit(&limiter, bob.as_ref(), Some("claude-opus-4"))
        .now_or_never()
        .unwrap()
        .unwrap_err();
    assert_eq!(denied.status().0, 403);
    assert!(denied.to_string().contains("\"bob\""), "{denied}");
    // A model-bound rule never matches a request whose model is unknown.
    assert!(
        clients
            .admit(&limiter, bob.as_ref(), None)
            .now_or_never()
            .unwrap()
            .is_err()
    );
}

#[test]
fn a_spent_daily_budget_says_when_and_is_not_retried() {
    let limits = vec![Limit {
        kind: LimitKind::Tokens,
        amount: 10,
        window_seconds: 86_400,
        per: LimitSubject::Identity,
        identities: vec!["bob".into()],
    }];
    let clients = clients(None, limits);
    let limiter = Arc::new(Limiter::default());
    let bob = clients
        .authenticate(&headers("x-api-key", BOB))
        .now_or_never()
        .unwrap()
        .unwrap();
    let ticket = clients
        .admit(&limiter, bob.as_ref(), None)
        .now_or_never()
        .unwrap()
        .unwrap();
    let charged = ticket.settle(&Usage {
        input: Some(5),
        output: Some(4),
        cache_read: Some(1),
        cache_creation: None,
    });
    assert_eq!(charged, 10);
    let refused = clients
        .admit(&limiter, bob.as_ref(), None)
        .now_or_never()
        .unwrap()
        .unwrap_err();
    let response = refused.into_response();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-should-retry"], "false");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry_after));
    let alice = clients
        .authenticate(&headers("x-api-key", ALICE))
        .now_or_never()
        .unwrap()
        .unwrap();
    assert!(
        clients
            .admit(&limiter, alice.as_ref(), None)
            .now_or_never()
            .unwrap()
            .is_ok(),
        "the budget is bob's alone"
    );
}

#[test]
fn a_per_minute_limit_may_be_retried() {
    let err = ProxyError::RateLimited {
        retry_after: 20,
        what: "1 requests per minute".into(),
    };
    let response = err.into_response();
    assert_eq!(response.headers()["x-should-retry"], "true");
    assert_eq!(response.headers()["retry-after"], "20");
}

/// Gateway keys and a JWT issuer on one backend: either credential is accepted.
fn keys_and_tokens() -> (BackendClients, jwt::testkeys::Key) {
    let key = jwt::testkeys::p256();
    let provider = agw_policy::bundle::JwtProvider {
        issuer: "https://idp".into(),
        audiences: vec!["agw".into()],
        jwks: agw_policy::bundle::JwksSource::Inline(String::new()),
        claims: std::collections::BTreeMap::new(),
        identity_claim: "email".into(),
        groups_claim: None,
    };
    let keys = jwt::KeySet::Fixed(Arc::new(jwt::testkeys::parsed(&[key.jwk("k")])));
    let verifier = JwtVerifier::new(vec![(provider, keys)]);
    let entries = vec![client_keys::parse_entry("t", "bob", BOB).unwrap()];
    let policy = ClientPolicy::default();
    let clients = BackendClients::new(
        "ns/b",
        &policy,
        Some(KeyTable::new(entries).unwrap()),
        Some(verifier),
    );
    (clients, key)
}

#[test]
fn gateway_keys_and_tokens_are_both_accepted() {
    let (clients, key) = keys_and_tokens();
    let claims = serde_json::json!({"iss": "https://idp", "aud": "agw", "email": "carol@example.com",
                                    "exp": unix_now() + 600});
    let token = jwt::testkeys::token(
        &key,
        &serde_json::json!({"alg": "ES256", "kid": "k"}),
        &claims,
    );
    let sent = headers("authorization", &format!("Bearer {token}"));
    let by_token = clients
        .authenticate(&sent)
        .now_or_never()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&*by_token.name, "carol@example.com");
    let by_key = clients
        .authenticate(&headers("x-api-key", BOB))
        .now_or_never()
        .unwrap();
    assert_eq!(&*by_key.unwrap().unwrap().name, "bob");
    assert_eq!(clients.identities(), Some(1));
}

#[test]
fn a_refused_token_is_401_saying_why_without_echoing_it() {
    let (clients, key) = keys_and_tokens();
    let claims = serde_json::json!({"iss": "https://idp", "aud": "other", "email": "carol@example.com",
                                    "exp": unix_now() + 600});
    let token = jwt::testkeys::token(
        &key,
        &serde_json::json!({"alg": "ES256", "kid": "k"}),
        &claims,
    );
    let sent = headers("x-api-key", &token);
    let refused = clients
        .authenticate(&sent)
        .now_or_never()
        .unwrap()
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("audience (aud) is not one this gateway accepts"),
        "{message}"
    );
    assert!(!message.contains(&token) && !message.contains(token.split('.').nth(1).unwrap()));
    let response = refused.into_response();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-should-retry"], "false");
    // A credential that is not a JWT is judged as a gateway key.
    let sent = headers("x-api-key", "agw-mallory-0123456789");
    let wrong = clients
        .authenticate(&sent)
        .now_or_never()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        wrong,
        ProxyError::Unauthenticated { presented: true }
    ));
}

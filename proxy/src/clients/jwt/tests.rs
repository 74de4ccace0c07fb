use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agw_policy::bundle::{JwksSource, JwtProvider};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::testkeys::{self, Key, forged, parsed, token};
use super::*;

const ISS: &str = "https://idp.example.com";
const NOW: u64 = 1_800_000_000;

fn provider() -> JwtProvider {
    JwtProvider {
        issuer: ISS.into(),
        audiences: vec!["agw".into()],
        jwks: JwksSource::Inline(String::new()),
        claims: [("team".to_owned(), "platform".to_owned())].into(),
        identity_claim: "sub".into(),
        groups_claim: Some("groups".into()),
    }
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": ["other", "agw"], "sub": "alice", "team": "platform",
           "groups": ["dev", "ops"], "exp": NOW + 600, "iat": NOW - 10})
}

fn fixed(keys: &[Value]) -> JwtVerifier {
    JwtVerifier::new(vec![(provider(), KeySet::Fixed(Arc::new(parsed(keys))))])
}

fn check(verifier: &JwtVerifier, token: &str, now: u64) -> Result<Arc<Identity>, TokenError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(verifier.verify(token.as_bytes(), now))
}

fn with(claims: Value, change: &[(&str, Value)]) -> Value {
    let mut claims = claims;
    for (k, v) in change {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(*k);
        } else {
            claims[*k] = v.clone();
        }
    }
    claims
}

#[test]
fn valid_tokens_of_every_key_type_name_their_identity_and_groups() {
    let cases: [(Key, &str); 5] = [
        (testkeys::rsa_a(), "RS256"),
        (testkeys::rsa_a(), "RS512"),
        (testkeys::rsa_a(), "PS256"),
        (testkeys::p256(), "ES256"),
        (testkeys::ed25519(), "EdDSA"),
    ];
    for (key, alg) in cases {
        let verifier = fixed(&[key.jwk("k1")]);
        let jwt = token(&key, &json!({"alg": alg, "kid": "k1"}), &claims());
        let identity = check(&verifier, &jwt, NOW).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(&*identity.name, "alice", "{alg}");
        assert_eq!(identity.groups, ["dev", "ops"]);
    }
}

#[test]
fn times_are_checked_with_a_minute_of_leeway() {
    let key = testkeys::rsa_a();
    let verifier = fixed(&[key.jwk("k1")]);
    let sign = |c: Value| token(&key, &json!({"alg": "RS256", "kid": "k1"}), &c);
    let expired = sign(with(claims(), &[("exp", json!(NOW - 61))]));
    assert_eq!(
        check(&verifier, &expired, NOW).unwrap_err(),
        TokenError::Expired(NOW - 61)
    );
    let skewed = sign(with(claims(), &[("exp", json!(NOW - 30))]));
    assert!(check(&verifier, &skewed, NOW).is_ok());
    let early = sign(with(claims(), &[("nbf", json!(NOW + 120))]));
    assert_eq!(
        check(&verifier, &early, NOW).unwrap_err(),
        TokenError::NotYetValid(NOW + 120)
    );
    let future = sign(with(claims(), &[("iat", json!(NOW + 120))]));
    assert_eq!(
        check(&verifier, &future, NOW).unwrap_err(),
        TokenError::IssuedInFuture(NOW + 120)
    );
    let forever = sign(with(claims(), &[("exp", Value::Null)]));
    assert_eq!(
        check(&verifier, &forever, NOW).unwrap_err(),
        TokenError::MissingExp
    );
    let message = TokenError::Expired(NOW - 61).to_string();
    assert_eq!(message, "the token expired at 2027-01-15T07:58:59Z");
}

#[test]
fn issuer_audience_and_claims_must_match() {
    let key = testkeys::ed25519();
    let verifier = fixed(&[key.jwk("k1")]);
    let sign = |c: Value| token(&key, &json!({"alg": "EdDSA", "kid": "k1"}), &c);
    let cases = [
        (
            with(claims(), &[("iss", json!("https://evil.example.com"))]),
            TokenError::UnknownIssuer,
        ),
        (
            with(claims(), &[("aud", json!("other"))]),
            TokenError::WrongAudience,
        ),
        (
            with(claims(), &[("aud", Value::Null)]),
            TokenError::WrongAudience,
        ),
        (
            with(claims(), &[("team", json!("sales"))]),
            TokenError::Claim("team".into()),
        ),
        (
            with(claims(), &[("sub", json!(""))]),
            TokenError::NoIdentity("sub".into()),
        ),
        (
            with(claims(), &[("sub", json!(42))]),
            TokenError::NoIdentity("sub".into()),
        ),
    ];
    for (claims, expected) in cases {
        assert_eq!(
            check(&verifier, &sign(claims.clone()), NOW).unwrap_err(),
            expected,
            "{claims}"
        );
    }
    let single = sign(with(claims(), &[("aud", json!("agw"))]));
    assert!(check(&verifier, &single, NOW).is_ok());
}

#[test]
fn unsigned_symmetric_and_confused_tokens_are_refused() {
    let key = testkeys::rsa_a();
    let jwk = key.jwk("k1");
    let verifier = fixed(std::slice::from_ref(&jwk));
    let none = forged(&json!({"alg": "none", "kid": "k1"}), &claims(), b"");
    assert_eq!(
        check(&verifier, &none, NOW).unwrap_err(),
        TokenError::Unsigned
    );
    // The classic confusion: HS256 keyed with the RSA public key's bytes.
    let header = json!({"alg": "HS256", "kid": "k1"});
    let signed = format!(
        "{}.{}",
        testkeys::b64(header.to_string().as_bytes()),
        testkeys::b64(claims().to_string().as_bytes())
    );
    let modulus = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        jwk["n"].as_str().unwrap(),
    )
    .unwrap();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &modulus),
        signed.as_bytes(),
    );
    let confused = format!("{signed}.{}", testkeys::b64(mac.as_ref()));
    assert_eq!(
        check(&verifier, &confused, NOW).unwrap_err(),
        TokenError::Symmetric("HS256".into())
    );
    // An EC signature presented under the RSA key's kid.
    let ec = token(
        &testkeys::p256(),
        &json!({"alg": "ES256", "kid": "k1"}),
        &claims(),
    );
    assert_eq!(
        check(&verifier, &ec, NOW).unwrap_err(),
        TokenError::KeyMismatch("ES256")
    );
    // A key pinned to RS256 does not verify PS256.
    let pinned = fixed(&[with(jwk, &[("alg", json!("RS256"))])]);
    let pss = token(&key, &json!({"alg": "PS256", "kid": "k1"}), &claims());
    assert_eq!(
        check(&pinned, &pss, NOW).unwrap_err(),
        TokenError::KeyMismatch("PS256")
    );
}

#[test]
fn tampered_or_foreign_signatures_are_refused() {
    let key = testkeys::rsa_a();
    let verifier = fixed(&[key.jwk("k1")]);
    let jwt = token(&key, &json!({"alg": "RS256", "kid": "k1"}), &claims());
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[2])
            .unwrap();
    sig[10] ^= 1;
    parts[2] = testkeys::b64(&sig);
    assert_eq!(
        check(&verifier, &parts.join("."), NOW).unwrap_err(),
        TokenError::BadSignature
    );
    let other = token(
        &testkeys::rsa_b(),
        &json!({"alg": "RS256", "kid": "k1"}),
        &claims(),
    );
    assert_eq!(
        check(&verifier, &other, NOW).unwrap_err(),
        TokenError::BadSignature
    );
    let escalated = with(claims(), &[("sub", json!("admin"))]);
    let swapped = format!(
        "{}.{}.{}",
        jwt.split('.').next().unwrap(),
        testkeys::b64(escalated.to_string().as_bytes()),
        jwt.split('.').nth(2).unwrap()
    );
    assert_eq!(
        check(&verifier, &swapped, NOW).unwrap_err(),
        TokenError::BadSignature
    );
    let unknown = token(&key, &json!({"alg": "RS256", "kid": "k9"}), &claims());
    assert_eq!(
        check(&verifier, &unknown, NOW).unwrap_err(),
        TokenError::UnknownKey("k9".into())
    );
    for junk in ["eyJ.a", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", ""] {
        assert_eq!(
            check(&verifier, junk, NOW).unwrap_err(),
            TokenError::Malformed,
            "{junk}"
        );
    }
}

#[test]
fn a_verified_token_is_remembered_until_it_expires() {
    let key = testkeys::rsa_a();
    let verifier = fixed(&[key.jwk("k1")]);
    let jwt = token(&key, &json!({"alg": "RS256", "kid": "k1"}), &claims());
    assert!(check(&verifier, &jwt, NOW).is_ok());
    assert!(
        verifier
            .cache
            .get(&Sha256::digest(jwt.as_bytes()).into(), NOW)
            .is_some()
    );
    let late = NOW + 600 + token::LEEWAY_SECS + 1;
    assert_eq!(
        check(&verifier, &jwt, late).unwrap_err(),
        TokenError::Expired(NOW + 600)
    );
}

/// A JWKS server on 127.0.0.1 serving whatever `body` holds, counting requests.
async fn jwks_server(body: Arc<std::sync::Mutex<String>>, hits: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            hits.fetch_add(1, Ordering::SeqCst);
            let text = body.lock().unwrap().clone();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}/jwks")
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_remote_set_once_then_a_rotated_key_passes() {
    let (a, b) = (testkeys::rsa_a(), testkeys::rsa_b());
    let body = Arc::new(std::sync::Mutex::new(testkeys::jwks_json(&[a.jwk("a")])));
    let hits = Arc::new(AtomicUsize::new(0));
    let uri = jwks_server(body.clone(), hits.clone()).await;
    let remote = Remote::new(uri.parse().unwrap(), Duration::from_mins(5));
    let verifier = JwtVerifier::new(vec![(provider(), KeySet::Remote(Arc::new(remote)))]);
    let now = super::super::unix_now();
    let claims = with(claims(), &[("exp", json!(now + 600)), ("iat", json!(now))]);
    let old = token(&a, &json!({"alg": "RS256", "kid": "a"}), &claims);
    assert_eq!(
        &*verifier.verify(old.as_bytes(), now).await.unwrap().name,
        "alice"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "first use fetches");
    // The issuer rotates to key b; a token signed with b names a kid agw has not seen.
    *body.lock().unwrap() = testkeys::jwks_json(&[a.jwk("a"), b.jwk("b")]);
    let rotated = token(&b, &json!({"alg": "RS256", "kid": "b"}), &claims);
    assert!(verifier.verify(rotated.as_bytes(), now).await.is_ok());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one refresh for the unknown kid"
    );
    // Invented kids right after a refresh do not reach the identity provider.
    let invented = token(&b, &json!({"alg": "RS256", "kid": "zzz"}), &claims);
    for _ in 0..5 {
        assert_eq!(
            verifier.verify(invented.as_bytes(), now).await.unwrap_err(),
            TokenError::UnknownKey("zzz".into())
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_set_is_a_clear_refusal_within_the_wait() {
    let mut remote = Remote::new(
        "http://127.0.0.1:9/jwks".parse().unwrap(),
        Duration::from_mins(5),
    );
    remote.wait = Duration::from_secs(2);
    let verifier = JwtVerifier::new(vec![(provider(), KeySet::Remote(Arc::new(remote)))]);
    let jwt = token(
        &testkeys::rsa_a(),
        &json!({"alg": "RS256", "kid": "a"}),
        &claims(),
    );
    let started = std::time::Instant::now();
    let err = verifier.verify(jwt.as_bytes(), NOW).await.unwrap_err();
    assert!(matches!(err, TokenError::KeysUnavailable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn set(keys: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
}

#[test]
fn reads_rsa_ec_and_ed25519_keys_and_skips_encryption_keys() {
    let text = set(&[
        serde_json::json!({"kty": "RSA", "kid": "r", "n": b64(&[0xc1; 256]), "e": "AQAB", "alg": "RS256"}),
        serde_json::json!({"kty": "EC", "kid": "p", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])}),
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[3; 32])}),
        serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AA", "e": "AQAB"}),
    ]);
    let keys = parse(&text).unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0].alg, Some(Alg::Rs256));
    assert!(keys[0].verifies(Alg::Rs256));
    assert!(!keys[0].verifies(Alg::Ps256), "the key's own alg pins it");
    assert!(keys[1].verifies(Alg::Es256));
    assert!(!keys[1].verifies(Alg::Es384));
    assert!(!keys[1].verifies(Alg::Rs256));
    assert!(keys[2].verifies(Alg::EdDsa));
    assert!(!keys[2].verifies(Alg::Es256));
    let PublicKey::P256 { point } = &keys[1].key else {
        panic!("{:?}", keys[1]);
    };
    assert_eq!(point.len(), 65);
    assert_eq!(point[0], 4);
}

#[test]
fn symmetric_private_and_unknown_keys_are_refused_by_name() {
    let cases = [
        (
            serde_json::json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"}),
            "symmetric",
        ),
        (
            serde_json::json!({"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "d": "AQAB"}),
            "private key",
        ),
        (
            serde_json::json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            "P-521",
        ),
        (
            serde_json::json!({"kty": "RSA", "kid": "r", "e": "AQAB"}),
            "no `n`",
        ),
        (
            serde_json::json!({"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "alg": "HS256"}),
            "HS256",
        ),
        (
            serde_json::json!({"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "alg": "ES256"}),
            "does not fit",
        ),
        (
            serde_json::json!({"kty": "EC", "kid": "p", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[2; 32])}),
            "coordinate",
        ),
    ];
    for (key, expected) in cases {
        let err = parse(&set(std::slice::from_ref(&key)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{key}: {err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}

#[test]
fn not_a_set_or_an_empty_one_is_refused() {
    assert!(matches!(parse(b"{}"), Err(JwksError::Format(_))));
    assert!(matches!(parse(b"not json"), Err(JwksError::Format(_))));
    assert_eq!(parse(&set(&[])), Err(JwksError::Empty));
    let big = vec![b' '; MAX_JWKS_BYTES + 1];
    assert!(matches!(parse(&big), Err(JwksError::TooLarge(_))));
}

#[test]
fn none_and_hmac_are_not_algorithms() {
    for name in ["none", "HS256", "HS384", "HS512", "rs256", ""] {
        assert_eq!(Alg::parse(name), None, "{name}");
    }
}

//! Test keys (generated once with `openssl genpkey`, in `testdata/`) and a token minter:
//! the tests sign real tokens with `ring` and verify them through the product's path.

use agw_policy::jwks::{self, Jwk};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

/// A private key of one of the test types.
pub enum Key {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

pub fn rsa_a() -> Key {
    Key::Rsa(RsaKeyPair::from_pkcs8(&der(include_str!("testdata/rsa-a.pem"))).unwrap())
}

pub fn rsa_b() -> Key {
    Key::Rsa(RsaKeyPair::from_pkcs8(&der(include_str!("testdata/rsa-b.pem"))).unwrap())
}

pub fn p256() -> Key {
    let der = der(include_str!("testdata/ec-p256.pem"));
    let rng = SystemRandom::new();
    Key::P256(
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).unwrap(),
    )
}

pub fn ed25519() -> Key {
    Key::Ed(
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der(include_str!("testdata/ed25519.pem")))
            .unwrap(),
    )
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Key {
    /// The public JWK, with `kid`.
    pub fn jwk(&self, kid: &str) -> serde_json::Value {
        match self {
            Self::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                serde_json::json!({"kty": "RSA", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)})
            }
            Self::P256(k) => {
                let p = k.public_key().as_ref();
                serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..])})
            }
            Self::Ed(k) => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// Signs `header.payload` as `alg` (`RS256`, `PS256`, `ES256` or `EdDSA`).
    pub fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(k) => {
                let padding: &dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(padding, &rng, message, &mut sig).unwrap();
                sig
            }
            Self::P256(k) => k.sign(&rng, message).unwrap().as_ref().to_vec(),
            Self::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }
}

/// A JWKS document holding `keys`.
pub fn jwks_json(keys: &[serde_json::Value]) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

/// The parsed keys of a JWKS document.
pub fn parsed(keys: &[serde_json::Value]) -> Vec<Jwk> {
    jwks::parse(jwks_json(keys).as_bytes()).unwrap()
}

/// A token with `header` and `claims`, signed by `key` as the header's `alg`.
pub fn token(key: &Key, header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let alg = header["alg"].as_str().unwrap();
    let sig = key.sign(alg, signed.as_bytes());
    format!("{signed}.{}", b64(&sig))
}

/// A token with any signature bytes (for `none` and confusion attacks).
pub fn forged(header: &serde_json::Value, claims: &serde_json::Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

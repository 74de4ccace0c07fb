//! JSON Web Key Sets (`jwtAuthentication.providers[].jwks`): what a set must hold for agw to
//! verify tokens with it, and which token algorithm each key may verify.
//!
//! The compiler (an `inline` set), the proxy (every set it loads or fetches) and the operator
//! (a Secret or ConfigMap set, for the status) read sets here, so they cannot disagree on a
//! format. Owns parsing keys into their raw public parts and the key/algorithm pairing that
//! makes algorithm confusion impossible: an RSA key verifies only `RS*`/`PS*`, a P-256 key
//! only `ES256`, a P-384 key only `ES384`, an Ed25519 key only `EdDSA`, and symmetric (`oct`)
//! keys are refused outright. Must not verify signatures (the proxy does, with `ring`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Largest set accepted (bytes): an identity provider's set is a few kilobytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A signature algorithm agw verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// The algorithm a JOSE `alg` names; `None` for `none`, `HS*` and anything unknown.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "EdDSA" => Self::EdDsa,
            _ => return None,
        })
    }

    /// Whether `key` may verify this algorithm (its type and curve; its own `alg`, if any,
    /// is checked by [`Jwk::verifies`]).
    pub fn fits(self, key: &PublicKey) -> bool {
        matches!(
            (self, key),
            (
                Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512,
                PublicKey::Rsa { .. }
            ) | (Self::Es256, PublicKey::P256 { .. })
                | (Self::Es384, PublicKey::P384 { .. })
                | (Self::EdDsa, PublicKey::Ed25519 { .. })
        )
    }
}

/// The public part of a key, as the verifier needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA modulus and exponent, big-endian.
    Rsa {
        /// `n`.
        n: Vec<u8>,
        /// `e`.
        e: Vec<u8>,
    },
    /// A P-256 point, uncompressed (`0x04 ‖ x ‖ y`).
    P256 {
        /// The point.
        point: Vec<u8>,
    },
    /// A P-384 point, uncompressed.
    P384 {
        /// The point.
        point: Vec<u8>,
    },
    /// An Ed25519 public key.
    Ed25519 {
        /// `x`.
        x: Vec<u8>,
    },
}

/// One usable key of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// Its own `alg`, when it declares one: then it verifies that algorithm only.
    pub alg: Option<Alg>,
    /// The key.
    pub key: PublicKey,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`.
    pub fn verifies(&self, alg: Alg) -> bool {
        alg.fits(&self.key) && self.alg.is_none_or(|own| own == alg)
    }
}

/// Why a set cannot be used; names keys by `kid` or position, never quotes key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not JSON, or not `{"keys": [...]}`.
    #[error("not a JSON Web Key Set ({0}); expected {{\"keys\": [{{\"kty\": ...}}]}}")]
    Format(String),
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("the key set is {0} bytes; at most {MAX_JWKS_BYTES} are accepted")]
    TooLarge(usize),
    /// A key agw cannot or must not use.
    #[error("key {at}: {reason}")]
    Key {
        /// `kid "abc"` or `#2`.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// No key left to verify signatures with.
    #[error("the key set has no signing key")]
    Empty,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<serde_json::Value>,
    // `x5c`, `key_ops` and the like are the issuer's; agw reads the raw public parts.
    #[serde(flatten)]
    _other: BTreeMap<String, serde_json::Value>,
}

/// Reads a set: every signing key, or every reason one is unusable.
pub fn parse(text: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    if text.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge(text.len()));
    }
    let set: RawSet = serde_json::from_slice(text).map_err(|e| JwksError::Format(e.to_string()))?;
    let mut keys = Vec::new();
    for (i, raw) in set.keys.into_iter().enumerate() {
        let at = raw
            .kid
            .as_ref()
            .map_or_else(|| format!("#{i}"), |kid| format!("kid {kid:?}"));
        if raw.usage.as_deref() == Some("enc") {
            continue; // an encryption key never verifies a signature
        }
        keys.push(key(raw).map_err(|reason| JwksError::Key { at, reason })?);
    }
    if keys.is_empty() {
        return Err(JwksError::Empty);
    }
    Ok(keys)
}

fn key(raw: RawKey) -> Result<Jwk, String> {
    if raw.d.is_some() {
        return Err("holds a private key (`d`); publish only the public key".into());
    }
    let alg = match raw.alg.as_deref() {
        None => None,
        Some(name) => Some(Alg::parse(name).ok_or_else(|| {
            format!("alg {name:?} is not one agw verifies (RS*, PS*, ES256, ES384, EdDSA)")
        })?),
    };
    let key = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => PublicKey::Rsa {
            n: member("n", raw.n.as_deref())?,
            e: member("e", raw.e.as_deref())?,
        },
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let size = if crv == "P-256" { 32 } else { 48 };
            let mut point = vec![4u8];
            for (name, value) in [("x", raw.x.as_deref()), ("y", raw.y.as_deref())] {
                let part = member(name, value)?;
                if part.len() != size {
                    return Err(format!("`{name}` is not a {crv} coordinate"));
                }
                point.extend(part);
            }
            if crv == "P-256" {
                PublicKey::P256 { point }
            } else {
                PublicKey::P384 { point }
            }
        }
        ("OKP", Some("Ed25519")) => {
            let x = member("x", raw.x.as_deref())?;
            if x.len() != 32 {
                return Err("`x` is not an Ed25519 public key".into());
            }
            PublicKey::Ed25519 { x }
        }
        ("oct", _) => {
            return Err(
                "a symmetric (`oct`) key: agw verifies only public-key signatures, so HS* tokens are refused"
                    .into(),
            );
        }
        (kty, crv) => {
            return Err(format!(
                "kty {kty:?}{} is not one agw verifies (RSA, EC P-256/P-384, OKP Ed25519)",
                crv.map(|c| format!(" crv {c:?}")).unwrap_or_default()
            ));
        }
    };
    if let Some(alg) = alg.filter(|a| !a.fits(&key)) {
        return Err(format!(
            "alg {alg:?} does not fit its key type {:?}",
            raw.kty
        ));
    }
    Ok(Jwk {
        kid: raw.kid,
        alg,
        key,
    })
}

fn member(name: &str, value: Option<&str>) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("no `{name}`"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("`{name}` is not base64url"))?;
    if bytes.is_empty() {
        return Err(format!("`{name}` is empty"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;

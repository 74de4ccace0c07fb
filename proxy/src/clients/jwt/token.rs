//! One token, checked: its shape, its algorithm against the key that verifies it, its
//! signature (with `ring`), and its claims (issuer, audience, times, required claims, the
//! identity and groups).
//!
//! Owns the reasons a token is refused, worded for the person holding it. Must not quote
//! the token (nor any part of it but a `kid` and an `alg`), and must not fetch keys: the
//! caller hands over the candidate keys.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use agw_policy::bundle::JwtProvider;
use agw_policy::jwks::{Alg, Jwk, PublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 60;
/// Longest token read; an identity provider's token is a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token is refused; its `Display` is what the client is told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON header and payload.
    #[error("the token is not a JWT (header.payload.signature)")]
    Malformed,
    /// `alg: none`.
    #[error("the token is unsigned (alg none)")]
    Unsigned,
    /// `HS256` and friends: a shared secret, which agw never accepts.
    #[error("the token is signed with {0}, a shared-secret algorithm agw does not accept")]
    Symmetric(String),
    /// An algorithm agw does not verify.
    #[error("the token's algorithm is not one agw verifies (RS*, PS*, ES256, ES384, EdDSA)")]
    UnsupportedAlg,
    /// No configured provider has the token's `iss`.
    #[error("the token's issuer (iss) is not trusted by this gateway")]
    UnknownIssuer,
    /// No key with the token's `kid`, even after refreshing the set.
    #[error("the token was signed by an unknown key (kid {0:?})")]
    UnknownKey(String),
    /// The key named fits another algorithm (or no key fits the token's).
    #[error("no key of the issuer verifies {0} tokens")]
    KeyMismatch(&'static str),
    /// The signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// No `exp`.
    #[error("the token has no expiry (exp); agw accepts only tokens that expire")]
    MissingExp,
    /// `exp` is past (beyond the leeway).
    #[error("the token expired at {}", when(*.0))]
    Expired(u64),
    /// `nbf` is ahead (beyond the leeway).
    #[error("the token is not valid before {}", when(*.0))]
    NotYetValid(u64),
    /// `iat` is ahead (beyond the leeway).
    #[error("the token was issued in the future ({})", when(*.0))]
    IssuedInFuture(u64),
    /// No accepted `aud`.
    #[error("the token's audience (aud) is not one this gateway accepts")]
    WrongAudience,
    /// A required claim is missing or has another value.
    #[error("the token's claim {0:?} does not have the required value")]
    Claim(String),
    /// The identity claim is missing or not a non-empty string.
    #[error("the token has no {0:?} claim naming who is calling")]
    NoIdentity(String),
    /// The issuer's keys could not be had.
    #[error("the issuer's keys are not available ({0})")]
    KeysUnavailable(String),
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The signed part (`header.payload`).
    signed: &'a [u8],
    signature: Vec<u8>,
    /// The algorithm.
    pub alg: Alg,
    /// The key id, when the header has one.
    pub kid: Option<String>,
    /// The payload's claims.
    pub claims: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Splits and decodes `token`, refusing `none`, `HS*` and unknown algorithms.
pub fn parse(token: &[u8]) -> Result<Parsed<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split(|b| *b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &[u8]| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
    if header.crit.is_some() {
        // Critical extensions agw does not know must make the token invalid (RFC 7515 §4.1.11).
        return Err(TokenError::UnsupportedAlg);
    }
    let alg = match Alg::parse(&header.alg) {
        Some(alg) => alg,
        None if header.alg.eq_ignore_ascii_case("none") => return Err(TokenError::Unsigned),
        None if header.alg.starts_with("HS") => {
            return Err(TokenError::Symmetric(header.alg.chars().take(8).collect()));
        }
        None => return Err(TokenError::UnsupportedAlg),
    };
    let claims = serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
    let signed_len = token.len() - signature.len() - 1;
    Ok(Parsed {
        signed: &token[..signed_len],
        signature: decode(signature)?,
        alg,
        kid: header.kid,
        claims,
    })
}

impl Parsed<'_> {
    /// The `iss` claim, to pick the provider.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Verifies the signature with the first of `keys` that fits: the key's type and its own
    /// `alg` must match the token's algorithm, so an RSA public key can never serve as an
    /// HMAC secret, nor an EC key for an RSA signature.
    pub fn verify_signature<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k Jwk>,
    ) -> Result<(), TokenError> {
        let mut fitting = keys.into_iter().filter(|k| k.verifies(self.alg)).peekable();
        if fitting.peek().is_none() {
            return Err(TokenError::KeyMismatch(alg_name(self.alg)));
        }
        if fitting.any(|key| verify(self.alg, &key.key, self.signed, &self.signature)) {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Checks the claims against `provider` at `now` (Unix seconds); returns the identity,
    /// its groups and the expiry.
    pub fn check_claims(
        &self,
        provider: &JwtProvider,
        now: u64,
    ) -> Result<(String, Vec<String>, u64), TokenError> {
        let time = |name: &str| self.claims.get(name).and_then(Value::as_u64);
        let exp = time("exp").ok_or(TokenError::MissingExp)?;
        if now > exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired(exp));
        }
        if let Some(nbf) = time("nbf").filter(|nbf| *nbf > now.saturating_add(LEEWAY_SECS)) {
            return Err(TokenError::NotYetValid(nbf));
        }
        if let Some(iat) = time("iat").filter(|iat| *iat > now.saturating_add(LEEWAY_SECS)) {
            return Err(TokenError::IssuedInFuture(iat));
        }
        if self.issuer() != Some(provider.issuer.as_str()) {
            return Err(TokenError::UnknownIssuer);
        }
        let audience_ok = match self.claims.get("aud") {
            Some(Value::String(aud)) => provider.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| provider.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }
        for (name, wanted) in &provider.claims {
            let found = self.claims.get(name);
            let matches = match found {
                Some(Value::String(value)) => value == wanted,
                // `"true"` or `"42"` in the spec match a boolean or numeric claim.
                Some(value @ (Value::Bool(_) | Value::Number(_))) => {
                    serde_json::from_str::<Value>(wanted).is_ok_and(|w| w == *value)
                }
                _ => false,
            };
            if !matches {
                return Err(TokenError::Claim(name.clone()));
            }
        }
        let identity = self
            .claims
            .get(&provider.identity_claim)
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| TokenError::NoIdentity(provider.identity_claim.clone()))?;
        let groups = match provider
            .groups_claim
            .as_ref()
            .and_then(|c| self.claims.get(c))
        {
            Some(Value::String(group)) => vec![group.clone()],
            Some(Value::Array(groups)) => groups
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Ok((identity.to_owned(), groups, exp))
    }
}

fn verify(alg: Alg, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    let rsa: &signature::RsaParameters = match alg {
        Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
        Alg::Es256 | Alg::Es384 | Alg::EdDsa => {
            let (algorithm, bytes): (&dyn signature::VerificationAlgorithm, &[u8]) =
                match (alg, key) {
                    (Alg::Es256, PublicKey::P256 { point }) => {
                        (&signature::ECDSA_P256_SHA256_FIXED, point)
                    }
                    (Alg::Es384, PublicKey::P384 { point }) => {
                        (&signature::ECDSA_P384_SHA384_FIXED, point)
                    }
                    (Alg::EdDsa, PublicKey::Ed25519 { x }) => (&signature::ED25519, x),
                    _ => return false,
                };
            return UnparsedPublicKey::new(algorithm, bytes)
                .verify(message, sig)
                .is_ok();
        }
    };
    let PublicKey::Rsa { n, e } = key else {
        return false;
    };
    // ring wants the modulus without leading zeros; some issuers pad it.
    let n = &n[n.iter().take_while(|b| **b == 0).count()..];
    RsaPublicKeyComponents { n, e }
        .verify(rsa, message, sig)
        .is_ok()
}

/// The JOSE name of `alg`, for messages.
pub fn alg_name(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => "RS256",
        Alg::Rs384 => "RS384",
        Alg::Rs512 => "RS512",
        Alg::Ps256 => "PS256",
        Alg::Ps384 => "PS384",
        Alg::Ps512 => "PS512",
        Alg::Es256 => "ES256",
        Alg::Es384 => "ES384",
        Alg::EdDsa => "EdDSA",
    }
}

fn when(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

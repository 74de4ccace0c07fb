//! JWT client authentication (`spec.policies.jwtAuthentication`): a token's issuer picks
//! its provider, the provider's keys verify its signature, its claims name the identity.
//!
//! Verified tokens are remembered by their SHA-256 until they expire (at most
//! [`CACHE_ENTRIES`]), so a client sending the same token on every request pays for one
//! signature check. Owns the verdict on a token; must not log or keep a token (only its
//! digest), and must not decide what an identity may do (the allow list and budgets do).

mod cache;
pub mod keyset;
pub mod load;
pub mod token;

use std::sync::Arc;

use agw_policy::bundle::JwtProvider;
use sha2::{Digest as _, Sha256};

use self::cache::Cache;
pub use self::keyset::{KeySet, Remote};
pub use self::token::TokenError;
use super::Identity;

/// Most verified tokens remembered per backend.
pub const CACHE_ENTRIES: usize = 16_384;

/// The providers of one backend and the tokens they verified.
#[derive(Debug)]
pub struct JwtVerifier {
    providers: Vec<(JwtProvider, KeySet)>,
    cache: Cache,
}

impl JwtVerifier {
    /// A verifier for `providers`, each with its keys.
    pub fn new(providers: Vec<(JwtProvider, KeySet)>) -> Self {
        Self {
            providers,
            cache: Cache::new(CACHE_ENTRIES),
        }
    }

    /// The identity `token` carries at `now` (Unix seconds), or why it is refused.
    pub async fn verify(&self, token: &[u8], now: u64) -> Result<Arc<Identity>, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        if let Some(identity) = self.cache.get(&digest, now) {
            return Ok(identity);
        }
        let parsed = token::parse(token)?;
        let (provider, keys) = self
            .providers
            .iter()
            .find(|(p, _)| parsed.issuer() == Some(p.issuer.as_str()))
            .ok_or(TokenError::UnknownIssuer)?;
        let keys = keys.keys_for(parsed.kid.as_deref()).await?;
        let named: Vec<_> = keys
            .iter()
            .filter(|k| parsed.kid.is_none() || k.kid == parsed.kid)
            .collect();
        if let (Some(kid), true) = (&parsed.kid, named.is_empty()) {
            return Err(TokenError::UnknownKey(kid.chars().take(64).collect()));
        }
        parsed.verify_signature(named)?;
        let (name, groups, exp) = parsed.check_claims(provider, now)?;
        let identity = Arc::new(Identity {
            name: Arc::from(name.as_str()),
            groups,
        });
        self.cache.put(
            digest,
            identity.clone(),
            exp.saturating_add(token::LEEWAY_SECS),
        );
        Ok(identity)
    }
}

/// Whether a presented credential has a JWT's shape (two dots, a JSON header): then it is
/// judged as a token, and refused with the token's reason.
pub fn looks_like_jwt(credential: &[u8]) -> bool {
    credential.starts_with(b"eyJ") && memchr::memchr_iter(b'.', credential).count() == 2
}

#[cfg(test)]
pub(crate) mod testkeys;
#[cfg(test)]
mod tests;

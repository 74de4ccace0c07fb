//! Building a backend's [`JwtVerifier`] from its bundle: inline sets as compiled, mounted
//! Secret/ConfigMap sets from their files (watched, so an edit reloads), standalone files'
//! Secrets from the manifest, remote sets as URLs fetched on first use.
//!
//! Owns turning [`JwksSource`]s into [`KeySet`]s; a set that does not parse refuses the whole
//! configuration (the previous one keeps serving). Must not fetch anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agw_policy::bundle::{JwksSource, JwtProvider};
use agw_policy::jwks;
use agw_policy::manifest::Documents;

use super::{JwtVerifier, KeySet, Remote};
use crate::clients::KeysError;

/// The verifier of `providers` as a pod sees them; also returns the files to watch.
pub fn from_mounts(
    providers: &[JwtProvider],
) -> Result<(Option<JwtVerifier>, Vec<PathBuf>), KeysError> {
    let mut watched = Vec::new();
    let verifier = build(providers, |mounted| {
        let path = Path::new(&mounted.dir).join(&mounted.key);
        let text = std::fs::read(&path).map_err(|source| KeysError::Read {
            path: path.clone(),
            source,
        })?;
        watched.push(path);
        Ok(text)
    })?;
    Ok((verifier, watched))
}

/// The verifier of `providers` for a standalone file, whose Secrets hold the mounted sets.
pub fn from_documents(
    providers: &[JwtProvider],
    documents: &Documents,
) -> Result<Option<JwtVerifier>, KeysError> {
    build(providers, |mounted| {
        if mounted.kind != "Secret" {
            return Err(KeysError::Jwks {
                at: format!("{} {}", mounted.kind, mounted.name),
                reason: "a standalone file holds only Secrets; use `secretRef` or `inline`".into(),
            });
        }
        let secret = documents
            .secret(&mounted.namespace, &mounted.name)
            .ok_or_else(|| KeysError::MissingSecret(mounted.name.clone()))?;
        secret
            .data
            .get(&mounted.key)
            .map(|v| v.as_bytes().to_vec())
            .ok_or_else(|| KeysError::Jwks {
                at: format!("Secret {}", mounted.name),
                reason: format!("no key {:?}", mounted.key),
            })
    })
}

fn build(
    providers: &[JwtProvider],
    mut read: impl FnMut(&agw_policy::bundle::MountedJwks) -> Result<Vec<u8>, KeysError>,
) -> Result<Option<JwtVerifier>, KeysError> {
    if providers.is_empty() {
        return Ok(None);
    }
    let mut built = Vec::new();
    for provider in providers {
        let at = || format!("issuer {:?}", provider.issuer);
        let parse = |text: &[u8], at: String| {
            jwks::parse(text)
                .map(|keys| KeySet::Fixed(Arc::new(keys)))
                .map_err(|e| KeysError::Jwks {
                    at,
                    reason: e.to_string(),
                })
        };
        let keys = match &provider.jwks {
            JwksSource::Inline(text) => parse(text.as_bytes(), at())?,
            JwksSource::Mounted(mounted) => parse(
                &read(mounted)?,
                format!(
                    "{} {}/{} key {}",
                    mounted.kind, mounted.namespace, mounted.name, mounted.key
                ),
            )?,
            JwksSource::Remote { uri, cache_seconds } => {
                let uri = uri
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| KeysError::Jwks {
                        at: at(),
                        reason: format!("key set URL: {e}"),
                    })?;
                KeySet::Remote(Arc::new(Remote::new(
                    uri,
                    Duration::from_secs(*cache_seconds),
                )))
            }
        };
        built.push((provider.clone(), keys));
    }
    Ok(Some(JwtVerifier::new(built)))
}

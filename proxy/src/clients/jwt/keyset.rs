//! A provider's verification keys: a fixed set (inline, or a mounted Secret/ConfigMap key,
//! re-read with the configuration when kubelet updates the file), or a set fetched from a URL.
//!
//! A fetched set is kept for its cache duration; a stale set keeps serving while one
//! background fetch replaces it, so a request with a known `kid` never waits. A token naming
//! an unknown `kid` (key rotation) makes the requests that need it wait — at most
//! [`Remote::wait`] — for one fetch, and such refreshes are at most one per
//! [`Remote::min_refresh`], so invented `kid`s cannot turn the proxy into a client hammering
//! the identity provider. A failed fetch keeps the previous keys. Owns fetching and caching
//! sets; must not judge tokens.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use agw_policy::jwks::{self, Jwk, MAX_JWKS_BYTES};
use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::token::TokenError;

/// Longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

type FetchClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Keys fetched from a URL, with what the fetches said.
#[derive(Debug, Default)]
struct Fetched {
    keys: Arc<Vec<Jwk>>,
    /// When the keys were fetched; `None` before the first success.
    at: Option<Instant>,
    /// Bumped by every fetch attempt, so waiters can tell one happened.
    generation: u64,
    /// Why the last attempt failed, if it did.
    error: Option<String>,
}

/// A set fetched from a URL.
#[derive(Debug)]
pub struct Remote {
    uri: http::Uri,
    ttl: Duration,
    /// How long a request waits for a fetch its token needs.
    pub wait: Duration,
    /// Least time between two refreshes caused by unknown `kid`s.
    pub min_refresh: Duration,
    state: ArcSwap<Fetched>,
    /// Held by the one fetch in flight.
    fetching: tokio::sync::Mutex<()>,
    last_forced: Mutex<Option<Instant>>,
}

/// Where a provider's keys come from.
#[derive(Debug)]
pub enum KeySet {
    /// Keys loaded with the configuration.
    Fixed(Arc<Vec<Jwk>>),
    /// Keys fetched by the proxy.
    Remote(Arc<Remote>),
}

impl Remote {
    /// A set at `uri`, kept `ttl`; nothing is fetched until a token needs it.
    pub fn new(uri: http::Uri, ttl: Duration) -> Self {
        Self {
            uri,
            ttl,
            wait: Duration::from_secs(3),
            min_refresh: Duration::from_secs(10),
            state: ArcSwap::default(),
            fetching: tokio::sync::Mutex::new(()),
            last_forced: Mutex::new(None),
        }
    }
}

impl KeySet {
    /// Keys that may hold `kid` (every key for a token without one), fetching when needed.
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<Vec<Jwk>>, TokenError> {
        let remote = match self {
            Self::Fixed(keys) => return Ok(keys.clone()),
            Self::Remote(remote) => remote,
        };
        let state = remote.state.load_full();
        let known =
            |keys: &[Jwk]| kid.is_none_or(|kid| keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
        match state.at {
            Some(at) if known(&state.keys) => {
                if at.elapsed() > remote.ttl {
                    // Stale: serve what we have, refresh behind the request.
                    let (remote, seen) = (remote.clone(), state.generation);
                    tokio::spawn(async move { remote.refresh(seen).await });
                }
                return Ok(state.keys.clone());
            }
            // An unknown kid with keys in hand (a rotation, or an invented kid), or a set that
            // could not be fetched yet: one forced fetch per `min_refresh`.
            _ if state.generation > 0 && !remote.may_force() => {
                return Err(if state.at.is_some() {
                    unknown(kid)
                } else {
                    TokenError::KeysUnavailable(state.error.clone().unwrap_or_default())
                });
            }
            _ => {}
        }
        let task = {
            let remote = remote.clone();
            let seen = state.generation;
            tokio::spawn(async move { remote.refresh(seen).await })
        };
        // The fetch goes on when the wait ends, so the next request finds its result.
        let _ = tokio::time::timeout(remote.wait, task).await;
        let state = remote.state.load_full();
        if state.at.is_none() {
            let why = state
                .error
                .clone()
                .unwrap_or_else(|| "the fetch is still running".into());
            return Err(TokenError::KeysUnavailable(why));
        }
        if known(&state.keys) {
            Ok(state.keys.clone())
        } else {
            Err(unknown(kid))
        }
    }
}

fn unknown(kid: Option<&str>) -> TokenError {
    TokenError::UnknownKey(kid.unwrap_or_default().chars().take(64).collect())
}

impl Remote {
    /// Whether an unknown `kid` may force a fetch now (and records that it does).
    fn may_force(&self) -> bool {
        let Ok(mut last) = self.last_forced.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Fetches once, unless another fetch completed since generation `seen`.
    async fn refresh(&self, seen: u64) {
        let _one = self.fetching.lock().await;
        let before = self.state.load_full();
        if before.generation != seen {
            return;
        }
        let result = tokio::time::timeout(FETCH_TIMEOUT, self.fetch())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {FETCH_TIMEOUT:?}")));
        let next = match result {
            Ok(keys) => Fetched {
                keys: Arc::new(keys),
                at: Some(Instant::now()),
                generation: seen + 1,
                error: None,
            },
            Err(error) => {
                tracing::warn!(uri = %self.uri, %error, "JWKS fetch failed; keeping the previous keys");
                Fetched {
                    keys: before.keys.clone(),
                    at: before.at,
                    generation: seen + 1,
                    error: Some(error),
                }
            }
        };
        self.state.store(Arc::new(next));
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let response = client()
            .get(self.uri.clone())
            .await
            .map_err(|e| format!("{}: {e}", self.uri))?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.uri, response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{}: {e}", self.uri))?
            .to_bytes();
        jwks::parse(&body).map_err(|e| format!("{}: {e}", self.uri))
    }
}

/// The one client every key-set fetch uses: system and Mozilla roots, HTTP/1.1.
fn client() -> &'static FetchClient {
    static CLIENT: OnceLock<FetchClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot read is skipped; the Mozilla roots remain.
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(FETCH_TIMEOUT));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let https = match tls {
            Ok(tls) => builder.with_tls_config(tls),
            // ring supports the default versions; should it not, plain http still works.
            Err(_) => builder.with_webpki_roots(),
        }
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
        Client::builder(TokioExecutor::new()).build(https)
    })
}

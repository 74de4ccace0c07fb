//! Serving certificates read from files and swapped atomically when the files change.
//!
//! Kubelet rewrites a mounted Secret by swapping a symlink, and cert rotators write the
//! certificate and the key one after the other; either way the webhook polls both files,
//! and installs a new pair only once it parses and the key matches the certificate. Until
//! then, and whenever a new pair is broken, the last good pair keeps serving: handshakes in
//! flight and new connections never see a half-written certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::metrics::Metrics;

/// Why a certificate pair could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The certificate file holds no usable PEM certificate.
    #[error("{path}: no PEM certificate found (expected a `-----BEGIN CERTIFICATE-----` block)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable PEM private key.
    #[error("{path}: no PEM private key found ({detail})")]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// rustls refused the key or the pair.
    #[error("{cert} / {key}: {detail}")]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

/// The certificate and key files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A certificate resolver whose pair can be replaced while serving.
#[derive(Debug)]
pub struct ReloadingCert {
    files: CertFiles,
    current: ArcSwap<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: [u8; 32],
}

impl ReloadingCert {
    /// Loads the pair once; a webhook without a usable certificate must not start.
    pub fn load(files: CertFiles) -> Result<Arc<Self>, TlsError> {
        let (bytes, fingerprint) = read_pair(&files)?;
        let key = certified_key(&files, &bytes)?;
        let current = ArcSwap::from_pointee(Loaded {
            key: Arc::new(key),
            fingerprint,
        });
        Ok(Arc::new(Self { files, current }))
    }

    /// A rustls server config that asks this resolver on every handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| self.unusable(&err))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Re-reads the files; installs the pair if it changed and is usable.
    /// Returns whether a new pair was installed.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (bytes, fingerprint) = read_pair(&self.files)?;
        if fingerprint == self.current.load().fingerprint {
            return Ok(false);
        }
        let key = certified_key(&self.files, &bytes)?;
        self.current.store(Arc::new(Loaded {
            key: Arc::new(key),
            fingerprint,
        }));
        Ok(true)
    }

    /// Polls the files every `interval` until the task is dropped.
    pub async fn watch(self: Arc<Self>, interval: Duration, metrics: Arc<Metrics>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match self.reload() {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(cert = %self.files.cert.display(), "serving certificate reloaded");
                    metrics.tls_reload("ok");
                }
                Err(err) => {
                    tracing::warn!(error = %err, "new certificate not usable; keeping the previous one");
                    metrics.tls_reload("error");
                }
            }
        }
    }

    fn unusable(&self, detail: &dyn std::fmt::Display) -> TlsError {
        TlsError::Unusable {
            cert: self.files.cert.clone(),
            key: self.files.key.clone(),
            detail: detail.to_string(),
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load().key.clone())
    }
}

struct PairBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read_pair(files: &CertFiles) -> Result<(PairBytes, [u8; 32]), TlsError> {
    let cert = read(&files.cert)?;
    let key = read(&files.key)?;
    let mut hasher = Sha256::new();
    hasher.update(&cert);
    hasher.update([0]);
    hasher.update(&key);
    Ok((PairBytes { cert, key }, hasher.finalize().into()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn certified_key(files: &CertFiles, bytes: &PairBytes) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes.cert)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&bytes.key).map_err(|err| TlsError::NoKey {
        path: files.key.clone(),
        detail: err.to_string(),
    })?;
    let unusable = |detail: &dyn std::fmt::Display| TlsError::Unusable {
        cert: files.cert.clone(),
        key: files.key.clone(),
        detail: detail.to_string(),
    };
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|err| unusable(&err))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|err| unusable(&format!("the key does not match the certificate: {err}")))?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> CertFiles {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let files = CertFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn a_changed_pair_is_installed_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let files = pair(dir.path(), "one.example");
        let resolver = ReloadingCert::load(files.clone()).unwrap();
        assert!(
            !resolver.reload().unwrap(),
            "unchanged files are not reloaded"
        );

        let first = resolver.current.load().fingerprint;
        pair(dir.path(), "two.example");
        assert!(resolver.reload().unwrap());
        let second = resolver.current.load().fingerprint;
        assert_ne!(first, second);

        std::fs::write(&files.key, "garbage").unwrap();
        let err = resolver.reload().unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
        assert_eq!(
            resolver.current.load().fingerprint,
            second,
            "last good pair kept"
        );
    }

    #[test]
    fn a_key_from_another_pair_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = pair(dir.path(), "one.example");
        let other = tempfile::tempdir().unwrap();
        let stray = pair(other.path(), "two.example");
        std::fs::copy(&stray.key, &files.key).unwrap();
        let err = ReloadingCert::load(files).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn missing_files_name_the_path() {
        let err = ReloadingCert::load(CertFiles {
            cert: "/nonexistent/tls.crt".into(),
            key: "/nonexistent/tls.key".into(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tls.crt"), "{err}");
    }
}

//! TLS towards the provider: which certificate authorities the proxy trusts, and which server
//! name it sends (SNI) and verifies for an upstream.
//!
//! Trust is the union of the Mozilla roots compiled into the binary (`webpki-roots`), the
//! platform store (`rustls-native-certs`, which reads `SSL_CERT_FILE` / `SSL_CERT_DIR` instead
//! when set, like OpenSSL and curl) and every `--upstream-ca-file`. The server name is the
//! Backend's `policies.tls.sni` when set, otherwise the upstream host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agw_policy::bundle::Upstream;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};

/// Why the upstream TLS configuration could not be built; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A `--upstream-ca-file` could not be read or is not PEM.
    #[error("--upstream-ca-file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the protocol versions (a build without any).
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// How many trust anchors came from where; logged at startup (with the listen address, so
/// the startup banner stays the lines it was).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RootCounts {
    /// Compiled-in Mozilla roots.
    pub webpki: usize,
    /// From the platform store, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set.
    pub platform: usize,
    /// From `--upstream-ca-file`.
    pub files: usize,
}

impl std::fmt::Display for RootCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (webpki {}, platform {}, --upstream-ca-file {})",
            self.webpki + self.platform + self.files,
            self.webpki,
            self.platform,
            self.files
        )
    }
}

/// The client configuration every upstream connection starts from (no ALPN: the connector
/// sets it), and where its roots came from. Fails only on a `--upstream-ca-file` that is
/// unreadable or holds no valid certificate.
pub fn client_config(ca_files: &[PathBuf]) -> Result<(ClientConfig, RootCounts), TlsError> {
    let mut roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    let mut counts = RootCounts {
        webpki: roots.len(),
        ..RootCounts::default()
    };
    counts.platform = add_platform_roots(&mut roots);
    for path in ca_files {
        counts.files += add_ca_file(&mut roots, path)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((config, counts))
}

/// Adds the platform's roots; problems are warnings, since the compiled-in roots still serve.
fn add_platform_roots(roots: &mut RootCertStore) -> usize {
    let found = rustls_native_certs::load_native_certs();
    for err in &found.errors {
        tracing::warn!(error = %err, "could not read part of the platform certificate store");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "platform certificate store holds certificates rustls cannot use"
        );
    }
    if added == 0 {
        tracing::warn!(
            "no platform roots found (SSL_CERT_FILE / SSL_CERT_DIR or the system store); \
             only the compiled-in roots and --upstream-ca-file are trusted"
        );
    }
    added
}

/// Adds every certificate of a PEM file; the file must hold at least one, all valid.
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, TlsError> {
    let fail = |reason: String| TlsError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    let count = certs.len();
    for (index, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| fail(format!("certificate #{}: {e}", index + 1)))?;
    }
    Ok(count)
}

/// The server name to send and verify when it is not the upstream host: `policies.tls.sni`,
/// for a TLS upstream, when it names something else. `None` means "the host".
pub fn sni_override(upstream: &Upstream) -> Option<&str> {
    upstream
        .sni
        .as_deref()
        .filter(|sni| upstream.tls && !sni.is_empty() && *sni != upstream.host)
}

/// Parses a server name the way the URI host is parsed: a DNS name or an IP address
/// (an IPv6 address may be bracketed).
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_owned())
        .map_err(|e| format!("policies.tls.sni {name:?} is not a valid server name: {e}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUfGFO0S9ih81zJGGeBos/OxwLbbUwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQYWd3IHVuaXQgdGVzdCBDQTAgFw0yNjExMjcxNDU5MzNaGA8y
MTI2MTEwMzE0NTkzM1owGzEZMBcGA1UEAwwQYWd3IHVuaXQgdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABMUBneERQ15dGptqYIeXsm0ReJFcvEGQbtjW
YQUnnLKMFWl1fDHTZXUN8yW3I/wYIkWvK6jcWkCjEHXNGmXY0J+jUzBRMB0GA1Ud
DgQWBBQAz0gr4+KdT+/9lWawkzOvCTNtsjAfBgNVHSMEGDAWgBQAz0gr4+KdT+/9
lWawkzOvCTNtsjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIDgB
waSaPFz637ZV9tvd0T+TnSm83qWI3cIOArlAzDj2AiEAyLq4NxfyiFEslCh2t2zF
c5cGPD4uB7D40vQOFM0QQes=
-----END CERTIFICATE-----
";

    fn upstream(host: &str, tls: bool, sni: Option<&str>) -> Upstream {
        Upstream {
            host: host.to_owned(),
            port: 443,
            tls,
            sni: sni.map(str::to_owned),
            path_prefix: String::new(),
            model: None,
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn sni_overrides_the_host_only_when_set_different_and_tls() {
        let sni = Some("anthropic.internal");
        assert_eq!(
            sni_override(&upstream("127.0.0.1", true, sni)),
            Some("anthropic.internal")
        );
        assert_eq!(sni_override(&upstream("127.0.0.1", true, None)), None);
        assert_eq!(sni_override(&upstream("127.0.0.1", true, Some(""))), None);
        assert_eq!(sni_override(&upstream("127.0.0.1", false, sni)), None);
        assert_eq!(
            sni_override(&upstream("anthropic.internal", true, sni)),
            None
        );
    }

    #[test]
    fn server_names_are_dns_names_or_ip_addresses() {
        assert!(matches!(
            server_name("api.anthropic.com"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("10.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        let err = server_name("not a name").unwrap_err();
        assert!(err.contains("\"not a name\""), "{err}");
    }

    #[test]
    fn a_ca_file_adds_its_certificates() {
        let ca = file(&format!("# a comment\n{TEST_CA}"));
        let mut roots = RootCertStore::empty();
        assert_eq!(add_ca_file(&mut roots, ca.path()).unwrap(), 1);
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn a_bad_ca_file_is_an_error_naming_it() {
        let missing = PathBuf::from("/nonexistent/agw-ca.pem");
        let empty = file("not a certificate\n");
        let truncated = file(&TEST_CA[..200]);
        let garbage = file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        for path in [
            missing.as_path(),
            empty.path(),
            truncated.path(),
            garbage.path(),
        ] {
            let err = add_ca_file(&mut RootCertStore::empty(), path).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("--upstream-ca-file {}: ", path.display())),
                "{message}"
            );
        }
    }

    #[test]
    fn the_client_config_takes_the_ca_files_and_leaves_alpn_to_the_connector() {
        let ca = file(TEST_CA);
        let (config, counts) = client_config(&[ca.path().to_owned()]).unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert_eq!(counts.files, 1);
        assert_eq!(counts.webpki, webpki_roots::TLS_SERVER_ROOTS.len());
        let shown = counts.to_string();
        assert!(shown.ends_with(", --upstream-ca-file 1)"), "{shown}");
    }
}

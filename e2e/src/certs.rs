//! Throwaway PKI for tests. Owns: a CA, serving certificates (DNS and IP SANs), client
//! certificates whose CN/O the apiserver reads as user/group, and the ServiceAccount signing key
//! pair — all ECDSA P-256 in PKCS#8 PEM, the same shapes `hack/envtest/start.sh` makes with
//! openssl. Must not: persist anything outside the directory a caller names, or be used for
//! anything but tests (keys are generated per run and never rotated).
//!
//! Webhook tests use it too: `Ca::new("webhook-ca")?.serving_cert("agw-webhook",
//! &["localhost", "127.0.0.1"])?` gives a pair the apiserver trusts when the CA PEM is the
//! ValidatingWebhookConfiguration's `caBundle`.

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key, even in test failure output.
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Paths of a certificate and key written by [`CertifiedKey::write`].
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertifiedKey {
    /// Writes `<dir>/<stem>.crt` and `<dir>/<stem>.key` (the key readable by the owner only).
    pub fn write(&self, dir: &Path, stem: &str) -> Result<CertFiles> {
        let files = CertFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        };
        write_file(&files.cert, &self.cert_pem, 0o644)?;
        write_file(&files.key, &self.key_pem, 0o600)?;
        Ok(files)
    }
}

/// A certificate authority that signs serving and client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    common_name: String,
    cert_pem: String,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("common_name", &self.common_name)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// A fresh self-signed CA named `common_name`.
    pub fn new(common_name: &str) -> Result<Ca> {
        let what = || format!("CA {common_name:?}");
        let key = KeyPair::generate().map_err(|e| Error::cert(what(), e))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| Error::cert(what(), e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| Error::cert(what(), e))?;
        Ok(Ca {
            issuer: Issuer::new(params, key),
            common_name: common_name.to_owned(),
            cert_pem: cert.pem(),
        })
    }

    /// The CA certificate (PEM): a `--client-ca-file`, a kubeconfig's
    /// `certificate-authority`, a webhook's `caBundle` (base64 of this).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A serving certificate for `sans`: each entry that parses as an IP address becomes an IP
    /// SAN, anything else a DNS SAN (`["localhost", "127.0.0.1"]` for a loopback server).
    pub fn serving_cert(&self, common_name: &str, sans: &[&str]) -> Result<CertifiedKey> {
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        self.issue(common_name, &[], sans, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate the apiserver authenticates as user `user` (the CN) in `group` (the
    /// O), plus `system:authenticated`, which it adds to every authenticated user.
    ///
    /// rcgen writes at most one value per attribute type, so a certificate carries at most one
    /// group; more than one is an error. For a ServiceAccount (and its real groups) use
    /// `ControlPlane::service_account` instead.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<CertifiedKey> {
        if groups.len() > 1 {
            return Err(Error::InvalidInput {
                what: "client certificate groups",
                value: groups.join(","),
                reason:
                    "a generated client certificate carries at most one group (O); bind RBAC to \
                         the user or one group, or use a ServiceAccount token"
                        .to_owned(),
            });
        }
        self.issue(
            user,
            groups,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn issue(
        &self,
        common_name: &str,
        organizations: &[&str],
        sans: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<CertifiedKey> {
        let what = || {
            format!(
                "certificate {common_name:?} signed by {:?}",
                self.common_name
            )
        };
        let key = KeyPair::generate().map_err(|e| Error::cert(what(), e))?;
        let mut params = CertificateParams::new(sans).map_err(|e| Error::cert(what(), e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for org in organizations {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *org);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| Error::cert(what(), e))?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A key pair for signing ServiceAccount tokens: (private key PEM, public key PEM), the
/// apiserver's `--service-account-signing-key-file` and `--service-account-key-file`.
pub fn signing_key_pair() -> Result<(String, String)> {
    let key = KeyPair::generate().map_err(|e| Error::cert("ServiceAccount signing key", e))?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

/// Writes `contents` to `path` with `mode`, creating the file only for the owner first so a
/// private key is never readable by others, even briefly.
pub(crate) fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let context = || format!("writing {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_pem_and_keys_pkcs8() {
        let ca = Ca::new("test-ca").unwrap();
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let serving = ca
            .serving_cert("server", &["localhost", "127.0.0.1"])
            .unwrap();
        assert!(serving.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(serving.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let (private, public) = signing_key_pair().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn a_client_certificate_refuses_two_groups() {
        let ca = Ca::new("test-ca").unwrap();
        assert!(ca.client_cert("alice", &["dev"]).is_ok());
        let err = ca
            .client_cert("alice", &["dev", "ops"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most one group"), "{err}");
    }

    #[test]
    fn debug_output_never_contains_a_private_key() {
        let ca = Ca::new("test-ca").unwrap();
        let pair = ca.client_cert("alice", &[]).unwrap();
        assert!(!format!("{pair:?}").contains("PRIVATE KEY"));
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn written_keys_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("test-ca").unwrap();
        let files = ca
            .client_cert("alice", &[])
            .unwrap()
            .write(dir.path(), "alice")
            .unwrap();
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            std::fs::read_to_string(&files.cert)
                .unwrap()
                .contains("CERTIFICATE")
        );
    }
}

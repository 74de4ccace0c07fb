//! Kubeconfig files. Owns: writing a kubeconfig for one identity on one control plane (file
//! references, not inline data, so it stays small and readable when a test fails) and loading
//! it into a `kube::Config`. Must not: embed secrets a log could show — keys and tokens stay in
//! their own files, which die with the control plane's directory.

use std::path::{Path, PathBuf};

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::certs::write_file;
use crate::error::{Error, Result};

/// How an identity proves who it is.
pub(crate) enum Credential<'a> {
    /// A client certificate and key (files).
    ClientCert { cert: &'a Path, key: &'a Path },
    /// A bearer token read from a file (a ServiceAccount token).
    TokenFile(&'a Path),
}

/// Writes a kubeconfig with one cluster, one user and one current context, all named after
/// `user` so `kubectl config view` tells identities apart.
pub(crate) fn write(
    path: &Path,
    server: &str,
    ca_file: &Path,
    user: &str,
    credential: &Credential<'_>,
) -> Result<()> {
    let mut auth = AuthInfo::default();
    match credential {
        Credential::ClientCert { cert, key } => {
            auth.client_certificate = Some(path_string(cert));
            auth.client_key = Some(path_string(key));
        }
        Credential::TokenFile(token) => auth.token_file = Some(path_string(token)),
    }
    let config = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "agw-e2e".to_owned(),
            cluster: Some(Cluster {
                server: Some(server.to_owned()),
                certificate_authority: Some(path_string(ca_file)),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user.to_owned(),
            auth_info: Some(auth),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: user.to_owned(),
            context: Some(Context {
                cluster: "agw-e2e".to_owned(),
                user: Some(user.to_owned()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(user.to_owned()),
        kind: Some("Config".to_owned()),
        api_version: Some("v1".to_owned()),
        ..Kubeconfig::default()
    };
    let yaml = serde_norway::to_string(&config).map_err(|e| Error::InvalidManifest {
        path: path.to_path_buf(),
        message: format!("serializing kubeconfig: {e}"),
    })?;
    write_file(path, &yaml, 0o600)
}

/// The client configuration a kubeconfig file describes.
pub(crate) async fn load(path: &Path) -> Result<kube::Config> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
}

fn path_string(path: &Path) -> String {
    path.display().to_string()
}

/// `<dir>/<stem>.kubeconfig`.
pub(crate) fn path_in(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.kubeconfig"))
}

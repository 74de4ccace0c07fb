//! Who a test acts as, and where. Owns: per-test namespaces and identities other than the admin
//! — users authenticated by a client certificate (CN = user, O = group) and ServiceAccounts
//! authenticated by a real TokenRequest token — each with its own kubeconfig, client and
//! kubectl, so RBAC tests exercise exactly what a deployed component would. Must not: grant
//! anything: a new identity has no permissions until the test binds a Role to it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use super::kubeconfig::{self, Credential};
use super::{ControlPlane, crds::FIELD_MANAGER};
use crate::certs::write_file;
use crate::error::{Error, Result};
use crate::kubectl::Kubectl;

/// Lifetime of ServiceAccount tokens the harness requests; longer than any test.
const TOKEN_SECONDS: i64 = 24 * 60 * 60;
/// Longest namespace prefix kept; the suffix makes up the rest of the 63 allowed characters.
const PREFIX_MAX: usize = 40;

/// A user or ServiceAccount on a control plane, with its own kubeconfig.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user name the apiserver sees (`system:serviceaccount:<ns>:<name>` for a ServiceAccount).
    pub user: String,
    /// The groups it asserts (the apiserver adds `system:authenticated`).
    pub groups: Vec<String>,
    kubeconfig: PathBuf,
    config: kube::Config,
    kubectl: Kubectl,
}

impl Identity {
    /// A new `kube::Client` acting as this identity.
    pub fn client(&self) -> Result<kube::Client> {
        kube::Client::try_from(self.config.clone())
            .map_err(|e| Error::kube(format!("building a client for {}", self.user), e))
    }

    /// The real kubectl, as this identity.
    pub fn kubectl(&self) -> Kubectl {
        self.kubectl.clone()
    }

    /// This identity's kubeconfig (for a process under test, e.g. the operator).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
}

impl ControlPlane {
    /// Creates a namespace `<prefix>-<n>` that no other test on this control plane uses, and
    /// returns its name. Characters a namespace cannot hold become `-`. Namespaces are never
    /// deleted (without a controller-manager they would stay Terminating anyway).
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let name = format!("{}-{}", sanitize(prefix), self.next());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let api: Api<Namespace> = Api::all(self.client()?);
        api.create(
            &PostParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PostParams::default()
            },
            &namespace,
        )
        .await
        .map_err(|e| Error::kube(format!("creating namespace {name}"), e))?;
        Ok(name)
    }

    /// A user authenticated by a client certificate with CN `name` and, if given, O `group`
    /// (at most one group; see [`crate::certs::Ca::client_cert`]). It has no permissions until
    /// a test binds some.
    pub async fn user(&self, name: &str, groups: &[&str]) -> Result<Identity> {
        let dir = self.identity_dir(name)?;
        let files = self.ca.client_cert(name, groups)?.write(&dir, "client")?;
        let kubeconfig = kubeconfig::path_in(&dir, "client");
        let credential = Credential::ClientCert {
            cert: &files.cert,
            key: &files.key,
        };
        kubeconfig::write(&kubeconfig, &self.server, &self.ca_file, name, &credential)?;
        self.identity(
            name,
            groups.iter().map(|g| (*g).to_owned()).collect(),
            kubeconfig,
        )
        .await
    }

    /// Shorthand for `self.user(name, groups).await?.client()`.
    pub async fn client_for_user(&self, name: &str, groups: &[&str]) -> Result<kube::Client> {
        self.user(name, groups).await?.client()
    }

    /// The ServiceAccount `namespace/name` (created if missing), authenticated by a token from
    /// the TokenRequest API — the identity a component deployed with that ServiceAccount has,
    /// groups included, so RBAC written for the deployment can be tested as is.
    pub async fn service_account(&self, namespace: &str, name: &str) -> Result<Identity> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let api: Api<ServiceAccount> = Api::namespaced(self.client()?, namespace);
        let token = issue_token(&api, namespace, name).await?;
        let dir = self.identity_dir(&user)?;
        let token_file = dir.join("token");
        write_file(&token_file, &token, 0o600)?;
        let kubeconfig = kubeconfig::path_in(&dir, "token");
        let credential = Credential::TokenFile(&token_file);
        kubeconfig::write(&kubeconfig, &self.server, &self.ca_file, &user, &credential)?;
        let groups = vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
        ];
        self.identity(&user, groups, kubeconfig).await
    }

    async fn identity(
        &self,
        user: &str,
        groups: Vec<String>,
        kubeconfig: PathBuf,
    ) -> Result<Identity> {
        let config = kubeconfig::load(&kubeconfig).await?;
        let kubectl = Kubectl::new(
            &self.bins.kubectl,
            &kubeconfig,
            self.dir().join("kubectl-cache"),
        );
        Ok(Identity {
            user: user.to_owned(),
            groups,
            kubeconfig,
            config,
            kubectl,
        })
    }

    /// A fresh directory for one identity's files.
    fn identity_dir(&self, user: &str) -> Result<PathBuf> {
        let dir = self
            .dir()
            .join("identities")
            .join(format!("{}-{}", sanitize(user), self.next()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    fn next(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Creates the ServiceAccount unless it exists and returns a token the TokenRequest API issued
/// for it.
async fn issue_token(api: &Api<ServiceAccount>, namespace: &str, name: &str) -> Result<String> {
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match api.create(&PostParams::default(), &account).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => {
            return Err(Error::kube(
                format!("creating ServiceAccount {namespace}/{name}"),
                e,
            ));
        }
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let issued = api
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(|e| {
            Error::kube(
                format!("requesting a token for ServiceAccount {namespace}/{name}"),
                e,
            )
        })?;
    match issued.status.map(|s| s.token) {
        Some(token) if !token.is_empty() => Ok(token),
        _ => Err(Error::UnexpectedResponse {
            what: format!("TokenRequest for ServiceAccount {namespace}/{name}"),
            message: "the response carries no token".to_owned(),
        }),
    }
}

/// A DNS-label-safe rendering of `text`: lowercase ASCII letters, digits and `-`, at most
/// [`PREFIX_MAX`] characters, never empty, never starting or ending with `-`.
fn sanitize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(PREFIX_MAX)
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "test".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(sanitize("crd"), "crd");
        assert_eq!(sanitize("Webhook_Rotation"), "webhook-rotation");
        assert_eq!(
            sanitize("system:serviceaccount:ns:op"),
            "system-serviceaccount-ns-op"
        );
        assert_eq!(sanitize("--"), "test");
        assert_eq!(sanitize(&"x".repeat(100)).len(), 40);
    }
}

//! `agw-webhook` as the apiserver meets it: a process serving TLS with a certificate from a
//! throwaway CA, registered through the repo's own `config/webhook/validating-webhook.yaml`
//! (rules, failure policy, timeout as shipped; only `clientConfig` points at
//! `https://127.0.0.1:<port>/validate`, and a namespace selector keeps it to the namespaces a
//! test names, so tests sharing a control plane do not see each other's webhooks).

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::agw::AgwProcess;
use crate::binaries::workspace_root;
use crate::certs::{Ca, CertFiles, CertifiedKey};
use crate::envtest::ports::free_ports;
use crate::error::{Error, Result};
use crate::{ControlPlane, eventually};

/// How often the webhook under test re-reads its certificate files.
pub const TLS_RELOAD_INTERVAL: &str = "200ms";

/// A running `agw-webhook` with its CA and certificate files.
#[derive(Debug)]
pub struct Webhook {
    process: AgwProcess,
    /// The CA of a certificate the harness issued; `None` when a test handed in the pair.
    ca: Option<Ca>,
    dir: TempDir,
    files: CertFiles,
    port: u16,
}

impl Webhook {
    /// Starts `agw-webhook` on free loopback ports with a fresh CA and serving certificate.
    pub async fn start() -> Result<Self> {
        let ca = Ca::new("agw-e2e-webhook-ca")?;
        let pair = serving_cert(&ca)?;
        Self::launch(Some(ca), &pair).await
    }

    /// Starts `agw-webhook` with a certificate and key issued elsewhere (by the operator).
    pub async fn start_with_pair(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let pair = CertifiedKey {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        };
        Self::launch(None, &pair).await
    }

    async fn launch(ca: Option<Ca>, pair: &CertifiedKey) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("agw-webhook-")
            .tempdir()
            .map_err(|e| Error::io("creating the webhook directory", e))?;
        let files = pair.write(dir.path(), "tls")?;
        let [port, admin] = free_ports()?;
        let args = vec![
            format!("--listen=127.0.0.1:{port}"),
            format!("--admin=127.0.0.1:{admin}"),
            format!("--tls-cert={}", files.cert.display()),
            format!("--tls-key={}", files.key.display()),
            format!("--tls-reload-interval={TLS_RELOAD_INTERVAL}"),
        ];
        let env = [("RUST_LOG".to_owned(), "info,agw_webhook=debug".to_owned())];
        let log = dir.path().join("agw-webhook.log");
        let process = AgwProcess::start("agw-webhook", &args, &env, admin, log).await?;
        Ok(Self {
            process,
            ca,
            dir,
            files,
            port,
        })
    }

    /// The admission URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/validate", self.port)
    }

    /// The process, for its log, metrics and signals.
    pub fn process(&mut self) -> &mut AgwProcess {
        &mut self.process
    }

    /// The directory holding the certificate files and the log.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Issues a new serving certificate from the same CA and swaps it in (see
    /// [`Webhook::replace_pair`]).
    pub fn rotate_serving_cert(&self) -> Result<()> {
        let Some(ca) = &self.ca else {
            return Err(Error::InvalidInput {
                what: "webhook certificate",
                value: "handed in".to_owned(),
                reason: "the harness holds no CA for it; use replace_pair".to_owned(),
            });
        };
        let fresh = serving_cert(ca)?;
        self.replace_pair(&fresh.cert_pem, &fresh.key_pem)
    }

    /// Swaps both files in by rename, the way kubelet updates a mounted Secret.
    pub fn replace_pair(&self, cert_pem: &str, key_pem: &str) -> Result<()> {
        let pair = CertifiedKey {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        };
        let fresh = pair.write(self.dir.path(), "next")?;
        rename(&fresh.key, &self.files.key)?;
        rename(&fresh.cert, &self.files.cert)
    }

    /// The shipped ValidatingWebhookConfiguration, renamed to `name`, calling this process, and
    /// limited to `namespaces`.
    pub fn configuration(&self, name: &str, namespaces: &[&str]) -> Result<Value> {
        let path = workspace_root().join("config/webhook/validating-webhook.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let mut config: Value =
            serde_norway::from_str(&text).map_err(|e| Error::InvalidManifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        config["metadata"]["name"] = json!(name);
        // ByteString serializes as base64, the encoding `caBundle` wants. Without a CA of its
        // own the harness leaves caBundle out, as the shipped file does, for the operator to fill.
        let ca_bundle = self
            .ca
            .as_ref()
            .map(|ca| ByteString(ca.cert_pem().as_bytes().to_vec()));
        let Some(webhooks) = config["webhooks"].as_array_mut() else {
            return Err(Error::InvalidManifest {
                path,
                message: "no webhooks list".to_owned(),
            });
        };
        for webhook in webhooks {
            webhook["clientConfig"] = match &ca_bundle {
                Some(ca_bundle) => json!({"url": self.url(), "caBundle": ca_bundle}),
                None => json!({"url": self.url()}),
            };
            webhook["namespaceSelector"] = json!({"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": namespaces,
            }]});
        }
        Ok(config)
    }

    /// Registers [`Webhook::configuration`] with the apiserver and waits until the apiserver
    /// calls it (a Backend with an unknown builtin is refused in the first namespace).
    pub async fn register(&self, cp: &ControlPlane, name: &str, namespaces: &[&str]) -> Result<()> {
        let config = self.configuration(name, namespaces)?;
        let api: Api<ValidatingWebhookConfiguration> = Api::all(cp.client()?);
        api.patch(
            name,
            &PatchParams::apply("agw-e2e").force(),
            &Patch::Apply(&config),
        )
        .await
        .map_err(|e| Error::kube(format!("registering webhook {name}"), e))?;
        let Some(namespace) = namespaces.first() else {
            return Ok(());
        };
        let probe = probe_backend();
        let kubectl = cp.kubectl();
        eventually(
            Duration::from_secs(15),
            "the apiserver to call the webhook",
            async || {
                let out = kubectl
                    .run_with_stdin(
                        ["apply", "--dry-run=server", "-n", namespace, "-f", "-"],
                        &probe,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if !out.success() && out.stderr.contains("NotABuiltin") {
                    Ok(())
                } else {
                    Err(format!(
                        "dry-run apply was not refused by the webhook: {out}"
                    ))
                }
            },
        )
        .await
    }
}

fn serving_cert(ca: &Ca) -> Result<CertifiedKey> {
    ca.serving_cert("agw-webhook", &["127.0.0.1", "localhost"])
}

fn probe_backend() -> String {
    "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: webhook-probe}\n\
     spec:\n  ai: {provider: {anthropic: {}}}\n  policies:\n    ai:\n      promptGuard:\n        \
     request: [{regex: {builtins: [NotABuiltin]}}]\n"
        .to_owned()
}

fn rename(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| {
        Error::io(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )
    })
}

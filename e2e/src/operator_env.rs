//! What every operator-driven test starts from: its own namespace on the shared control plane,
//! the operator's identity there under the shipped RBAC, a scratch directory (Secret mounts and
//! logs) and a mock Anthropic API; with the steps those tests share (start the operator, render
//! a sample Backend pointed at the mock, `kubectl apply`).

use std::path::PathBuf;

use tempfile::TempDir;

use crate::agw::AgwProcess;
use crate::binaries::workspace_root;
use crate::clients::MockUpstream;
use crate::error::{Error, Result};
use crate::operator::{self, OperatorOptions};
use crate::{ControlPlane, Identity};

/// The key the samples' Secret carries in the tests, so a test can tell it from the client's.
pub const SECRET_KEY: &str = "sk-ant-from-the-secret";

/// A namespace prepared for the operator, with a mock upstream.
#[derive(Debug)]
pub struct OperatorEnv {
    /// The shared control plane.
    pub cp: &'static ControlPlane,
    /// This test's namespace.
    pub ns: String,
    /// The operator's ServiceAccount identity in `ns`.
    pub identity: Identity,
    /// Scratch space: `mounts/` (the operator's `--proxy-mount-root`), `logs/` for process logs.
    pub dir: TempDir,
    /// The mock Anthropic API the sample Backends point at.
    pub mock: MockUpstream,
}

impl OperatorEnv {
    /// A fresh namespace named after `prefix`, with the operator's grant in place.
    pub async fn new(prefix: &str) -> Result<Self> {
        let cp = ControlPlane::shared().await?;
        let ns = cp.namespace(prefix).await?;
        let identity = operator::grant(cp, &ns).await?;
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            context: "creating the test's scratch directory".to_owned(),
            source,
        })?;
        let mock = MockUpstream::start().await?;
        Ok(Self {
            cp,
            ns,
            identity,
            dir,
            mock,
        })
    }

    /// How to run an operator named `identity` here, with `extra_args`.
    pub fn options(&self, identity: &str, extra_args: &[&str]) -> OperatorOptions {
        OperatorOptions {
            namespace: self.ns.clone(),
            identity: identity.to_owned(),
            mount_root: self.mounts(),
            log_dir: self.dir.path().join("logs"),
            extra_args: extra_args.iter().map(|&a| a.to_owned()).collect(),
        }
    }

    /// Starts an operator named `identity` here, with `extra_args`.
    pub async fn operator(&self, identity: &str, extra_args: &[&str]) -> Result<AgwProcess> {
        operator::start(&self.identity, &self.options(identity, extra_args)).await
    }

    /// `config/samples/<path>` as written.
    pub fn sample(path: &str) -> Result<String> {
        let path = workspace_root().join("config/samples").join(path);
        std::fs::read_to_string(&path).map_err(|source| Error::Io {
            context: format!("reading {}", path.display()),
            source,
        })
    }

    /// The sample Secret, carrying [`SECRET_KEY`].
    pub fn secret() -> Result<String> {
        Ok(Self::sample("secret.yaml")?.replace("sk-ant-replace-me", SECRET_KEY))
    }

    /// The tutorial's guarded Backend named `name`, pointed at the mock; `guards` replace its
    /// request guards when given.
    pub fn backend(&self, name: &str, guards: Option<serde_json::Value>) -> Result<String> {
        let path = "backend-guarded.yaml";
        let invalid = |message: String| Error::InvalidManifest {
            path: PathBuf::from("config/samples").join(path),
            message,
        };
        let mut doc: serde_json::Value =
            serde_norway::from_str(&Self::sample(path)?).map_err(|e| invalid(e.to_string()))?;
        doc["metadata"]["name"] = name.into();
        doc["spec"]["ai"]["provider"]["host"] = "127.0.0.1".into();
        doc["spec"]["ai"]["provider"]["port"] = self.mock.port().into();
        if let Some(guards) = guards {
            doc["spec"]["policies"]["ai"]["promptGuard"]["request"] = guards;
        }
        serde_norway::to_string(&doc).map_err(|e| invalid(e.to_string()))
    }

    /// `kubectl apply` of `yaml` in this namespace; an error unless kubectl succeeds.
    pub async fn apply(&self, yaml: &str) -> Result<()> {
        self.cp
            .kubectl()
            .apply_stdin(&self.ns, yaml)
            .await?
            .check()?;
        Ok(())
    }

    fn mounts(&self) -> PathBuf {
        self.dir.path().join("mounts")
    }
}

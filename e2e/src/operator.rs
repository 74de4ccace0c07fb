//! `agw-operator` as a process under test, running as the ServiceAccount the shipped RBAC
//! (`config/rbac/`) describes — so a permission the code uses and the role lacks fails the
//! tests. Scoped to one namespace (`--namespace`), with its Lease there too, so tests sharing a
//! control plane run operators side by side without touching each other's Backends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agw::AgwProcess;
use crate::binaries::workspace_root;
use crate::envtest::ports::free_ports;
use crate::error::{Error, Result};
use crate::{ControlPlane, Identity, eventually};

/// The ServiceAccount the operator runs as.
pub const SERVICE_ACCOUNT: &str = "agw-operator";

/// Binds the shipped ClusterRole (a ClusterRoleBinding, as `config/rbac/bindings.yaml` does) and leader-election
/// Role to ServiceAccount `agw-operator` in `namespace`, and returns that identity once the
/// apiserver honours the grant.
pub async fn grant(cp: &ControlPlane, namespace: &str) -> Result<Identity> {
    let kubectl = cp.kubectl();
    let rbac = workspace_root().join("config/rbac");
    kubectl
        .run_with_stdin(
            [
                "apply",
                "--server-side",
                "--field-manager=agw-e2e",
                "-f",
                "-",
            ],
            &read(&rbac.join("role.yaml"))?,
        )
        .await?
        .check()?;
    let lease_role = read(&rbac.join("leader-election-role.yaml"))?
        .replace("namespace: agw-system", &format!("namespace: {namespace}"));
    let bindings = format!(
        "{lease_role}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: agw-operator-{namespace}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agw-operator}}\n\
         subjects: [{{kind: ServiceAccount, name: {SERVICE_ACCOUNT}, namespace: {namespace}}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: agw-operator-leader-election, namespace: {namespace}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: agw-operator-leader-election}}\n\
         subjects: [{{kind: ServiceAccount, name: {SERVICE_ACCOUNT}, namespace: {namespace}}}]\n"
    );
    kubectl.apply_stdin(namespace, &bindings).await?.check()?;
    let identity = cp.service_account(namespace, SERVICE_ACCOUNT).await?;
    let probe = identity.kubectl();
    eventually(
        Duration::from_secs(10),
        "the operator's RBAC to take effect",
        async || {
            let out = probe
                .run([
                    "auth",
                    "can-i",
                    "patch",
                    "deployments.apps",
                    "-n",
                    namespace,
                ])
                .await
                .map_err(|e| e.to_string())?;
            if out.stdout.trim() == "yes" {
                Ok(())
            } else {
                Err(out.to_string())
            }
        },
    )
    .await?;
    Ok(identity)
}

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    /// The namespace it serves (and holds its Lease in).
    pub namespace: String,
    /// Its identity in the Lease.
    pub identity: String,
    /// `--proxy-mount-root`: where the proxy pods it writes mount Secrets.
    pub mount_root: PathBuf,
    /// Directory for the log.
    pub log_dir: PathBuf,
    /// More flags, e.g. for webhook certificate upkeep (off unless given here).
    pub extra_args: Vec<String>,
}

/// Starts `agw-operator` as `identity` and waits for its `/readyz`.
pub async fn start(identity: &Identity, options: &OperatorOptions) -> Result<AgwProcess> {
    let [admin] = free_ports()?;
    let args = vec![
        format!("--namespace={}", options.namespace),
        format!("--lease-namespace={}", options.namespace),
        format!("--identity={}", options.identity),
        "--lease-duration=4s".to_owned(),
        "--lease-renew=1s".to_owned(),
        "--proxy-replicas=1".to_owned(),
        "--proxy-image=agw-proxy:e2e".to_owned(),
        format!("--proxy-mount-root={}", options.mount_root.display()),
        format!("--admin=127.0.0.1:{admin}"),
    ];
    let mut args = args;
    if !options
        .extra_args
        .iter()
        .any(|a| a.starts_with("--webhook-configuration"))
    {
        args.push("--webhook-configuration=".to_owned());
    }
    args.extend(options.extra_args.iter().cloned());
    let env = [
        (
            "KUBECONFIG".to_owned(),
            identity.kubeconfig().display().to_string(),
        ),
        (
            "RUST_LOG".to_owned(),
            std::env::var("AGW_OPERATOR_LOG")
                .unwrap_or_else(|_| "info,agw_operator=debug".to_owned()),
        ),
    ];
    std::fs::create_dir_all(&options.log_dir)
        .map_err(|e| Error::io("creating the log directory", e))?;
    let log = options
        .log_dir
        .join(format!("operator-{}.log", options.identity));
    AgwProcess::start("agw-operator", &args, &env, admin, log).await
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

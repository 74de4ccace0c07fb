//! `agw-e2e`: support for end-to-end tests that run agw's real binaries against a real
//! Kubernetes control plane (etcd + kube-apiserver built from Go modules by
//! `hack/envtest/build.sh`), the real `kubectl`, and real clients. Owns: the harness that starts
//! and stops those parts and hands out clients, kubectl runners, namespaces and identities.
//! Must not: fake a part that can run for real, or hold product logic (the tests drive the
//! binaries from outside, as users and the cluster do).
//!
//! # The control plane
//!
//! ```no_run
//! use agw_e2e::ControlPlane;
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! # async fn example() -> agw_e2e::Result<()> {
//! // One apiserver per test binary, started by the first test that asks (a few seconds);
//! // each test takes its own namespace (milliseconds).
//! let cp = ControlPlane::shared().await?;
//! let ns = cp.namespace("my-test").await?;
//!
//! // The real kubectl (built by hack/envtest, never the one on PATH), as the admin.
//! let out = cp.kubectl().apply_stdin(&ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").await?;
//! assert!(out.success(), "{out}"); // Display shows the command, status, stdout and stderr
//! let listed = cp.kubectl().run(["get", "backends", "-n", &ns]).await?.check()?;
//! println!("{}", listed.stdout);
//!
//! // A kube::Client as the admin (system:masters). Make it inside the test's runtime.
//! let maps: Api<ConfigMap> = Api::namespaced(cp.client()?, &ns);
//! assert!(maps.get("x").await.is_ok());
//!
//! // Other identities, for RBAC: a certificate user (CN/O), or a real ServiceAccount token.
//! let alice = cp.user("alice", &["dev"]).await?;           // alice.client()?, alice.kubectl()
//! let operator = cp.service_account(&ns, "agw-operator").await?;
//! // Run a component as that identity: KUBECONFIG=<path>.
//! let _ = (alice.kubeconfig(), operator.kubeconfig());
//!
//! // A process under test can use the admin kubeconfig too.
//! let _ = (cp.kubeconfig(), cp.server(), cp.ca_pem());
//! # Ok(()) }
//! ```
//!
//! Use `#[tokio::test]`. [`ControlPlane::start`] gives a private control plane, stopped (both
//! processes killed and reaped, the directory removed) when it is dropped — also when the test
//! panics. If the test process is killed outright, a watchdog process does the same.
//! Start-up needs the binaries from `hack/envtest/build.sh` (found through `AGW_ENVTEST_BIN`,
//! else `${AGW_CACHE:-~/.cache/agw}/envtest/v1.34.10/bin`); without them it fails with that hint.
//!
//! Nothing in a cluster is instant (a new RoleBinding, a status written by the operator):
//! [`eventually`]`(timeout, "what", async || …)` polls a check and reports its last failure.
//!
//! # agw binaries
//!
//! [`binaries::agw_binary`]`("agw-proxy")` finds a binary built by
//! `cargo build --workspace --bins` (in `$AGW_BIN_DIR`, else next to the test executable).
//!
//! # Certificates
//!
//! [`certs::Ca`] makes serving and client certificates (e.g. a webhook's, with SAN 127.0.0.1).

pub mod agw;
pub mod binaries;
pub mod certs;
pub mod clients;
pub mod cluster;
pub mod envtest;
mod error;
mod eventually;
pub mod helm;
pub mod kubectl;
pub mod manifests;
pub mod operator;
pub mod operator_env;
pub mod tutorial;
pub mod webhook;

pub use envtest::{ControlPlane, Identity};
pub use error::{Error, Result};
pub use eventually::eventually;
pub use helm::{Helm, HelmOutput};
pub use kubectl::{Kubectl, KubectlOutput};

//! A real Kubernetes control plane for tests: etcd + kube-apiserver built by
//! `hack/envtest/build.sh`, on loopback, with a throwaway PKI, the repo's CRDs installed and a
//! kubeconfig for an admin (`agw-e2e-admin`, group `system:masters`). Owns: starting it, handing
//! out clients, kubectl runners, namespaces and other identities, and tearing it down — on
//! `Drop` (so also when a test panics), and through a watchdog when the test process dies
//! without unwinding. Must not: start controllers or a kubelet (none exist: namespaces stay
//! Terminating after delete, nothing garbage-collects, Deployments get no Pods), or reuse
//! anything between runs except the binaries.
//!
//! Two ways to get one:
//! - [`ControlPlane::shared`]: one per test binary, started by the first test that asks,
//!   torn down by the watchdog when the binary exits. Use it with a fresh
//!   [`ControlPlane::namespace`] per test; this is what most tests want (start-up costs
//!   seconds, a namespace milliseconds).
//! - [`ControlPlane::start`]: a private one, stopped when dropped. For tests that restart the
//!   apiserver's world, install cluster-scoped things that would disturb others (webhook
//!   configurations that reject Backends everywhere), or test the harness itself.
//!
//! What differs from a real cluster, because only etcd and the apiserver run:
//! - no kubelet, scheduler or controller-manager: Deployments get no ReplicaSets or Pods (the
//!   real node of `hack/cluster/` runs pods: [`crate::cluster`]), owner references are never garbage-collected,
//!   a deleted namespace stays Terminating, and no `default` ServiceAccount appears;
//! - the aggregated ClusterRoles (`view`, `edit`, `admin`) exist but are empty — the aggregation
//!   controller is not running — so RBAC tests bind Roles they write themselves;
//! - RBAC grants, like everything read through an informer, take effect a moment after they are
//!   written: wrap the first use in [`crate::eventually`].

mod apiserver;
pub mod crds;
mod etcd;
mod identity;
mod kubeconfig;
pub mod ports;
pub(crate) mod process;
mod start;
mod watchdog;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tempfile::TempDir;

pub use self::identity::Identity;
use self::process::Supervised;
use self::watchdog::Watchdog;
use crate::binaries::EnvtestBinaries;
use crate::certs::Ca;
use crate::error::{Error, Result};
use crate::kubectl::Kubectl;

/// The admin's user name (its client certificate's CN); its group is `system:masters`.
pub const ADMIN_USER: &str = "agw-e2e-admin";

/// A running etcd + kube-apiserver pair. See the module docs.
#[derive(Debug)]
pub struct ControlPlane {
    // Fields drop in declaration order: the apiserver before etcd (it would log errors about
    // its storage otherwise), the watchdog once both are gone, the directory last.
    apiserver: Supervised,
    etcd: Supervised,
    watchdog: Watchdog,
    dir: TempDir,
    bins: EnvtestBinaries,
    ca: Ca,
    ca_file: PathBuf,
    server: String,
    kubeconfig: PathBuf,
    config: kube::Config,
    kubectl: Kubectl,
    ports: Ports,
    startup: StartupTimes,
    sequence: AtomicU64,
}

/// The loopback ports a control plane listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
}

/// The processes a control plane runs (for leak checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pids {
    pub etcd: u32,
    pub apiserver: u32,
    pub watchdog: u32,
}

/// Where start-up time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct StartupTimes {
    /// CA, serving, admin and ServiceAccount keys.
    pub certificates: Duration,
    /// etcd spawned → `/health` true.
    pub etcd: Duration,
    /// kube-apiserver spawned → `/readyz` 200.
    pub apiserver: Duration,
    /// CRDs applied → Established and in discovery.
    pub crds: Duration,
    /// The whole of `start`, including any retry after a lost port race.
    pub total: Duration,
}

static SHARED: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();

impl ControlPlane {
    /// The control plane shared by every test in this test binary, started on first use.
    ///
    /// It is never dropped (it lives in a `static`); its watchdog kills etcd and the apiserver
    /// and removes the directory when the test binary exits. Clients are made per call
    /// ([`ControlPlane::client`]) because each `#[tokio::test]` has its own runtime and a
    /// `kube::Client` must not outlive the runtime it was made on. If start-up fails, the error
    /// is returned and the next caller tries again.
    pub async fn shared() -> Result<&'static ControlPlane> {
        SHARED.get_or_try_init(ControlPlane::start).await
    }

    /// A new `kube::Client` for the admin. Call it inside the tokio runtime that uses it.
    pub fn client(&self) -> Result<kube::Client> {
        kube::Client::try_from(self.config.clone())
            .map_err(|e| Error::kube("building a client for the admin", e))
    }

    /// The admin's client configuration (e.g. to tweak timeouts before building a client).
    pub fn config(&self) -> &kube::Config {
        &self.config
    }

    /// The real kubectl, as the admin.
    pub fn kubectl(&self) -> Kubectl {
        self.kubectl.clone()
    }

    /// The admin's kubeconfig: give it to a process under test as `KUBECONFIG` or `--kubeconfig`.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver's URL, `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// PEM of the CA that signed the apiserver's serving certificate and every client
    /// certificate it accepts.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The same CA as a file.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The control plane's private directory (PKI, etcd data, logs, kubeconfigs). Tests may put
    /// their own files under it; it is removed with the control plane.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The etcd, kube-apiserver and kubectl binaries in use.
    pub fn binaries(&self) -> &EnvtestBinaries {
        &self.bins
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    pub fn pids(&self) -> Pids {
        Pids {
            etcd: self.etcd.pid(),
            apiserver: self.apiserver.pid(),
            watchdog: self.watchdog.pid(),
        }
    }

    pub fn startup_times(&self) -> StartupTimes {
        self.startup
    }

    /// The apiserver's log file (stdout and stderr), for a test's failure message.
    pub fn apiserver_log(&self) -> &Path {
        self.apiserver.log()
    }

    /// etcd's log file.
    pub fn etcd_log(&self) -> &Path {
        self.etcd.log()
    }

    /// Installs more CRDs (files or directories of YAML, e.g. the Gateway API's) and waits
    /// until they are Established and discoverable. Returns their names.
    pub async fn install_crds(&self, paths: &[&Path]) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for path in paths {
            all.extend(crds::read_crds(path)?);
        }
        crds::install(&self.client()?, &all).await
    }

    /// Stops the control plane now (same as dropping it).
    pub fn stop(self) {
        drop(self);
    }
}

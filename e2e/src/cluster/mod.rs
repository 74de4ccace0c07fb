//! The real one-node cluster (`hack/cluster/up.sh`: kubelet, containerd, kube-proxy, the
//! controllers and scheduler) as a test environment, with agw installed by
//! `hack/cluster/install-agw.sh` from images of the workspace's binaries. Owns: finding that
//! cluster, handing out the admin `kube::Client` and `kubectl`, `kubectl port-forward`, a mock
//! Anthropic API the pods can reach, and what to show when a check fails.
//! Must not: start or stop the cluster (the scripts own its lifecycle, so a killed test cannot
//! leave it half torn down), or fake anything the node does.
//!
//! Tests on it are `#[ignore]`d with a reason, because they need root and a started cluster;
//! `hack/test.sh` starts it and runs them with `--ignored`.

mod port_forward;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::clients::MockUpstream;
use crate::error::{Error, Result};
use crate::kubectl::Kubectl;

pub use port_forward::PortForward;

/// A running cluster of `hack/cluster/up.sh`.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    netns: String,
    node_ip: Ipv4Addr,
    kubectl_bin: PathBuf,
}

impl Cluster {
    /// The cluster named by the environment `up.sh` prints (`AGW_CLUSTER_DIR`,
    /// `AGW_CLUSTER_NETNS`, `AGW_NODE_IP`, `AGW_NODE_BIN`).
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| Error::Missing {
                what: format!("the test cluster (${name})"),
                path: PathBuf::from(format!("${name}")),
                hint:
                    "start it with `eval \"$(hack/cluster/up.sh)\"; hack/cluster/install-agw.sh` \
                       (needs root), or run hack/test.sh, which does"
                        .to_owned(),
            })
        };
        let dir = PathBuf::from(var("AGW_CLUSTER_DIR")?);
        let node_ip = var("AGW_NODE_IP")?
            .parse()
            .map_err(|e| Error::UnexpectedResponse {
                what: "$AGW_NODE_IP".to_owned(),
                message: format!("not an IPv4 address: {e}"),
            })?;
        let cluster = Self {
            netns: var("AGW_CLUSTER_NETNS")?,
            node_ip,
            kubectl_bin: PathBuf::from(var("AGW_NODE_BIN")?).join("kubectl"),
            dir,
        };
        for path in [cluster.kubeconfig(), cluster.kubectl_bin.clone()] {
            if !path.exists() {
                return Err(Error::Missing {
                    what: "the test cluster's kubeconfig or kubectl".to_owned(),
                    path,
                    hint: "is the cluster of hack/cluster/up.sh still running?".to_owned(),
                });
            }
        }
        Ok(cluster)
    }

    /// The admin kubeconfig (root namespace, through the loopback forwarder).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The real kubectl as the admin.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(
            &self.kubectl_bin,
            self.kubeconfig(),
            self.dir.join("kubecache"),
        )
    }

    /// A `kube::Client` as the admin; make it inside the test's runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        let options = kube::config::KubeConfigOptions::default();
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig()).map_err(|e| {
            Error::UnexpectedResponse {
                what: format!("reading {}", self.kubeconfig().display()),
                message: e.to_string(),
            }
        })?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| Error::UnexpectedResponse {
                what: "the cluster's kubeconfig".to_owned(),
                message: e.to_string(),
            })?;
        kube::Client::try_from(config).map_err(|e| Error::UnexpectedResponse {
            what: "a client for the cluster".to_owned(),
            message: e.to_string(),
        })
    }

    /// The address pods reach a server of [`Cluster::mock_upstream`] at.
    pub fn node_ip(&self) -> Ipv4Addr {
        self.node_ip
    }

    /// The cluster's network namespace.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The cluster's state directory (logs of every component under `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mock Anthropic API inside the cluster's network namespace, where pods reach it at
    /// `node_ip():port()`; the test reads what it received from the root namespace.
    pub async fn mock_upstream(&self) -> Result<MockUpstream> {
        MockUpstream::start_in_netns(&self.netns).await
    }

    /// `kubectl port-forward -n namespace target :remote`, as a user runs it; the local port
    /// is the one kubectl picked.
    pub async fn port_forward(
        &self,
        namespace: &str,
        target: &str,
        remote: u16,
    ) -> Result<PortForward> {
        PortForward::start(&self.kubectl(), namespace, target, remote).await
    }

    /// What a person would look at when a check in `namespace` fails: pods, events, and the
    /// last log lines of every pod there and of agw's own pods.
    pub async fn describe(&self, namespace: &str) -> String {
        let kubectl = self.kubectl();
        let mut out = String::new();
        for args in [
            vec![
                "get",
                "pods,deployments,services",
                "-o",
                "wide",
                "-n",
                namespace,
            ],
            vec!["get", "events", "--sort-by=.lastTimestamp", "-n", namespace],
            vec![
                "logs",
                "--all-containers",
                "--prefix",
                "--tail=40",
                "-l",
                "app.kubernetes.io/part-of=agw",
                "-n",
                "agw-system",
            ],
            vec![
                "logs",
                "--all-containers",
                "--prefix",
                "--tail=40",
                "-l",
                "app.kubernetes.io/managed-by=agw-operator",
                "-n",
                namespace,
            ],
        ] {
            let shown = args.join(" ");
            let result = match kubectl.run(args).await {
                Ok(result) => format!("{}{}", result.stdout, result.stderr),
                Err(e) => e.to_string(),
            };
            let _ = writeln!(out, "$ kubectl {shown}\n{result}");
        }
        out
    }
}

//! The cluster tests' shared set-up: the cluster of `hack/cluster/up.sh`, a mock Anthropic API
//! the pods reach, and the kubectl steps the tests repeat (apply, wait for a rollout, read a
//! field), each failing with the namespace's state so a red test says what the node saw.

use std::time::Duration;

use agw_e2e::clients::MockUpstream;
use agw_e2e::cluster::{Cluster, PortForward};
use agw_e2e::operator_env::SECRET_KEY;
use agw_e2e::tutorial::{self, NAMESPACE, Upstream};
use agw_e2e::{KubectlOutput, eventually};

pub struct Env {
    pub cluster: Cluster,
    pub mock: MockUpstream,
    node_ip: String,
}

impl Env {
    pub async fn new() -> Self {
        let cluster = Cluster::from_env().unwrap();
        let mock = cluster.mock_upstream().await.unwrap();
        let node_ip = cluster.node_ip().to_string();
        Self {
            cluster,
            mock,
            node_ip,
        }
    }

    pub fn upstream(&self) -> Upstream<'_> {
        Upstream {
            host: &self.node_ip,
            port: self.mock.port(),
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.cluster
            .kubectl()
            .run(args.iter().copied())
            .await
            .unwrap()
    }

    /// `kubectl apply -f-` of `yaml`, as the tutorial runs it; panics with the cluster's state.
    pub async fn apply(&self, yaml: &str) -> KubectlOutput {
        let out = self
            .cluster
            .kubectl()
            .run_with_stdin(["apply", "-f", "-"], yaml)
            .await
            .unwrap();
        if !out.success() {
            let state = self.cluster.describe(NAMESPACE).await;
            panic!("{out}\n{state}");
        }
        out
    }

    /// Tutorial steps 3–8 in namespace `ns`: its Gateway, Secret, guarded Backend (of `kind`)
    /// and HTTPRoute.
    pub async fn tutorial_gateway(&self, ns: &str, kind: &str) {
        self.ensure_namespace(ns).await;
        for yaml in [
            tutorial::gateway(),
            tutorial::secret(SECRET_KEY),
            tutorial::backend(kind, self.upstream(), true),
            tutorial::http_route(kind),
        ] {
            self.apply(&yaml.replace(NAMESPACE, ns)).await;
        }
    }

    pub async fn ensure_namespace(&self, ns: &str) {
        let yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
        self.apply(&yaml).await;
    }

    pub async fn wait_available(&self, ns: &str, deployment: &str) {
        // The operator creates it; `rollout status` fails at once on a Deployment not there yet.
        let object = format!("deployment/{deployment}");
        let what = format!("{object} in {ns}");
        let exists = eventually(Duration::from_mins(1), &what, async || {
            let out = self.kubectl(&["get", "-n", ns, &object]).await;
            if out.success() {
                Ok(())
            } else {
                Err(out.to_string())
            }
        });
        if let Err(e) = exists.await {
            panic!("{e}\n{}", self.cluster.describe(ns).await);
        }
        let out = self
            .kubectl(&[
                "rollout",
                "status",
                "-n",
                ns,
                &format!("deployment/{deployment}"),
                "--timeout=120s",
            ])
            .await;
        if !out.success() {
            let state = self.cluster.describe(ns).await;
            panic!("{out}\n{state}");
        }
    }

    /// Waits until the tutorial Gateway's Deployment in `ns` mounts the auth Secret `secret`
    /// and has rolled out: a route brings its Backend's Secret into the Gateway's pods with a
    /// new pod template, and a port-forward must reach a pod of that template.
    pub async fn wait_gateway_rolled_out(&self, ns: &str, secret: &str) {
        let volumes = "{.spec.template.spec.volumes[*].secret.secretName}";
        let mounted = eventually(
            Duration::from_mins(1),
            "the Gateway's pods mount the auth Secret",
            async || {
                let mounted = self
                    .jsonpath(ns, &["deployment/agentgateway-proxy"], volumes)
                    .await;
                if mounted.split_whitespace().any(|name| name == secret) {
                    Ok(())
                } else {
                    Err(mounted)
                }
            },
        );
        if let Err(e) = mounted.await {
            panic!("{e}\n{}", self.cluster.describe(ns).await);
        }
        self.wait_available(ns, "agentgateway-proxy").await;
    }

    pub async fn port_forward(&self, ns: &str, target: &str, remote: u16) -> PortForward {
        self.cluster.port_forward(ns, target, remote).await.unwrap()
    }

    /// `kubectl get -n ns <object…> -o jsonpath=path`; `object` is e.g. `["backend/x"]` or
    /// `["pods", "-l", "k=v"]`.
    pub async fn jsonpath(&self, ns: &str, object: &[&str], path: &str) -> String {
        let jsonpath = format!("jsonpath={path}");
        let mut args = vec!["get", "-n", ns];
        args.extend(object);
        args.extend(["-o", &jsonpath]);
        let out = self.kubectl(&args).await;
        assert!(out.success(), "{out}");
        out.stdout
    }

    /// `kubectl get <resource> -n ns` lists `name` with the printer columns ACCEPTED and
    /// READY both `True`, as the tutorial's look-around shows it.
    pub async fn assert_listed_accepted_and_ready(&self, ns: &str, resource: &str, name: &str) {
        let listed = self.kubectl(&["get", resource, "-n", ns]).await;
        assert!(listed.success(), "{listed}");
        let row = listed
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_default();
        assert!(
            row.split_whitespace().take(3).eq([name, "True", "True"]),
            "{listed}"
        );
    }

    /// The pods matching `selector`, by name.
    pub async fn pods(&self, ns: &str, selector: &str) -> Vec<String> {
        let names = self
            .jsonpath(ns, &["pods", "-l", selector], "{.items[*].metadata.name}")
            .await;
        names.split_whitespace().map(str::to_owned).collect()
    }
}

pub async fn messages_reaching_mock(mock: &MockUpstream) -> usize {
    let requests = mock.requests().await.unwrap();
    requests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/messages"))
        })
        .count()
}

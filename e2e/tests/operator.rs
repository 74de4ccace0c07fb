//! `agw-operator` against a real kube-apiserver, running as the ServiceAccount of the shipped
//! RBAC: what it writes for the tutorial's Backend, invalid specs that never replace the last
//! good bundle, Secrets that appear late, and leadership that moves between replicas. No kubelet
//! runs here, so no proxy Deployment ever becomes Available (`Ready` stays False with reason
//! `DeploymentUnavailable`); pods serving the bundle — Ready, Claude answered, the prompt
//! rejected, a policy edit reaching a running pod — are the real node's (`tests/cluster/`).

#![allow(clippy::unwrap_used, clippy::expect_used)]
// Metric samples compared here are small whole counts, exact in f64.
#![allow(clippy::float_cmp)]

use std::time::Duration;

use agw_e2e::agw::AgwProcess;
use agw_e2e::eventually;
use agw_e2e::operator_env::OperatorEnv;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

/// The shared operator test set-up, and this file's steps on it.
struct Env(OperatorEnv);

impl std::ops::Deref for Env {
    type Target = OperatorEnv;

    fn deref(&self) -> &OperatorEnv {
        &self.0
    }
}

impl Env {
    async fn new(prefix: &str) -> Self {
        Self(OperatorEnv::new(prefix).await.unwrap())
    }

    async fn operator(&self, identity: &str) -> AgwProcess {
        self.0.operator(identity, &[]).await.unwrap()
    }

    /// The tutorial's guarded Backend, pointed at the mock.
    fn backend(&self, name: &str) -> String {
        self.0.backend(name, None).unwrap()
    }

    fn secret() -> String {
        OperatorEnv::secret().unwrap()
    }

    async fn apply(&self, yaml: &str) {
        self.0.apply(yaml).await.unwrap();
    }

    async fn jsonpath(&self, name: &str, path: &str) -> String {
        let args = [
            "get",
            "backend",
            name,
            "-n",
            &self.ns,
            "-o",
            &format!("jsonpath={path}"),
        ];
        self.cp.kubectl().run(args).await.unwrap().stdout
    }

    /// The `events.k8s.io/v1` Events with reason `InvalidSpec` about the Backend `name` that
    /// say `Accepted=False`, as (Event name, note), once one note mentions each of `paths`.
    async fn accepted_notes(&self, name: &str, paths: &[&str]) -> Vec<(String, String)> {
        let events: Api<Event> = Api::namespaced(self.cp.client().unwrap(), &self.ns);
        eventually(
            Duration::from_secs(20),
            &format!("an InvalidSpec Event on {name} for each of {paths:?}"),
            async || {
                let listed = events
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let notes: Vec<(String, String)> = listed
                    .items
                    .into_iter()
                    .filter(|e| {
                        e.reason.as_deref() == Some("InvalidSpec")
                            && e.regarding.as_ref().is_some_and(|r| {
                                r.kind.as_deref() == Some("Backend")
                                    && r.name.as_deref() == Some(name)
                            })
                    })
                    .filter_map(|e| Some((e.metadata.name?, e.note?)))
                    .filter(|(_, note)| note.starts_with("Accepted=False: "))
                    .collect();
                if paths
                    .iter()
                    .all(|p| notes.iter().any(|(_, note)| note.contains(p)))
                {
                    Ok(notes)
                } else {
                    Err(format!("the Events say {notes:?}"))
                }
            },
        )
        .await
        .unwrap()
    }

    async fn wait_condition(&self, name: &str, type_: &str, status: &str) {
        let path = format!("{{.status.conditions[?(@.type==\"{type_}\")].status}}");
        eventually(
            Duration::from_secs(20),
            &format!("{name}: {type_}={status}"),
            async || {
                let got = self.jsonpath(name, &path).await;
                if got == status {
                    Ok(())
                } else {
                    Err(format!("{type_} is {got:?}"))
                }
            },
        )
        .await
        .unwrap();
    }
}

/// What the operator writes for the tutorial's Backend, read from the apiserver alone: the
/// conditions, the printer columns, and a controller reference on every owned object. That a
/// pod then serves it — Claude answered, the prompt rejected, a policy edit reaching the running
/// pod — is the real node's (`tests/cluster/`).
#[tokio::test]
async fn the_tutorial_backend_is_programmed_into_owned_objects() {
    let env = Env::new("op-tutorial").await;
    let _operator = env.operator("one").await;
    env.apply(&Env::secret()).await;
    env.apply(&env.backend("anthropic")).await;

    env.wait_condition("anthropic", "Accepted", "True").await;
    env.wait_condition("anthropic", "Programmed", "True").await;
    // No kubelet here: Ready says the proxy Deployment is not Available, and why.
    env.wait_condition("anthropic", "Ready", "False").await;
    let ready_reason = env
        .jsonpath(
            "anthropic",
            "{.status.conditions[?(@.type==\"Ready\")].reason}",
        )
        .await;
    assert_eq!(ready_reason, "DeploymentUnavailable");
    let table = env
        .cp
        .kubectl()
        .run(["get", "backends", "-n", &env.ns])
        .await
        .unwrap();
    assert!(table.stdout.contains("ACCEPTED"), "{table}");

    // Owned objects carry a controller reference to the Backend.
    let client = env.cp.client().unwrap();
    let uid = env.jsonpath("anthropic", "{.metadata.uid}").await;
    let secret = Api::<Secret>::namespaced(client.clone(), &env.ns)
        .get("anthropic-bundle")
        .await
        .unwrap();
    let deployment = Api::<Deployment>::namespaced(client.clone(), &env.ns)
        .get("anthropic-proxy")
        .await
        .unwrap();
    let service = Api::<Service>::namespaced(client, &env.ns)
        .get("anthropic-proxy")
        .await
        .unwrap();
    for owners in [
        secret.owner_references(),
        deployment.owner_references(),
        service.owner_references(),
    ] {
        assert!(
            owners
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true)),
            "{owners:?}"
        );
    }
    let digest = env.jsonpath("anthropic", "{.status.bundleDigest}").await;
    assert!(digest.starts_with("sha256:"), "{digest}");
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_never_programmed() {
    let env = Env::new("op-invalid").await;
    let _operator = env.operator("one").await;
    env.apply(&Env::secret()).await;
    env.apply(&env.backend("anthropic")).await;
    env.wait_condition("anthropic", "Programmed", "True").await;
    let good = env.jsonpath("anthropic", "{.status.bundleDigest}").await;
    let bundles: Api<Secret> = Api::namespaced(env.cp.client().unwrap(), &env.ns);
    let mounted = bundles.get("anthropic-bundle").await.unwrap();

    // No webhook is registered here, so the apiserver stores the bad spec.
    let bad = env.backend("anthropic").replace(
        "- credit card",
        "- credit card\n            - '(?=lookahead)'",
    );
    env.apply(&bad).await;
    env.wait_condition("anthropic", "Accepted", "False").await;
    let message = env
        .jsonpath(
            "anthropic",
            "{.status.conditions[?(@.type==\"Accepted\")].message}",
        )
        .await;
    assert!(
        message.contains("spec.policies.ai.promptGuard.request[0].regex.matches[1]"),
        "{message}"
    );
    let reason = env
        .jsonpath(
            "anthropic",
            "{.status.conditions[?(@.type==\"Accepted\")].reason}",
        )
        .await;
    assert_eq!(reason, "InvalidSpec");
    assert_eq!(
        env.jsonpath("anthropic", "{.status.bundleDigest}").await,
        good,
        "last good bundle kept"
    );
    let generation = env.jsonpath("anthropic", "{.metadata.generation}").await;
    assert_eq!(
        env.jsonpath("anthropic", "{.status.observedGeneration}")
            .await,
        generation
    );

    // The bundle Secret the pods mount is untouched, so running proxies keep the last good
    // guards (the real node shows a mounted bundle reaching running pods: tests/cluster/).
    let kept = bundles.get("anthropic-bundle").await.unwrap();
    assert_eq!(kept.resource_version(), mounted.resource_version());
    assert_eq!(kept.data, mounted.data);
    let events = env
        .cp
        .kubectl()
        .run([
            "get",
            "events",
            "-n",
            &env.ns,
            "--field-selector",
            "reason=InvalidSpec",
        ])
        .await
        .unwrap();
    assert!(
        events.stdout.contains("InvalidSpec"),
        "an Event records the transition: {events}"
    );

    // The user fixes that mistake and makes another at once (well within the six minutes
    // in which kube's Recorder would fold it into the first Event and keep the first note):
    // the new diagnostics are an Event of their own.
    let another = serde_json::json!([
        {"regex": {"action": "Reject", "matches": ["credit card"]}},
        {"regex": {"action": "Reject", "matches": ["(unclosed"]}},
    ]);
    env.apply(&env.0.backend("anthropic", Some(another)).unwrap())
        .await;
    let first = "spec.policies.ai.promptGuard.request[0].regex.matches[1]";
    let second = "spec.policies.ai.promptGuard.request[1].regex.matches[0]";
    let notes = env.accepted_notes("anthropic", &[first, second]).await;
    let [old, new] = [first, second].map(|path| {
        notes
            .iter()
            .filter(|(_, note)| note.contains(path))
            .collect::<Vec<_>>()
    });
    assert_eq!((old.len(), new.len()), (1, 1), "one Event each: {notes:?}");
    assert_ne!(old[0].0, new[0].0, "two Event objects: {notes:?}");
    assert!(!new[0].1.contains(first), "{notes:?}");
}

#[tokio::test]
async fn a_secret_created_after_its_backend_brings_it_to_ready() {
    let env = Env::new("op-late-secret").await;
    let _operator = env.operator("one").await;
    env.apply(&env.backend("anthropic")).await;
    env.wait_condition("anthropic", "ResolvedRefs", "False")
        .await;
    let reason = env
        .jsonpath(
            "anthropic",
            "{.status.conditions[?(@.type==\"ResolvedRefs\")].reason}",
        )
        .await;
    assert_eq!(reason, "SecretNotFound");
    let message = env
        .jsonpath(
            "anthropic",
            "{.status.conditions[?(@.type==\"ResolvedRefs\")].message}",
        )
        .await;
    assert!(message.contains("anthropic-secret"), "{message}");

    env.apply(&Env::secret()).await;
    env.wait_condition("anthropic", "ResolvedRefs", "True")
        .await;
    env.wait_condition("anthropic", "Programmed", "True").await;
}

#[tokio::test]
async fn leadership_moves_and_the_standby_writes_nothing() {
    let env = Env::new("op-leader").await;
    let mut first = env.operator("first").await;
    let second = env.operator("second").await;
    env.apply(&Env::secret()).await;
    env.apply(&env.backend("one")).await;
    env.wait_condition("one", "Programmed", "True").await;
    let standby_writes = second
        .metric_sum("agw_operator_status_writes_total")
        .await
        .unwrap();
    assert_eq!(standby_writes, 0.0, "the standby does not reconcile");
    assert_eq!(second.metric_sum("agw_operator_leader").await.unwrap(), 0.0);

    // A clean stop releases the Lease; the standby takes over and serves new Backends.
    let exited = first.terminate(Duration::from_secs(10));
    assert!(exited.is_some_and(|s| s.success()), "{}", first.log_tail());
    env.apply(&env.backend("two")).await;
    env.wait_condition("two", "Programmed", "True").await;
    assert_eq!(second.metric_sum("agw_operator_leader").await.unwrap(), 1.0);
    let holder = env
        .cp
        .kubectl()
        .run([
            "get",
            "lease",
            "agw-operator",
            "-n",
            &env.ns,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .await
        .unwrap();
    assert_eq!(holder.stdout, "second");
}

#[tokio::test]
async fn a_restarted_operator_finds_nothing_to_write() {
    let env = Env::new("op-restart").await;
    let mut first = env.operator("first").await;
    env.apply(&Env::secret()).await;
    env.apply(&env.backend("anthropic")).await;
    env.wait_condition("anthropic", "Programmed", "True").await;
    env.wait_condition("anthropic", "Ready", "False").await;
    let before = env
        .jsonpath("anthropic", "{.metadata.resourceVersion}")
        .await;
    assert!(first.terminate(Duration::from_secs(10)).is_some());

    let again = env.operator("again").await;
    eventually(
        Duration::from_secs(15),
        "the restarted operator to reconcile",
        async || {
            let done = again
                .metric_sum("agw_operator_reconciles_total{result=\"ok\"}")
                .await
                .map_err(|e| e.to_string())?;
            if done >= 1.0 {
                Ok(())
            } else {
                Err(format!("{done} reconciles"))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        again
            .metric_sum("agw_operator_status_writes_total")
            .await
            .unwrap(),
        0.0
    );
    let after = env
        .jsonpath("anthropic", "{.metadata.resourceVersion}")
        .await;
    assert_eq!(before, after, "the Backend was not written again");
}

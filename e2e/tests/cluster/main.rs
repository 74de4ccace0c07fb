//! agw on a real Kubernetes node (`hack/cluster/up.sh`: kubelet + containerd + kube-proxy),
//! installed by `hack/cluster/install-agw.sh` exactly as a user installs it (Gateway API CRDs,
//! `kubectl apply -k config/default`, images packed from the workspace's binaries). The
//! tutorial's steps 3–9 with their manifests as written, the real Claude Code CLI through
//! `kubectl port-forward`, and what only a node shows: pods under the restricted security
//! context, Secret volumes updating in running pods, pods replaced after deletion, the
//! operator's leader election, the webhook reached through its Service, and a proxy pod's
//! upstream failure raised by the operator as an Event on its Backend.
//!
//! These tests need root and a started cluster, so they are ignored by a plain `cargo test`;
//! `hack/test.sh` starts the cluster and runs them with `--ignored --test-threads=1` (they
//! restart agw's own pods, which would disturb each other in parallel).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

mod env;
mod gateway;
mod gateway_auth;
mod proxy_errors;

use agw_e2e::agw::get;
use agw_e2e::clients::Claude;
use agw_e2e::cluster::PortForward;
use agw_e2e::eventually;
use agw_e2e::operator_env::SECRET_KEY;
use agw_e2e::tutorial::{self, NAMESPACE, REJECTION};
use env::{Env, messages_reaching_mock};

/// Steps 3–9 of the tutorial, as written, on the real node; then the tutorial's own commands
/// to look at what happened.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn the_tutorial_as_written() {
    let env = Env::new().await;
    let claude = Claude::new().unwrap();
    steps_3_to_6(&env).await;
    let gateway = step_7(&env, &claude).await;
    steps_8_and_9(&env, &claude, &gateway).await;

    // The Backend's own Service, as README's Kubernetes section shows.
    let service = env.port_forward(NAMESPACE, "svc/anthropic-proxy", 80).await;
    claude
        .tutorial_prompts(&service.url(), REJECTION)
        .await
        .unwrap();

    // The tutorial's look-arounds: Backend conditions, the proxy's log.
    env.assert_listed_accepted_and_ready(NAMESPACE, "backends", "anthropic")
        .await;
    let logs = env
        .kubectl(&["logs", "-n", NAMESPACE, "deployment/agentgateway-proxy"])
        .await;
    assert!(
        logs.success() && logs.stdout.contains("request[0]"),
        "the proxy logged the guard: {logs}"
    );
    assert!(
        !logs.stdout.contains("credit card"),
        "the proxy log holds no prompt text"
    );
}

/// Steps 3–6: Gateway (served by agw-operator as Deployment agentgateway-proxy), Secret,
/// Backend (flexible model), HTTPRoute.
async fn steps_3_to_6(env: &Env) {
    // Step 2's helm --create-namespace; agw itself installs into agw-system.
    env.ensure_namespace(NAMESPACE).await;
    env.apply(&tutorial::gateway()).await;
    env.wait_available(NAMESPACE, "agentgateway-proxy").await;
    env.apply(&tutorial::secret(SECRET_KEY)).await;
    env.apply(&tutorial::backend("Backend", env.upstream(), false))
        .await;
    env.apply(&tutorial::http_route("Backend")).await;
    env.wait_available(NAMESPACE, "anthropic-proxy").await;
    env.wait_gateway_rolled_out(NAMESPACE, "anthropic-secret")
        .await;
}

/// Step 7: port-forward to the Gateway's Deployment; once the route's bundle reached the pods
/// (the passthrough `/v1/models` answers), Claude answers, and the provider saw the Secret's key.
async fn step_7(env: &Env, claude: &Claude) -> PortForward {
    let gateway = env
        .port_forward(NAMESPACE, "deployment/agentgateway-proxy", 80)
        .await;
    eventually(
        Duration::from_mins(1),
        "the route reaches the Gateway's pods",
        async || match get(gateway.local(), "/v1/models").await {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
    .unwrap();
    let answer = claude
        .prompt(&gateway.url(), "What is Kubernetes?")
        .await
        .unwrap();
    assert!(
        answer.code == Some(0) && answer.stdout.contains("open-source system"),
        "{answer:?}"
    );
    let seen = env.mock.requests().await.unwrap();
    let keyed = seen
        .iter()
        .filter(|r| r["headers"]["x-api-key"] == SECRET_KEY)
        .count();
    assert!(keyed > 0, "the proxy injected the Secret's key: {seen:?}");
    gateway
}

/// Step 8 adds the guard, which reaches the running pods through the mounted bundle Secret
/// (no pod replaced or restarted); step 9: rejected before reaching the provider, the innocent
/// prompt still answered.
async fn steps_8_and_9(env: &Env, claude: &Claude, gateway: &PortForward) {
    let selector = "gateway.networking.k8s.io/gateway-name=agentgateway-proxy";
    let pods_before = env.pods(NAMESPACE, selector).await;
    env.apply(&tutorial::backend("Backend", env.upstream(), true))
        .await;
    let before = messages_reaching_mock(&env.mock).await;
    eventually(
        Duration::from_secs(90),
        "the guard reaches the running Gateway pods",
        async || {
            let out = claude
                .prompt(&gateway.url(), "What is a credit card")
                .await
                .map_err(|e| e.to_string())?;
            let printed = format!("{}{}", out.stdout, out.stderr);
            if out.code != Some(0) && printed.contains(REJECTION) {
                Ok(())
            } else {
                Err(format!("{out:?}"))
            }
        },
    )
    .await
    .unwrap();
    let guarded = messages_reaching_mock(&env.mock).await;
    claude
        .tutorial_prompts(&gateway.url(), REJECTION)
        .await
        .unwrap();
    // Only the innocent prompt of tutorial_prompts reached the provider once guarded.
    assert_eq!(messages_reaching_mock(&env.mock).await, guarded + 1);
    assert!(guarded >= before, "{before} → {guarded}");
    assert_eq!(
        pods_before,
        env.pods(NAMESPACE, selector).await,
        "no pod was replaced"
    );
    let restarts = env
        .jsonpath(
            NAMESPACE,
            &["pods", "-l", selector],
            "{.items[*].status.containerStatuses[*].restartCount}",
        )
        .await;
    assert!(
        restarts.split_whitespace().all(|r| r == "0"),
        "no container restarted: {restarts}"
    );
}

/// A Backend the compiler refuses fails `kubectl apply` with the webhook pod's field errors,
/// reached by the apiserver through the webhook's Service.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn a_bad_backend_is_refused_by_the_webhook_pod() {
    let env = Env::new().await;
    env.ensure_namespace("bad-backends").await;
    let bad = r#"apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {name: bad, namespace: bad-backends}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      promptGuard:
        request:
        - regex: {action: Reject, matches: ["(?<=x)card"], builtins: [Passport]}
"#;
    let out = env
        .cluster
        .kubectl()
        .run_with_stdin(["apply", "-f", "-"], bad)
        .await
        .unwrap();
    assert!(!out.success(), "{out}");
    // Only the compiler knows builtins and regex support: these lines come from the webhook pod.
    for expected in [
        "spec.policies.ai.promptGuard.request[0].regex.matches[0]",
        "spec.policies.ai.promptGuard.request[0].regex.builtins[0]",
        "unknown builtin \"Passport\"",
    ] {
        assert!(out.stderr.contains(expected), "{expected:?} in {out}");
    }
}

/// The pods run as the image and the operator say: uid 65532, read-only root filesystem.
/// Checked on the processes themselves, which the node's pods are on this machine.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn agw_pods_run_as_nonroot_on_a_read_only_root() {
    let env = Env::new().await;
    let cgroup_root = format!("/{}/", env.cluster.netns());
    let mut seen = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if !matches!(comm, "agw-proxy" | "agw-operator" | "agw-webhook") {
            continue;
        }
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
        if !cgroup.contains(&cgroup_root) {
            continue; // a process of another test on this machine, not a pod
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .unwrap_or_default()
            .to_owned();
        let mounts = std::fs::read_to_string(dir.join("mountinfo")).unwrap_or_default();
        let root = mounts
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some("/"))
            .unwrap_or_default()
            .to_owned();
        seen.push((comm.to_owned(), uid, root));
    }
    for binary in ["agw-operator", "agw-webhook"] {
        assert!(
            seen.iter().filter(|(c, ..)| c == binary).count() >= 2,
            "two {binary} pods in {seen:?}"
        );
    }
    for (comm, uid, root) in &seen {
        assert!(
            uid.split_whitespace().all(|u| u == "65532"),
            "{comm} runs as {uid}"
        );
        let options = root.split_whitespace().nth(5).unwrap_or_default();
        assert!(
            options.split(',').any(|o| o == "ro"),
            "{comm}'s root is read-only: {root}"
        );
    }
}

/// A deleted proxy pod is replaced by its Deployment and traffic resumes through a new
/// port-forward, as a user would reconnect.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn a_deleted_proxy_pod_is_replaced_and_traffic_resumes() {
    let env = Env::new().await;
    let ns = "pod-deletion";
    env.ensure_namespace(ns).await;
    let backend = tutorial::backend("Backend", env.upstream(), true).replace(NAMESPACE, ns);
    env.apply(&tutorial::secret(SECRET_KEY).replace(NAMESPACE, ns))
        .await;
    env.apply(&backend).await;
    env.wait_available(ns, "anthropic-proxy").await;
    let selector = "agentgateway.dev/backend=anthropic";
    let pods = env.pods(ns, selector).await;
    assert!(!pods.is_empty(), "{}", env.cluster.describe(ns).await);

    let out = env
        .kubectl(&["delete", "pod", "-n", ns, &pods[0], "--wait=true"])
        .await;
    assert!(out.success(), "{out}");
    env.wait_available(ns, "anthropic-proxy").await;
    let replaced = env.pods(ns, selector).await;
    assert!(!replaced.contains(&pods[0]), "{pods:?} → {replaced:?}");

    let forward = env.port_forward(ns, "svc/anthropic-proxy", 80).await;
    let claude = Claude::new().unwrap();
    claude
        .tutorial_prompts(&forward.url(), REJECTION)
        .await
        .unwrap();
}

/// Deleting the leading operator pod hands the Lease to the other replica within the lease
/// duration (15 s), and a Backend change made afterwards is still programmed.
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn the_other_operator_replica_takes_over() {
    let env = Env::new().await;
    let ns = "leader-failover";
    env.ensure_namespace(ns).await;
    env.apply(&tutorial::secret(SECRET_KEY).replace(NAMESPACE, ns))
        .await;
    env.apply(&tutorial::backend("Backend", env.upstream(), false).replace(NAMESPACE, ns))
        .await;
    env.wait_available(ns, "anthropic-proxy").await;
    let digest = env
        .jsonpath(ns, &["backend/anthropic"], "{.status.bundleDigest}")
        .await;
    assert!(digest.starts_with("sha256:"), "{digest:?}");

    let leader = env
        .jsonpath(
            "agw-system",
            &["lease/agw-operator"],
            "{.spec.holderIdentity}",
        )
        .await;
    let out = env
        .kubectl(&["delete", "pod", "-n", "agw-system", &leader, "--wait=false"])
        .await;
    assert!(out.success(), "{out}");
    let lease = eventually(
        Duration::from_secs(30),
        "another replica holds the Lease",
        async || {
            let holder = env
                .jsonpath(
                    "agw-system",
                    &["lease/agw-operator"],
                    "{.spec.holderIdentity}",
                )
                .await;
            if !holder.is_empty() && holder != leader {
                Ok(holder)
            } else {
                Err(format!("holder {holder:?}"))
            }
        },
    )
    .await;
    lease.unwrap();

    env.apply(&tutorial::backend("Backend", env.upstream(), true).replace(NAMESPACE, ns))
        .await;
    let generation = env
        .jsonpath(ns, &["backend/anthropic"], "{.metadata.generation}")
        .await;
    eventually(
        Duration::from_mins(1),
        "the new leader programs the change",
        async || {
            let now = env
                .jsonpath(
                    ns,
                    &["backend/anthropic"],
                    "{.status.bundleDigest}/{.status.observedGeneration}",
                )
                .await;
            if now != format!("{digest}/{generation}") && now.ends_with(&format!("/{generation}")) {
                Ok(())
            } else {
                Err(now)
            }
        },
    )
    .await
    .unwrap();
    env.wait_available("agw-system", "agw-operator").await;
}

/// With every webhook pod replaced, `kubectl apply` of a Backend works again once the new
/// pods are Ready (failurePolicy Fail: the apiserver must reach a pod through the Service).
#[tokio::test]
#[ignore = "needs the real node: hack/cluster/up.sh + install-agw.sh (hack/test.sh)"]
async fn backends_apply_again_after_the_webhook_restarts() {
    let env = Env::new().await;
    let ns = "webhook-restart";
    env.ensure_namespace(ns).await;
    let out = env
        .kubectl(&[
            "rollout",
            "restart",
            "-n",
            "agw-system",
            "deployment/agw-webhook",
        ])
        .await;
    assert!(out.success(), "{out}");
    env.wait_available("agw-system", "agw-webhook").await;
    let backend = tutorial::backend("Backend", env.upstream(), true).replace(NAMESPACE, ns);
    eventually(
        Duration::from_secs(30),
        "the webhook admits a Backend",
        async || {
            let out = env
                .cluster
                .kubectl()
                .run_with_stdin(["apply", "-f", "-"], &backend)
                .await
                .map_err(|e| e.to_string())?;
            if out.success() {
                Ok(())
            } else {
                Err(out.to_string())
            }
        },
    )
    .await
    .unwrap();
}

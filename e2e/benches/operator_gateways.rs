//! The Gateway controller at scale on a real kube-apiserver: 1,000 Backends and 1,000
//! HTTPRoutes on 10 Gateways (100 routes each). Reports the time until every Gateway has all
//! its routes attached, what the operator asked the apiserver for meanwhile (GET/LIST of the
//! kinds a Gateway is programmed from, from the apiserver's own metrics), the operator's RSS,
//! and then, for one Backend edit: the time until its Gateway's bundle Secret changes and how
//! many objects were reconciled for it (target: its Backend and the one Gateway routing to it,
//! independent of the total). Run with `hack/bench-operator`.

// Metric samples compared here are whole counts, exact in f64.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::float_cmp
)]

use std::time::{Duration, Instant};

use agw_e2e::ControlPlane;
use agw_e2e::agw::AgwProcess;
use agw_e2e::binaries::gateway_api_crds;
use agw_e2e::operator::{self, OperatorOptions};
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};

const GATEWAYS: usize = 10;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn object(yaml: &str) -> DynamicObject {
    serde_norway::from_str(yaml).unwrap()
}

fn backend(i: usize, guard: &str) -> DynamicObject {
    object(&format!(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {{name: b-{i}}}\nspec:\n  \
         ai: {{provider: {{anthropic: {{}}}}}}\n  policies:\n    auth: {{secretRef: {{name: anthropic-secret}}}}\n    \
         ai:\n      routes: {{/v1/messages: Messages, '*': Passthrough}}\n      promptGuard:\n        request:\n        \
         - regex: {{action: Reject, matches: ['{guard}'], builtins: [CreditCard]}}\n"
    ))
}

fn gateway(g: usize) -> DynamicObject {
    object(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw-{g}}}\nspec:\n  \
         gatewayClassName: agentgateway\n  listeners: [{{name: http, protocol: HTTP, port: 8080}}]\n"
    ))
}

fn route(i: usize) -> DynamicObject {
    object(&format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r-{i}}}\nspec:\n  \
         parentRefs: [{{name: gw-{}}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /team-{i}}}}}]\n    \
         backendRefs: [{{group: agentgateway.dev, kind: Backend, name: b-{i}}}]\n",
        i % GATEWAYS
    ))
}

fn api(client: &Client, ns: &str, object: &DynamicObject) -> Api<DynamicObject> {
    let types = object.types.as_ref().unwrap();
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", &types.api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &types.kind);
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

async fn create_all(client: &Client, ns: &str, objects: Vec<DynamicObject>) {
    futures_util::stream::iter(objects)
        .for_each_concurrent(32, |object| {
            let api = api(client, ns, &object);
            async move {
                api.create(&PostParams::default(), &object).await.unwrap();
            }
        })
        .await;
}

/// GET and LIST requests the apiserver served for HTTPRoutes, Backends of both kinds and
/// ReferenceGrants (the bench itself reads none of them).
async fn reads_of_program_inputs(client: &Client) -> f64 {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(request).await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| l.contains("verb=\"GET\"") || l.contains("verb=\"LIST\""))
        .filter(|l| {
            [
                "resource=\"httproutes\"",
                "resource=\"backends\"",
                "resource=\"agentgatewaybackends\"",
                "resource=\"referencegrants\"",
            ]
            .iter()
            .any(|r| l.contains(r))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn attached(client: &Client, ns: &str) -> Vec<i64> {
    let api: Api<DynamicObject> = api(client, ns, &gateway(0));
    let list = api.list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .map(|g| {
            g.data["status"]["listeners"][0]["attachedRoutes"]
                .as_i64()
                .unwrap_or(0)
        })
        .collect()
}

async fn wait_all_attached(client: &Client, ns: &str, per_gateway: i64, operator: &AgwProcess) {
    let started = Instant::now();
    loop {
        let counts = attached(client, ns).await;
        if counts.len() == GATEWAYS && counts.iter().all(|c| *c == per_gateway) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_mins(15),
            "attached routes {counts:?}; the operator's log ends with:\n{}",
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Edits Backend 0's guard; returns the time until Gateway 0's bundle Secret changed and the
/// reconciles the operator ran for it (counted once the operator is quiet again).
async fn one_edit(client: &Client, ns: &str, operator: &AgwProcess) -> (Duration, f64) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let before = secrets.get("gw-0-bundle").await.unwrap();
    let reconciles = async || {
        operator
            .metric_sum("agw_operator_reconciles_total")
            .await
            .unwrap()
    };
    let quiet = settled(&reconciles).await;
    let edited = backend(0, "account number");
    let started = Instant::now();
    api(client, ns, &edited)
        .patch(
            "b-0",
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&edited),
        )
        .await
        .unwrap();
    loop {
        let now = secrets.get("gw-0-bundle").await.unwrap();
        if now.data != before.data {
            break;
        }
        assert!(started.elapsed() < Duration::from_mins(1), "no new bundle");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    // Reconciles triggered by the edit have all run once the count stops moving.
    (took, settled(&reconciles).await - quiet)
}

/// The reconcile count once it stopped moving for 3 s (the operator caught up).
async fn settled(reconciles: &impl AsyncFn() -> f64) -> f64 {
    let mut last = reconciles().await;
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = reconciles().await;
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::main]
async fn main() {
    let n = env_count("AGW_BENCH_ROUTES", 1_000);
    assert!(
        n.is_multiple_of(GATEWAYS),
        "AGW_BENCH_ROUTES must be a multiple of {GATEWAYS}"
    );
    let cp = ControlPlane::start().await.unwrap();
    cp.install_crds(&[gateway_api_crds().unwrap().as_path()])
        .await
        .unwrap();
    let ns = cp.namespace("bench-gw").await.unwrap();
    let identity = operator::grant(&cp, &ns).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = OperatorOptions {
        namespace: ns.clone(),
        identity: "bench".to_owned(),
        mount_root: dir.path().join("mounts"),
        log_dir: dir.path().join("logs"),
        extra_args: vec!["--gateway-api=on".to_owned()],
    };
    let operator = operator::start(&identity, &options).await.unwrap();
    let client = cp.client().unwrap();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: anthropic-secret}\nstringData: {Authorization: sk-ant-bench}\n";
    cp.kubectl()
        .apply_stdin(&ns, secret)
        .await
        .unwrap()
        .check()
        .unwrap();

    let reads_before = reads_of_program_inputs(&client).await;
    let started = Instant::now();
    create_all(&client, &ns, (0..GATEWAYS).map(gateway).collect()).await;
    create_all(
        &client,
        &ns,
        (0..n).map(|i| backend(i, "credit card")).collect(),
    )
    .await;
    create_all(&client, &ns, (0..n).map(route).collect()).await;
    let created = started.elapsed();
    let per_gateway = i64::try_from(n / GATEWAYS).unwrap();
    wait_all_attached(&client, &ns, per_gateway, &operator).await;
    let all_attached = started.elapsed();
    let reads = reads_of_program_inputs(&client).await - reads_before;
    let rss = rss_mib(operator.pid());
    let (edit_took, edit_reconciles) = one_edit(&client, &ns, &operator).await;

    println!(
        "\nagw-operator Gateway controller on a real kube-apiserver (operator as a process)\n"
    );
    println!("| {n} Backends + {n} HTTPRoutes on {GATEWAYS} Gateways | value |");
    println!("|---|---|");
    println!(
        "| time to create them (32 concurrent clients) | {:.1} s |",
        created.as_secs_f64()
    );
    println!(
        "| time until every Gateway has all its routes attached | {:.1} s |",
        all_attached.as_secs_f64()
    );
    println!("| apiserver GET+LIST of routes, Backends, grants meanwhile | {reads:.0} |");
    println!("| operator RSS after | {rss:.0} MiB |");
    println!(
        "| one Backend edit → its Gateway's bundle Secret rewritten | {:.0} ms |",
        edit_took.as_secs_f64() * 1e3
    );
    println!(
        "| objects reconciled for that edit (its Backend + 1 Gateway is ideal) | {edit_reconciles:.0} |"
    );
}

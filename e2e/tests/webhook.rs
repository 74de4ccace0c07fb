//! `agw-webhook` behind a real kube-apiserver, driven with the real kubectl: the apiserver calls
//! it over TLS for every Backend CREATE and UPDATE (registered with the shipped
//! `config/webhook/validating-webhook.yaml`), good Backends apply, bad ones fail `kubectl apply`
//! with every bad field named, warnings reach the user, and certificate rotation or an outage
//! never lets a bad Backend through.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::binaries::workspace_root;
use agw_e2e::webhook::Webhook;
use agw_e2e::{ControlPlane, KubectlOutput};

const TUTORIAL_BACKENDS: [&str; 4] = [
    "backend-flexible.yaml",
    "backend-fixed-model.yaml",
    "backend-guarded.yaml",
    "backend-extended-guards.yaml",
];

/// A control plane, a namespace and a webhook registered for that namespace only.
async fn setup(prefix: &str) -> (&'static ControlPlane, String, Webhook) {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace(prefix).await.unwrap();
    let webhook = Webhook::start().await.unwrap();
    webhook
        .register(cp, &format!("agw-webhook-{ns}"), &[&ns])
        .await
        .unwrap();
    (cp, ns, webhook)
}

fn backend(name: &str, guard: &str) -> String {
    format!(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {{name: {name}}}\nspec:\n  \
         ai: {{provider: {{anthropic: {{}}}}}}\n  policies:\n    auth: {{secretRef: {{name: anthropic-secret}}}}\n    \
         ai:\n      routes: {{/v1/messages: Messages, '*': Passthrough}}\n      promptGuard:\n        \
         request:\n        - {guard}\n"
    )
}

async fn apply(cp: &ControlPlane, ns: &str, yaml: &str) -> KubectlOutput {
    cp.kubectl().apply_stdin(ns, yaml).await.unwrap()
}

#[tokio::test]
async fn the_tutorial_backends_apply_through_the_webhook() {
    let (cp, ns, mut webhook) = setup("wh-tutorial").await;
    let samples = workspace_root().join("config/samples");
    for file in TUTORIAL_BACKENDS {
        let out = cp
            .kubectl()
            .apply_file(&ns, &samples.join(file))
            .await
            .unwrap();
        assert!(out.success(), "{out}");
        assert!(!out.stderr.contains("Warning"), "{out}");
    }
    let allowed = webhook
        .process()
        .metric_sum("agw_webhook_admissions_total{operation=\"")
        .await
        .unwrap();
    assert!(
        allowed >= 4.0,
        "the apiserver called the webhook: {allowed}"
    );
}

#[tokio::test]
async fn bad_backends_fail_apply_naming_each_field() {
    let (cp, ns, _webhook) = setup("wh-bad").await;
    let cases = [
        (
            "unknown-builtin",
            "regex: {action: Reject, builtins: [CreditCrd]}",
            "spec.policies.ai.promptGuard.request[0].regex.builtins[0]",
            "CreditCard",
        ),
        (
            "lookahead",
            "regex: {action: Reject, matches: ['credit(?=card)']}",
            "spec.policies.ai.promptGuard.request[0].regex.matches[0]",
            "lookahead",
        ),
        (
            "huge-repetition",
            "regex: {action: Reject, matches: ['a{1000}{1000}']}",
            "spec.policies.ai.promptGuard.request[0].regex.matches[0]",
            "",
        ),
    ];
    for (name, guard, field, hint) in cases {
        let out = apply(cp, &ns, &backend(name, guard)).await;
        println!("{out}");
        assert_eq!(out.code(), Some(1), "{out}");
        assert!(out.stderr.contains(field), "{name}: {out}");
        assert!(out.stderr.contains(hint), "{name}: {out}");
        let get = cp
            .kubectl()
            .run(["get", "backend", name, "-n", &ns])
            .await
            .unwrap();
        assert!(!get.success(), "{name} must not be stored: {get}");
    }

    // Invalid route type: the CRD schema lists the route types, so the apiserver refuses it
    // before the webhook; the user sees the field either way.
    let route = backend("bad-route", "regex: {builtins: [Email]}")
        .replace("/v1/messages: Messages", "/v1/messages: Mesages");
    let out = apply(cp, &ns, &route).await;
    println!("{out}");
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("spec.policies.ai.routes"), "{out}");
}

#[tokio::test]
async fn every_error_of_one_backend_is_reported_at_once() {
    let (cp, ns, _webhook) = setup("wh-many").await;
    let guard = "regex: {action: Reject, builtins: [Passport], matches: ['(?<=x)y', 'ok']}";
    let yaml = backend("many", guard).replace(
        "name: anthropic-secret",
        "name: anthropic-secret, key: '../x'",
    );
    let out = apply(cp, &ns, &yaml).await;
    println!("{out}");
    assert_eq!(out.code(), Some(1), "{out}");
    for field in [
        "spec.policies.auth.secretRef.key",
        "spec.policies.ai.promptGuard.request[0].regex.builtins[0]",
        "spec.policies.ai.promptGuard.request[0].regex.matches[0]",
    ] {
        assert!(out.stderr.contains(field), "{field}: {out}");
    }
    assert!(
        out.stderr.contains("The Backend \"many\" is invalid"),
        "{out}"
    );
}

#[tokio::test]
async fn warnings_are_printed_and_the_backend_is_stored() {
    let (cp, ns, _webhook) = setup("wh-warn").await;
    let yaml =
        backend("no-fallback", "regex: {builtins: [Email]}").replace(", '*': Passthrough", "");
    let out = apply(cp, &ns, &yaml).await;
    println!("{out}");
    assert!(out.success(), "{out}");
    assert!(
        out.stderr.contains("Warning: spec.policies.ai.routes"),
        "{out}"
    );
}

#[tokio::test]
async fn server_side_dry_run_gives_the_same_verdict_and_stores_nothing() {
    let (cp, ns, _webhook) = setup("wh-dry").await;
    let bad = backend("dry-bad", "regex: {builtins: [CreditCrd]}");
    let good = backend("dry-good", "regex: {builtins: [CreditCard]}");
    let kubectl = cp.kubectl();
    let dry = ["apply", "--dry-run=server", "-n", &ns, "-f", "-"];
    let refused = kubectl.run_with_stdin(dry, &bad).await.unwrap();
    assert_eq!(refused.code(), Some(1), "{refused}");
    assert!(refused.stderr.contains("builtins[0]"), "{refused}");
    let accepted = kubectl.run_with_stdin(dry, &good).await.unwrap();
    assert!(accepted.success(), "{accepted}");
    assert!(accepted.stdout.contains("(server dry run)"), "{accepted}");
    let get = kubectl
        .run(["get", "backends", "-n", &ns, "-o", "name"])
        .await
        .unwrap();
    assert_eq!(get.stdout.trim(), "", "dry runs store nothing: {get}");
}

#[tokio::test]
async fn an_update_to_a_bad_spec_is_refused_and_the_stored_object_is_unchanged() {
    let (cp, ns, _webhook) = setup("wh-update").await;
    let good = backend(
        "edited",
        "regex: {action: Reject, matches: ['credit card']}",
    );
    assert!(apply(cp, &ns, &good).await.success());
    let kubectl = cp.kubectl();
    let spec_of = async || {
        let args = [
            "get",
            "backend",
            "edited",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec}{.metadata.generation}",
        ];
        kubectl.run(args).await.unwrap().check().unwrap().stdout
    };
    let before = spec_of().await;

    let bad = good.replace("'credit card'", "'(?<!no )credit card'");
    let out = apply(cp, &ns, &bad).await;
    println!("{out}");
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("regex.matches[0]"), "{out}");

    // `kubectl edit` sends a patch; `kubectl patch` takes the same path through admission.
    let patch = r#"[{"op":"replace","path":"/spec/policies/ai/promptGuard/request/0/regex/builtins","value":["Nope"]}]"#;
    let patched = kubectl
        .run([
            "patch",
            "backend",
            "edited",
            "-n",
            &ns,
            "--type=json",
            "-p",
            patch,
        ])
        .await
        .unwrap();
    assert_eq!(patched.code(), Some(1), "{patched}");
    assert!(patched.stderr.contains("builtins[0]"), "{patched}");
    assert_eq!(spec_of().await, before, "the stored Backend did not change");
}

#[tokio::test]
async fn certificate_rotation_during_applies_fails_no_admission() {
    let (cp, ns, mut webhook) = setup("wh-rotate").await;
    let kubectl = cp.kubectl();
    let rotations = async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            webhook.rotate_serving_cert().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    };
    let applies = async {
        let mut failures = Vec::new();
        for i in 0..30 {
            let yaml = backend(&format!("rotating-{i}"), "regex: {builtins: [Email]}");
            let out = kubectl.apply_stdin(&ns, &yaml).await.unwrap();
            if !out.success() {
                failures.push(out.to_string());
            }
        }
        failures
    };
    let ((), failures) = tokio::join!(rotations, applies);
    assert!(
        failures.is_empty(),
        "failed admissions:\n{}",
        failures.join("\n")
    );
    let reloads = webhook
        .process()
        .metric_sum("agw_webhook_tls_reloads_total{result=\"ok\"}")
        .await
        .unwrap();
    assert!(
        reloads >= 1.0,
        "the webhook reloaded its certificate: {reloads}\n{}",
        webhook.process().log_tail()
    );
}

#[tokio::test]
async fn with_the_webhook_down_backends_cannot_change() {
    let (cp, ns, mut webhook) = setup("wh-down").await;
    let exited = webhook.process().terminate(Duration::from_secs(10));
    assert!(
        exited.is_some_and(|status| status.success()),
        "SIGTERM ends the webhook cleanly"
    );
    let out = apply(
        cp,
        &ns,
        &backend("while-down", "regex: {builtins: [Email]}"),
    )
    .await;
    println!("{out}");
    assert_eq!(out.code(), Some(1), "failurePolicy Fail: {out}");
    assert!(out.stderr.contains("failed calling webhook"), "{out}");
}

/// An AgentgatewayPolicy agw cannot enforce fails `kubectl apply` naming each field; a good
/// one applies.
#[tokio::test]
async fn bad_agentgateway_policies_fail_apply_naming_each_field() {
    let (cp, ns, _webhook) = setup("wh-policy").await;
    let policy = |name: &str, target_kind: &str, traffic: &str| {
        format!(
            "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {{name: {name}}}\nspec:\n  targetRefs: [{{group: gateway.networking.k8s.io, kind: {target_kind}, name: agentgateway-proxy, sectionName: http}}]\n  traffic: {traffic}\n"
        )
    };
    let good = apply(
        cp,
        &ns,
        &policy(
            "good",
            "Gateway",
            "{apiKeyAuthentication: {secretRef: {name: team-keys}}}",
        ),
    )
    .await;
    assert!(good.success(), "{good}");
    let bad = apply(
        cp,
        &ns,
        &policy(
            "bad",
            "Service",
            "{cors: {allowOrigins: ['*']}, jwtAuthentication: {providers: [{issuer: 'https://idp', audiences: [], jwks: {remote: {uri: 'https://idp/jwks'}}}]}}",
        ),
    )
    .await;
    println!("{bad}");
    assert_eq!(bad.code(), Some(1), "{bad}");
    for field in [
        "spec.targetRefs[0].kind",
        "spec.traffic.cors",
        "spec.traffic.jwtAuthentication.providers[0].audiences",
    ] {
        assert!(bad.stderr.contains(field), "{field}: {bad}");
    }
    let get = cp
        .kubectl()
        .run(["get", "agentgatewaypolicy", "bad", "-n", &ns])
        .await
        .unwrap();
    assert!(!get.success(), "the bad policy must not be stored: {get}");
}

//! Client authentication through the operator, against a real apiserver: a Backend with
//! `apiKeyAuthentication` gets its key Secret mounted whole in the proxy Deployment, its status
//! counts the identities (recounted when the Secret changes), and an entry that is not a key is
//! reported at `ResolvedRefs` by name, never by value; JWT key sets in a Secret or ConfigMap
//! are mounted too, counted in `status.jwtProviders`, and a missing one is `InvalidJwks`. That
//! the proxy reads the mounted keys and reloads them is the proxy's tests'
//! (`e2e/python/test_client_auth.py`, `e2e/python/test_jwt.py`, unit tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agw_e2e::eventually;
use agw_e2e::operator_env::OperatorEnv;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

const ALICE: &str = "agw-alice-5f0c1e9a7d3b2c4e";
const CAROL: &str = "agw-carol-aabbccddeeff0011";

fn keys(extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: team-keys}}\nstringData:\n  alice: {ALICE}\n{extra}"
    )
}

async fn jsonpath(env: &OperatorEnv, path: &str) -> String {
    let args = [
        "get",
        "backend",
        "anthropic",
        "-n",
        &env.ns,
        "-o",
        &format!("jsonpath={path}"),
    ];
    env.cp.kubectl().run(args).await.unwrap().stdout
}

async fn wait_for(env: &OperatorEnv, path: &str, want: &str) {
    eventually(
        Duration::from_secs(30),
        &format!("{path} = {want}"),
        async || {
            let got = jsonpath(env, path).await;
            if got == want {
                Ok(())
            } else {
                Err(format!("{path} is {got:?}"))
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn key_secrets_are_mounted_counted_and_refused_by_entry_name() {
    let env = OperatorEnv::new("op-client-auth").await.unwrap();
    let _operator = env.operator("one", &[]).await.unwrap();
    env.apply(&OperatorEnv::secret().unwrap()).await.unwrap();
    env.apply(&keys("")).await.unwrap();
    let mut backend: serde_json::Value =
        serde_norway::from_str(&env.backend("anthropic", None).unwrap()).unwrap();
    backend["spec"]["policies"]["apiKeyAuthentication"] =
        serde_json::json!({"secretRef": {"name": "team-keys"}});
    env.apply(&serde_norway::to_string(&backend).unwrap())
        .await
        .unwrap();
    wait_for(&env, "{.status.identities}", "1").await;

    let client = env.cp.client().unwrap();
    let deployment = Api::<Deployment>::namespaced(client, &env.ns)
        .get("anthropic-proxy")
        .await
        .unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some("team-keys"))
        .expect("the key Secret is a volume");
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume.name)
        .expect("and it is mounted");
    assert!(
        mount
            .mount_path
            .ends_with(&format!("/{}/team-keys", env.ns)),
        "{mount:?}"
    );

    // A key added to the Secret is counted; the Secret is watched.
    env.apply(&keys(&format!("  carol: {CAROL}\n")))
        .await
        .unwrap();
    wait_for(&env, "{.status.identities}", "2").await;

    // An entry that is not a key is named in ResolvedRefs; its value never appears.
    env.apply(&keys(
        "  dave: '{\"keyhash\": \"agw-dave-secret-value\"}'\n",
    ))
    .await
    .unwrap();
    let reason = "{.status.conditions[?(@.type==\"ResolvedRefs\")].reason}";
    wait_for(&env, reason, "InvalidClientKeys").await;
    let message = jsonpath(
        &env,
        "{.status.conditions[?(@.type==\"ResolvedRefs\")].message}",
    )
    .await;
    assert!(message.contains("team-keys data.dave"), "{message}");
    assert!(!message.contains("agw-dave-secret-value"), "{message}");
    let described = env
        .cp
        .kubectl()
        .run(["describe", "backend", "anthropic", "-n", &env.ns])
        .await
        .unwrap()
        .stdout;
    assert!(described.contains("InvalidClientKeys"), "{described}");
    for key in [ALICE, CAROL, "agw-dave-secret-value"] {
        assert!(!described.contains(key), "{described}");
    }
}

const JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "e1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// JWT key sets in a Secret and a ConfigMap: a missing Secret is `ResolvedRefs=False`,
/// `InvalidJwks`; once it exists (the Secret is watched) the providers are counted and both
/// objects are mounted in the proxy pods where the bundle reads them.
#[tokio::test]
async fn jwt_key_sets_are_mounted_counted_and_a_missing_one_is_named() {
    let env = OperatorEnv::new("op-client-jwt").await.unwrap();
    let _operator = env.operator("one", &[]).await.unwrap();
    env.apply(&OperatorEnv::secret().unwrap()).await.unwrap();
    let config_map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ci-jwks"}, "data": {"jwks.json": JWKS}});
    env.apply(&serde_norway::to_string(&config_map).unwrap())
        .await
        .unwrap();
    let mut backend: serde_json::Value =
        serde_norway::from_str(&env.backend("anthropic", None).unwrap()).unwrap();
    backend["spec"]["policies"]["jwtAuthentication"] = serde_json::json!({"providers": [
        {"issuer": "https://idp.example.com", "audiences": ["agw"],
         "jwks": {"secretRef": {"name": "idp-jwks"}}},
        {"issuer": "https://ci.example.com", "audiences": ["agw"],
         "jwks": {"configMapRef": {"name": "ci-jwks"}}},
    ]});
    env.apply(&serde_norway::to_string(&backend).unwrap())
        .await
        .unwrap();
    let reason = "{.status.conditions[?(@.type==\"ResolvedRefs\")].reason}";
    wait_for(&env, reason, "InvalidJwks").await;
    let message = jsonpath(
        &env,
        "{.status.conditions[?(@.type==\"ResolvedRefs\")].message}",
    )
    .await;
    assert!(message.contains("idp-jwks not found"), "{message}");

    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "idp-jwks"}, "stringData": {"jwks.json": JWKS}});
    env.apply(&serde_norway::to_string(&secret).unwrap())
        .await
        .unwrap();
    wait_for(&env, "{.status.jwtProviders}", "2").await;
    wait_for(&env, reason, "ResolvedRefs").await;

    let client = env.cp.client().unwrap();
    let deployment = Api::<Deployment>::namespaced(client, &env.ns)
        .get("anthropic-proxy")
        .await
        .unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let volumes = pod.volumes.unwrap();
    let mounted = |name: &str, path: &str| {
        let volume = volumes
            .iter()
            .find(|v| {
                v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some(name)
                    || v.config_map.as_ref().is_some_and(|c| c.name == name)
            })
            .unwrap_or_else(|| panic!("{name} is a volume"));
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == volume.name)
            .unwrap_or_else(|| panic!("{name} is mounted"));
        assert!(mount.mount_path.ends_with(path), "{mount:?}");
    };
    mounted("idp-jwks", &format!("/{}/idp-jwks", env.ns));
    mounted("ci-jwks", &format!("/{}/.configmaps/ci-jwks", env.ns));
}

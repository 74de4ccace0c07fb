//! Goldens of the objects the operator applies for a Backend and for a Gateway: every field a
//! cluster sees (security context, probes, volumes, labels, owner references), so a change to
//! any of them shows in review as a diff of the object rather than of the code building it.

use std::collections::BTreeMap;

use agw_crds::Backend;
use agw_policy::CompileOptions;
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;

use super::*;
use crate::gateway::api::Gateway;
use crate::gateway::resources as gateway_resources;

/// The operator's defaults (agw-operator --help), with a pinned image.
fn settings() -> ProxySettings {
    ProxySettings {
        image: "ghcr.io/agw-dev/agw-proxy:0.1.0".to_owned(),
        replicas: 2,
        cpu_request: "50m".to_owned(),
        memory_request: "32Mi".to_owned(),
        memory_limit: "256Mi".to_owned(),
        mount_root: "/var/run/agw".to_owned(),
        extra_args: vec![],
        rate_limit_redis: None,
    }
}

/// The tutorial's guarded Backend, as the apiserver hands it to the operator.
fn backend() -> Backend {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "Backend",
        "metadata": {
            "name": "anthropic",
            "namespace": "agentgateway-system",
            "uid": "6f1c6d2e-0000-4000-8000-000000000001",
            "generation": 3
        },
        "spec": {
            "ai": {"provider": {"anthropic": {}}},
            "policies": {
                "ai": {
                    "routes": {"/v1/messages": "Messages", "*": "Passthrough"},
                    "promptGuard": {"request": [{
                        "response": {"message": "Rejected due to inappropriate content"},
                        "regex": {"action": "Reject", "matches": ["credit card"]}
                    }]}
                },
                "auth": {"secretRef": {"name": "anthropic-secret"}}
            }
        }
    }))
    .unwrap()
}

fn gateway() -> Gateway {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "agentgateway-proxy",
            "namespace": "agentgateway-system",
            "uid": "6f1c6d2e-0000-4000-8000-000000000002",
            "generation": 1
        },
        "spec": {
            "gatewayClassName": "agentgateway",
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]
        }
    }))
    .unwrap()
}

fn bundle(backend: &Backend) -> agw_policy::Bundle {
    let mut options = CompileOptions::new("agentgateway-system", "anthropic");
    options.auth_mount_root = settings().auth_mount_root();
    agw_policy::compile(&backend.spec, &options).unwrap().bundle
}

/// The Secret with its bundle checked and then left out: the bundle has goldens of its own
/// (agw-policy), and a digest in every operator golden would churn on any compiler change.
fn without_bundle(mut secret: Secret, bundle: &agw_policy::Bundle) -> Secret {
    let data = secret.data.take().unwrap_or_default();
    let stored = data.get(BUNDLE_KEY).unwrap();
    let parsed: agw_policy::Bundle = serde_json::from_slice(&stored.0).unwrap();
    assert_eq!(&parsed, bundle, "the Secret carries the compiled bundle");
    // Shown as stringData so the golden reads as text; the operator writes `data`.
    secret.string_data = Some(BTreeMap::from([(
        BUNDLE_KEY.to_owned(),
        "<the compiled bundle>".to_owned(),
    )]));
    secret
}

#[test]
fn a_backend_is_programmed_into_a_secret_a_deployment_and_a_service() {
    let backend = backend();
    let owner = backend.controller_owner_ref(&()).unwrap();
    let bundle = bundle(&backend);
    let auth = AuthMount {
        secret: "anthropic-secret".to_owned(),
        key: "Authorization".to_owned(),
    };
    let secret = without_bundle(bundle_secret(&backend, &owner, &bundle), &bundle);
    insta::assert_yaml_snapshot!("backend_bundle_secret", secret);
    insta::assert_yaml_snapshot!(
        "backend_proxy_deployment",
        proxy_deployment(&backend, &owner, Some(&auth), &[], &settings())
    );
    insta::assert_yaml_snapshot!("backend_proxy_service", proxy_service(&backend, &owner));
}

#[test]
fn a_backend_without_auth_mounts_only_its_bundle() {
    let backend = backend();
    let owner = backend.controller_owner_ref(&()).unwrap();
    let deployment = proxy_deployment(&backend, &owner, None, &[], &settings());
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let volumes: Vec<_> = pod.volumes.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(volumes, ["bundle"]);
}

#[test]
fn client_key_secrets_are_mounted_whole_where_the_bundle_reads_them() {
    let backend = backend();
    let owner = backend.controller_owner_ref(&()).unwrap();
    let keys = [crate::client_keys::KeyMount {
        secret: "team-keys".to_owned(),
        path: "/var/run/agw/auth/agentgateway-system/team-keys".to_owned(),
        config_map: false,
        jwks: false,
    }];
    let deployment = proxy_deployment(&backend, &owner, None, &keys, &settings());
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "client-keys-0")
        .and_then(|v| v.secret)
        .unwrap();
    assert_eq!(volume.secret_name.as_deref(), Some("team-keys"));
    assert!(volume.items.is_none(), "every entry is an identity");
    assert_eq!(volume.default_mode, Some(0o440));
    let mounted = pod.containers[0].volume_mounts.iter().flatten().any(|m| {
        m.name == "client-keys-0" && m.mount_path == keys[0].path && m.read_only == Some(true)
    });
    assert!(mounted);
}

#[test]
fn a_gateway_is_programmed_into_a_secret_a_deployment_and_a_service() {
    let gateway = gateway();
    let owner = gateway.controller_owner_ref(&()).unwrap();
    let bundle = bundle(&backend());
    let auth = BTreeMap::from([(
        "anthropic-secret".to_owned(),
        vec!["Authorization".to_owned()],
    )]);
    let secret = without_bundle(
        gateway_resources::bundle_secret(&gateway, &owner, &bundle),
        &bundle,
    );
    insta::assert_yaml_snapshot!("gateway_bundle_secret", secret);
    // A Backend behind the Gateway reads gateway keys: its pods mount them as a Backend's do.
    let keys = [crate::client_keys::KeyMount {
        secret: "team-keys".to_owned(),
        path: "/var/run/agw/auth/agentgateway-system/team-keys".to_owned(),
        config_map: false,
        jwks: false,
    }];
    insta::assert_yaml_snapshot!(
        "gateway_proxy_deployment",
        gateway_resources::deployment(&gateway, &owner, 80, &auth, &keys, &settings())
    );
    insta::assert_yaml_snapshot!(
        "gateway_proxy_service",
        gateway_resources::service(&gateway, &owner, 80)
    );
}

/// `--proxy-rate-limit-redis` reaches every proxy, Backend's and Gateway's, as the proxy's
/// variable (not an argument `ps` would show); without it no proxy gets the variable.
#[test]
fn the_rate_limit_redis_reaches_every_proxy_pod_as_its_variable() {
    let url = "redis://:s3cret@redis.agw-system:6379/0";
    let shared = ProxySettings {
        rate_limit_redis: Some(url.to_owned()),
        ..settings()
    };
    let (backend, gateway) = (backend(), gateway());
    let container = |deployment: Deployment| {
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        pod.containers.into_iter().next().unwrap()
    };
    let redis = |container: &Container| {
        let env = container.env.iter().flatten();
        env.filter(|e| e.name == RATE_LIMIT_REDIS_ENV)
            .map(|e| e.value.clone())
            .collect::<Vec<_>>()
    };
    let (backend_owner, gateway_owner) = (
        backend.controller_owner_ref(&()).unwrap(),
        gateway.controller_owner_ref(&()).unwrap(),
    );
    for (proxies, expected) in [(&shared, vec![Some(url.to_owned())]), (&settings(), vec![])] {
        let pods = [
            container(proxy_deployment(
                &backend,
                &backend_owner,
                None,
                &[],
                proxies,
            )),
            container(gateway_resources::deployment(
                &gateway,
                &gateway_owner,
                80,
                &BTreeMap::new(),
                &[],
                proxies,
            )),
        ];
        for pod in pods {
            assert_eq!(redis(&pod), expected);
            assert!(!pod.args.iter().flatten().any(|a| a.contains("redis")));
        }
    }
}

#[test]
fn only_a_gateway_listening_below_1024_lowers_the_unprivileged_port_start() {
    let gateway = gateway();
    let owner = gateway.controller_owner_ref(&()).unwrap();
    let sysctls = |port| {
        let deployment = gateway_resources::deployment(
            &gateway,
            &owner,
            port,
            &BTreeMap::new(),
            &[],
            &settings(),
        );
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        pod.security_context.unwrap().sysctls
    };
    let low = sysctls(80).unwrap();
    assert_eq!(low[0].name, "net.ipv4.ip_unprivileged_port_start");
    assert_eq!(low[0].value, "80");
    assert_eq!(sysctls(8080), None);
}

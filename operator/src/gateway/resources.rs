//! The objects a Gateway is programmed into: Secret `<gateway>-bundle`, and a Deployment and
//! Service named like the Gateway itself (the tutorial port-forwards
//! `deployment/agentgateway-proxy 8080:80` for its Gateway `agentgateway-proxy`). Pure, like
//! [`crate::resources`], whose pod hardening they share.
//!
//! The proxy listens on the Gateway's HTTP listener port inside the pod, so a port-forward to
//! the Deployment reaches it on the port the Gateway names; a port under 1024 is opened to the
//! non-root proxy with the namespaced sysctl `net.ipv4.ip_unprivileged_port_start`, which the
//! `restricted` Pod Security Standard allows (no capability needed).

use std::collections::BTreeMap;

use agw_policy::Bundle;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, KeyToPath, PodSpec, PodTemplateSpec, Secret, SecretVolumeSource, Service,
    ServicePort, ServiceSpec, Sysctl, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::api::Gateway;
use crate::resources::{
    ADMIN_PORT, BUNDLE_KEY, FIELD_MANAGER, ProxySettings, bundle_secret_name, port, probe,
    resources, restricted_container, restricted_pod,
};

/// The label implementations put on a Gateway's objects (Gateway API convention).
pub const GATEWAY_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// Labels on a Gateway's objects and pods.
pub fn labels(gateway: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        ),
        ("app.kubernetes.io/part-of".to_owned(), "agw".to_owned()),
        ("app.kubernetes.io/name".to_owned(), "agw-proxy".to_owned()),
        (GATEWAY_LABEL.to_owned(), gateway.to_owned()),
    ])
}

fn selector(gateway: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "agw-proxy".to_owned()),
        (GATEWAY_LABEL.to_owned(), gateway.to_owned()),
    ])
}

fn meta(gateway: &Gateway, name: String, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: gateway.namespace(),
        labels: Some(labels(&gateway.name_any())),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// The Secret holding the Gateway's bundle.
pub fn bundle_secret(gateway: &Gateway, owner: &OwnerReference, bundle: &Bundle) -> Secret {
    Secret {
        metadata: meta(gateway, bundle_secret_name(&gateway.name_any()), owner),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            BUNDLE_KEY.to_owned(),
            ByteString(bundle.to_json().into_bytes()),
        )])),
        ..Secret::default()
    }
}

/// The Service: the Gateway's listener port to the proxy.
pub fn service(gateway: &Gateway, owner: &OwnerReference, listen: i32) -> Service {
    let name = gateway.name_any();
    Service {
        metadata: meta(gateway, name.clone(), owner),
        spec: Some(ServiceSpec {
            selector: Some(selector(&name)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: listen,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The proxy Deployment; `auth` maps each auth Secret (in the Gateway's namespace) to the keys
/// the bundle reads.
pub fn deployment(
    gateway: &Gateway,
    owner: &OwnerReference,
    listen: i32,
    auth: &BTreeMap<String, Vec<String>>,
    settings: &ProxySettings,
) -> Deployment {
    let name = gateway.name_any();
    let namespace = gateway.namespace().unwrap_or_default();
    let root = settings.mount_root.trim_end_matches('/');
    let bundle_dir = format!("{root}/bundles/{namespace}/{name}");
    let mut volumes = vec![secret_volume(
        "bundle",
        &bundle_secret_name(&name),
        None,
        0o444,
    )];
    let mut mounts = vec![mount("bundle", &bundle_dir)];
    for (index, (secret, keys)) in auth.iter().enumerate() {
        let volume = format!("auth-{index}");
        volumes.push(secret_volume(&volume, secret, Some(keys), 0o440));
        mounts.push(mount(
            &volume,
            &format!("{}/{namespace}/{secret}", settings.auth_mount_root()),
        ));
    }
    let mut args = vec![
        format!("--bundle={bundle_dir}/{BUNDLE_KEY}"),
        "--log-format=json".to_owned(),
    ];
    args.extend(settings.extra_args.iter().cloned());
    let container = Container {
        name: "proxy".to_owned(),
        image: Some(settings.image.clone()),
        args: Some(args),
        // Through the environment, not `--listen`, so a pod runner that remaps ports can
        // override it.
        env: Some(vec![EnvVar {
            name: "AGW_LISTEN".to_owned(),
            value: Some(format!("0.0.0.0:{listen}")),
            ..EnvVar::default()
        }]),
        ports: Some(vec![port("http", listen), port("admin", ADMIN_PORT)]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 5)),
        resources: Some(resources(settings)),
        security_context: Some(restricted_container()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let mut pod_security = restricted_pod();
    if listen < 1024 {
        pod_security.sysctls = Some(vec![Sysctl {
            name: "net.ipv4.ip_unprivileged_port_start".to_owned(),
            value: listen.to_string(),
        }]);
    }
    Deployment {
        metadata: meta(gateway, name.clone(), owner),
        spec: Some(DeploymentSpec {
            replicas: Some(settings.replicas),
            selector: LabelSelector {
                match_labels: Some(selector(&name)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&name)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod_security),
                    termination_grace_period_seconds: Some(45),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn secret_volume(name: &str, secret: &str, keys: Option<&Vec<String>>, mode: i32) -> Volume {
    Volume {
        name: name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            items: keys.map(|keys| {
                keys.iter()
                    .map(|key| KeyToPath {
                        key: key.clone(),
                        path: key.clone(),
                        mode: None,
                    })
                    .collect()
            }),
            default_mode: Some(mode),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

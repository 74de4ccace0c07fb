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
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec, Sysctl};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::api::Gateway;
use crate::client_keys::KeyMount;
use crate::resources::{
    BUNDLE_KEY, ProxyPod, ProxySettings, bundle_secret_name, client_key_volumes, owner_labels,
    owner_selector, proxy_pod_deployment, read_only_mount, restricted_pod, secret_volume,
};

/// The label implementations put on a Gateway's objects (Gateway API convention).
pub const GATEWAY_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// Labels on a Gateway's objects and pods.
pub fn labels(gateway: &str) -> BTreeMap<String, String> {
    owner_labels(GATEWAY_LABEL, gateway)
}

fn selector(gateway: &str) -> BTreeMap<String, String> {
    owner_selector(GATEWAY_LABEL, gateway)
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
/// the bundle reads, and `keys` are the client key Secrets and JWT key sets its backends read.
pub fn deployment(
    gateway: &Gateway,
    owner: &OwnerReference,
    listen: i32,
    auth: &BTreeMap<String, Vec<String>>,
    keys: &[KeyMount],
    settings: &ProxySettings,
) -> Deployment {
    let name = gateway.name_any();
    let namespace = gateway.namespace().unwrap_or_default();
    let root = settings.mount_root.trim_end_matches('/');
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    for (index, (secret, keys)) in auth.iter().enumerate() {
        let volume = format!("auth-{index}");
        volumes.push(secret_volume(&volume, secret, Some(keys), 0o440));
        let path = format!("{}/{namespace}/{secret}", settings.auth_mount_root());
        mounts.push(read_only_mount(&volume, &path));
    }
    let (key_volumes, key_mounts) = client_key_volumes(keys);
    volumes.extend(key_volumes);
    mounts.extend(key_mounts);
    let mut security = restricted_pod();
    if listen < 1024 {
        security.sysctls = Some(vec![Sysctl {
            name: "net.ipv4.ip_unprivileged_port_start".to_owned(),
            value: listen.to_string(),
        }]);
    }
    proxy_pod_deployment(
        ProxyPod {
            metadata: meta(gateway, name.clone(), owner),
            owner_label: GATEWAY_LABEL,
            owner: &name,
            bundle_secret: bundle_secret_name(&name),
            bundle_dir: format!("{root}/bundles/{namespace}/{name}"),
            volumes,
            mounts,
            // `AGW_LISTEN` is set from `http_port` for every proxy pod.
            env: None,
            http_port: listen,
            security,
        },
        settings,
    )
}

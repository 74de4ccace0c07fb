//! The objects a Backend is programmed into, as pure functions of the Backend, its bundle and
//! the operator's proxy settings: Secret `<name>-bundle`, Deployment `<name>-proxy` and
//! Service `<name>-proxy`. Pure so they are golden-tested and so every reconcile of the same
//! inputs applies byte-identical objects (server-side apply then changes nothing).
//!
//! The pod template deliberately does not carry the bundle digest: a new bundle reaches
//! running proxies through the mounted Secret (they reload it), while an image, flag or
//! resource change rolls the pods.

use std::collections::BTreeMap;

use agw_crds::Backend;
use agw_policy::Bundle;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, HTTPGetAction,
    KeyToPath, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, Secret, SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use crate::client_keys::KeyMount;

/// The field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "agw-operator";
/// The key of the bundle in its Secret.
pub const BUNDLE_KEY: &str = "bundle.json";
/// The proxy's client port in the pod, and the Service's port.
pub const PROXY_PORT: i32 = 8080;
/// The proxy's admin port (probes, metrics).
pub const ADMIN_PORT: i32 = 9091;
/// The Service port clients (and `kubectl port-forward`) use.
pub const SERVICE_PORT: i32 = 80;
/// Label naming the Backend an object belongs to.
pub const BACKEND_LABEL: &str = "agentgateway.dev/backend";
/// The proxy's variable for `--rate-limit-redis`: the URL may hold a password, and a
/// variable keeps it off the command line `ps` shows.
pub const RATE_LIMIT_REDIS_ENV: &str = "AGW_RATE_LIMIT_REDIS";

/// How proxy pods are run; from the operator's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySettings {
    /// Container image of `agw-proxy`.
    pub image: String,
    /// Replicas per Backend.
    pub replicas: i32,
    /// CPU request, e.g. `50m`.
    pub cpu_request: String,
    /// Memory request, e.g. `32Mi`.
    pub memory_request: String,
    /// Memory limit, e.g. `128Mi`.
    pub memory_limit: String,
    /// Directory under which the bundle and auth Secrets are mounted in the pod
    /// (`<root>/bundles/<ns>/<name>`, `<root>/auth/<ns>/<secret>`).
    pub mount_root: String,
    /// Extra arguments for the proxy, e.g. `--max-body-bytes=…`.
    pub extra_args: Vec<String>,
    /// Redis every proxy shares its rate-limit budgets in (`redis://…`), if any.
    pub rate_limit_redis: Option<String>,
}

impl ProxySettings {
    /// The auth mount root handed to the compiler, so the bundle names the files the
    /// Deployment mounts.
    pub fn auth_mount_root(&self) -> String {
        format!("{}/auth", self.mount_root.trim_end_matches('/'))
    }

    fn bundle_dir(&self, namespace: &str, name: &str) -> String {
        format!(
            "{}/bundles/{namespace}/{name}",
            self.mount_root.trim_end_matches('/')
        )
    }
}

/// Names of the owned objects.
pub fn bundle_secret_name(backend: &str) -> String {
    format!("{backend}-bundle")
}

/// Name of the proxy Deployment and Service.
pub fn proxy_name(backend: &str) -> String {
    format!("{backend}-proxy")
}

/// Labels on every owned object and the pods; the selector uses the last two.
pub fn labels(backend: &str) -> BTreeMap<String, String> {
    owner_labels(BACKEND_LABEL, backend)
}

/// Labels on the objects of an owner (`owner_label` = `owner`) and on its proxy pods.
pub(crate) fn owner_labels(owner_label: &str, owner: &str) -> BTreeMap<String, String> {
    let mut labels = owner_selector(owner_label, owner);
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        FIELD_MANAGER.to_owned(),
    );
    labels.insert("app.kubernetes.io/part-of".to_owned(), "agw".to_owned());
    labels
}

/// The selector of an owner's proxy pods.
pub(crate) fn owner_selector(owner_label: &str, owner: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "agw-proxy".to_owned()),
        (owner_label.to_owned(), owner.to_owned()),
    ])
}

fn selector(backend: &str) -> BTreeMap<String, String> {
    owner_selector(BACKEND_LABEL, backend)
}

/// Metadata of an owned object: namespace, labels and a controller reference to the Backend.
fn owned_meta(backend: &Backend, name: String, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: backend.meta().namespace.clone(),
        labels: Some(labels(&backend_name(backend))),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

fn backend_name(backend: &Backend) -> String {
    backend.meta().name.clone().unwrap_or_default()
}

/// The Secret holding the bundle JSON.
pub fn bundle_secret(backend: &Backend, owner: &OwnerReference, bundle: &Bundle) -> Secret {
    let name = bundle_secret_name(&backend_name(backend));
    Secret {
        metadata: owned_meta(backend, name, owner),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            BUNDLE_KEY.to_owned(),
            ByteString(bundle.to_json().into_bytes()),
        )])),
        ..Secret::default()
    }
}

/// The Service in front of the proxy pods.
pub fn proxy_service(backend: &Backend, owner: &OwnerReference) -> Service {
    let name = backend_name(backend);
    Service {
        metadata: owned_meta(backend, proxy_name(&name), owner),
        spec: Some(ServiceSpec {
            selector: Some(selector(&name)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Where the auth Secret of a Backend is, as the compiler resolved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthMount {
    /// Secret name.
    pub secret: String,
    /// Key in the Secret.
    pub key: String,
}

/// The proxy Deployment.
pub fn proxy_deployment(
    backend: &Backend,
    owner: &OwnerReference,
    auth: Option<&AuthMount>,
    keys: &[KeyMount],
    settings: &ProxySettings,
) -> Deployment {
    let name = backend_name(backend);
    let namespace = backend.meta().namespace.clone().unwrap_or_default();
    let (mut volumes, mut mounts) = auth
        .map(|auth| {
            let path = format!("{}/{namespace}/{}", settings.auth_mount_root(), auth.secret);
            (
                vec![auth_volume(auth)],
                vec![read_only_mount("auth", &path)],
            )
        })
        .unwrap_or_default();
    let (key_volumes, key_mounts) = client_key_volumes(keys);
    volumes.extend(key_volumes);
    mounts.extend(key_mounts);
    proxy_pod_deployment(
        ProxyPod {
            metadata: owned_meta(backend, proxy_name(&name), owner),
            owner_label: BACKEND_LABEL,
            owner: &name,
            bundle_secret: bundle_secret_name(&name),
            bundle_dir: settings.bundle_dir(&namespace, &name),
            volumes,
            mounts,
            env: None,
            http_port: PROXY_PORT,
            security: restricted_pod(),
        },
        settings,
    )
}

/// The volumes and mounts of client key Secrets and JWT key sets, for a Backend's proxy and a
/// Gateway's alike. Key Secrets land whole: every entry is an identity the proxy reads. JWT
/// key sets held in ConfigMaps land the same way.
pub(crate) fn client_key_volumes(keys: &[KeyMount]) -> (Vec<Volume>, Vec<VolumeMount>) {
    keys.iter()
        .enumerate()
        .map(|(index, key)| {
            let volume = format!("client-keys-{index}");
            let source = if key.config_map {
                config_map_volume(&volume, &key.secret)
            } else {
                secret_volume(&volume, &key.secret, None, 0o440)
            };
            (source, read_only_mount(&volume, &key.path))
        })
        .unzip()
}

/// What differs between the proxy pods of a Backend and of a Gateway.
pub(crate) struct ProxyPod<'a> {
    /// The Deployment's metadata.
    pub metadata: ObjectMeta,
    /// The label naming the owner on pods.
    pub owner_label: &'a str,
    /// The owner's name.
    pub owner: &'a str,
    /// The bundle Secret.
    pub bundle_secret: String,
    /// Where it is mounted.
    pub bundle_dir: String,
    /// Volumes besides the bundle (auth Secrets).
    pub volumes: Vec<Volume>,
    /// Their mounts.
    pub mounts: Vec<VolumeMount>,
    /// Container environment besides the listen addresses.
    pub env: Option<Vec<EnvVar>>,
    /// The container port clients reach.
    pub http_port: i32,
    /// Pod security context.
    pub security: PodSecurityContext,
}

/// A hardened proxy Deployment: the bundle mounted read-only, probes on the admin port,
/// rolling updates that never drop below the desired replicas.
pub(crate) fn proxy_pod_deployment(pod: ProxyPod<'_>, settings: &ProxySettings) -> Deployment {
    let mut volumes = vec![secret_volume("bundle", &pod.bundle_secret, None, 0o444)];
    volumes.extend(pod.volumes);
    let mut mounts = vec![read_only_mount("bundle", &pod.bundle_dir)];
    mounts.extend(pod.mounts);
    // The proxy binary listens on loopback unless told otherwise (a standalone proxy spends
    // the organization's key); a pod must be reachable through its Service, so the
    // addresses are set here. Through the environment, not `--listen`, so a pod runner that
    // remaps ports can override them.
    let mut env = vec![
        env_var("AGW_LISTEN", &format!("0.0.0.0:{}", pod.http_port)),
        env_var("AGW_ADMIN", &format!("0.0.0.0:{ADMIN_PORT}")),
    ];
    env.extend(pod.env.into_iter().flatten());
    if let Some(url) = &settings.rate_limit_redis {
        env.push(env_var(RATE_LIMIT_REDIS_ENV, url));
    }
    let mut args = vec![
        format!("--bundle={}/{BUNDLE_KEY}", pod.bundle_dir),
        "--log-format=json".to_owned(),
    ];
    args.extend(settings.extra_args.iter().cloned());
    let container = Container {
        name: "proxy".to_owned(),
        image: Some(settings.image.clone()),
        args: Some(args),
        env: Some(env),
        ports: Some(vec![port("http", pod.http_port), port("admin", ADMIN_PORT)]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 5)),
        resources: Some(resources(settings)),
        security_context: Some(restricted_container()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    Deployment {
        metadata: pod.metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(settings.replicas),
            selector: LabelSelector {
                match_labels: Some(owner_selector(pod.owner_label, pod.owner)),
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
                    labels: Some(owner_labels(pod.owner_label, pod.owner)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod.security),
                    // Long enough for the proxy's drain timeout to let streams finish.
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

fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

/// A ConfigMap volume (a JWT key set: public keys, readable like any configuration).
fn config_map_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            default_mode: Some(0o444),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A Secret volume; `keys`, when given, are the only keys that land in the pod.
pub(crate) fn secret_volume(
    name: &str,
    secret: &str,
    keys: Option<&[String]>,
    mode: i32,
) -> Volume {
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

/// A read-only mount of `volume` at `path`.
pub(crate) fn read_only_mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

fn auth_volume(auth: &AuthMount) -> Volume {
    // Only the key the proxy needs lands in the pod.
    secret_volume(
        "auth",
        &auth.secret,
        Some(std::slice::from_ref(&auth.key)),
        0o440,
    )
}

pub(crate) fn port(name: &str, container_port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

pub(crate) fn probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("admin".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        ..Probe::default()
    }
}

pub(crate) fn resources(settings: &ProxySettings) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(settings.cpu_request.clone())),
            (
                "memory".to_owned(),
                Quantity(settings.memory_request.clone()),
            ),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity(settings.memory_limit.clone()),
        )])),
        ..ResourceRequirements::default()
    }
}

/// The `restricted` Pod Security Standard, pod level.
pub(crate) fn restricted_pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(65532),
        run_as_group: Some(65532),
        fs_group: Some(65532),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The `restricted` Pod Security Standard, container level.
pub(crate) fn restricted_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;

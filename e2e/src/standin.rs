//! The pod stand-in (DESIGN.md §9): this control plane has no kubelet, so the stand-in plays its
//! part for the proxy Deployments in one namespace. For each Deployment it reads the pod
//! template as written — container args and env, Secret volumes and their mount paths — writes
//! the mounted Secrets' keys to those paths (and rewrites them when the Secrets change, by
//! rename, as kubelet swaps a volume), starts the real `agw-proxy`, and reports the pod's
//! readiness in the Deployment's status the way the deployment controller would. A proxy that
//! exits is started again, as kubelet does with `restartPolicy: Always` (`starts` counts it).
//!
//! Only the pod's network is remapped: each pod gets free loopback ports through `AGW_LISTEN`
//! and `AGW_ADMIN`, since all pods share this machine. A template the stand-in cannot run as
//! written (a command, a volume kind it does not know, a mount outside its root) is recorded as
//! an error, and [`PodStandIn::pod`] fails with it: that is a test failure, not a skip.

use std::collections::{BTreeMap, hash_map::DefaultHasher};
use std::hash::{Hash as _, Hasher as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::agw::{AgwProcess, get};
use crate::envtest::ports::free_ports;
use crate::error::{Error, Result};

/// How often the stand-in looks at Deployments, Secrets and its processes.
const TICK: Duration = Duration::from_millis(200);

/// What a test can see of a running pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    /// The proxy's client address (what `kubectl port-forward svc/<name>-proxy` would reach).
    pub listen: SocketAddr,
    /// The proxy's admin address.
    pub admin: SocketAddr,
    /// The process id.
    pub pid: u32,
    /// How many times this Deployment's pod was (re)started.
    pub starts: u32,
    /// Whether `/readyz` answered 200 at the last tick.
    pub ready: bool,
}

#[derive(Debug, Default)]
struct Shared {
    pods: BTreeMap<String, PodView>,
    errors: BTreeMap<String, String>,
}

/// Runs the proxy Deployments of one namespace; stops every process when dropped.
#[derive(Debug)]
pub struct PodStandIn {
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl Drop for PodStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Pod {
    process: AgwProcess,
    template: u64,
    mounts: Vec<SecretMount>,
    view: PodView,
    reported: Option<(i64, bool)>,
}

#[derive(Clone, Debug)]
struct SecretMount {
    secret: String,
    dir: PathBuf,
    items: Option<Vec<(String, String)>>,
}

impl PodStandIn {
    /// Starts playing kubelet for Deployments in `namespace`; mounts must lie under `root`.
    pub fn start(client: Client, namespace: &str, root: &Path) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let runner = Runner {
            deployments: Api::namespaced(client.clone(), namespace),
            secrets: Api::namespaced(client, namespace),
            root: root.to_path_buf(),
            logs: root.join("logs"),
            shared: shared.clone(),
        };
        let task = tokio::spawn(runner.run());
        Self { shared, task }
    }

    /// The ready pod of Deployment `name`, waiting up to `timeout`; an error when the stand-in
    /// could not run the Deployment as written.
    pub async fn pod(&self, name: &str, timeout: Duration) -> Result<PodView> {
        crate::eventually(
            timeout,
            &format!("a ready pod for Deployment {name}"),
            async || {
                let shared = self.shared.lock().map_err(|e| e.to_string())?;
                if let Some(error) = shared.errors.get(name) {
                    return Err(format!("cannot run as written: {error}"));
                }
                match shared.pods.get(name) {
                    Some(view) if view.ready => Ok(view.clone()),
                    Some(_) => Err("the pod is not ready".to_owned()),
                    None => Err("no pod yet".to_owned()),
                }
            },
        )
        .await
    }

    /// The pod of Deployment `name` right now, ready or not.
    pub fn current(&self, name: &str) -> Option<PodView> {
        self.shared.lock().ok()?.pods.get(name).cloned()
    }
}

struct Runner {
    deployments: Api<Deployment>,
    secrets: Api<Secret>,
    root: PathBuf,
    logs: PathBuf,
    shared: Arc<Mutex<Shared>>,
}

impl Runner {
    async fn run(self) {
        let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
        loop {
            if let Err(err) = self.tick(&mut pods).await {
                tracing::debug!(error = %err, "pod stand-in tick failed");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn tick(&self, pods: &mut BTreeMap<String, Pod>) -> Result<()> {
        let list = self
            .deployments
            .list(&ListParams::default())
            .await
            .map_err(|e| Error::kube("listing Deployments", e))?;
        let names: Vec<String> = list.items.iter().map(ResourceExt::name_any).collect();
        pods.retain(|name, _| names.contains(name));
        for deployment in &list.items {
            let name = deployment.name_any();
            let outcome = self.sync(deployment, pods).await;
            let mut shared = self.shared.lock().map_err(|e| Error::UnexpectedResponse {
                what: "stand-in state".to_owned(),
                message: e.to_string(),
            })?;
            match outcome {
                Ok(()) => {
                    shared.errors.remove(&name);
                }
                Err(err) => {
                    shared.errors.insert(name.clone(), err.to_string());
                }
            }
            match pods.get(&name) {
                Some(pod) => shared.pods.insert(name, pod.view.clone()),
                None => shared.pods.remove(&name),
            };
        }
        Ok(())
    }

    async fn sync(&self, deployment: &Deployment, pods: &mut BTreeMap<String, Pod>) -> Result<()> {
        let name = deployment.name_any();
        let (spec, template) = pod_spec(deployment)?;
        let mounts = secret_mounts(&spec, &self.root)?;
        // Like kubelet with restartPolicy Always: a proxy that exited is started again (a
        // free port can be taken between choosing and binding it); the test output says so.
        let exited = pods
            .get_mut(&name)
            .and_then(|pod| pod.process.ensure_running().err());
        if let Some(err) = &exited {
            eprintln!("pod stand-in: the pod of Deployment {name} exited; restarting it: {err}");
        }
        let fresh = exited.is_some() || pods.get(&name).is_none_or(|pod| pod.template != template);
        if fresh {
            // Like kubelet: a pod whose Secret volume has no Secret yet stays pending.
            if !self.write_secrets(&mounts).await? {
                return Ok(());
            }
            let starts = pods.remove(&name).map_or(0, |old| old.view.starts);
            let pod = self
                .start_pod(&name, &spec, template, mounts, starts + 1)
                .await?;
            pods.insert(name.clone(), pod);
        }
        let Some(pod) = pods.get_mut(&name) else {
            return Ok(());
        };
        if !fresh {
            self.write_secrets(&pod.mounts).await?;
        }
        pod.view.ready = pod.process.ensure_running().is_ok()
            && matches!(get(pod.view.admin, "/readyz").await, Ok((200, _)));
        self.report(deployment, pod).await
    }

    async fn start_pod(
        &self,
        name: &str,
        spec: &PodSpec,
        template: u64,
        mounts: Vec<SecretMount>,
        starts: u32,
    ) -> Result<Pod> {
        let container = single_container(spec)?;
        let [listen, admin] = free_ports()?;
        let mut env: Vec<(String, String)> = container
            .env
            .iter()
            .flatten()
            .filter_map(|var| Some((var.name.clone(), var.value.clone()?)))
            .collect();
        env.push(("AGW_LISTEN".to_owned(), format!("127.0.0.1:{listen}")));
        env.push(("AGW_ADMIN".to_owned(), format!("127.0.0.1:{admin}")));
        let args = container.args.clone().unwrap_or_default();
        std::fs::create_dir_all(&self.logs)
            .map_err(|e| Error::io("creating the log directory", e))?;
        let log = self.logs.join(format!("{name}-{starts}.log"));
        let process = AgwProcess::start("agw-proxy", &args, &env, admin, log).await?;
        let view = PodView {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, listen)),
            admin: SocketAddr::from((Ipv4Addr::LOCALHOST, admin)),
            pid: process.pid(),
            starts,
            ready: true,
        };
        Ok(Pod {
            process,
            template,
            mounts,
            view,
            reported: None,
        })
    }

    /// Writes every mounted Secret's keys; `false` when a Secret does not exist yet.
    async fn write_secrets(&self, mounts: &[SecretMount]) -> Result<bool> {
        for mount in mounts {
            let secret = self
                .secrets
                .get_opt(&mount.secret)
                .await
                .map_err(|e| Error::kube(format!("reading Secret {}", mount.secret), e))?;
            let Some(secret) = secret else {
                return Ok(false);
            };
            let data = secret.data.unwrap_or_default();
            let files: Vec<(String, Vec<u8>)> = match &mount.items {
                Some(items) => items
                    .iter()
                    .filter_map(|(key, path)| Some((path.clone(), data.get(key)?.0.clone())))
                    .collect(),
                None => data.into_iter().map(|(k, v)| (k, v.0)).collect(),
            };
            for (path, bytes) in files {
                write_if_changed(&mount.dir.join(path), &bytes)?;
            }
        }
        Ok(true)
    }

    /// Writes the Deployment's status as the deployment controller would, when it changed.
    async fn report(&self, deployment: &Deployment, pod: &mut Pod) -> Result<()> {
        let generation = deployment.metadata.generation.unwrap_or(0);
        let state = (generation, pod.view.ready);
        if pod.reported == Some(state) {
            return Ok(());
        }
        let ready = i32::from(pod.view.ready);
        let status = json!({"status": {
            "observedGeneration": generation,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": 1 - ready,
            "conditions": [{
                "type": "Available",
                "status": if pod.view.ready { "True" } else { "False" },
                "reason": if pod.view.ready { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                "message": "reported by the e2e pod stand-in",
            }],
        }});
        let name = deployment.name_any();
        self.deployments
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|e| Error::kube(format!("writing the status of Deployment {name}"), e))?;
        pod.reported = Some(state);
        Ok(())
    }
}

fn pod_spec(deployment: &Deployment) -> Result<(PodSpec, u64)> {
    let template = deployment
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .ok_or_else(|| invalid(deployment, "no spec.template"))?;
    let text = serde_json::to_string(&template).unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let spec = template
        .spec
        .ok_or_else(|| invalid(deployment, "no spec.template.spec"))?;
    Ok((spec, hasher.finish()))
}

fn single_container(spec: &PodSpec) -> Result<&Container> {
    let [container] = spec.containers.as_slice() else {
        return Err(Error::InvalidInput {
            what: "pod template",
            value: format!("{} containers", spec.containers.len()),
            reason: "the stand-in runs exactly one agw-proxy container".to_owned(),
        });
    };
    if container.command.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(Error::InvalidInput {
            what: "container command",
            value: format!("{:?}", container.command),
            reason: "the image's entrypoint (agw-proxy) must run; pass flags in args".to_owned(),
        });
    }
    Ok(container)
}

fn secret_mounts(spec: &PodSpec, root: &Path) -> Result<Vec<SecretMount>> {
    let container = single_container(spec)?;
    let volumes = spec.volumes.clone().unwrap_or_default();
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = volumes
            .iter()
            .find(|v| v.name == mount.name)
            .ok_or_else(|| {
                bad_mount(&mount.mount_path, "names a volume the pod does not define")
            })?;
        let secret = volume
            .secret
            .as_ref()
            .ok_or_else(|| bad_mount(&mount.mount_path, "is not a Secret volume"))?;
        if mount.read_only != Some(true) {
            return Err(bad_mount(&mount.mount_path, "is not readOnly"));
        }
        let dir = PathBuf::from(&mount.mount_path);
        if !dir.starts_with(root) {
            return Err(bad_mount(
                &mount.mount_path,
                &format!(
                    "is outside the stand-in root {} (start the operator with --proxy-mount-root under it)",
                    root.display()
                ),
            ));
        }
        mounts.push(SecretMount {
            secret: secret.secret_name.clone().unwrap_or_default(),
            dir,
            items: secret.items.as_ref().map(|items| {
                items
                    .iter()
                    .map(|i| (i.key.clone(), i.path.clone()))
                    .collect()
            }),
        });
    }
    Ok(mounts)
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|current| current == bytes) {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let temporary = parent.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    std::fs::write(&temporary, bytes)
        .map_err(|e| Error::io(format!("writing {}", temporary.display()), e))?;
    std::fs::rename(&temporary, path)
        .map_err(|e| Error::io(format!("replacing {}", path.display()), e))
}

fn invalid(deployment: &Deployment, reason: &str) -> Error {
    Error::InvalidInput {
        what: "Deployment",
        value: deployment.name_any(),
        reason: reason.to_owned(),
    }
}

fn bad_mount(path: &str, reason: &str) -> Error {
    Error::InvalidInput {
        what: "volume mount",
        value: path.to_owned(),
        reason: reason.to_owned(),
    }
}

//! Bringing a control plane up. Owns: the start-up sequence (PKI → etcd → kube-apiserver →
//! kubeconfig → CRDs), timing each step, and the one retry policy: start again on fresh ports
//! when a server lost the race for the port it was given. Must not: leave anything running when
//! a step fails — every process started so far is a local whose `Drop` kills it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::kubeconfig::{self, Credential};
use super::ports::free_ports;
use super::process::Supervised;
use super::watchdog::Watchdog;
use super::{ADMIN_USER, ControlPlane, Ports, StartupTimes, apiserver, crds, etcd};
use crate::binaries::EnvtestBinaries;
use crate::certs::{self, Ca, CertFiles, write_file};
use crate::error::{Error, Result};
use crate::kubectl::Kubectl;

/// Attempts before a lost port race is reported as the failure it is.
const START_ATTEMPTS: u32 = 3;

/// The serving certificate's names: loopback for the tests, the in-cluster names for anything
/// that resolves `kubernetes.default.svc` (the first address of the service range is 10.0.0.1).
const SERVING_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.0.0.1",
];

/// The files of a control plane's PKI.
struct Pki {
    dir: PathBuf,
    ca: Ca,
    ca_file: PathBuf,
    serving: CertFiles,
    admin: CertFiles,
    sa_private: PathBuf,
    sa_public: PathBuf,
}

impl ControlPlane {
    /// Starts a private control plane: etcd, kube-apiserver, the repo's CRDs Established.
    ///
    /// Fails with the binary to build when `hack/envtest/build.sh` has not run, and with the
    /// log tail of the process that did not come up otherwise.
    pub async fn start() -> Result<ControlPlane> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match start_once().await {
                Err(e) if attempt < START_ATTEMPTS && lost_port_race(&e) => {
                    tracing::warn!(attempt, error = %e, "a control-plane port was taken; starting again");
                    attempt += 1;
                }
                Ok(mut plane) => {
                    plane.startup.total = started.elapsed();
                    tracing::info!(times = ?plane.startup, dir = %plane.dir().display(), "control plane ready");
                    return Ok(plane);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn lost_port_race(error: &Error) -> bool {
    match error {
        Error::ProcessExited { tail, .. } | Error::NotReady { tail, .. } => {
            tail.contains("address already in use")
        }
        _ => false,
    }
}

async fn start_once() -> Result<ControlPlane> {
    let bins = EnvtestBinaries::locate()?;
    let dir = tempfile::Builder::new()
        .prefix("agw-e2e-")
        .tempdir()
        .map_err(|e| Error::io("creating the control plane's temp dir", e))?;
    let root = dir.path();
    let mut watchdog = Watchdog::spawn(root)?;
    let mut startup = StartupTimes::default();

    let step = Instant::now();
    let pki = generate_pki(&root.join("pki"))?;
    startup.certificates = step.elapsed();

    let [etcd_client, etcd_peer, apiserver] = free_ports::<3>()?;
    let ports = Ports {
        etcd_client,
        etcd_peer,
        apiserver,
    };
    let etcd_args = etcd::args(&root.join("etcd"), etcd_client, etcd_peer);
    let mut etcd = Supervised::spawn("etcd", &bins.etcd, &etcd_args, root.join("etcd.log"))?;
    watchdog.watch(etcd.pid())?;
    startup.etcd = etcd::wait_healthy(&mut etcd, etcd_client).await?;

    let (apiserver, admin) = start_apiserver(&bins, root, &pki, ports, &mut watchdog).await?;
    startup.apiserver = admin.ready_in;

    let step = Instant::now();
    install_repo_crds(&admin.client).await?;
    startup.crds = step.elapsed();

    let kubectl = Kubectl::new(&bins.kubectl, &admin.kubeconfig, root.join("kubectl-cache"));
    Ok(ControlPlane {
        apiserver,
        etcd,
        watchdog,
        bins,
        ca: pki.ca,
        ca_file: pki.ca_file,
        server: admin.server,
        kubeconfig: admin.kubeconfig,
        config: admin.config,
        kubectl,
        ports,
        startup,
        sequence: AtomicU64::new(0),
        dir,
    })
}

/// How the admin reaches a freshly started apiserver.
struct Admin {
    server: String,
    kubeconfig: PathBuf,
    config: kube::Config,
    client: kube::Client,
    ready_in: Duration,
}

async fn start_apiserver(
    bins: &EnvtestBinaries,
    root: &Path,
    pki: &Pki,
    ports: Ports,
    watchdog: &mut Watchdog,
) -> Result<(Supervised, Admin)> {
    let args = apiserver::args(&apiserver_pki(pki), ports.apiserver, ports.etcd_client);
    let log = root.join("kube-apiserver.log");
    let mut process = Supervised::spawn("kube-apiserver", &bins.kube_apiserver, &args, log)?;
    watchdog.watch(process.pid())?;
    let server = format!("https://127.0.0.1:{}", ports.apiserver);
    let kubeconfig = kubeconfig::path_in(root, "admin");
    let credential = Credential::ClientCert {
        cert: &pki.admin.cert,
        key: &pki.admin.key,
    };
    kubeconfig::write(&kubeconfig, &server, &pki.ca_file, ADMIN_USER, &credential)?;
    let config = kubeconfig::load(&kubeconfig).await?;
    let client = kube::Client::try_from(config.clone())
        .map_err(|e| Error::kube("building the admin client", e))?;
    let ready_in = apiserver::wait_ready_for(&mut process, &client).await?;
    Ok((
        process,
        Admin {
            server,
            kubeconfig,
            config,
            client,
            ready_in,
        },
    ))
}

fn generate_pki(dir: &Path) -> Result<Pki> {
    std::fs::create_dir(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let ca = Ca::new("agw-e2e-ca")?;
    let ca_file = dir.join("ca.crt");
    write_file(&ca_file, ca.cert_pem(), 0o644)?;
    let serving = ca
        .serving_cert("kube-apiserver", SERVING_SANS)?
        .write(dir, "apiserver")?;
    let admin = ca
        .client_cert(ADMIN_USER, &["system:masters"])?
        .write(dir, "admin")?;
    let (private, public) = certs::signing_key_pair()?;
    let sa_private = dir.join("sa.key");
    let sa_public = dir.join("sa.pub");
    write_file(&sa_private, &private, 0o600)?;
    write_file(&sa_public, &public, 0o644)?;
    Ok(Pki {
        dir: dir.to_path_buf(),
        ca,
        ca_file,
        serving,
        admin,
        sa_private,
        sa_public,
    })
}

fn apiserver_pki(pki: &Pki) -> apiserver::Pki<'_> {
    apiserver::Pki {
        // --cert-dir is where the apiserver would write self-signed certs were the files
        // missing; pointing it at our PKI keeps anything it writes inside the temp dir.
        dir: &pki.dir,
        ca_cert: &pki.ca_file,
        serving_cert: &pki.serving.cert,
        serving_key: &pki.serving.key,
        sa_public: &pki.sa_public,
        sa_private: &pki.sa_private,
    }
}

async fn install_repo_crds(client: &kube::Client) -> Result<()> {
    let mut all = Vec::new();
    for file in crds::repo_crd_files()? {
        all.extend(crds::read_crds(&file)?);
    }
    crds::install(client, &all).await.map(drop)
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::ExitStatus;

    use super::*;

    fn exited(tail: &str) -> Error {
        Error::ProcessExited {
            name: "etcd".to_owned(),
            status: ExitStatus::from_raw(1 << 8),
            log: PathBuf::from("etcd.log"),
            tail: tail.to_owned(),
        }
    }

    #[test]
    fn only_a_taken_port_is_worth_another_start() {
        let etcd = r#"{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:35368: bind: address already in use"}"#;
        assert!(lost_port_race(&exited(etcd)));
        assert!(!lost_port_race(&exited("open /etc/x: permission denied")));
        assert!(!lost_port_race(&Error::Timeout {
            what: "x".to_owned(),
            waited: std::time::Duration::ZERO
        }));
    }
}

//! kube-apiserver for one control plane. Owns: its flags — envtest's set, with certificates
//! from `certs` and loopback everywhere — and its readiness probe (`/readyz` as the admin).
//! Must not: enable anything that needs a kubelet or controller-manager to work (the
//! ServiceAccount admission plugin would refuse Pods for want of a `default` ServiceAccount).

use std::path::Path;
use std::time::Duration;

use super::process::{Supervised, wait_ready};
use crate::error::Result;

/// Cold start on a loaded 2-core CI machine has been seen near 10 s; leave ample room.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Files the apiserver reads, all under the control plane's `pki/` directory.
pub(crate) struct Pki<'a> {
    pub dir: &'a Path,
    pub ca_cert: &'a Path,
    pub serving_cert: &'a Path,
    pub serving_key: &'a Path,
    pub sa_public: &'a Path,
    pub sa_private: &'a Path,
}

pub(crate) fn args(pki: &Pki<'_>, port: u16, etcd_client_port: u16) -> Vec<String> {
    vec![
        "--advertise-address=127.0.0.1".to_owned(),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", pki.dir.display()),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.ca_cert.display()),
        format!("--etcd-servers=http://127.0.0.1:{etcd_client_port}"),
        // Room for thousands of Services (a /24 runs out at 254, which benchmarks reach).
        "--service-cluster-ip-range=10.0.0.0/16".to_owned(),
        "--allow-privileged=true".to_owned(),
        "--disable-admission-plugins=ServiceAccount".to_owned(),
        "--authorization-mode=RBAC".to_owned(),
        format!("--service-account-issuer=https://127.0.0.1:{port}/"),
        format!("--service-account-key-file={}", pki.sa_public.display()),
        format!(
            "--service-account-signing-key-file={}",
            pki.sa_private.display()
        ),
    ]
}

/// Waits until `GET /readyz` answers 200 to `client` (the admin).
pub(crate) async fn wait_ready_for(
    apiserver: &mut Supervised,
    client: &kube::Client,
) -> Result<Duration> {
    wait_ready(apiserver, READY_TIMEOUT, async || {
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        client
            .request_text(request)
            .await
            .map(drop)
            .map_err(|e| format!("/readyz: {e}"))
    })
    .await
}

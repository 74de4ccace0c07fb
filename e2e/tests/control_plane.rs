//! The harness itself on the real etcd + kube-apiserver: it starts, serves the admin and other
//! identities as the apiserver sees them, and stops without leaving a process, a port or a
//! directory behind — after a clean drop, three times in a row, and after the test process is
//! SIGKILLed.

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agw_e2e::envtest::ports::is_free;
use agw_e2e::{ControlPlane, Kubectl};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;

/// Processes whose command line mentions `dir` (etcd's data dir, the apiserver's certs, the
/// watchdog's argument all live there).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

fn assert_nothing_left(dir: &Path, ports: [u16; 3]) {
    let left = processes_mentioning(dir);
    assert!(left.is_empty(), "processes still running: {left:#?}");
    for port in ports {
        assert!(is_free(port), "port {port} is still taken");
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// `kubectl auth whoami -o json` → (username, groups).
async fn whoami(kubectl: &Kubectl) -> (String, Vec<String>) {
    let out = kubectl.run(["auth", "whoami", "-o", "json"]).await.unwrap();
    assert!(out.success(), "{out}");
    let review: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let info = &review["status"]["userInfo"];
    let groups = info["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect();
    (info["username"].as_str().unwrap().to_owned(), groups)
}

#[tokio::test]
async fn starts_and_stops_three_times_without_leaking_a_process_port_or_directory() {
    for round in 1..=3 {
        let cp = ControlPlane::start().await.unwrap();
        let pids = cp.pids();
        let ports = cp.ports();
        let dir = cp.dir().to_path_buf();
        let times = cp.startup_times();
        eprintln!("round {round}: started in {:?} ({times:?})", times.total);
        for pid in [pids.etcd, pids.apiserver, pids.watchdog] {
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "pid {pid} is not running"
            );
        }
        let version = cp.client().unwrap().apiserver_version().await.unwrap();
        assert_eq!(version.git_version, "v1.34.10");
        let nodes = cp
            .kubectl()
            .run(["get", "namespaces", "-o", "name"])
            .await
            .unwrap();
        assert!(nodes.stdout.contains("namespace/kube-system"), "{nodes}");

        let started = Instant::now();
        drop(cp);
        eprintln!("round {round}: stopped in {:?}", started.elapsed());
        assert_nothing_left(&dir, [ports.etcd_client, ports.etcd_peer, ports.apiserver]);
        for pid in [pids.etcd, pids.apiserver, pids.watchdog] {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "pid {pid} was not reaped"
            );
        }
    }
}

#[tokio::test]
async fn the_admin_is_a_system_master_and_namespaces_are_fresh() {
    let cp = ControlPlane::shared().await.unwrap();
    let (user, groups) = whoami(&cp.kubectl()).await;
    assert_eq!(user, "agw-e2e-admin");
    assert!(groups.contains(&"system:masters".to_owned()), "{groups:?}");
    let shown = format!("{cp:?}");
    assert!(
        !shown.contains("PRIVATE KEY") && shown.contains("agw-e2e-ca"),
        "{shown}"
    );

    let a = cp.namespace("Harness_Test").await.unwrap();
    let b = cp.namespace("Harness_Test").await.unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("harness-test-"), "{a}");
    let out = cp
        .kubectl()
        .run(["get", "namespace", &a, "-o", "jsonpath={.status.phase}"])
        .await
        .unwrap();
    assert_eq!(out.stdout, "Active", "{out}");
}

#[tokio::test]
async fn a_certificate_user_has_only_what_rbac_grants_it() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("rbac-user").await.unwrap();
    let alice = cp.user("alice", &["agw-devs"]).await.unwrap();
    let (user, groups) = whoami(&alice.kubectl()).await;
    assert_eq!(user, "alice");
    assert!(groups.contains(&"agw-devs".to_owned()), "{groups:?}");

    let maps: Api<ConfigMap> = Api::namespaced(alice.client().unwrap(), &ns);
    let denied = maps.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(&denied, kube::Error::Api(s) if s.code == 403),
        "{denied}"
    );

    // A Role of our own: the bootstrap `view`/`edit` ClusterRoles are aggregated, and without a
    // controller-manager nothing fills in their rules.
    let kubectl = cp.kubectl();
    for args in [
        vec![
            "create",
            "role",
            "cm-reader",
            "-n",
            &ns,
            "--verb=get,list",
            "--resource=configmaps",
        ],
        vec![
            "create",
            "rolebinding",
            "devs-read",
            "-n",
            &ns,
            "--role=cm-reader",
            "--group=agw-devs",
        ],
    ] {
        let out = kubectl.run(args).await.unwrap();
        assert!(out.success(), "{out}");
    }
    // The RBAC authorizer reads bindings through an informer: the grant arrives shortly.
    agw_e2e::eventually(
        Duration::from_secs(10),
        "alice to list ConfigMaps",
        async || {
            maps.list(&ListParams::default())
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        },
    )
    .await
    .unwrap();
    let elsewhere = alice
        .kubectl()
        .run(["get", "configmaps", "-n", "kube-system"])
        .await
        .unwrap();
    assert_eq!(elsewhere.code(), Some(1), "{elsewhere}");
    assert!(elsewhere.stderr.contains("forbidden"), "{elsewhere}");
}

#[tokio::test]
async fn a_service_account_token_authenticates_as_the_service_account() {
    let cp = ControlPlane::shared().await.unwrap();
    let ns = cp.namespace("rbac-sa").await.unwrap();
    let operator = cp.service_account(&ns, "agw-operator").await.unwrap();
    let (user, groups) = whoami(&operator.kubectl()).await;
    assert_eq!(user, format!("system:serviceaccount:{ns}:agw-operator"));
    assert!(
        groups.contains(&format!("system:serviceaccounts:{ns}")),
        "{groups:?}"
    );
    assert_eq!(operator.user, user);
    let can = operator
        .kubectl()
        .run(["auth", "can-i", "list", "secrets", "-n", &ns])
        .await
        .unwrap();
    assert_eq!(can.stdout.trim(), "no", "{can}");
}

/// Run by `a_killed_test_process_leaves_nothing_behind` in a child process: holds a control
/// plane until it is killed. Ignored (and a no-op) in normal runs.
#[tokio::test]
#[ignore = "helper for a_killed_test_process_leaves_nothing_behind"]
async fn helper_hold_a_control_plane_until_killed() {
    if std::env::var_os("AGW_E2E_HOLD").is_none() {
        return;
    }
    let cp = ControlPlane::start().await.unwrap();
    let p = cp.ports();
    println!(
        "AGW_E2E_HOLD {} {} {} {}",
        cp.dir().display(),
        p.etcd_client,
        p.etcd_peer,
        p.apiserver
    );
    tokio::time::sleep(Duration::from_mins(5)).await;
}

#[test]
fn a_killed_test_process_leaves_nothing_behind() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_hold_a_control_plane_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("AGW_E2E_HOLD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let held = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("AGW_E2E_HOLD ").map(str::to_owned))
        .expect("the helper printed its control plane");
    let fields: Vec<&str> = held.split(' ').collect();
    let dir = PathBuf::from(fields[0]);
    let ports: Vec<u16> = fields[1..].iter().map(|p| p.parse().unwrap()).collect();
    assert_eq!(
        processes_mentioning(&dir).len(),
        3,
        "etcd, kube-apiserver and the watchdog run"
    );

    child.kill().unwrap(); // SIGKILL: no Drop, no unwinding
    child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    while (dir.exists() || !processes_mentioning(&dir).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_nothing_left(&dir, [ports[0], ports[1], ports[2]]);
}

#[tokio::test]
async fn third_party_crds_install_and_are_served_at_once() {
    let cp = ControlPlane::shared().await.unwrap();
    let dir = agw_e2e::binaries::gateway_api_crds().unwrap();
    let names = cp.install_crds(&[dir.as_path()]).await.unwrap();
    assert!(
        names.contains(&"httproutes.gateway.networking.k8s.io".to_owned()),
        "{names:?}"
    );
    // Installed means usable right away by kubectl: discovery and OpenAPI included.
    let ns = cp.namespace("gateway-api").await.unwrap();
    let listed = cp
        .kubectl()
        .run(["get", "httproutes", "-n", &ns])
        .await
        .unwrap();
    assert!(
        listed.success() && listed.stderr.contains("No resources found"),
        "{listed}"
    );
    let explained = cp
        .kubectl()
        .run(["explain", "httproute.spec.parentRefs"])
        .await
        .unwrap();
    assert!(explained.success(), "{explained}");
}

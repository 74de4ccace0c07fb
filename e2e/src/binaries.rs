//! Where the binaries under test live. Owns: finding the agw binaries cargo built
//! (`agw-proxy`, `agw-webhook`, `agw-operator`, `agwctl`, …) and the control-plane binaries
//! `hack/envtest/build.sh` built (`etcd`, `kube-apiserver`, `kubectl`). Must not: fall back to
//! whatever happens to be on `PATH` (`/usr/bin/kubectl` exists on some dev boxes and not on CI,
//! and a stale `agw-proxy` there would test the wrong code), or build anything itself.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The Kubernetes version `hack/envtest/build.sh` builds; its cache directory is named after it.
pub const ENVTEST_K8S_VERSION: &str = "v1.34.10";
/// The Gateway API release whose CRDs `hack/envtest/gateway-api.sh` fetches.
pub const GATEWAY_API_VERSION: &str = "v1.4.1";
/// The Helm release `hack/helm/build.sh` builds; its cache directory is named after it.
pub const HELM_VERSION: &str = "v4.3.2";

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // e2e/ sits directly under the root; CARGO_MANIFEST_DIR is fixed at compile time, which is
    // what we want: tests read crds/ and config/ of the tree they were built from.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Path of an agw binary built by cargo, e.g. `agw_binary("agw-proxy")`.
///
/// Looks in `$AGW_BIN_DIR`, else in the profile directory of the running test executable
/// (`<target>/debug`, which also honours `CARGO_TARGET_DIR`), else in `<root>/target/debug`.
///
/// # Panics
/// When the binary is missing, with a message telling the developer to run
/// `cargo build --workspace --bins`: a test cannot do anything useful without it.
pub fn agw_binary(name: &str) -> PathBuf {
    match try_agw_binary(name) {
        Ok(path) => path,
        Err(err) => panic!("{err}"),
    }
}

/// Like [`agw_binary`], returning an error instead of panicking.
pub fn try_agw_binary(name: &str) -> Result<PathBuf> {
    let candidates = agw_bin_dirs();
    for dir in &candidates {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    let searched = candidates.first().cloned().unwrap_or_default();
    Err(Error::Missing {
        what: name.to_owned(),
        path: searched.join(name),
        hint: format!(
            "run `cargo build --workspace --bins` first (or set AGW_BIN_DIR); searched {}",
            display_list(&candidates)
        ),
    })
}

fn agw_bin_dirs() -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("AGW_BIN_DIR").filter(|d| !d.is_empty()) {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs = Vec::new();
    // A test executable lives in <target>/<profile>/deps/; the binaries in <target>/<profile>/.
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile) = exe.parent().and_then(Path::parent)
    {
        dirs.push(profile.to_path_buf());
    }
    let fallback = workspace_root().join("target").join("debug");
    if !dirs.contains(&fallback) {
        dirs.push(fallback);
    }
    dirs
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The three control-plane binaries built by `hack/envtest/build.sh`.
#[derive(Clone, Debug)]
pub struct EnvtestBinaries {
    pub dir: PathBuf,
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kubectl: PathBuf,
}

impl EnvtestBinaries {
    /// Finds them in `$AGW_ENVTEST_BIN`, else in
    /// `${AGW_CACHE:-$HOME/.cache/agw}/envtest/v1.34.10/bin`. A missing binary is an error whose
    /// message says to run `hack/envtest/build.sh`.
    pub fn locate() -> Result<Self> {
        Self::in_dir(envtest_bin_dir()?)
    }

    /// The binaries in `dir`; an error naming the first one missing and how to build it.
    pub fn in_dir(dir: PathBuf) -> Result<Self> {
        let bins = EnvtestBinaries {
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kubectl: dir.join("kubectl"),
            dir,
        };
        for path in [&bins.etcd, &bins.kube_apiserver, &bins.kubectl] {
            if !path.is_file() {
                return Err(Error::Missing {
                    what: file_name(path),
                    path: path.clone(),
                    hint: "run hack/envtest/build.sh (it prints AGW_ENVTEST_BIN=<dir>; \
                           export it if you built elsewhere)"
                        .to_owned(),
                });
            }
        }
        Ok(bins)
    }
}

/// The directory of Gateway API standard-channel CRDs from `hack/envtest/gateway-api.sh`:
/// `$AGW_GATEWAY_API_CRDS`, else `${AGW_CACHE:-$HOME/.cache/agw}/envtest/gateway-api-v1.4.1`.
/// Install them with `ControlPlane::install_crds`.
pub fn gateway_api_crds() -> Result<PathBuf> {
    let dir = match std::env::var_os("AGW_GATEWAY_API_CRDS").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir()?
            .join("envtest")
            .join(format!("gateway-api-{GATEWAY_API_VERSION}")),
    };
    if dir.join(".complete").is_file()
        || dir
            .join("gateway.networking.k8s.io_httproutes.yaml")
            .is_file()
    {
        Ok(dir)
    } else {
        Err(Error::Missing {
            what: "Gateway API CRDs".to_owned(),
            path: dir,
            hint: "run hack/envtest/gateway-api.sh (it prints AGW_GATEWAY_API_CRDS=<dir>)"
                .to_owned(),
        })
    }
}

/// The `helm` binary built by `hack/helm/build.sh`: `$AGW_HELM`, else
/// `${AGW_CACHE:-$HOME/.cache/agw}/helm/v4.3.2/bin/helm`. Missing, it is an error whose message
/// says to run that script (never a `helm` from `PATH`: its version would decide the results).
pub fn helm_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("AGW_HELM").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => cache_dir()?
            .join("helm")
            .join(HELM_VERSION)
            .join("bin")
            .join("helm"),
    };
    helm_at(path)
}

fn helm_at(path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Missing {
            what: "helm".to_owned(),
            path,
            hint: "run hack/helm/build.sh (it builds Helm from Go modules and prints \
                   AGW_HELM=<path>; export it if you built elsewhere)"
                .to_owned(),
        })
    }
}

fn envtest_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AGW_ENVTEST_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(cache_dir()?
        .join("envtest")
        .join(ENVTEST_K8S_VERSION)
        .join("bin"))
}

/// `$AGW_CACHE`, else `$HOME/.cache/agw` — where hack/ scripts put what they build or fetch.
fn cache_dir() -> Result<PathBuf> {
    let cache = if let Some(cache) = std::env::var_os("AGW_CACHE").filter(|d| !d.is_empty()) {
        PathBuf::from(cache)
    } else {
        let home = std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::Missing {
                what: "the agw cache directory".to_owned(),
                path: PathBuf::from("$HOME/.cache/agw"),
                hint: "HOME is not set; set AGW_CACHE, or AGW_ENVTEST_BIN to the directory \
                       hack/envtest/build.sh printed"
                    .to_owned(),
            })?;
        PathBuf::from(home).join(".cache").join("agw")
    };
    Ok(cache)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_root_holds_the_crds() {
        assert!(workspace_root().join("crds").join("backend.yaml").is_file());
    }

    #[test]
    fn missing_helm_says_to_run_its_build_sh() {
        let dir = tempfile::tempdir().unwrap();
        let err = helm_at(dir.path().join("helm")).unwrap_err().to_string();
        assert!(err.contains("hack/helm/build.sh"), "{err}");
        assert!(err.contains("AGW_HELM"), "{err}");
    }

    #[test]
    fn missing_envtest_binaries_say_to_run_build_sh() {
        let dir = tempfile::tempdir().unwrap();
        let err = EnvtestBinaries::in_dir(dir.path().to_path_buf())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("etcd not found at "), "{err}");
        assert!(err.contains("run hack/envtest/build.sh"), "{err}");
    }

    #[test]
    fn a_missing_agw_binary_names_the_build_command() {
        let err = try_agw_binary("agw-no-such-binary")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
        assert!(err.contains("agw-no-such-binary"), "{err}");
    }
}

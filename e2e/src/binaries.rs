//! Where the binaries under test live. Owns: finding the agw binaries cargo built
//! (`agw-proxy`, `agw-webhook`, `agw-operator`, `agwctl`, …) and the control-plane binaries
//! `hack/envtest/build.sh` built (`etcd`, `kube-apiserver`, `kubectl`). Must not: fall back to
//! whatever happens to be on `PATH` (`/usr/bin/kubectl` exists on some dev boxes and not on CI,
//! and a stale `agw-proxy` there would test the wrong code), or build anything itself.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The Kubernetes version `hack/envtest/build.sh` builds; its cache directory is named after it.
pub const ENVTEST_K8S_VERSION: &str = "v1.34.10";

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
    Err(Error::MissingBinary {
        name: name.to_owned(),
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
        let dir = envtest_bin_dir()?;
        let bins = EnvtestBinaries {
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kubectl: dir.join("kubectl"),
            dir,
        };
        for path in [&bins.etcd, &bins.kube_apiserver, &bins.kubectl] {
            if !path.is_file() {
                return Err(Error::MissingBinary {
                    name: file_name(path),
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

fn envtest_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AGW_ENVTEST_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let cache = if let Some(cache) = std::env::var_os("AGW_CACHE").filter(|d| !d.is_empty()) {
        PathBuf::from(cache)
    } else {
        let home = std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::MissingBinary {
                name: "kube-apiserver".to_owned(),
                path: PathBuf::from("$HOME/.cache/agw"),
                hint: "neither AGW_ENVTEST_BIN, AGW_CACHE nor HOME is set; \
                   run hack/envtest/build.sh and export AGW_ENVTEST_BIN"
                    .to_owned(),
            })?;
        PathBuf::from(home).join(".cache").join("agw")
    };
    Ok(cache.join("envtest").join(ENVTEST_K8S_VERSION).join("bin"))
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
    fn a_missing_agw_binary_names_the_build_command() {
        let err = try_agw_binary("agw-no-such-binary")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
        assert!(err.contains("agw-no-such-binary"), "{err}");
    }
}

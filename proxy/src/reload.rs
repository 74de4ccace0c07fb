//! Hot reload: the config or bundle file and the auth key files are re-read when their
//! content changes. Kubernetes updates mounted Secrets by swapping a `..data` symlink, which
//! file-event watchers see inconsistently, so the files are polled by content digest; a
//! change must be stable for one extra poll (debounce) before it is loaded. A bad new
//! configuration is logged and counted, and the last good one keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::metrics::ResultLabels;
use crate::snapshot::Source;
use crate::state::State;

/// Loads `source` once, installing it on success; returns whether it loaded.
pub fn load_once(state: &State, source: &Source) -> bool {
    match source.load() {
        Ok(snapshot) => {
            tracing::info!(digest = %snapshot.bundle.digest, source = %source.path().display(), "bundle loaded");
            for (backend, why) in &snapshot.key_errors {
                tracing::warn!(backend, reason = %why, "API key not available; requests to this backend fail with 502");
            }
            state.install(snapshot);
            state
                .metrics
                .reloads
                .get_or_create(&ResultLabels {
                    result: "ok".into(),
                })
                .inc();
            true
        }
        Err(err) => {
            tracing::error!(source = %source.path().display(), error = %err, "bundle rejected; keeping the last good one");
            state
                .metrics
                .reloads
                .get_or_create(&ResultLabels {
                    result: "error".into(),
                })
                .inc();
            false
        }
    }
}

/// Polls for changes forever (until the task is dropped).
pub async fn watch(state: Arc<State>, source: Source, interval: Duration) {
    let mut seen = fingerprint(&files(&state, &source));
    loop {
        tokio::time::sleep(interval).await;
        let now = fingerprint(&files(&state, &source));
        if now == seen {
            continue;
        }
        tokio::time::sleep(interval).await;
        let settled = fingerprint(&files(&state, &source));
        if settled != now {
            continue; // still being written; look again next round
        }
        seen = settled;
        load_once(&state, &source);
    }
}

fn files(state: &State, source: &Source) -> Vec<PathBuf> {
    state
        .snapshot()
        .map_or_else(|| vec![source.path().to_owned()], |s| s.watched.clone())
}

/// Digest of every file's content (a missing file counts as empty, with its name). A
/// directory (mounted client key Secrets) counts with the names and contents of its entries,
/// two levels deep, so an added or removed identity or Secret is seen too.
fn fingerprint(files: &[PathBuf]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for file in files {
        hash_path(&mut hasher, file, 2);
    }
    hasher.finalize().to_vec()
}

fn hash_path(hasher: &mut Sha256, path: &Path, depth: u8) {
    hasher.update(path.as_os_str().as_encoded_bytes());
    if depth > 0 && path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            // kubelet's `..data` and timestamped directories repeat the visible entries.
            .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b".."))
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            hash_path(hasher, &entry, depth - 1);
        }
        return;
    }
    match std::fs::read(path) {
        Ok(content) => hasher.update(&content),
        Err(_) => hasher.update(b"\0missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_counts_with_its_entries_two_levels_deep_without_kubelet_internals() {
        let root = tempfile::tempdir().unwrap();
        let files = [root.path().to_owned()];
        std::fs::create_dir(root.path().join("team-keys")).unwrap();
        std::fs::write(root.path().join("team-keys/alice"), "k1").unwrap();
        let before = fingerprint(&files);
        std::fs::write(root.path().join("team-keys/bob"), "k2").unwrap();
        let added = fingerprint(&files);
        assert_ne!(before, added, "a new identity is a change");
        std::fs::write(root.path().join("team-keys/bob"), "k3").unwrap();
        assert_ne!(added, fingerprint(&files), "a changed key is a change");
        let settled = fingerprint(&files);
        std::fs::create_dir(root.path().join("..2026_01_01")).unwrap();
        assert_eq!(
            settled,
            fingerprint(&files),
            "kubelet's own entries repeat the visible ones"
        );
    }
}

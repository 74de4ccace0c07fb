//! Hot reload: the config or bundle file and the auth key files are re-read when their
//! content changes. Kubernetes updates mounted Secrets by swapping a `..data` symlink, which
//! file-event watchers see inconsistently, so the files are polled by content digest; a
//! change must be stable for one extra poll (debounce) before it is loaded. A bad new
//! configuration is logged and counted, and the last good one keeps serving.

use std::path::PathBuf;
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

/// Digest of every file's content (a missing file counts as empty, with its name).
fn fingerprint(files: &[PathBuf]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.as_os_str().as_encoded_bytes());
        match std::fs::read(file) {
            Ok(content) => hasher.update(&content),
            Err(_) => hasher.update(b"\0missing"),
        }
    }
    hasher.finalize().to_vec()
}

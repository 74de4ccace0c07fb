//! Verified tokens by digest, until they expire: a bounded map behind one short lock.
//!
//! Owns eviction (expired entries first; everything when still full, which costs one
//! signature check per active token). Must not hold a token, only its SHA-256.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Identity;

/// Token digest → identity and the last second it may be used.
type Entries = HashMap<[u8; 32], (Arc<Identity>, u64)>;

/// Verified tokens of one backend.
#[derive(Debug)]
pub struct Cache {
    entries: Mutex<Entries>,
    capacity: usize,
}

impl Cache {
    /// An empty cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity,
        }
    }

    /// The identity of a token verified before, while it is valid at `now`.
    pub fn get(&self, digest: &[u8; 32], now: u64) -> Option<Arc<Identity>> {
        let entries = self.entries.lock().ok()?;
        let (identity, until) = entries.get(digest)?;
        (now <= *until).then(|| identity.clone())
    }

    /// Remembers a verified token until `until` (Unix seconds).
    pub fn put(&self, digest: [u8; 32], identity: Arc<Identity>, until: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            let now = super::super::unix_now();
            entries.retain(|_, (_, until)| *until >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, (identity, until));
    }
}

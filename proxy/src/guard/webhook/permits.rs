//! The semaphores that bound each webhook guard's calls, kept in the proxy's state across
//! reloads. Owns only the bound; must not call checkers (that is [`super`]'s job), so the
//! state can hold the permits without depending on the calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

/// Calls in flight per webhook guard; one more fails at once (then `failureMode` decides).
pub const MAX_CONCURRENT_CALLS: usize = 64;

/// The semaphores bounding each webhook guard's calls, kept across reloads.
#[derive(Debug, Default)]
pub struct Permits(Mutex<HashMap<String, Arc<Semaphore>>>);

impl Permits {
    /// The semaphore of the guard keyed `key`, made on first use.
    pub(super) fn of(&self, key: String) -> Arc<Semaphore> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONCURRENT_CALLS))),
        )
    }
}

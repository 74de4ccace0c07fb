//! Waiting on kube-runtime reflector stores, the watch-fed caches the controllers read.
//!
//! Owns the one way to wait for a store's first full list. Must not read the cluster itself.

use std::time::Duration;

use kube::Resource;
use kube::runtime::reflector::{Store, store::WriterDropped};

/// Waits for `store`'s first full list, polling again now and then. A reflector store's
/// readiness future keeps one waker, so with several waiters (the controller's runner,
/// concurrent reconciles, a metrics task) a wake-up can go to another one and leave this one
/// asleep for good; every waiter of a store must wait through here.
pub async fn listed<K>(store: &Store<K>) -> Result<(), WriterDropped>
where
    K: Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    loop {
        let waited = tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready());
        if let Ok(listed) = waited.await {
            return listed;
        }
    }
}

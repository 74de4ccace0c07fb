//! Prometheus metrics and the readiness the admin port ([`agw_runtime::admin`]) serves.
//!
//! `/readyz` is 200 once this replica is useful: a standby waiting for the Lease, or the
//! leader after its caches synced. Labels are bounded (results and error categories, never
//! object names).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    category: String,
}

/// Every metric the operator exports, and its readiness.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Histogram,
    status_writes: Counter,
    leader: Gauge,
    synced: AtomicBool,
    standby: AtomicBool,
}

impl Metrics {
    /// A fresh registry with the `agw_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("agw_operator");
        let reconciles = Family::default();
        let errors = Family::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let status_writes = Counter::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Backend reconciles, by result (ok, error)",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile errors, by category (kube, compile-output, missing-field)",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            duration.clone(),
        );
        registry.register(
            "status_writes",
            "Backend status writes (a reconcile that observes nothing new writes none)",
            status_writes.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the Lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            status_writes,
            leader,
            synced: AtomicBool::new(false),
            standby: AtomicBool::new(true),
        }
    }

    /// Records a finished reconcile.
    pub fn reconciled(&self, elapsed: Duration, error_category: Option<&str>) {
        self.duration.observe(elapsed.as_secs_f64());
        let result = if error_category.is_some() {
            "error"
        } else {
            "ok"
        };
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
        if let Some(category) = error_category {
            self.errors
                .get_or_create(&ErrorLabels {
                    category: category.to_owned(),
                })
                .inc();
        }
    }

    /// Records a status write.
    pub fn status_written(&self) {
        self.status_writes.inc();
    }

    /// This replica became the leader.
    pub fn became_leader(&self) {
        self.standby.store(false, Ordering::Release);
        self.leader.set(1);
    }

    /// The controller's caches have their initial lists.
    pub fn caches_synced(&self) {
        self.synced.store(true, Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.standby.load(Ordering::Acquire) || self.synced.load(Ordering::Acquire)
    }

    fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl agw_runtime::admin::Health for Metrics {
    fn ready(&self) -> Result<(), &'static str> {
        if self.is_ready() {
            Ok(())
        } else {
            Err("caches not synced")
        }
    }

    fn metrics(&self) -> String {
        self.encode()
    }
}

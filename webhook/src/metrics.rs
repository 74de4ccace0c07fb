//! Prometheus metrics and the readiness the admin port ([`agw_runtime::admin`]) serves.
//!
//! Labels are bounded: the operation and the outcome, never object names.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    operation: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

/// Every metric the webhook exports, and its readiness.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    admissions: Family<AdmissionLabels, Counter>,
    duration: Family<ResultLabels, Histogram>,
    tls_reloads: Family<ResultLabels, Counter>,
    ready: AtomicBool,
}

impl Metrics {
    /// A fresh registry with the `agw_webhook` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("agw_webhook");
        let admissions = Family::default();
        // 50 µs .. ~1.6 s: a clean review takes well under a millisecond.
        let duration = Family::<ResultLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        let tls_reloads = Family::default();
        registry.register(
            "admissions",
            "Admission reviews answered, by operation and result (allowed, warned, denied, skipped, malformed)",
            admissions.clone(),
        );
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission review, by result",
            duration.clone(),
        );
        registry.register(
            "tls_reloads",
            "Serving certificate reloads, by result (ok, error)",
            tls_reloads.clone(),
        );
        Self {
            registry,
            admissions,
            duration,
            tls_reloads,
            ready: AtomicBool::new(false),
        }
    }

    /// Records one answered review.
    pub fn admission(&self, operation: &str, result: &str, elapsed: Duration) {
        let labels = AdmissionLabels {
            operation: operation.to_owned(),
            result: result.to_owned(),
        };
        self.admissions.get_or_create(&labels).inc();
        let labels = ResultLabels {
            result: result.to_owned(),
        };
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records a certificate reload attempt.
    pub fn tls_reload(&self, result: &str) {
        let labels = ResultLabels {
            result: result.to_owned(),
        };
        self.tls_reloads.get_or_create(&labels).inc();
    }

    /// Marks the webhook ready (TLS listener bound) or not (draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
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
            Err("not serving")
        }
    }

    fn metrics(&self) -> String {
        self.encode()
    }
}

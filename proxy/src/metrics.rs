//! Prometheus metrics. Labels are bounded: backend keys and guard ids come from the bundle,
//! never from the client (no paths, no models).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub backend: String,
    pub route: String,
    pub status_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabels {
    pub backend: String,
    pub guard: String,
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub backend: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub backend: String,
    pub direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    pub stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BundleLabels {
    pub digest: String,
    pub source: String,
}

/// Every metric the proxy exports.
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub guard_decisions: Family<GuardLabels, Counter>,
    pub upstream_duration: Family<UpstreamLabels, Histogram>,
    pub reloads: Family<ResultLabels, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub bundle_info: Family<BundleLabels, Gauge>,
    pub log_records_dropped: Family<StreamLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("agw");
        let requests = Family::default();
        let guard_decisions = Family::default();
        let upstream_duration = Family::<UpstreamLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 16))
        });
        let reloads = Family::default();
        let tokens = Family::default();
        let bundle_info = Family::default();
        let log_records_dropped = Family::default();
        registry.register(
            "requests",
            "Requests by backend, route and status class",
            requests.clone(),
        );
        registry.register(
            "guard_decisions",
            "Guard decisions by guard id and action",
            guard_decisions.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time to upstream response headers",
            upstream_duration.clone(),
        );
        registry.register(
            "bundle_reloads",
            "Bundle (re)loads by result",
            reloads.clone(),
        );
        registry.register(
            "tokens",
            "Tokens reported by the upstream, by direction",
            tokens.clone(),
        );
        registry.register(
            "bundle_info",
            "The bundle being served",
            bundle_info.clone(),
        );
        registry.register(
            "log_records_dropped",
            "Access-log or audit records lost to a full queue or a failed write, by stream",
            log_records_dropped.clone(),
        );
        Self {
            registry,
            requests,
            guard_decisions,
            upstream_duration,
            reloads,
            tokens,
            bundle_info,
            log_records_dropped,
        }
    }

    /// The dropped-record counter of one log stream (`access`, `audit`).
    pub fn dropped(&self, stream: &str) -> Counter {
        self.log_records_dropped
            .get_or_create(&StreamLabels {
                stream: stream.to_owned(),
            })
            .clone()
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

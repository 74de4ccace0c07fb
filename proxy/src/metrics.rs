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

/// Labels of a webhook guard's call: its backend, guard id and outcome (`pass`, `mask`,
/// `reject`, `timeout`, `error`, `busy`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub backend: String,
    pub guard: String,
    pub outcome: String,
}

/// Labels of a webhook guard's call latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookTimeLabels {
    pub backend: String,
    pub guard: String,
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

/// A client policy decision: `identity` is a name from the key Secret (bounded by the
/// configuration, never a key), empty when the caller was not authenticated.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientLabels {
    pub backend: String,
    pub identity: String,
    pub decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IdentityLabels {
    pub backend: String,
    pub identity: String,
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

/// Labels of a rate-limit store failure: `operation` is `admit` (that request was decided by
/// the in-process count) or `charge` (a response's tokens did not reach the shared count).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    pub operation: String,
}

/// Labels of the rate-limit store's state: its `host:port` (never the password).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreUpLabels {
    pub redis: String,
}

/// The shared rate-limit store's failure counters and state gauge, registered.
fn store_metrics(
    registry: &mut Registry,
) -> (Family<StoreLabels, Counter>, Family<StoreUpLabels, Gauge>) {
    let rate_limit_store_errors = Family::default();
    registry.register(
        "rate_limit_store_errors",
        "Calls to the shared rate-limit store (--rate-limit-redis) that failed or timed out, by operation (admit: that request was decided by the per-replica count; charge: tokens missing from the shared count)",
        rate_limit_store_errors.clone(),
    );
    let rate_limit_store_up = Family::default();
    registry.register(
        "rate_limit_store_up",
        "Whether the shared rate-limit store (--rate-limit-redis) is asked: 1 while it answers, 0 while its breaker is open after a failure (budgets decided by the per-replica count without waiting on it)",
        rate_limit_store_up.clone(),
    );
    (rate_limit_store_errors, rate_limit_store_up)
}

/// Where one backend's counted tokens go.
#[derive(Clone, Debug)]
pub struct TokenCounters {
    pub input: Counter,
    pub output: Counter,
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
    pub client_decisions: Family<ClientLabels, Counter>,
    pub client_tokens: Family<IdentityLabels, Counter>,
    pub trace_spans_dropped: Counter,
    pub webhook_calls: Family<WebhookLabels, Counter>,
    pub webhook_duration: Family<WebhookTimeLabels, Histogram>,
    pub rate_limit_store_errors: Family<StoreLabels, Counter>,
    pub rate_limit_store_up: Family<StoreUpLabels, Gauge>,
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
        let client_decisions = Family::default();
        let client_tokens = Family::default();
        registry.register(
            "client_decisions",
            "Client policy decisions by backend, identity and decision (allowed, unauthenticated, forbidden, rate_limited)",
            client_decisions.clone(),
        );
        registry.register(
            "client_tokens",
            "Tokens charged to identities' budgets (input, cache and output)",
            client_tokens.clone(),
        );
        let trace_spans_dropped = Counter::default();
        let webhook_calls = Family::default();
        let webhook_duration = Family::<WebhookTimeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "guard_webhook_calls",
            "Webhook guard calls by backend, guard id and outcome (pass, mask, reject, timeout, error, busy)",
            webhook_calls.clone(),
        );
        registry.register(
            "guard_webhook_duration_seconds",
            "Time a webhook guard's checker took to answer (or to fail)",
            webhook_duration.clone(),
        );
        let (rate_limit_store_errors, rate_limit_store_up) = store_metrics(&mut registry);
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
        registry.register(
            "trace_spans_dropped",
            "Trace spans lost to a full export queue or a failed export (collector slow or down)",
            trace_spans_dropped.clone(),
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
            client_decisions,
            client_tokens,
            trace_spans_dropped,
            webhook_calls,
            webhook_duration,
            rate_limit_store_errors,
            rate_limit_store_up,
        }
    }

    /// The store-failure counter of one rate-limit store operation (`admit`, `charge`).
    pub fn store_errors(&self, operation: &str) -> Counter {
        self.rate_limit_store_errors
            .get_or_create(&StoreLabels {
                operation: operation.to_owned(),
            })
            .clone()
    }

    /// The state gauge of the rate-limit store at `redis` (`host:port`).
    pub fn store_up(&self, redis: &str) -> Gauge {
        self.rate_limit_store_up
            .get_or_create(&StoreUpLabels {
                redis: redis.to_owned(),
            })
            .clone()
    }

    /// The dropped-record counter of one log stream (`access`, `audit`).
    pub fn dropped(&self, stream: &str) -> Counter {
        self.log_records_dropped
            .get_or_create(&StreamLabels {
                stream: stream.to_owned(),
            })
            .clone()
    }

    /// Counts `by` decisions of `guard` on `backend` with `action` (`agw_guard_decisions_total`).
    pub fn count_guard(&self, backend: &str, guard: &str, action: &str, by: u64) {
        let labels = GuardLabels {
            backend: backend.to_owned(),
            guard: guard.to_owned(),
            action: action.to_owned(),
        };
        self.guard_decisions.get_or_create(&labels).inc_by(by);
    }

    /// The token counters of `backend`.
    pub fn tokens_for(&self, backend: &str) -> TokenCounters {
        // One family lookup per statement: a lookup holds the family's read lock until the
        // end of its statement, and a second lookup that must insert would wait for it forever.
        let input = self
            .tokens
            .get_or_create(&token_labels(backend, "input"))
            .clone();
        let output = self
            .tokens
            .get_or_create(&token_labels(backend, "output"))
            .clone();
        TokenCounters { input, output }
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

fn token_labels(backend: &str, direction: &str) -> TokenLabels {
    TokenLabels {
        backend: backend.to_owned(),
        direction: direction.to_owned(),
    }
}

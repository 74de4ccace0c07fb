//! The Grafana dashboard in `config/dashboards/` may only query metrics the proxy exports:
//! every `agw_*` name in its queries must be a series name the proxy's registry encodes.
//! Names are read from the registry itself, so renaming a metric breaks this test.

use std::collections::BTreeSet;

use crate::metrics::Metrics;

const DASHBOARD: &str = include_str!("../../config/dashboards/agw-proxy.json");

/// The proxy's metrics with one series in every family (an empty family is not encoded).
/// A family added to [`Metrics`] but not here is missing from the export, so a dashboard
/// query on it fails this test until it is added: the safe direction.
fn populated() -> Metrics {
    use crate::metrics::{
        BundleLabels, GuardLabels, RequestLabels, ResultLabels, StreamLabels, TokenLabels,
        UpstreamLabels,
    };
    let m = Metrics::new();
    let s = String::new;
    let requests = RequestLabels {
        backend: s(),
        route: s(),
        status_class: s(),
    };
    m.requests.get_or_create(&requests).inc();
    let guard = GuardLabels {
        backend: s(),
        guard: s(),
        action: s(),
    };
    m.guard_decisions.get_or_create(&guard).inc();
    let upstream = UpstreamLabels {
        backend: s(),
        route: s(),
    };
    m.upstream_duration.get_or_create(&upstream).observe(0.1);
    m.reloads.get_or_create(&ResultLabels { result: s() }).inc();
    m.tokens
        .get_or_create(&TokenLabels {
            backend: s(),
            direction: s(),
        })
        .inc();
    m.bundle_info
        .get_or_create(&BundleLabels {
            digest: s(),
            source: s(),
        })
        .set(1);
    m.log_records_dropped
        .get_or_create(&StreamLabels { stream: s() })
        .inc();
    m
}

/// Series names the registry exposes, from its `# TYPE` lines.
fn exported() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in populated().encode().lines() {
        let mut words = line
            .strip_prefix("# TYPE ")
            .into_iter()
            .flat_map(str::split_whitespace);
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    names
}

/// Every PromQL query of the dashboard: panel targets and template variables.
fn queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "definition", serde_json::Value::String(q)) => out.push(q.clone()),
                    _ => queries(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

fn metric_names(query: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find("agw_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(&tail[..end]);
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_dashboard_query_names_only_exported_metrics() {
    let exported = exported();
    assert!(exported.contains("agw_requests_total"), "{exported:?}");
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut all = Vec::new();
    queries(&dashboard, &mut all);
    assert!(all.len() >= 7, "{all:?}");
    for query in &all {
        let names = metric_names(query);
        assert!(!names.is_empty(), "query names no agw metric: {query}");
        for name in names {
            assert!(
                exported.contains(name),
                "{name} (in {query}) is not exported; exported: {exported:?}"
            );
        }
    }
}

#[test]
fn an_unknown_metric_is_caught() {
    let exported = exported();
    let names = metric_names("sum(rate(agw_requests_totl[5m])) / sum(agw_bundle_info)");
    assert_eq!(names, ["agw_requests_totl", "agw_bundle_info"]);
    assert!(!exported.contains(names[0]));
}

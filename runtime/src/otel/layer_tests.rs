//! The layer against a real `tracing` registry: which spans it exports, how they nest, what
//! their attributes and status say, and that a caller's `traceparent` is continued.

use prometheus_client::metrics::counter::Counter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use super::OtelLayer;
use crate::otel::context::SpanId;
use crate::otel::export::capture;
use crate::otel::sampler::{Root, Sampler};
use crate::otel::span::{Kind, Span, Value};

const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Runs `work` under a subscriber with only the layer, and returns the spans it exported.
fn exported(sampler: Sampler, work: impl FnOnce()) -> Vec<Span> {
    let (exporter, mut read) = capture(Counter::default(), 64);
    let layer = OtelLayer::new(sampler, exporter).with_filter(OtelLayer::filter());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, work);
    read()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[tracing::instrument(skip_all, fields(otel.kind = "internal", otel.name = "reconcile Backend", k8s.object.key = %key, error.type = tracing::field::Empty))]
fn reconcile(key: &str, fail: bool) {
    if fail {
        tracing::Span::current().record("error.type", "kube");
    }
}

#[test]
fn marked_spans_nest_through_unmarked_ones_and_carry_their_fields() {
    let spans = exported(Sampler::AlwaysOn, || {
        let root = tracing::info_span!(
            "review",
            otel.kind = "server",
            allowed = false,
            errors = 2_u64
        );
        let _root = root.enter();
        // A dependency's span in between is not exported and does not break the nesting.
        let between = tracing::info_span!("kube-runtime", object = "ns/a");
        let _between = between.enter();
        reconcile("ns/a", true);
        reconcile("ns/b", false);
    });
    let [failed, ok, root] = spans.as_slice() else {
        panic!("{spans:?}")
    };
    assert_eq!(
        (root.kind, root.name.as_str(), root.parent),
        (Kind::Server, "review", None)
    );
    assert_eq!(attr(root, "allowed"), Some(&Value::Bool(false)));
    assert_eq!(attr(root, "errors"), Some(&Value::Int(2)));
    assert_eq!(
        attr(root, "otel.kind"),
        None,
        "conventions are not attributes"
    );
    for child in [failed, ok] {
        assert_eq!(child.parent, Some(root.span_id));
        assert_eq!(child.trace_id, root.trace_id);
        assert_eq!(
            (child.kind, child.name.as_str()),
            (Kind::Internal, "reconcile Backend")
        );
        assert!(child.end >= child.start && child.end > 0);
    }
    assert_eq!(attr(failed, "k8s.object.key"), Some(&Value::from("ns/a")));
    assert_eq!(attr(failed, "error.type"), Some(&Value::from("kube")));
    assert_eq!(failed.error.as_deref(), Some("kube"));
    assert_eq!((attr(ok, "error.type"), ok.error.as_ref()), (None, None));
}

#[test]
fn unmarked_spans_and_events_are_not_exported() {
    let spans = exported(Sampler::AlwaysOn, || {
        let span = tracing::info_span!("plain", key = "x");
        let _span = span.enter();
        tracing::info!("an event");
    });
    assert!(spans.is_empty(), "{spans:?}");
}

#[test]
fn a_valid_traceparent_is_continued_and_an_invalid_one_starts_a_new_trace() {
    let spans = exported(Sampler::ParentBased(Root::AlwaysOn), || {
        drop(tracing::info_span!(
            "continued",
            otel.kind = "server",
            traceparent = CALLER
        ));
        drop(tracing::info_span!(
            "fresh",
            otel.kind = "server",
            traceparent = "00-bogus"
        ));
    });
    let [continued, fresh] = spans.as_slice() else {
        panic!("{spans:?}")
    };
    assert_eq!(
        continued.trace_id.to_hex(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        continued.parent.map(SpanId::to_hex).as_deref(),
        Some("b7ad6b7169203331")
    );
    assert_eq!(attr(continued, "traceparent"), None);
    assert_ne!(fresh.trace_id, continued.trace_id);
    assert_eq!(fresh.parent, None);
}

#[test]
fn an_unsampled_caller_or_root_records_nothing_below_it() {
    let unsampled = CALLER.replace("-01", "-00");
    let spans = exported(Sampler::ParentBased(Root::AlwaysOn), || {
        let root = tracing::info_span!("review", otel.kind = "server", traceparent = %unsampled);
        let _root = root.enter();
        reconcile("ns/a", false);
    });
    assert!(spans.is_empty(), "{spans:?}");
    assert!(exported(Sampler::AlwaysOff, || reconcile("ns/a", true)).is_empty());
}

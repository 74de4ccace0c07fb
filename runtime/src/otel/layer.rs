//! A `tracing` layer that exports the spans a binary marks for OpenTelemetry, so an
//! `#[instrument]` span and the OTLP span Jaeger shows are one thing: same name, same fields,
//! same start and end, nested the same way.
//!
//! Why a small layer of our own rather than `tracing-opentelemetry` and the OpenTelemetry
//! SDK: agw already has a complete, tested OTLP pipeline (sampler, W3C context, bounded
//! exporter, protobuf) that the proxy needs without `tracing` on its hot path; the layer only
//! maps `tracing` span lifecycles onto it, in about a hundred lines, where the SDK would add a
//! second pipeline, a protobuf runtime and a second set of `OTEL_*` rules to keep in step.
//!
//! Which spans are exported: only those declaring an `otel.kind` field (`"server"`,
//! `"client"` or `"internal"`), as tracing-opentelemetry spells it; dependencies' spans (kube,
//! hyper) and the binary's other spans stay log context only. Conventions read from fields:
//! - `otel.name`: the span name (default: the `tracing` span name);
//! - `traceparent`: a W3C `traceparent` (e.g. an admission request's header) to continue
//!   when the span has no exported ancestor; invalid values start a new trace;
//! - `error.type`: set (at creation or by `Span::record`) marks the span failed (OTLP status
//!   ERROR) with that category as message;
//! - every other field recorded becomes an attribute under its own name (fields declared
//!   `Empty` and never recorded are left out).
//!
//! The parent is the nearest exported ancestor in `tracing`'s span tree; a root samples with
//! the configured [`Sampler`], a child follows its parent. Must not: block (spans go through
//! the exporter's bounded queue), look at unmarked spans' fields, or export events.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{FilterFn, filter_fn};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::context::{SpanId, TraceId, parse_traceparent};
use super::export::Exporter;
use super::sampler::Sampler;
use super::span::{Kind, Span, Value};

/// The field that marks a span for export, and its kind.
pub const KIND_FIELD: &str = "otel.kind";

/// Exports `otel.kind` spans through an [`Exporter`].
#[derive(Debug)]
pub struct OtelLayer {
    sampler: Sampler,
    exporter: Exporter,
}

/// What the layer keeps in an exported span's extensions.
#[derive(Debug)]
struct Exported {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    /// `None` when not sampled: the ids still pass to children, nothing is recorded.
    span: Option<Span>,
}

impl OtelLayer {
    /// A layer sampling roots with `sampler` and sending finished spans to `exporter`.
    pub fn new(sampler: Sampler, exporter: Exporter) -> Self {
        Self { sampler, exporter }
    }

    /// The ids and sampling decision of a span without an exported ancestor: the caller's
    /// (`traceparent`) when valid, else a new trace.
    fn root(&self, traceparent: Option<&str>) -> (TraceId, Option<SpanId>, bool) {
        if let Some(remote) = traceparent.and_then(parse_traceparent) {
            let sampled = self.sampler.sample(remote.trace_id, Some(remote.sampled));
            return (remote.trace_id, Some(remote.span_id), sampled);
        }
        let trace = TraceId::random();
        (trace, None, self.sampler.sample(trace, None))
    }

    /// The per-layer filter: spans with an `otel.kind` field, nothing else (so installing
    /// the layer enables no other callsite, whatever `RUST_LOG` says).
    pub fn filter() -> FilterFn<fn(&Metadata<'_>) -> bool> {
        filter_fn(marked)
    }
}

fn marked(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.fields().field(KIND_FIELD).is_some()
}

impl<S> tracing_subscriber::Layer<S> for OtelLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !marked(attrs.metadata()) {
            return;
        }
        let Some(this) = ctx.span(id) else {
            return;
        };
        let parent = this.parent().and_then(|parent| {
            parent.scope().find_map(|s| {
                s.extensions()
                    .get::<Exported>()
                    .map(|e| (e.trace_id, Some(e.span_id), e.sampled))
            })
        });
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let (trace_id, parent_id, sampled) =
            parent.unwrap_or_else(|| self.root(fields.traceparent.as_deref()));
        let name = fields
            .name
            .take()
            .unwrap_or_else(|| attrs.metadata().name().to_owned());
        let mut span = Span::start(trace_id, parent_id, name, fields.kind);
        let span_id = span.span_id;
        fields.apply(&mut span);
        this.extensions_mut().insert(Exported {
            trace_id,
            span_id,
            sampled,
            span: sampled.then_some(span),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(this) = ctx.span(id) else {
            return;
        };
        let mut extensions = this.extensions_mut();
        if let Some(span) = extensions
            .get_mut::<Exported>()
            .and_then(|e| e.span.as_mut())
        {
            let mut fields = Fields::default();
            values.record(&mut fields);
            if let Some(name) = fields.name.take() {
                span.name = name;
            }
            fields.apply(span);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(this) = ctx.span(&id) else {
            return;
        };
        let exported = this.extensions_mut().remove::<Exported>();
        if let Some(mut span) = exported.and_then(|e| e.span) {
            span.end();
            self.exporter.send(span);
        }
    }
}

/// A span's fields, split into the conventions and plain attributes.
#[derive(Debug, Default)]
struct Fields {
    kind: Kind,
    name: Option<String>,
    traceparent: Option<String>,
    attributes: Vec<(&'static str, Value)>,
}

impl Fields {
    fn apply(self, span: &mut Span) {
        for (key, value) in self.attributes {
            if key == "error.type" {
                span.error = Some(match &value {
                    Value::Str(text) => text.clone(),
                    other => format!("{other:?}"),
                });
            }
            span.set(key, value);
        }
    }

    fn put(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            (KIND_FIELD, Value::Str(kind)) => {
                self.kind = match kind.as_str() {
                    "server" => Kind::Server,
                    "client" => Kind::Client,
                    _ => Kind::Internal,
                };
            }
            ("otel.name", Value::Str(name)) => self.name = Some(name),
            ("traceparent", Value::Str(text)) => self.traceparent = Some(text),
            (key, value) => self.attributes.push((key, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;

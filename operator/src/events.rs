//! Building and posting `events.k8s.io/v1` Events on agw's objects: the one place the operator
//! creates Events, for the Backend controller's condition transitions and for the errors proxy
//! pods report ([`crate::proxy_errors`]).
//!
//! Owns the Event object: the reference to the object it is about, its type, reason, action and
//! note, the reporting controller and instance, an `eventTime` in the microseconds the API
//! stores, a name of its own (`<object>.<hex>`), and the API's length limits (a longer note is
//! cut on a character boundary and ends with an ellipsis). Every Event is created as a new
//! object, never folded into a series: kube's `Recorder` folds Events of the same object,
//! reason and action within about six minutes into one and keeps the first note, so a second,
//! different diagnostic would only raise a count the user does not see.
//!
//! Must not: decide when an Event is due (the callers do), retry, or fail its caller — posting
//! returns the client's error and the caller says it.

use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// The longest `note` the API accepts, in bytes (`NoteLengthLimit` in Kubernetes' event
/// validation).
pub const NOTE_LIMIT: usize = 1024;
/// The longest `reportingInstance` (and `reason`, `action`), in bytes.
pub const FIELD_LIMIT: usize = 128;
/// What ends a note that was cut.
pub const ELLIPSIS: &str = "…";
/// The longest object name (a DNS subdomain).
const NAME_LIMIT: usize = 253;
/// Where Events about cluster-scoped objects go (as kube's and client-go's recorders do).
const CLUSTER_SCOPED_NAMESPACE: &str = "default";

/// An Event's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// Something went as it should.
    Normal,
    /// Something the user should look at.
    Warning,
}

impl Type {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Who reports the Events: the controller's name and this replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporter {
    /// `reportingController` (a qualified name, e.g. `agw-operator`).
    pub controller: String,
    /// `reportingInstance` (this replica's identity).
    pub instance: String,
}

/// What happened, as one Event says it.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    /// Normal or Warning.
    pub type_: Type,
    /// A CamelCase reason (a condition reason, or `ProxyError`).
    pub reason: String,
    /// What the reporter was doing (`Reconcile`, `ServeRequest`).
    pub action: String,
    /// The human-readable note; cut to [`NOTE_LIMIT`] bytes.
    pub note: String,
    /// A second object concerned (a proxy pod), if any.
    pub related: Option<ObjectReference>,
}

/// Creates the Event saying `occurrence` about `regarding`, as a new object.
pub async fn post(
    client: &Client,
    reporter: &Reporter,
    regarding: &ObjectReference,
    occurrence: Occurrence,
) -> Result<Event, kube::Error> {
    let event = event(reporter, regarding, occurrence);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace_of(regarding));
    events.create(&PostParams::default(), &event).await
}

/// The Event saying `occurrence` about `regarding` now, with a name no other Event of this
/// process has.
pub fn event(reporter: &Reporter, regarding: &ObjectReference, occurrence: Occurrence) -> Event {
    let now = Timestamp::now();
    build(reporter, regarding, occurrence, now, unique_stamp(now))
}

/// The Event at `at`, named `<object>.<stamp in hex>`.
pub fn build(
    reporter: &Reporter,
    regarding: &ObjectReference,
    occurrence: Occurrence,
    at: Timestamp,
    stamp: u64,
) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name(regarding, &reporter.controller, stamp)),
            namespace: Some(namespace_of(regarding).to_owned()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(microseconds(at))),
        type_: Some(occurrence.type_.as_str().to_owned()),
        reason: Some(cut(&occurrence.reason, FIELD_LIMIT)),
        action: Some(cut(&occurrence.action, FIELD_LIMIT)),
        note: Some(truncate_note(&occurrence.note)),
        regarding: Some(regarding.clone()),
        related: occurrence.related,
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(cut(&reporter.instance, FIELD_LIMIT)),
        ..Event::default()
    }
}

/// `note` within [`NOTE_LIMIT`] bytes: as it is when it fits, else cut on a character
/// boundary and ended with [`ELLIPSIS`].
pub fn truncate_note(note: &str) -> String {
    if note.len() <= NOTE_LIMIT {
        return note.to_owned();
    }
    format!("{}{ELLIPSIS}", cut(note, NOTE_LIMIT - ELLIPSIS.len()))
}

/// The longest prefix of `text` within `limit` bytes that ends on a character boundary.
fn cut(text: &str, limit: usize) -> String {
    let end = text.floor_char_boundary(limit);
    text.get(..end).unwrap_or_default().to_owned()
}

/// The API keeps microseconds; an Event built with the same precision is what it reads back.
fn microseconds(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}

/// `<object>.<hex>`, like client-go's recorder, within the name limit and still a DNS
/// subdomain when the object's name had to be shortened.
fn name(regarding: &ObjectReference, controller: &str, stamp: u64) -> String {
    let suffix = format!(".{stamp:x}");
    let object = regarding.name.as_deref().unwrap_or(controller);
    let object = cut(object, NAME_LIMIT - suffix.len());
    format!("{}{suffix}", object.trim_end_matches(['.', '-']))
}

fn namespace_of(regarding: &ObjectReference) -> &str {
    regarding
        .namespace
        .as_deref()
        .unwrap_or(CLUSTER_SCOPED_NAMESPACE)
}

/// Nanoseconds since the epoch, strictly increasing within this process, so two Events built
/// in the same nanosecond still get two names (and neither replaces the other).
fn unique_stamp(now: Timestamp) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    // A clock before 1970 (or after 2554) still yields increasing stamps from the counter.
    let nanos = u64::try_from(now.as_nanosecond()).unwrap_or(0);
    let next = |last: u64| nanos.max(last.saturating_add(1));
    match LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        Some(next(last))
    }) {
        Ok(last) | Err(last) => next(last),
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;

//! AdmissionReview in, verdict out: a pure function of the request, so it is tested with
//! golden files and needs no server.
//!
//! A Backend is judged by [`agw_policy::compile`] alone. Errors deny the request with a
//! `422 Invalid` status whose causes carry each field path (kubectl prints them one per
//! line, like the apiserver's own validation), and a message holding them all for clients that
//! only show the message. Compiler warnings go to `response.warnings`, which kubectl prints as
//! `Warning: …`.

use agw_crds::{AgentgatewayPolicySpec, BACKEND_KINDS, GROUP, POLICY_KIND, is_backend_kind};
use agw_policy::{CompileOptions, Diagnostic, Diagnostics, WrittenSpec, compile, compile_policy};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::response::{StatusCause, StatusDetails};
use kube::core::{DynamicObject, Status};

/// The only AdmissionReview version served (the webhook configuration asks for `v1` only).
pub const REVIEW_API_VERSION: &str = "admission.k8s.io/v1";

/// What the webhook did with one request, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A Backend that compiles cleanly.
    Allowed,
    /// A Backend that compiles, with warnings returned to the client.
    Warned,
    /// A Backend that does not compile.
    Denied,
    /// Not something this webhook judges (a delete, another kind); allowed.
    Skipped,
}

impl Outcome {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Warned => "warned",
            Self::Denied => "denied",
            Self::Skipped => "skipped",
        }
    }
}

/// The request body is not an AdmissionReview this webhook can answer.
#[derive(Debug, thiserror::Error)]
pub enum MalformedReview {
    /// Not JSON of the AdmissionReview shape.
    #[error("body is not an AdmissionReview: {}{source}", at(path))]
    Shape {
        /// Where in the body (empty or `.` for the top level).
        path: String,
        /// What serde found there.
        #[source]
        source: serde_json::Error,
    },
    /// Another `apiVersion`/`kind`.
    #[error(
        "expected apiVersion {REVIEW_API_VERSION}, kind AdmissionReview; got {api_version:?}, {kind:?} (set admissionReviewVersions: [v1] in the ValidatingWebhookConfiguration)"
    )]
    Version {
        /// The `apiVersion` sent.
        api_version: String,
        /// The `kind` sent.
        kind: String,
    },
    /// `request` is missing.
    #[error("AdmissionReview has no request")]
    NoRequest,
}

/// A decided review, with what logs and metrics need to know about it.
#[derive(Debug)]
pub struct Answer {
    /// The AdmissionReview to send back.
    pub review: AdmissionReview<DynamicObject>,
    /// What was decided.
    pub outcome: Outcome,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: &'static str,
    /// `namespace/name` of the object (name may be empty for `generateName`).
    pub object: String,
    /// The object's kind (`Backend`, `AgentgatewayBackend`, …), for the review's span.
    pub kind: String,
    /// How many errors denied it (0 when allowed), for the review's span.
    pub errors: usize,
}

/// Parses a request body and decides it.
pub fn review(body: &[u8]) -> Result<Answer, MalformedReview> {
    let request = parse(body)?;
    let (response, outcome) = decide(&request);
    let namespace = request.namespace.clone().unwrap_or_default();
    let errors = match outcome {
        Outcome::Denied => response
            .result
            .details
            .as_ref()
            .map_or(1, |d| d.causes.len().max(1)),
        _ => 0,
    };
    Ok(Answer {
        review: response.into_review(),
        outcome,
        operation: operation_name(&request.operation),
        object: format!("{namespace}/{}", request.name),
        kind: request.kind.kind.clone(),
        errors,
    })
}

fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// `at <path>: ` for a path inside the body, nothing for the top level.
fn at(path: &str) -> String {
    if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

fn parse(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, MalformedReview> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let review: AdmissionReview<DynamicObject> =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            MalformedReview::Shape {
                path: err.path().to_string(),
                source: err.into_inner(),
            }
        })?;
    if review.types.api_version != REVIEW_API_VERSION || review.types.kind != "AdmissionReview" {
        return Err(MalformedReview::Version {
            api_version: review.types.api_version,
            kind: review.types.kind,
        });
    }
    review.try_into().map_err(|_| MalformedReview::NoRequest)
}

/// Decides one request.
pub fn decide(request: &AdmissionRequest<DynamicObject>) -> (AdmissionResponse, Outcome) {
    let response = AdmissionResponse::from(request);
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return (response, Outcome::Skipped);
    }
    let policy = request.kind.kind == POLICY_KIND;
    if request.kind.group != GROUP || !(is_backend_kind(&request.kind.kind) || policy) {
        let warning = format!(
            "agw-webhook validates {GROUP} {}, {POLICY_KIND} objects only; this {} was admitted unchecked (check the rules of the ValidatingWebhookConfiguration)",
            BACKEND_KINDS.join(", "),
            describe_kind(request)
        );
        return (with_warnings(response, vec![warning]), Outcome::Skipped);
    }
    let Some(object) = &request.object else {
        let cause = cause("", "the request carries no object to validate");
        return (deny(response, request, vec![cause]), Outcome::Denied);
    };
    let namespace = request
        .namespace
        .clone()
        .or_else(|| object.metadata.namespace.clone())
        .unwrap_or_default();
    let options = CompileOptions::new(namespace, object_name(request, object))
        .with_generation(object.metadata.generation);
    let verdict = if policy {
        parse_policy(object)
            .map(|spec| compile_policy(&spec, &options).map(|compiled| compiled.warnings))
    } else {
        parse_spec(object).map(|spec| compile(&spec, &options).map(|compiled| compiled.warnings))
    };
    match verdict {
        Ok(verdict) => judge(response, request, object, verdict),
        Err(cause) => (deny(response, request, vec![cause]), Outcome::Denied),
    }
}

/// Answers the compiler's verdict on the object: its warnings, or its diagnostics.
fn judge(
    response: AdmissionResponse,
    request: &AdmissionRequest<DynamicObject>,
    object: &DynamicObject,
    verdict: Result<Vec<Diagnostic>, Diagnostics>,
) -> (AdmissionResponse, Outcome) {
    match verdict {
        Ok(warnings) if warnings.is_empty() => (response, Outcome::Allowed),
        Ok(warnings) => {
            let warnings = warnings.iter().map(ToString::to_string).collect();
            (with_warnings(response, warnings), Outcome::Warned)
        }
        Err(diagnostics) if spec_unchanged(request, object) => {
            // Refusing an update that leaves an already-stored bad spec as it is would only
            // block label, annotation and finalizer edits; the operator never programs it.
            let mut warnings = vec![
                "the spec is unchanged but invalid; the operator keeps serving the last valid bundle until it is fixed"
                    .to_owned(),
            ];
            warnings.extend(diagnostics.errors.iter().map(ToString::to_string));
            (with_warnings(response, warnings), Outcome::Warned)
        }
        Err(diagnostics) => {
            let causes = diagnostics.errors.iter().map(diagnostic_cause).collect();
            let mut response = deny(response, request, causes);
            if !diagnostics.warnings.is_empty() {
                let warnings = diagnostics.warnings.iter().map(ToString::to_string);
                response.warnings = Some(warnings.collect());
            }
            (response, Outcome::Denied)
        }
    }
}

/// Reads `.spec` as written, naming the field that does not fit the API type. The apiserver's
/// structural schema normally catches these first; this covers a bypassed or older CRD. The
/// compiler then also reports fields the API does not have.
fn parse_spec(object: &DynamicObject) -> Result<WrittenSpec, StatusCause> {
    let Some(spec) = object.data.get("spec") else {
        return Err(cause("spec", "Required value: a Backend needs a spec"));
    };
    WrittenSpec::from_json(spec.clone())
        .map_err(|d| cause(&d.path, &format!("Invalid value: {}", d.message)))
}

/// Reads an AgentgatewayPolicy's `.spec`, naming the field that does not fit the API type.
fn parse_policy(object: &DynamicObject) -> Result<AgentgatewayPolicySpec, StatusCause> {
    let Some(spec) = object.data.get("spec") else {
        return Err(cause("spec", "Required value: a policy needs a spec"));
    };
    serde_path_to_error::deserialize(spec.clone()).map_err(|err| {
        let path = format!("spec.{}", err.path()).replace("spec..", "spec");
        cause(&path, &format!("Invalid value: {}", err.into_inner()))
    })
}

fn spec_unchanged(request: &AdmissionRequest<DynamicObject>, object: &DynamicObject) -> bool {
    request.operation == Operation::Update
        && request
            .old_object
            .as_ref()
            .is_some_and(|old| old.data.get("spec") == object.data.get("spec"))
}

fn object_name(request: &AdmissionRequest<DynamicObject>, object: &DynamicObject) -> String {
    [
        Some(request.name.clone()),
        object.metadata.name.clone(),
        object.metadata.generate_name.clone(),
    ]
    .into_iter()
    .flatten()
    .find(|name| !name.is_empty())
    .unwrap_or_default()
}

fn describe_kind(request: &AdmissionRequest<DynamicObject>) -> String {
    let kind = &request.kind;
    if kind.group.is_empty() {
        format!("{} ({})", kind.kind, kind.version)
    } else {
        format!("{} ({}/{})", kind.kind, kind.group, kind.version)
    }
}

fn diagnostic_cause(diagnostic: &Diagnostic) -> StatusCause {
    let message = match &diagnostic.hint {
        Some(hint) => format!("{} ({hint})", diagnostic.message),
        None => diagnostic.message.clone(),
    };
    StatusCause {
        reason: "FieldValueInvalid".to_owned(),
        message,
        field: diagnostic.path.clone(),
    }
}

fn cause(field: &str, message: &str) -> StatusCause {
    StatusCause {
        reason: "FieldValueInvalid".to_owned(),
        message: message.to_owned(),
        field: field.to_owned(),
    }
}

/// A `422 Invalid` denial, shaped like the apiserver's own validation errors.
fn deny(
    mut response: AdmissionResponse,
    request: &AdmissionRequest<DynamicObject>,
    causes: Vec<StatusCause>,
) -> AdmissionResponse {
    let name = request
        .object
        .as_ref()
        .map(|object| object_name(request, object))
        .unwrap_or_default();
    let listed: Vec<String> = causes.iter().map(render_cause).collect();
    let listed = match listed.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    response.allowed = false;
    // Named as the apiserver names it: the kind the user wrote (`Backend` or
    // `AgentgatewayBackend`), both judged alike.
    let kind = request.kind.kind.clone();
    response.result = Status::failure(
        &format!("{kind}.{GROUP} {name:?} is invalid: {listed}"),
        "Invalid",
    )
    .with_code(422)
    .with_details(StatusDetails {
        name,
        group: GROUP.to_owned(),
        kind,
        uid: String::new(),
        causes,
        retry_after_seconds: 0,
    });
    response
}

fn render_cause(cause: &StatusCause) -> String {
    if cause.field.is_empty() {
        cause.message.clone()
    } else {
        format!("{}: {}", cause.field, cause.message)
    }
}

fn with_warnings(mut response: AdmissionResponse, warnings: Vec<String>) -> AdmissionResponse {
    response.warnings = Some(warnings);
    response
}

#[cfg(test)]
mod tests;

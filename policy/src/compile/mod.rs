//! The compiler: `BackendSpec` → [`Bundle`], or every diagnostic at once.
//!
//! `compile` is the only place that decides whether a spec is valid. It is pure (no I/O, no
//! clock, no randomness), so the same spec always yields byte-identical bundle JSON and the
//! same digest, and the webhook, the operator, `agwctl` and the proxy can never disagree.
//! Each part of the spec has its own module; they push findings into one list so that all
//! problems are reported together.

mod aliases;
mod audit;
mod auth;
mod case_fold;
mod client_auth;
mod client_jwt;
mod enrich;
mod enrich_check;
mod guard_rule;
mod guards;
mod names;
mod nfa_bound;
mod policy;
mod rate_limit;
pub mod regex_safety;
mod response_guards;
mod routes;
mod shape;
mod source;
mod unsupported;
mod upstream;
mod webhook;
mod webhook_target;

use std::collections::BTreeMap;

use agw_crds::{AiPolicies, BackendSpec};

pub use self::client_auth::SELECTED_DIR;
pub use self::client_jwt::{CONFIG_MAP_DIR, DEFAULT_JWKS_KEY};
pub use self::policy::{
    CompiledPolicy, POLICY_SELECTED_DIR, PolicyTarget, beneath, compile_policy,
};
pub use self::response_guards::{MAX_STREAM_MATCH_BYTES, STREAM_WINDOW_BYTES};
pub use self::shape::UNKNOWN_FIELD;
pub use self::source::{SpecSource, WrittenSpec};
pub use self::unsupported::UNSUPPORTED_FIELD;
pub use self::webhook::{DEFAULT_WEBHOOK_TIMEOUT_MS, MAX_WEBHOOK_TIMEOUT_MS};
use crate::bundle::{Bundle, BundleBackend, BundleSource, RequestEdits, Rule, SourceKind};
use crate::diagnostics::{Diagnostic, Diagnostics, FieldPath};
pub use crate::limits::Limits;

/// Where the operator mounts auth Secrets in proxy pods, `<root>/<ns>/<secret>/<key>`.
pub const DEFAULT_AUTH_MOUNT_ROOT: &str = "/var/run/agw/auth";

/// Inputs to [`compile`] besides the spec itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Namespace of the Backend.
    pub namespace: String,
    /// Name of the Backend.
    pub name: String,
    /// `metadata.generation`, recorded in the bundle's source.
    pub generation: Option<i64>,
    /// Directory under which auth Secret keys are mounted in proxy pods.
    pub auth_mount_root: String,
    /// Size limits for patterns and guards.
    pub limits: Limits,
}

impl CompileOptions {
    /// Options for the Backend `namespace/name` with default limits.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            generation: None,
            auth_mount_root: DEFAULT_AUTH_MOUNT_ROOT.to_owned(),
            limits: Limits::default(),
        }
    }

    /// Sets the generation recorded in the bundle.
    #[must_use]
    pub fn with_generation(mut self, generation: Option<i64>) -> Self {
        self.generation = generation;
        self
    }

    /// The bundle key of this Backend, `namespace/name`.
    pub fn backend_key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A successfully compiled spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The bundle, digest included.
    pub bundle: Bundle,
    /// Findings that did not reject the spec.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles a Backend spec into the bundle its own proxy Deployment serves. A spec as written
/// ([`WrittenSpec`]) is also checked for fields the API does not have.
pub fn compile<S: SpecSource + ?Sized>(
    spec: &S,
    opts: &CompileOptions,
) -> Result<Compiled, Diagnostics> {
    let mut findings = Vec::new();
    if let Some(written) = spec.written() {
        shape::unknown_fields(written, &mut findings);
    }
    let backend = compile_backend(spec.spec(), opts, &mut findings);
    let diagnostics = Diagnostics::from_findings(findings);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let key = opts.backend_key();
    let rules = vec![Rule::everything_to(key.clone())];
    let source = BundleSource {
        kind: SourceKind::Backend,
        namespace: opts.namespace.clone(),
        name: opts.name.clone(),
        generation: opts.generation,
    };
    let bundle = Bundle::seal(source, rules, BTreeMap::from([(key, backend)]));
    Ok(Compiled {
        bundle,
        warnings: diagnostics.warnings,
    })
}

/// Compiles one Backend into its bundle entry, pushing findings. Gateway bundles reuse this
/// for each Backend their routes refer to.
pub fn compile_backend(
    spec: &BackendSpec,
    opts: &CompileOptions,
    findings: &mut Vec<Diagnostic>,
) -> BundleBackend {
    let root = FieldPath::spec();
    let policies = spec.policies.as_ref();
    let policies_path = root.field("policies");
    let ai_path = policies_path.field("ai");
    let ai = policies.and_then(|p| p.ai.as_ref());
    let tls = policies.and_then(|p| p.tls.as_ref());

    let upstream = upstream::compile(
        &spec.ai.provider,
        tls,
        &root.field("ai").field("provider"),
        findings,
    );
    let auth = auth::compile(
        policies.and_then(|p| p.auth.as_ref()),
        opts,
        &policies_path.field("auth"),
        findings,
    );
    if let Some(ai) = ai {
        unsupported::ai_policies(ai, &ai_path, findings);
    }
    let guard_spec = ai.and_then(|a| a.prompt_guard.as_ref());
    let guards = guards::compile(
        guard_spec,
        &ai_path.field("promptGuard"),
        &opts.limits,
        &opts.namespace,
        findings,
    );
    let routes = routes::compile(
        ai.and_then(routes_of),
        !guards.request.is_empty(),
        &ai_path.field("routes"),
        findings,
    );
    let audit = audit::compile(
        ai.and_then(|a| a.audit.as_ref()),
        &ai_path.field("audit"),
        findings,
    );
    let clients = client_auth::compile(policies, opts, &policies_path, findings);
    let request = request_edits(ai, upstream.model.is_some(), &ai_path, findings);
    enrich_check::check(
        &guards,
        ai.and_then(|a| a.prompt.as_ref()),
        &ai_path.field("prompt"),
        findings,
    );
    BundleBackend {
        upstream,
        auth,
        routes,
        guards,
        audit,
        clients,
        request,
    }
}

/// Prompt enrichment, field defaults and overrides, and model aliases.
fn request_edits(
    ai: Option<&AiPolicies>,
    pinned: bool,
    path: &FieldPath,
    findings: &mut Vec<Diagnostic>,
) -> RequestEdits {
    let Some(ai) = ai else {
        return RequestEdits::default();
    };
    let (prepend, append) = enrich::prompt(ai.prompt.as_ref(), &path.field("prompt"), findings);
    let (defaults, overrides) = enrich::fields(
        ai.defaults.as_deref(),
        ai.overrides.as_deref(),
        path,
        findings,
    );
    let model_aliases = aliases::compile(
        ai.model_aliases.as_ref(),
        pinned,
        &path.field("modelAliases"),
        findings,
    );
    RequestEdits {
        prepend,
        append,
        defaults,
        overrides,
        model_aliases,
    }
}

fn routes_of(ai: &AiPolicies) -> Option<&BTreeMap<String, String>> {
    ai.routes.as_ref()
}

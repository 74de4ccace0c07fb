//! `promptGuard.{request,response}[].webhook`: an external checker the proxy calls with a
//! guard's scoped texts, shaped as agentgateway's webhook guard, plus agw's `url` and
//! `timeout`. Values are plain strings here; the compiler judges them with field paths.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Values of a webhook guard's `failureMode`; `FailClosed` is the default.
pub const FAILURE_MODES: &[&str] = &["FailOpen", "FailClosed"];
/// Values of `forwardHeaderMatches[].type`; `Exact` is the default.
pub const HEADER_MATCH_TYPES: &[&str] = &["Exact", "RegularExpression"];
/// `webhook` of a guard: agentgateway's webhook guard (`backendRef`, `headers`,
/// `forwardHeaderMatches`, `failureMode`) plus agw's `url` and `timeout`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookGuard {
    /// The checker as a Service in the Backend's namespace (`http://<name>.<namespace>.svc.cluster.local:<port>`).
    /// Exactly one of `backendRef` and `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_ref: Option<WebhookBackendRef>,
    /// agw's addition: the checker's base URL (`https://…`, or `http://` to a loopback or
    /// in-cluster `*.svc` host); agw POSTs to `<url>/request` or `<url>/response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub url: Option<String>,
    /// Headers added to each call. Values are agentgateway's CEL expressions; agw evaluates
    /// string literals (`'"Bearer abc"'`) and refuses any other expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 64))]
    pub headers: Option<BTreeMap<String, String>>,
    /// Client request headers (response headers, for a response guard) forwarded to the
    /// checker when they match; none by default. Credentials headers are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub forward_header_matches: Vec<WebhookHeaderMatch>,
    /// `FailClosed` (default): a checker that is down, slow, busy or answers nonsense
    /// rejects (a request) or stops (a response). `FailOpen`: the text passes unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["FailOpen", "FailClosed"]))]
    pub failure_mode: Option<String>,
    /// agw's addition: time allowed per call, a duration such as `500ms` or `2s`
    /// (default `5s`, at most `60s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `webhook.backendRef`: a Service (Gateway API `BackendObjectReference`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBackendRef {
    /// API group; `""` (core) for a Service, the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Service` (the default); agw resolves no other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the Service.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Service; only the Backend's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Port of the Service; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// One `forwardHeaderMatches` entry (Gateway API `HTTPHeaderMatch`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookHeaderMatch {
    /// `Exact` (default) or `RegularExpression` (on the whole value).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Exact", "RegularExpression"]))]
    pub match_type: Option<String>,
    /// Header name (case-insensitive).
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Value to match.
    #[schemars(length(max = 4096))]
    pub value: String,
}

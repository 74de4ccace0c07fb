//! A webhook guard's call in bundle form: where the checker is, what to send besides the
//! texts, and what to do when it cannot answer — compiled from `promptGuard.*[].webhook`.
//!
//! Owns: the bundle shape of a webhook call. Must not: validate (the compiler did) or do I/O
//! (the proxy calls the checker).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where and how the proxy calls a guard's checker.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookCall {
    /// Host name or IP address of the checker.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS (an `https` URL).
    pub tls: bool,
    /// Path the proxy POSTs to: the URL's path followed by `/request` or `/response`, as
    /// agentgateway calls a checker.
    pub path: String,
    /// Headers set on every call, in order (literal values; never a credential of the
    /// client's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebhookHeader>,
    /// Client request headers (or upstream response headers) copied to the call when their
    /// name and value match exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_headers: Vec<WebhookHeader>,
    /// `true` for `FailOpen`: when the checker cannot answer, the text passes unchecked.
    /// `false` (`FailClosed`, the default): the request is rejected or the response stopped.
    pub fail_open: bool,
    /// Time allowed for one call, in milliseconds.
    pub timeout_ms: u32,
}

/// A header name (lower case) and value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookHeader {
    /// Header name, lower case.
    pub name: String,
    /// Header value.
    pub value: String,
}

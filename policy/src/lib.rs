//! agw's policy semantics, in one place.
//!
//! This crate owns everything that decides what a Backend *means*:
//! - the **compiler** ([`compile`]): `BackendSpec` → a deterministic, versioned [`Bundle`], or
//!   every diagnostic at once, each with a field path, a stable code, a message and a hint;
//! - the **bundle** format and its JSON Schema ([`bundle`]);
//! - **manifests** ([`manifest`]): multi-document YAML as users write it;
//! - the **guard engine**: normalization, builtins, matching and masking at request time, and
//!   the byte-class scanning it shares with the proxy's body reader ([`bytemask`]).
//!
//! The webhook, the operator, `agwctl` and the proxy call into this crate and have no
//! validation rules of their own, so "accepted by the webhook" and "enforced by the proxy"
//! cannot drift apart. It does no I/O beyond what its callers hand it and never panics on
//! user input.
#![forbid(unsafe_code)]

pub mod builtins;
pub mod bundle;
pub mod bytemask;
pub mod client_keys;
pub mod compile;
pub mod diagnostics;
pub mod engine;
pub mod jwks;
mod limits;
pub mod manifest;
pub mod response;

pub use bundle::Bundle;
pub use compile::{
    CompileOptions, Compiled, CompiledPolicy, Limits, PolicyTarget, SpecSource, WrittenSpec,
    compile, compile_policy,
};
pub use diagnostics::{Diagnostic, Diagnostics, Severity};

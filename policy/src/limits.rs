//! Size limits that keep a spec cheap to compile, to store and to enforce.
//!
//! They protect the proxy's hot path and the apiserver (a Backend lives in etcd) from specs
//! that are accidentally or deliberately huge. Every limit is reported with its value and
//! the actual size when exceeded.

/// Limits applied by the compiler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted pattern, in bytes.
    pub max_pattern_bytes: usize,
    /// Most custom patterns in one guard.
    pub max_patterns_per_guard: usize,
    /// Most custom patterns across all guards of a Backend.
    pub max_patterns_per_backend: usize,
    /// Most guards per phase (request or response).
    pub max_guards: usize,
    /// Deepest nesting of groups and repetitions in a pattern.
    pub max_nesting: u32,
    /// Largest compiled automaton for one pattern, in bytes (the engine's NFA size limit).
    pub max_compiled_bytes: usize,
    /// Longest rejection message, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pattern_bytes: 4 * 1024,
            max_patterns_per_guard: 500,
            max_patterns_per_backend: 1_000,
            max_guards: 64,
            max_nesting: 32,
            max_compiled_bytes: 2 * 1024 * 1024,
            max_message_bytes: 4 * 1024,
        }
    }
}

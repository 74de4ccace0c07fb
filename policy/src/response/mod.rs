//! Response guards at work: what the proxy (and `agwctl check --response`) does with what
//! the model sends back.
//!
//! - [`json`]: a whole Messages response body: Mask rewrites the matched spans inside
//!   `content[].text` (and `tool_use` input string leaves when scoped) and keeps every other
//!   byte; Reject replaces the response.
//! - [`window`]: one text arriving in pieces, masked with a bounded hold-back window so a
//!   match split across pieces is caught whole.
//! - [`sse`]: an Anthropic SSE stream, event by event, built on `window`.
//!
//! Matching is the guard engine's ([`crate::engine`]), the same that judges requests. This
//! module does no I/O and holds at most a window of text per content block (and a bounded
//! tool input); when a guard cannot decide within those bounds it stops the response
//! (fails closed) rather than let unchecked text through.

pub mod json;
pub mod sse;
pub mod window;

#[cfg(test)]
mod testing;

use crate::engine::{GuardHit, Rejected};

/// Why a response (or the rest of a stream) is not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The guard's rejection (its id, status and message).
    pub rejected: Rejected,
    /// `true` when no guard rejected, but one could not decide within the bounds (a match
    /// reaching back into text already sent, a block over its size limit): fail closed.
    pub undecided: bool,
}

impl Stopped {
    /// The stream itself could not be read within the bounds (no guard in particular): it
    /// is counted under the guard id `response`.
    fn unreadable(why: &str) -> Self {
        Self {
            rejected: Rejected {
                guard_id: "response".to_owned(),
                status: 400,
                message: format!("the response was stopped: agw {why}"),
            },
            undecided: true,
        }
    }

    fn undecided(guard_id: &str, status: u16, why: &str) -> Self {
        Self {
            rejected: Rejected {
                guard_id: guard_id.to_owned(),
                status,
                message: format!("the response was stopped: guard {guard_id} {why}"),
            },
            undecided: true,
        }
    }
}

/// Mask counts per guard, merged as a stream goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hits(Vec<GuardHit>);

impl Hits {
    /// Adds `count` spans masked by `guard_id`.
    pub fn add(&mut self, guard_id: &str, count: usize) {
        if count == 0 {
            return;
        }
        match self.0.iter_mut().find(|h| h.guard_id == guard_id) {
            Some(hit) => hit.count += count,
            None => self.0.push(GuardHit {
                guard_id: guard_id.to_owned(),
                count,
            }),
        }
    }

    /// Takes the counts gathered so far.
    pub fn take(&mut self) -> Vec<GuardHit> {
        std::mem::take(&mut self.0)
    }

    /// The counts gathered so far.
    pub fn as_slice(&self) -> &[GuardHit] {
        &self.0
    }
}

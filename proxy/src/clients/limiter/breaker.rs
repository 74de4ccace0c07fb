//! The circuit breaker in front of the shared store: after Redis fails once, requests stop
//! asking it for a cool-down and are decided in process at once, instead of each waiting up
//! to [`super::shared::CALL_TIMEOUT`] on a Redis that hangs.
//!
//! Closed: every call goes to Redis. A failed call (timeout, connection error, bad reply)
//! opens it for [`FIRST_COOL_DOWN`]. Open: no call goes to Redis until the cool-down ends;
//! then exactly one call probes it (half open) while every other keeps being decided in
//! process. A probe that answers closes the breaker; one that fails opens it again for twice
//! the last cool-down, up to [`MAX_COOL_DOWN`]; one abandoned (its request cancelled) lets the
//! next call probe. Opening and closing are logged once each and shown in the gauge
//! `agw_rate_limit_store_up` (1 closed, 0 open or probing).
//!
//! Owns that state machine and its gauge; time is handed in by the caller so tests drive it.
//! Must not call Redis nor decide a request (the limiter does both).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

use super::shared::StoreError;

/// Cool-down after the first failure of a closed breaker.
pub const FIRST_COOL_DOWN: Duration = Duration::from_secs(1);

/// Longest cool-down, however many probes failed in a row: a Redis back after a long outage
/// is used again within this long.
pub const MAX_COOL_DOWN: Duration = Duration::from_secs(30);

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Calls go to Redis.
    Closed,
    /// No call goes to Redis before `until`; `failures` in a row so far.
    Open { failures: u32, until: Instant },
    /// One probe is in flight; the others are decided in process.
    Probing { failures: u32, until: Instant },
}

/// Shared by the limiter and its charge tasks; cheap to clone.
#[derive(Clone, Debug)]
pub struct Breaker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    up: Gauge,
    /// The store's `host:port`, for logs.
    address: String,
}

impl Breaker {
    /// A closed breaker (the store is presumed up until a call fails) that keeps `up`.
    pub fn new(up: Gauge, address: &str) -> Self {
        up.set(1);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::Closed),
                up,
                address: address.to_owned(),
            }),
        }
    }

    /// Leave to call Redis at `now`, or `None`: decide without it.
    pub fn permit(&self, now: Instant) -> Option<Permit> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed => false,
            State::Open { failures, until } if now >= until => {
                *state = State::Probing { failures, until };
                true
            }
            State::Open { .. } | State::Probing { .. } => return None,
        };
        Some(Permit {
            breaker: self.clone(),
            probe,
            settled: false,
        })
    }

    /// The current state.
    #[cfg(test)]
    pub fn state(&self) -> State {
        *self.lock()
    }

    // A state is plain data: one left by a panic is still a state.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn succeeded(&self, probe: bool) {
        let mut state = self.lock();
        // Only the probe closes: a call let through before the breaker opened says nothing
        // about Redis now.
        if probe && matches!(*state, State::Probing { .. }) {
            *state = State::Closed;
            self.inner.up.set(1);
            tracing::info!(
                redis = self.inner.address,
                "rate-limit store answers again: budgets are shared in Redis"
            );
        }
    }

    fn failed(&self, probe: bool, err: &StoreError, now: Instant) {
        let mut state = self.lock();
        match *state {
            State::Closed => {
                *state = State::Open {
                    failures: 1,
                    until: now + FIRST_COOL_DOWN,
                };
                self.inner.up.set(0);
                tracing::warn!(
                    redis = self.inner.address,
                    error = %err,
                    retry_in_ms = FIRST_COOL_DOWN.as_millis(),
                    "rate-limit store failed: budgets are counted per replica until it answers (agw_rate_limit_store_up is 0 until then)"
                );
            }
            State::Probing { failures, .. } if probe => {
                let failures = failures.saturating_add(1);
                let wait = cool_down(failures);
                *state = State::Open {
                    failures,
                    until: now + wait,
                };
                tracing::debug!(
                    redis = self.inner.address,
                    error = %err,
                    retry_in_ms = wait.as_millis(),
                    "rate-limit store probe failed"
                );
            }
            // Already open: a call let through before it opened does not extend the wait.
            State::Open { .. } | State::Probing { .. } => {}
        }
    }

    fn abandoned(&self) {
        let mut state = self.lock();
        if let State::Probing { failures, until } = *state {
            *state = State::Open { failures, until };
        }
    }
}

/// The cool-down after `failures` failures in a row: [`FIRST_COOL_DOWN`], doubling, at most
/// [`MAX_COOL_DOWN`].
pub fn cool_down(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_COOL_DOWN
        .saturating_mul(1 << doublings)
        .min(MAX_COOL_DOWN)
}

/// Leave for one call to Redis; tell the breaker how it went. Dropped without a verdict (the
/// request was cancelled mid-call), a probe lets the next call probe instead.
#[derive(Debug)]
#[must_use = "a permit tells the breaker how the call went"]
pub struct Permit {
    breaker: Breaker,
    probe: bool,
    settled: bool,
}

impl Permit {
    /// Whether this call is the probe of an open breaker.
    #[cfg(test)]
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Redis answered.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.breaker.succeeded(self.probe);
    }

    /// Redis failed at `now`.
    pub fn failed(mut self, err: &StoreError, now: Instant) {
        self.settled = true;
        self.breaker.failed(self.probe, err, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            self.breaker.abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (Breaker, Gauge) {
        let up = Gauge::default();
        (Breaker::new(up.clone(), "127.0.0.1:6379"), up)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_failure_opens_it_for_a_second_then_one_probe_closes_it() {
        let (breaker, up) = breaker();
        let t0 = Instant::now();
        assert_eq!(up.get(), 1);
        let permit = breaker.permit(t0).unwrap();
        assert!(!permit.is_probe());
        permit.failed(&StoreError::Timeout, t0);
        assert_eq!(up.get(), 0);
        assert!(breaker.permit(t0).is_none());
        assert!(breaker.permit(t0 + ms(999)).is_none());
        let probe = breaker.permit(t0 + ms(1000)).unwrap();
        assert!(probe.is_probe());
        // While the probe is in flight, everybody else decides in process.
        assert!(breaker.permit(t0 + ms(1001)).is_none());
        assert!(breaker.permit(t0 + ms(5000)).is_none());
        assert_eq!(up.get(), 0);
        probe.succeeded();
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(up.get(), 1);
        assert!(!breaker.permit(t0 + ms(1002)).unwrap().is_probe());
    }

    #[test]
    fn failed_probes_double_the_cool_down_up_to_thirty_seconds() {
        let (breaker, up) = breaker();
        let mut now = Instant::now();
        breaker
            .permit(now)
            .unwrap()
            .failed(&StoreError::Timeout, now);
        let mut waits = Vec::new();
        for _ in 0..7 {
            let State::Open { until, .. } = breaker.state() else {
                panic!("{:?}", breaker.state());
            };
            waits.push(until.duration_since(now).as_secs());
            assert!(breaker.permit(until.checked_sub(ms(1)).unwrap()).is_none());
            now = until;
            let probe = breaker.permit(now).unwrap();
            assert!(probe.is_probe());
            probe.failed(&StoreError::Unexpected(-1), now);
            assert_eq!(up.get(), 0);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        // A success starts over: the next failure waits one second again.
        now += MAX_COOL_DOWN;
        breaker.permit(now).unwrap().succeeded();
        breaker
            .permit(now)
            .unwrap()
            .failed(&StoreError::Timeout, now);
        assert_eq!(
            breaker.state(),
            State::Open {
                failures: 1,
                until: now + FIRST_COOL_DOWN
            }
        );
    }

    #[test]
    fn calls_let_through_before_it_opened_neither_extend_nor_close_it() {
        let (breaker, up) = breaker();
        let t0 = Instant::now();
        let (first, second, third) = (
            breaker.permit(t0).unwrap(),
            breaker.permit(t0).unwrap(),
            breaker.permit(t0).unwrap(),
        );
        first.failed(&StoreError::Timeout, t0 + ms(200));
        second.failed(&StoreError::Timeout, t0 + ms(900));
        third.succeeded();
        assert_eq!(
            breaker.state(),
            State::Open {
                failures: 1,
                until: t0 + ms(1200)
            }
        );
        assert_eq!(up.get(), 0);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let (breaker, _) = breaker();
        let t0 = Instant::now();
        breaker.permit(t0).unwrap().failed(&StoreError::Timeout, t0);
        let probe = breaker.permit(t0 + FIRST_COOL_DOWN).unwrap();
        assert!(breaker.permit(t0 + FIRST_COOL_DOWN).is_none());
        drop(probe);
        let again = breaker.permit(t0 + FIRST_COOL_DOWN).unwrap();
        assert!(again.is_probe());
        // Abandoning is not a failure: the cool-down did not double.
        again.failed(&StoreError::Timeout, t0 + FIRST_COOL_DOWN);
        assert_eq!(
            breaker.state(),
            State::Open {
                failures: 2,
                until: t0 + FIRST_COOL_DOWN + ms(2000)
            }
        );
    }
}

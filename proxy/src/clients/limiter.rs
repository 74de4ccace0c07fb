//! Request and token budgets, counted in fixed windows aligned to the Unix epoch (a `Days`
//! window is a UTC day): in this process's memory, and with `--rate-limit-redis` also in a
//! Redis the replicas share ([`shared`]).
//!
//! A budget is keyed by backend, subject (an identity, or the backend as a whole), what it
//! counts and its window length — not by its amount, so raising a limit keeps what was spent.
//! Requests are counted when admitted; tokens when a response ends (from the provider's
//! `usage`), so the request that crosses a token budget completes and the next one is refused
//! until the window ends; it is refused by the tokens of the requests in flight when it is
//! crossed too.
//!
//! In process only, each replica keeps its own count: a budget can be exceeded by up to
//! (replicas − 1) × the amount in the worst case (every replica spending it fully).
//!
//! With a shared store, Redis decides: one script checks every budget of a request and counts
//! its request budgets atomically, so all replicas together admit exactly the amount of a
//! request budget, and a token budget spent through one replica refuses the next request on
//! every replica. The in-process count keeps counting alongside (it never decides then).
//! When Redis fails — unreachable, erroring, or slower than [`shared::CALL_TIMEOUT`] — that
//! request is decided by the in-process count instead: a per-replica bound that already
//! includes what this replica admitted through Redis in the window, never an unlimited
//! request, and never a request hanging on Redis. The failure is counted in
//! `agw_rate_limit_store_errors_total` and opens the [`breaker`]: for a cool-down (1 s,
//! doubling per failed probe up to 30 s) requests are decided in process without asking
//! Redis, so a Redis that hangs costs one request the timeout, not every request; then one
//! request probes it, and an answer shares the budgets again. Opening and closing are logged
//! once each; `agw_rate_limit_store_up` is 0 while open. Failing open to the per-replica
//! bound rather than refusing everything keeps a Redis outage from becoming an outage of
//! every developer's Claude Code, and the bound is the one documented without Redis. Token
//! charges Redis misses (failed, or skipped while the breaker is open) are lost to the shared
//! count (kept in process); a call that timed out after Redis ran it leaves that request
//! counted there as well (erring towards refusing). Redis keeps counters only; restarting it
//! empties the current windows. Windows follow this process's clock, so replicas need synced
//! clocks.
//!
//! Owns the counters and the fallback; must not decide who the subject is (that is
//! `clients::admit`).

pub mod breaker;
pub mod shared;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use agw_policy::bundle::{Limit, LimitKind, LimitSubject};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use self::breaker::Breaker;
use self::shared::SharedStore;

/// A budget's identity: the counter a limit reads and adds to.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    backend: Arc<str>,
    subject: Option<Arc<str>>,
    kind: LimitKind,
    window_seconds: u64,
}

impl Key {
    /// The shared store's counter of this budget in the window of `now`.
    fn counter(&self, amount: u64, now: u64) -> shared::Counter {
        let index = now / self.window_seconds;
        shared::Counter {
            key: shared::key(
                &self.backend,
                self.subject.as_deref(),
                kind_name(self.kind),
                self.window_seconds,
                index,
            ),
            requests: self.kind == LimitKind::Requests,
            amount,
            expire_at: (index + 1)
                .saturating_mul(self.window_seconds)
                .saturating_add(shared::EXPIRY_MARGIN_SECONDS),
        }
    }
}

fn kind_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Requests => "requests",
        LimitKind::Tokens => "tokens",
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    index: u64,
    used: u64,
}

/// A refused request: which limit, and when its window ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exceeded {
    /// The limit that is spent.
    pub limit: Limit,
    /// Seconds until its window ends (at least 1).
    pub retry_after: u64,
}

/// Every budget of this process, and the shared store when there is one; outlives
/// configuration reloads.
#[derive(Debug, Default)]
pub struct Limiter {
    local: Local,
    shared: Option<Shared>,
}

/// The shared store, the breaker in front of it and what its failures are counted in.
#[derive(Debug)]
struct Shared {
    store: SharedStore,
    breaker: Breaker,
    admit_errors: Counter,
    charge_errors: Counter,
}

/// The budgets one request counts against, kept to charge its tokens at the end.
#[derive(Clone, Debug, Default)]
pub struct Charges {
    /// Token budgets with their amounts.
    keys: Vec<(Key, u64)>,
}

impl Limiter {
    /// Counts in `store` as well, deciding there while it answers; its failures add to
    /// `admit_errors` (a request decided in process) and `charge_errors` (tokens not shared),
    /// and `up` says whether the breaker lets calls through (1) or not (0).
    pub fn shared(
        store: SharedStore,
        admit_errors: Counter,
        charge_errors: Counter,
        up: Gauge,
    ) -> Self {
        let breaker = Breaker::new(up, store.address());
        Self {
            local: Local::default(),
            shared: Some(Shared {
                store,
                breaker,
                admit_errors,
                charge_errors,
            }),
        }
    }

    /// Admits a request at `now` (Unix seconds) against `limits`, or says which is spent.
    /// Admitting counts the request in every request budget; a refusal counts nothing.
    pub async fn admit(
        &self,
        backend: &Arc<str>,
        identity: Option<&Arc<str>>,
        limits: &[Limit],
        now: u64,
    ) -> Result<Charges, Exceeded> {
        let Some(shared) = &self.shared else {
            return self.local.admit(backend, identity, limits, now);
        };
        let budgets = budgets(backend, identity, limits);
        if budgets.is_empty() {
            return Ok(Charges::default());
        }
        let Some(permit) = shared.breaker.permit(Instant::now()) else {
            return self.local.admit(backend, identity, limits, now);
        };
        let counters: Vec<shared::Counter> = budgets
            .iter()
            .map(|(key, limit)| key.counter(limit.amount, now))
            .collect();
        match shared.store.admit(&counters).await {
            Ok(None) => {
                permit.succeeded();
                self.local.count(&budgets, now);
                Ok(charges(budgets))
            }
            Ok(Some(spent)) => {
                permit.succeeded();
                Err(exceeded(budgets[spent].1, now))
            }
            Err(err) => {
                shared.admit_errors.inc();
                permit.failed(&err, Instant::now());
                self.local.admit(backend, identity, limits, now)
            }
        }
    }

    /// Adds the tokens a response used to the request's token budgets, in the window of
    /// `now`: at once in process, and in the shared store by a task of its own (the
    /// response has ended; nobody waits for it).
    pub fn charge(&self, charges: &Charges, tokens: u64, now: u64) {
        if charges.keys.is_empty() || tokens == 0 {
            return;
        }
        self.local.charge(charges, tokens, now);
        let Some(shared) = &self.shared else {
            return;
        };
        let counters: Vec<shared::Counter> = charges
            .keys
            .iter()
            .map(|(key, amount)| key.counter(*amount, now))
            .collect();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Only outside the runtime (never on the request path): kept in process.
            shared.charge_errors.inc();
            return;
        };
        // While the breaker is open the tokens stay in process only, like a failed charge.
        let Some(permit) = shared.breaker.permit(Instant::now()) else {
            return;
        };
        let (store, errors) = (shared.store.clone(), shared.charge_errors.clone());
        runtime.spawn(async move {
            match store.charge(&counters, tokens).await {
                Ok(()) => permit.succeeded(),
                Err(err) => {
                    errors.inc();
                    permit.failed(&err, Instant::now());
                }
            }
        });
    }
}

/// The budgets of `limits` that apply to `identity`, each with its limit.
fn budgets<'a>(
    backend: &Arc<str>,
    identity: Option<&Arc<str>>,
    limits: &'a [Limit],
) -> Vec<(Key, &'a Limit)> {
    limits
        .iter()
        .filter(|limit| limit.applies_to(identity.map(|id| &**id)))
        .map(|limit| (key(backend, identity, limit), limit))
        .collect()
}

fn charges(budgets: Vec<(Key, &Limit)>) -> Charges {
    Charges {
        keys: budgets
            .into_iter()
            .filter(|(key, _)| key.kind == LimitKind::Tokens)
            .map(|(key, limit)| (key, limit.amount))
            .collect(),
    }
}

fn exceeded(limit: &Limit, now: u64) -> Exceeded {
    let index = now / limit.window_seconds;
    let retry_after = (index + 1) * limit.window_seconds - now;
    Exceeded {
        limit: limit.clone(),
        retry_after: retry_after.max(1),
    }
}

/// The in-process counters.
#[derive(Debug, Default)]
struct Local {
    windows: Mutex<HashMap<Key, Window>>,
}

impl Local {
    /// Checks and counts a request, as [`Limiter::admit`] does without a shared store.
    fn admit(
        &self,
        backend: &Arc<str>,
        identity: Option<&Arc<str>>,
        limits: &[Limit],
        now: u64,
    ) -> Result<Charges, Exceeded> {
        let budgets = budgets(backend, identity, limits);
        // Counters hold plain numbers: one left mid-update by a panic is still a count.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, limit) in &budgets {
            let index = now / limit.window_seconds;
            let used = windows
                .get(key)
                .filter(|w| w.index == index)
                .map_or(0, |w| w.used);
            let spent = match limit.kind {
                LimitKind::Requests => used.saturating_add(1) > limit.amount,
                LimitKind::Tokens => used >= limit.amount,
            };
            if spent {
                return Err(exceeded(limit, now));
            }
        }
        count(&mut windows, &budgets, now);
        Ok(charges(budgets))
    }

    /// Counts a request another store admitted, without checking.
    fn count(&self, budgets: &[(Key, &Limit)], now: u64) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        count(&mut windows, budgets, now);
    }

    fn charge(&self, charges: &Charges, tokens: u64, now: u64) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, _) in &charges.keys {
            add(&mut windows, key.clone(), now / key.window_seconds, tokens);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().map_or(0, |w| w.len())
    }
}

fn count(windows: &mut HashMap<Key, Window>, budgets: &[(Key, &Limit)], now: u64) {
    for (key, limit) in budgets {
        if limit.kind == LimitKind::Requests {
            add(windows, key.clone(), now / limit.window_seconds, 1);
        }
    }
    prune(windows, now);
}

fn key(backend: &Arc<str>, identity: Option<&Arc<str>>, limit: &Limit) -> Key {
    Key {
        backend: backend.clone(),
        subject: match limit.per {
            LimitSubject::Backend => None,
            LimitSubject::Identity => identity.cloned(),
        },
        kind: limit.kind,
        window_seconds: limit.window_seconds,
    }
}

fn add(windows: &mut HashMap<Key, Window>, key: Key, index: u64, amount: u64) {
    let window = windows.entry(key).or_insert(Window { index, used: 0 });
    if window.index != index {
        *window = Window { index, used: 0 };
    }
    window.used = window.used.saturating_add(amount);
}

/// Most budgets kept before ended windows are dropped: bounded by identities × limits, so
/// this only sheds identities that stopped calling (or were removed).
const PRUNE_ABOVE: usize = 65_536;

fn prune(windows: &mut HashMap<Key, Window>, now: u64) {
    if windows.len() > PRUNE_ABOVE {
        windows.retain(|key, window| window.index == now / key.window_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(kind: LimitKind, amount: u64, window_seconds: u64, per: LimitSubject) -> Limit {
        Limit {
            kind,
            amount,
            window_seconds,
            per,
            identities: Vec::new(),
        }
    }

    #[test]
    fn requests_per_window_then_429_until_the_window_ends() {
        let limiter = Local::default();
        let backend: Arc<str> = Arc::from("ns/b");
        let limits = [limit(LimitKind::Requests, 2, 60, LimitSubject::Backend)];
        assert!(limiter.admit(&backend, None, &limits, 120).is_ok());
        assert!(limiter.admit(&backend, None, &limits, 130).is_ok());
        let refused = limiter.admit(&backend, None, &limits, 150).unwrap_err();
        assert_eq!(refused.retry_after, 30);
        assert!(
            limiter.admit(&backend, None, &limits, 180).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn token_budgets_are_per_identity_and_charged_after_the_response() {
        let limiter = Local::default();
        let backend: Arc<str> = Arc::from("ns/b");
        let (alice, bob): (Arc<str>, Arc<str>) = (Arc::from("alice"), Arc::from("bob"));
        let limits = [limit(
            LimitKind::Tokens,
            100,
            86_400,
            LimitSubject::Identity,
        )];
        let now = 86_400 * 3 + 3600;
        let charges = limiter.admit(&backend, Some(&bob), &limits, now).unwrap();
        // The crossing request completes; its tokens spend the budget.
        limiter.charge(&charges, 150, now + 1);
        let refused = limiter
            .admit(&backend, Some(&bob), &limits, now + 2)
            .unwrap_err();
        assert_eq!(refused.retry_after, 86_400 - 3600 - 2);
        assert!(
            limiter
                .admit(&backend, Some(&alice), &limits, now + 2)
                .is_ok()
        );
        assert!(
            limiter
                .admit(&backend, Some(&bob), &limits, 86_400 * 4)
                .is_ok()
        );
    }

    #[test]
    fn a_refusal_spends_nothing_and_a_raised_limit_keeps_the_count() {
        let limiter = Local::default();
        let backend: Arc<str> = Arc::from("ns/b");
        let two = [
            limit(LimitKind::Requests, 5, 60, LimitSubject::Backend),
            limit(LimitKind::Requests, 1, 1, LimitSubject::Backend),
        ];
        assert!(limiter.admit(&backend, None, &two, 60).is_ok());
        assert!(limiter.admit(&backend, None, &two, 60).is_err());
        let raised = [limit(LimitKind::Requests, 2, 60, LimitSubject::Backend)];
        assert!(
            limiter.admit(&backend, None, &raised, 61).is_ok(),
            "1 of 2 spent"
        );
        assert!(limiter.admit(&backend, None, &raised, 62).is_err());
        assert_eq!(limiter.len(), 2);
    }

    #[test]
    fn a_shared_counter_is_its_budget_in_the_window_of_now_expiring_after_it() {
        let backend: Arc<str> = Arc::from("ns/b");
        let alice: Arc<str> = Arc::from("alice");
        let day = limit(LimitKind::Tokens, 100, 86_400, LimitSubject::Identity);
        let counter = key(&backend, Some(&alice), &day).counter(100, 86_400 * 5 + 7);
        assert_eq!(
            counter,
            shared::Counter {
                key: "agw:rl:v1:tokens:86400s:5:4:ns/b:identity:5:alice".to_owned(),
                requests: false,
                amount: 100,
                expire_at: 86_400 * 6 + shared::EXPIRY_MARGIN_SECONDS,
            }
        );
        // The amount is not part of the key: a raised limit reads the same counter.
        let raised = key(&backend, Some(&alice), &day).counter(500, 86_400 * 6 - 1);
        assert_eq!(raised.key, counter.key);
        let per_backend = limit(LimitKind::Requests, 5, 60, LimitSubject::Backend);
        let counter = key(&backend, Some(&alice), &per_backend).counter(5, 125);
        assert_eq!(counter.key, "agw:rl:v1:requests:60s:2:4:ns/b:backend");
        assert!(counter.requests);
    }
}

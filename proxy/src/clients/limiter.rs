//! Request and token budgets, counted in fixed windows aligned to the Unix epoch (a `Days`
//! window is a UTC day), in this process's memory.
//!
//! A budget is keyed by backend, subject (an identity, or the backend as a whole), what it
//! counts and its window length — not by its amount, so raising a limit keeps what was spent.
//! Requests are counted when admitted; tokens when a response ends (from the provider's
//! `usage`), so the request that crosses a token budget completes and the next one is refused
//! until the window ends. With several replicas each keeps its own count: a budget can be
//! exceeded by up to (replicas − 1) × the amount in the worst case (every replica spending it
//! fully), and by the tokens of the requests in flight when it is crossed.
//! Owns the counters; must not decide who the subject is (that is `clients::admit`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use agw_policy::bundle::{Limit, LimitKind, LimitSubject};

/// A budget's identity: the counter a limit reads and adds to.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    backend: Arc<str>,
    subject: Option<Arc<str>>,
    kind: LimitKind,
    window_seconds: u64,
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

/// Every budget of this process; outlives configuration reloads.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<Key, Window>>,
}

/// The budgets one request counts against, kept to charge its tokens at the end.
#[derive(Clone, Debug)]
pub struct Charges {
    keys: Vec<Key>,
}

impl Limiter {
    /// Admits a request at `now` (Unix seconds) against `limits`, or says which is spent.
    /// Admitting counts the request in every request budget; a refusal counts nothing.
    pub fn admit(
        &self,
        backend: &Arc<str>,
        identity: Option<&Arc<str>>,
        limits: &[Limit],
        now: u64,
    ) -> Result<Charges, Exceeded> {
        let keys: Vec<(Key, &Limit)> = limits
            .iter()
            .filter(|limit| limit.applies_to(identity.map(|id| &**id)))
            .map(|limit| (key(backend, identity, limit), limit))
            .collect();
        // Counters hold plain numbers: one left mid-update by a panic is still a count.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, limit) in &keys {
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
                let retry_after = (index + 1) * limit.window_seconds - now;
                return Err(Exceeded {
                    limit: (*limit).clone(),
                    retry_after: retry_after.max(1),
                });
            }
        }
        for (key, limit) in &keys {
            if limit.kind == LimitKind::Requests {
                add(&mut windows, key.clone(), now / limit.window_seconds, 1);
            }
        }
        prune(&mut windows, now);
        Ok(Charges {
            keys: keys
                .into_iter()
                .filter(|(key, _)| key.kind == LimitKind::Tokens)
                .map(|(key, _)| key)
                .collect(),
        })
    }

    /// Adds the tokens a response used to the request's token budgets, in the window of `now`.
    pub fn charge(&self, charges: &Charges, tokens: u64, now: u64) {
        if charges.keys.is_empty() || tokens == 0 {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for key in &charges.keys {
            add(&mut windows, key.clone(), now / key.window_seconds, tokens);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().map_or(0, |w| w.len())
    }
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
        let limiter = Limiter::default();
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
        let limiter = Limiter::default();
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
        let limiter = Limiter::default();
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
}

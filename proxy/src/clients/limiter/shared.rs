//! The budgets' shared store: one Redis that several proxy replicas count in, so a limit
//! holds across all of them exactly instead of per pod.
//!
//! Owns the Redis side of a budget: the key of each (budget, window), the admit script that
//! checks every budget of a request and counts its request budgets in one atomic step, and
//! the token charge. Every call is bounded by [`CALL_TIMEOUT`] and answers an error rather
//! than waiting; the connection reconnects by itself. Must not decide what a failure means
//! for the request (that is the limiter's: it falls back to the in-process count), and must
//! not know the window arithmetic beyond what the caller hands it.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

/// Longest one store call may take: a request waits at most this long for Redis before its
/// budgets are counted in process instead.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(200);

/// Attempts per reconnection before the manager waits for the next call to try again; calls
/// do not wait for them (they are bounded by [`CALL_TIMEOUT`]).
const RECONNECT_ATTEMPTS: usize = 2;

/// First pause between reconnection attempts.
const RECONNECT_DELAY: Duration = Duration::from_millis(50);

/// Seconds a window's counter outlives its window's end, so replicas whose clocks are a
/// little apart still find it; a later window has another key anyway.
pub const EXPIRY_MARGIN_SECONDS: u64 = 60;

/// Prefix of every key agw writes; `v1` names this layout.
const KEY_PREFIX: &str = "agw:rl:v1";

/// Checks every budget of a request, then counts its request budgets, in one step no other
/// replica can interleave with. KEYS: one counter per budget; ARGV: per budget its kind
/// (`requests` or `tokens`), amount and the Unix time its counter expires. Answers 0 when
/// admitted, else the 1-based number of the first spent budget (then nothing is counted).
/// The same budget twice (two limits of one key) is checked twice and counted twice, as
/// in process.
const ADMIT: &str = r"
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local amount = tonumber(ARGV[3 * i - 1])
  if ARGV[3 * i - 2] == 'requests' then
    if used + 1 > amount then return i end
  elseif used >= amount then
    return i
  end
end
for i = 1, #KEYS do
  if ARGV[3 * i - 2] == 'requests' then
    redis.call('INCR', KEYS[i])
    redis.call('EXPIREAT', KEYS[i], ARGV[3 * i])
  end
end
return 0
";

/// Why the shared store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--rate-limit-redis is not a usable Redis URL (redis://host:port[/db]): {0}")]
    Url(#[source] redis::RedisError),
    #[error("Redis did not answer within {} ms", CALL_TIMEOUT.as_millis())]
    Timeout,
    #[error("Redis: {0}")]
    Redis(#[source] redis::RedisError),
    #[error("the admit script answered {0}, not a budget of the request")]
    Unexpected(i64),
}

/// One counter a request reads or adds to: a budget in one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// Its Redis key (see [`key`]).
    pub key: String,
    /// Whether it counts requests (else tokens).
    pub requests: bool,
    /// The budget's amount.
    pub amount: u64,
    /// Unix time its key expires: the window's end plus [`EXPIRY_MARGIN_SECONDS`].
    pub expire_at: u64,
}

/// A Redis shared by the replicas; cheap to clone (one multiplexed connection).
#[derive(Clone)]
pub struct SharedStore {
    connection: ConnectionManager,
    address: String,
    script: std::sync::Arc<Script>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// A store at `url` (`redis://host:port[/db]`). Does not connect: the first call does,
    /// so a proxy starts (and counts in process) while Redis is still coming up. Must be
    /// called inside the Tokio runtime.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(StoreError::Url)?;
        // The address without the password a URL may carry, for logs.
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_min_delay(RECONNECT_DELAY)
            .set_max_delay(CALL_TIMEOUT);
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::Url)?;
        Ok(Self {
            connection,
            address,
            script: std::sync::Arc::new(Script::new(ADMIT)),
        })
    }

    /// `host:port` of the store (no credentials).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Checks `counters` and counts the request ones: `None` when admitted, else the index
    /// (into `counters`) of the first spent budget.
    pub async fn admit(&self, counters: &[Counter]) -> Result<Option<usize>, StoreError> {
        let mut invocation = self.script.prepare_invoke();
        for counter in counters {
            invocation
                .key(&counter.key)
                .arg(if counter.requests {
                    "requests"
                } else {
                    "tokens"
                })
                .arg(counter.amount.to_string())
                .arg(counter.expire_at);
        }
        let mut connection = self.connection.clone();
        let answer: i64 = bounded(invocation.invoke_async(&mut connection)).await?;
        match usize::try_from(answer) {
            Ok(0) => Ok(None),
            Ok(n) if n <= counters.len() => Ok(Some(n - 1)),
            _ => Err(StoreError::Unexpected(answer)),
        }
    }

    /// Adds `tokens` to `counters` (token budgets), in one transaction.
    pub async fn charge(&self, counters: &[Counter], tokens: u64) -> Result<(), StoreError> {
        // Redis counts in i64; a response never reports 2^63 tokens.
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for counter in counters {
            pipe.cmd("INCRBY")
                .arg(&counter.key)
                .arg(tokens)
                .ignore()
                .cmd("EXPIREAT")
                .arg(&counter.key)
                .arg(counter.expire_at)
                .ignore();
        }
        let mut connection = self.connection.clone();
        bounded(pipe.query_async::<()>(&mut connection)).await
    }

    /// Whether Redis answers (startup's early warning).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        bounded(redis::cmd("PING").query_async::<()>(&mut connection)).await
    }
}

async fn bounded<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| StoreError::Timeout)?
        .map_err(StoreError::Redis)
}

/// The key of a budget's counter in window `index`: every part that names the budget (and
/// not its amount, so a raised limit keeps what was spent). Backend and subject are
/// length-prefixed, so no name can make two budgets share a key.
pub fn key(
    backend: &str,
    subject: Option<&str>,
    kind: &str,
    window_seconds: u64,
    index: u64,
) -> String {
    let subject = match subject {
        Some(name) => format!("identity:{}:{name}", name.len()),
        None => "backend".to_owned(),
    };
    format!(
        "{KEY_PREFIX}:{kind}:{window_seconds}s:{index}:{}:{backend}:{subject}",
        backend.len()
    )
}

#[cfg(test)]
mod tests;

//! [`Store`]: the one type the writer and the operators' reads talk to, Redis or
//! embedded.
//!
//! An enum rather than a trait object: there are exactly two stores, the set is closed,
//! and an enum keeps `apply` an ordinary `async fn` (no boxed futures, no
//! `async-trait`) while staying cheap to clone (each variant is an `Arc` inside).
//!
//! Both stores execute the same [`Batch`] with Redis's meaning, and answer the same
//! reads, so everything above this module (the writer, the CLI's `inspect` commands,
//! the tests) is written once. Errors are sorted by what a caller must do about them:
//! [`StoreError::is_retryable`] says "the store is away, try again later", anything
//! else is a bug in what we sent.

use std::time::Duration;

use crate::batch::Batch;
use crate::embedded::EmbeddedStore;
use crate::redis_store::{RedisOptions, RedisStore};

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time: connection refused,
    /// reset, timed out, or the server is loading. Retry later; the same [`Store`]
    /// reconnects by itself.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The server rejected a command (e.g. `WRONGTYPE`, bad arguments). Retrying the
    /// same command will fail the same way.
    #[error("store rejected a command: {0}")]
    Command(String),
    /// The store URL cannot be used (bad syntax, unsupported scheme).
    #[error("bad store URL: {0}")]
    BadUrl(String),
}

impl StoreError {
    /// Whether the same call may succeed later (the store is down or slow), as opposed
    /// to a rejected command or a bad configuration.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A key's remaining time to live, as `PTTL` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No such key (`PTTL` → -2), including a key that has expired.
    Missing,
    /// The key exists and never expires (`PTTL` → -1).
    Persistent,
    /// The key expires in this many milliseconds.
    Millis(u64),
}

/// The type of value a key holds, as `TYPE` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    /// `string`.
    String,
    /// `hash`.
    Hash,
    /// `zset`.
    ZSet,
    /// Any other Redis type (`list`, `set`, `stream`, …). Only a shared Redis that
    /// someone else writes to can hold one; the embedded store never does.
    Other(String),
}

/// Redis or the embedded store, behind one cheap-to-clone value.
#[derive(Debug, Clone)]
pub enum Store {
    /// A Redis server (or anything speaking its protocol).
    Redis(RedisStore),
    /// In-memory, in this process.
    Embedded(EmbeddedStore),
}

impl From<RedisStore> for Store {
    fn from(store: RedisStore) -> Self {
        Self::Redis(store)
    }
}

impl From<EmbeddedStore> for Store {
    fn from(store: EmbeddedStore) -> Self {
        Self::Embedded(store)
    }
}

/// Forwards a call to whichever store this is.
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Redis($s) => $call.await,
            Store::Embedded($s) => $call,
        }
    };
}

impl Store {
    /// Opens a store: `None` is the embedded store, `Some("redis://…")` a Redis server
    /// with [`RedisOptions::default`].
    ///
    /// Connecting to Redis does no I/O: the service must start while Redis is down and
    /// catch up when it comes back, so an unreachable server shows up as
    /// [`StoreError::Unavailable`] from the first call instead (use [`Store::ping`] to
    /// check at startup). A URL that can never work is an immediate
    /// [`StoreError::BadUrl`].
    pub async fn connect(url: Option<&str>) -> Result<Store, StoreError> {
        match url {
            None => Ok(Store::Embedded(EmbeddedStore::new())),
            Some(url) => RedisStore::connect(url, RedisOptions::default())
                .await
                .map(Store::Redis),
        }
    }

    /// Runs every command of `batch` in order, as one pipeline (not a transaction).
    ///
    /// As in a Redis pipeline, a rejected command does not stop the ones after it;
    /// the first rejection is returned once all have run.
    pub async fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        dispatch!(self, s => s.apply(batch))
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.get(key))
    }

    /// `HGETALL key`, sorted by field (Redis returns hash order, which means nothing).
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        dispatch!(self, s => s.hgetall(key))
    }

    /// `ZRANGE key 0 -1 WITHSCORES`: members by score, ties by member.
    pub async fn zrange_with_scores(&self, key: &str) -> Result<Vec<(String, f64)>, StoreError> {
        dispatch!(self, s => s.zrange_with_scores(key))
    }

    /// `PTTL key`.
    pub async fn pttl(&self, key: &str) -> Result<Ttl, StoreError> {
        dispatch!(self, s => s.pttl(key))
    }

    /// `TYPE key`; `None` for a missing key.
    pub async fn key_type(&self, key: &str) -> Result<Option<KeyType>, StoreError> {
        dispatch!(self, s => s.key_type(key))
    }

    /// Every key matching the glob `pattern` (`SCAN … MATCH pattern` to the end),
    /// sorted and without duplicates. Meant for operators and tests: it walks the
    /// whole keyspace.
    pub async fn scan(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.scan(pattern))
    }

    /// `EXISTS key`.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.exists(key))
    }

    /// `PING`: whether the store answers now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping())
    }

    /// What this store is, for logs and the status page: `"embedded"`, or the Redis
    /// URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Store::Redis(s) => s.describe().to_owned(),
            Store::Embedded(_) => "embedded".to_owned(),
        }
    }
}

/// A TTL in whole milliseconds, as both stores send and interpret it (`PX`,
/// `PEXPIRE`). Sub-millisecond remainders are dropped, so a TTL under 1 ms is 0, which
/// `SET` rejects and `PEXPIRE` treats as "delete now" — the same on both stores.
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    // Redis parses the argument as a signed 64-bit integer.
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64)
}

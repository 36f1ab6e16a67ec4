//! The embedded store: the design's keyspace in this process's memory, for running
//! without Redis (a laptop, a demo, tests) with nothing else changed.
//!
//! It implements exactly the commands in [`crate::batch`], the reads of
//! [`crate::Store`] and its pub/sub, with Redis's meaning, because the writer and the
//! publisher are written once against Redis semantics and must not care which store
//! they have:
//!
//! - `HSET`/`ZADD`/`XADD` modify in place and keep a key's TTL (a key they create has
//!   none); `SET` replaces the value of any type and clears the TTL unless given one;
//!   `PEXPIRE` on a missing key does nothing, and with 0 ms deletes the key; a hash or
//!   sorted set emptied by `HDEL` disappears (a stream trimmed to nothing stays, as in
//!   Redis).
//! - A command against a key of the wrong type fails with Redis's `WRONGTYPE` text,
//!   and bad arguments (no fields, a NaN score, `PX 0`) with Redis's `ERR` text; as in
//!   a Redis pipeline, the rest of the batch still runs and the first failure is
//!   returned.
//! - A key is expired once the clock passes its deadline: from then on every read
//!   misses it and every write treats it as absent.
//! - `XADD` ids are `<ms>-<seq>` from the entry's `at_ms` or else the wall clock
//!   (`SystemTime`, as Redis uses, not the injected [`Clock`], which only drives
//!   expiry), and strictly increasing per stream as in Redis: if that millisecond is
//!   not past the last id's, the id is the last one's millisecond with the next
//!   sequence number.
//!   `MAXLEN ~ n` trims to exactly `n` here, where Redis keeps at least `n` (see
//!   [`Op::XAdd`]).
//! - `PUBLISH` reaches the subscribers of that moment; with none it does nothing. Each
//!   channel is a `tokio::sync::broadcast` made by its first `subscribe` and dropped
//!   by the first `PUBLISH` that finds nobody listening. It holds
//!   [`SUBSCRIPTION_CAPACITY`] messages: a subscriber further behind loses the
//!   oldest and goes on (see [`Subscription`]), as it does on Redis here.
//!
//! # Memory
//!
//! Expired keys are removed lazily when touched, and by a sweep at the start of every
//! call: deadlines are kept in order, so the sweep pops expired keys from the front,
//! at most [`SWEEP_PER_CALL`] (plus one per command in an `apply`, because a command
//! creates at most one key, so expired keys are removed at least as fast as they can
//! be made). That bounds memory without a background task, and each call's work.
//!
//! # Locking
//!
//! One `std::sync::Mutex` over the keyspace and the channels, held for a whole call (a
//! batch is applied atomically with respect to readers, which Redis does not promise
//! and nobody may rely on) and never across an `.await` — the methods are synchronous.
//! Only [`Subscription::next`] waits, and it holds no lock.

mod hash;

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustc_hash::FxHashMap;
use tokio::sync::broadcast;

use crate::batch::{Batch, Op};
use crate::store::{
    KeyType, SUBSCRIPTION_CAPACITY, StoreError, StreamEntry, Subscription, Ttl, ttl_millis,
};
use hash::SmallHash;

/// Expired keys removed per call at least (see the module docs).
pub const SWEEP_PER_CALL: usize = 1024;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Where the embedded store's "now" comes from, so tests can move time instead of
/// sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    /// The real monotonic clock.
    pub fn system() -> Self {
        Self(Arc::new(Instant::now))
    }

    /// A clock that asks `now` (a test's manual clock).
    pub fn from_fn(now: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// The in-memory store. Clones share the keyspace.
#[derive(Clone, Default)]
pub struct EmbeddedStore {
    keyspace: Arc<Mutex<Keyspace>>,
    clock: Clock,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keyspace can hold a whole board: not something to print.
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// An empty store on the real clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose expiry follows `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            keyspace: Arc::default(),
            clock,
        }
    }

    /// Keys held in memory, including expired ones not yet swept: what the store
    /// costs, for metrics and for tests of the sweep.
    pub fn stored_keys(&self) -> usize {
        self.lock().entries.len()
    }

    /// Runs every command of `batch` in order; see [`crate::Store::apply`].
    pub fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let now = self.clock.now();
        let unix_ms = unix_ms(SystemTime::now());
        let mut ks = self.lock();
        ks.sweep(now, SWEEP_PER_CALL.saturating_add(batch.len()));
        if let Some(fence) = batch.fence() {
            // Checked under the same lock as the writes: atomic, as on Redis.
            let held = match ks.live(&fence.lease_key, now).map(|e| &e.value) {
                Some(Value::Str(value)) => value == &fence.value,
                _ => false,
            };
            if !held {
                return Err(StoreError::Fenced);
            }
        }
        let mut first_error = None;
        for (index, op) in batch.ops().iter().enumerate() {
            if let Err(e) = ks.apply(op, now, unix_ms) {
                first_error.get_or_insert_with(|| StoreError::Command(format!("op {index}: {e}")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// `GET key`.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type()),
        })
    }

    /// `HGETALL key`, sorted by field.
    pub fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(Vec::new()),
            Some(Value::Hash(h)) => Ok(h
                .iter()
                .map(|(f, v)| (f.to_owned(), v.to_owned()))
                .collect()),
            Some(_) => Err(wrong_type()),
        })
    }

    /// `ZRANGE key 0 -1 WITHSCORES`: by score, ties by member, as Redis orders them.
    pub fn zrange_with_scores(&self, key: &str) -> Result<Vec<(String, f64)>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(Vec::new()),
            Some(Value::ZSet(z)) => {
                let mut members: Vec<(String, f64)> =
                    z.iter().map(|(m, s)| (m.clone(), *s)).collect();
                members.sort_by(|(am, a), (bm, b)| {
                    a.partial_cmp(b)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| am.cmp(bm))
                });
                Ok(members)
            }
            Some(_) => Err(wrong_type()),
        })
    }

    /// `PTTL key`.
    pub fn pttl(&self, key: &str) -> Result<Ttl, StoreError> {
        let now = self.clock.now();
        let mut ks = self.lock();
        ks.sweep(now, SWEEP_PER_CALL);
        Ok(match ks.live(key, now) {
            None => Ttl::Missing,
            Some(Entry { deadline: None, .. }) => Ttl::Persistent,
            Some(Entry {
                deadline: Some(deadline),
                ..
            }) => Ttl::Millis(millis(deadline.saturating_duration_since(now))),
        })
    }

    /// `TYPE key`.
    pub fn key_type(&self, key: &str) -> Result<Option<KeyType>, StoreError> {
        self.read(key, |value| {
            Ok(value.map(|v| match v {
                Value::Str(_) => KeyType::String,
                Value::Hash(_) => KeyType::Hash,
                Value::ZSet(_) => KeyType::ZSet,
                Value::Stream(_) => KeyType::Stream,
            }))
        })
    }

    /// Every live key matching the glob `pattern` (Redis's glob: `*`, `?`, `[…]`,
    /// `\`), sorted.
    pub fn scan(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        let now = self.clock.now();
        let mut ks = self.lock();
        ks.sweep(now, SWEEP_PER_CALL);
        let mut keys: Vec<String> = ks
            .entries
            .iter()
            .filter(|(key, entry)| {
                !entry.expired(now) && glob_match(pattern.as_bytes(), key.as_bytes())
            })
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// `EXISTS key`.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.read(key, |value| Ok(value.is_some()))
    }

    /// `XLEN key`.
    pub fn xlen(&self, key: &str) -> Result<u64, StoreError> {
        self.read(key, |value| match value {
            None => Ok(0),
            Some(Value::Stream(stream)) => Ok(stream.entries.len() as u64),
            Some(_) => Err(wrong_type()),
        })
    }

    /// `XREVRANGE key + - COUNT count`, newest first.
    pub fn xrevrange(&self, key: &str, count: usize) -> Result<Vec<StreamEntry>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(Vec::new()),
            Some(Value::Stream(stream)) => {
                Ok(stream.entries.iter().rev().take(count).map(entry).collect())
            }
            Some(_) => Err(wrong_type()),
        })
    }

    /// `XRANGE key - + COUNT 1`.
    pub fn xfirst(&self, key: &str) -> Result<Option<StreamEntry>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(None),
            Some(Value::Stream(stream)) => Ok(stream.entries.front().map(entry)),
            Some(_) => Err(wrong_type()),
        })
    }

    /// The newest entry in each range of id milliseconds; see [`crate::Store::xlast_in`].
    pub fn xlast_in(
        &self,
        key: &str,
        ranges: &[(u64, u64)],
    ) -> Result<Vec<Option<StreamEntry>>, StoreError> {
        self.read(key, |value| match value {
            None => Ok(vec![None; ranges.len()]),
            Some(Value::Stream(stream)) => Ok(ranges
                .iter()
                .map(|&(start, end)| {
                    // Entries are in id order: the first past `end`, then one back.
                    let past = stream.entries.partition_point(|(id, _)| id.ms <= end);
                    let (id, fields) = stream.entries.get(past.checked_sub(1)?)?;
                    (id.ms >= start).then(|| StreamEntry {
                        id: id.to_string(),
                        fields: fields.clone(),
                    })
                })
                .collect()),
            Some(_) => Err(wrong_type()),
        })
    }

    /// `SUBSCRIBE channel`: in place as soon as this returns.
    pub fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let mut ks = self.lock();
        let messages = match ks.channels.get(channel) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, messages) = broadcast::channel(SUBSCRIPTION_CAPACITY);
                ks.channels.insert(channel.to_owned(), sender);
                messages
            }
        };
        Ok(Subscription::new(channel, messages, None))
    }

    /// Always answers: the store is this process.
    pub fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Locks the keyspace. A panic while it was held (which no command can cause)
    /// would leave at worst one command half-applied, which a pipeline interrupted by
    /// a dropped connection can do to Redis too: keep serving rather than poison
    /// every later call.
    fn lock(&self) -> MutexGuard<'_, Keyspace> {
        self.keyspace.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sweeps, then reads `key`'s live value.
    fn read<T>(
        &self,
        key: &str,
        f: impl FnOnce(Option<&Value>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let now = self.clock.now();
        let mut ks = self.lock();
        ks.sweep(now, SWEEP_PER_CALL);
        f(ks.live(key, now).map(|e| &e.value))
    }
}

fn wrong_type() -> StoreError {
    StoreError::Command(WRONGTYPE.to_owned())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch, as Redis reads its clock for stream ids; 0 for
/// a clock set before 1970 (the stream's own last id then keeps ids increasing).
fn unix_ms(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, millis)
}

/// One key's value.
#[derive(Debug)]
enum Value {
    Str(String),
    /// Ordered so `HGETALL` needs no sort; packed (see [`hash`]).
    Hash(SmallHash),
    /// Member → score; ordered by score only when read, which is rare.
    ZSet(FxHashMap<String, f64>),
    Stream(Stream),
}

/// A stream's entries, oldest first, and where its ids have got to.
#[derive(Debug, Default)]
struct Stream {
    entries: VecDeque<(StreamId, Vec<(String, String)>)>,
    /// The last id generated, kept when its entry is trimmed: ids never go back, even
    /// if every entry has been trimmed away (Redis's `last-generated-id`).
    last_id: StreamId,
}

impl Stream {
    /// Appends an entry at the next id at or after `unix_ms`, then trims to `max_len`.
    fn add(
        &mut self,
        unix_ms: u64,
        fields: Vec<(String, String)>,
        max_len: usize,
    ) -> Result<(), String> {
        let id = self.last_id.next(unix_ms).ok_or_else(|| {
            "ERR The stream has exhausted the last possible ID, unable to add more items".to_owned()
        })?;
        self.last_id = id;
        self.entries.push_back((id, fields));
        // Exactly, where Redis's `~` trims whole nodes and keeps somewhat more.
        while self.entries.len() > max_len {
            self.entries.pop_front();
        }
        Ok(())
    }
}

/// A stream entry as a read returns it.
fn entry((id, fields): &(StreamId, Vec<(String, String)>)) -> StreamEntry {
    StreamEntry {
        id: id.to_string(),
        fields: fields.clone(),
    }
}

/// A stream entry id, `<ms>-<seq>`; ordered as Redis orders them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamId {
    ms: u64,
    seq: u64,
}

impl StreamId {
    /// The id `XADD *` generates after `self` when the clock reads `unix_ms`
    /// (Redis's `streamNextID`): the clock's millisecond if it is past ours, else our
    /// millisecond with the next sequence number. `None` past the last possible id.
    fn next(self, unix_ms: u64) -> Option<StreamId> {
        if unix_ms > self.ms {
            return Some(StreamId {
                ms: unix_ms,
                seq: 0,
            });
        }
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => Some(StreamId {
                ms: self.ms.checked_add(1)?,
                seq: 0,
            }),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[derive(Debug)]
struct Entry {
    value: Value,
    /// When the key stops existing; mirrored in `Keyspace::deadlines`.
    deadline: Option<Instant>,
}

impl Entry {
    /// Redis's rule: expired once now is past the deadline.
    fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now > d)
    }
}

#[derive(Debug, Default)]
struct Keyspace {
    entries: FxHashMap<String, Entry>,
    /// Every entry's deadline, in order, so the sweep finds expired keys without
    /// scanning the keyspace.
    deadlines: BTreeSet<(Instant, String)>,
    /// Pub/sub channels that have (or recently had) a subscriber. A namespace apart
    /// from keys, as in Redis; under the same lock so `PUBLISH` in a batch needs no
    /// second one.
    channels: FxHashMap<String, broadcast::Sender<String>>,
}

impl Keyspace {
    /// The entry under `key` if it exists and has not expired; an expired one is
    /// removed.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key)?.expired(now) {
            self.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    fn remove(&mut self, key: &str) {
        if let Some(Entry {
            deadline: Some(d), ..
        }) = self.entries.remove(key)
        {
            self.deadlines.remove(&(d, key.to_owned()));
        }
    }

    fn insert(&mut self, key: &str, value: Value, deadline: Option<Instant>) {
        self.remove(key);
        if let Some(d) = deadline {
            self.deadlines.insert((d, key.to_owned()));
        }
        self.entries
            .insert(key.to_owned(), Entry { value, deadline });
    }

    /// Removes up to `budget` expired keys, earliest deadline first.
    fn sweep(&mut self, now: Instant, budget: usize) {
        for _ in 0..budget {
            match self.deadlines.first() {
                Some((deadline, _)) if now > *deadline => {}
                _ => return,
            }
            if let Some((_, key)) = self.deadlines.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    /// One command, with Redis's checks in Redis's order (arguments, then type).
    /// `unix_ms` is the wall clock, for stream ids only.
    fn apply(&mut self, op: &Op, now: Instant, unix_ms: u64) -> Result<(), String> {
        match op {
            Op::HSet { key, fields } => {
                if fields.is_empty() {
                    return Err(arity("hset"));
                }
                match self.live(key, now) {
                    None => {
                        let mut hash = SmallHash::default();
                        hash.set(fields);
                        self.insert(key, Value::Hash(hash), None);
                    }
                    Some(Entry {
                        value: Value::Hash(hash),
                        ..
                    }) => hash.set(fields),
                    Some(_) => return Err(WRONGTYPE.to_owned()),
                }
            }
            Op::HDel { key, fields } => {
                if fields.is_empty() {
                    return Err(arity("hdel"));
                }
                let emptied = match self.live(key, now) {
                    None => false,
                    Some(Entry {
                        value: Value::Hash(hash),
                        ..
                    }) => {
                        hash.remove(fields);
                        hash.is_empty()
                    }
                    Some(_) => return Err(WRONGTYPE.to_owned()),
                };
                if emptied {
                    self.remove(key);
                }
            }
            Op::Set { key, value, ttl } => {
                let deadline = match ttl {
                    None => None,
                    Some(ttl) => Some(deadline(now, *ttl).ok_or_else(|| invalid_expire("set"))?),
                };
                self.insert(key, Value::Str(value.clone()), deadline);
            }
            Op::ZAdd { key, members } => {
                if members.is_empty() {
                    return Err(arity("zadd"));
                }
                if members.iter().any(|(score, _)| score.is_nan()) {
                    return Err("ERR value is not a valid float".to_owned());
                }
                match self.live(key, now) {
                    None => {
                        let set = members.iter().map(|(s, m)| (m.clone(), *s)).collect();
                        self.insert(key, Value::ZSet(set), None);
                    }
                    Some(Entry {
                        value: Value::ZSet(set),
                        ..
                    }) => {
                        for (s, m) in members {
                            set.insert(m.clone(), *s);
                        }
                    }
                    Some(_) => return Err(WRONGTYPE.to_owned()),
                }
            }
            Op::Expire { key, ttl } => {
                if self.live(key, now).is_none() {
                    return Ok(());
                }
                if ttl_millis(*ttl) == 0 {
                    // Redis: a TTL that is already over deletes the key.
                    self.remove(key);
                    return Ok(());
                }
                let deadline = deadline(now, *ttl).ok_or_else(|| invalid_expire("pexpire"))?;
                if let Some(entry) = self.entries.get_mut(key.as_str()) {
                    if let Some(old) = entry.deadline.replace(deadline) {
                        self.deadlines.remove(&(old, key.clone()));
                    }
                    self.deadlines.insert((deadline, key.clone()));
                }
            }
            Op::Del { key } => self.remove(key),
            Op::XAdd {
                key,
                max_len,
                at_ms,
                fields,
            } => {
                let ms = at_ms.unwrap_or(unix_ms);
                if fields.is_empty() {
                    return Err(arity("xadd"));
                }
                let fields = fields
                    .iter()
                    .map(|(f, v)| ((*f).to_owned(), v.clone()))
                    .collect();
                match self.live(key, now) {
                    None => {
                        let mut stream = Stream::default();
                        stream.add(ms, fields, *max_len)?;
                        self.insert(key, Value::Stream(stream), None);
                    }
                    Some(Entry {
                        value: Value::Stream(stream),
                        ..
                    }) => stream.add(ms, fields, *max_len)?,
                    Some(_) => return Err(WRONGTYPE.to_owned()),
                }
            }
            Op::Publish { channel, message } => {
                let nobody = match self.channels.get(channel.as_str()) {
                    // Fails only when no receiver is left.
                    Some(sender) => sender.send(message.clone()).is_err(),
                    None => false,
                };
                if nobody {
                    // Every subscriber has gone: forget the channel, so channels
                    // once subscribed do not pile up.
                    self.channels.remove(channel.as_str());
                }
            }
        }
        Ok(())
    }
}

/// `now + ttl` at Redis's millisecond resolution; `None` where Redis says "invalid
/// expire time" (0 ms, or past the end of time).
fn deadline(now: Instant, ttl: Duration) -> Option<Instant> {
    match ttl_millis(ttl) {
        0 => None,
        ms => now.checked_add(Duration::from_millis(ms)),
    }
}

fn arity(command: &str) -> String {
    format!("ERR wrong number of arguments for '{command}' command")
}

fn invalid_expire(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// Redis's glob (`stringmatchlen`): `*` any run, `?` any byte, `[abc]`, `[a-z]`,
/// `[^…]`, and `\x` for a literal `x`.
fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, string index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, i));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match_class(pattern, p, s[i]),
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == s[i]).then_some(p + 2),
            Some(&c) => (c == s[i]).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                i += 1;
            }
            (None, Some((sp, si))) => {
                // Let the last `*` swallow one more byte and try again.
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            (None, None) => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[open] == b'['`; the index after
/// the class if it matches. An unterminated class runs to the end of the pattern, as
/// in Redis.
fn match_class(pattern: &[u8], open: usize, c: u8) -> Option<usize> {
    let mut p = open + 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    while p < pattern.len() && pattern[p] != b']' {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            matched |= pattern[p + 1] == c;
            p += 2;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' && pattern[p + 2] != b']' {
            let (lo, hi) = (
                pattern[p].min(pattern[p + 2]),
                pattern[p].max(pattern[p + 2]),
            );
            matched |= (lo..=hi).contains(&c);
            p += 3;
        } else {
            matched |= pattern[p] == c;
            p += 1;
        }
    }
    // Past the `]` (or the end, for an unterminated class).
    let next = (p + 1).min(pattern.len());
    (matched != negate).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::{StreamId, glob_match};

    #[test]
    fn stream_ids_only_go_up() {
        let id = |ms, seq| StreamId { ms, seq };
        // (last id, clock reading, next id)
        let cases = [
            (id(0, 0), 1_000, Some(id(1_000, 0))),
            (id(1_000, 0), 1_001, Some(id(1_001, 0))),
            (id(1_000, 0), 1_000, Some(id(1_000, 1))), // the clock stalled
            (id(1_000, 7), 999, Some(id(1_000, 8))),   // the clock stepped back
            (id(1_000, 7), 0, Some(id(1_000, 8))),     // a clock before 1970
            (id(0, 0), 0, Some(id(0, 1))),
            (id(5, u64::MAX), 5, Some(id(6, 0))),
            (id(u64::MAX, u64::MAX), 5, None),
        ];
        for (last, unix_ms, want) in cases {
            assert_eq!(last.next(unix_ms), want, "after {last} at {unix_ms} ms");
        }
        assert_eq!(id(1_795_532_400_000, 3).to_string(), "1795532400000-3");
    }

    #[test]
    fn glob_is_redis_glob() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("epoch:SPX-1:*", "epoch:SPX-1:contract:O:SPXW", true),
            ("epoch:SPX-1:*", "epoch:SPX-10:meta", false),
            ("epoch:*:meta", "epoch:SPX-1:meta", true),
            ("epoch:*:meta", "epoch:SPX-1:strikes", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true),
            ("h[a-c]llo", "hdllo", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "aXb", false),
            ("epoch:{SPX-1}:*", "epoch:{SPX-1}:meta", true),
            ("", "", true),
            ("", "x", false),
            ("abc", "ab", false),
        ];
        for &(pattern, s, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), s.as_bytes()),
                want,
                "{pattern:?} vs {s:?}"
            );
        }
    }
}

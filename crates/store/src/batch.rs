//! What the writer asks a store to do: an ordered list of commands, applied as one
//! pipeline.
//!
//! The writer and the publisher build batches; the two stores execute them. Keeping
//! the command set this small (the eight below: `HSET`, `HDEL`, `SET`, `ZADD`,
//! `PEXPIRE`, `DEL`, `XADD`, `PUBLISH`) is what lets the embedded store promise the
//! same semantics as Redis: it implements exactly these, with Redis's meaning.
//!
//! A batch may carry a [`Fence`]: then it is applied only while its writer holds the
//! underlying's lease, checked in the same atomic step as the writes, so a writer
//! that lost its lease (paused, partitioned) can never overwrite its successor.

use std::time::Duration;

/// One command, with Redis's meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `HSET key f1 v1 f2 v2 …` (creates the hash; keeps an existing TTL).
    HSet {
        /// Key.
        key: String,
        /// Field–value pairs.
        fields: Vec<(&'static str, String)>,
    },
    /// `HDEL key f1 f2 …`.
    HDel {
        /// Key.
        key: String,
        /// Fields to remove.
        fields: Vec<&'static str>,
    },
    /// `SET key value [PX ttl]` (without a TTL, any previous TTL is cleared, as in
    /// Redis).
    Set {
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Expiry.
        ttl: Option<Duration>,
    },
    /// `ZADD key s1 m1 s2 m2 …`.
    ZAdd {
        /// Key.
        key: String,
        /// Score–member pairs.
        members: Vec<(f64, String)>,
    },
    /// `PEXPIRE key ttl` (no effect on a missing key).
    Expire {
        /// Key.
        key: String,
        /// Time to live.
        ttl: Duration,
    },
    /// `DEL key`.
    Del {
        /// Key.
        key: String,
    },
    /// `XADD key MAXLEN ~ max_len <id> f1 v1 f2 v2 …`: appends one entry, creating the
    /// stream without a TTL (an existing stream keeps its TTL), then trims the oldest
    /// entries.
    ///
    /// Ids are `<ms>-<seq>` and strictly increasing per stream. With `at_ms`, the
    /// entry's millisecond is `at_ms` (`XADD … <at_ms>-*`), so a reader can find
    /// entries by the time they describe (a tick's, not the write's); if the stream
    /// has already gone past `at_ms` (a clock that stepped back, a writer on another
    /// machine), the id is the stream's last millisecond with the next sequence
    /// number, as `*` does with a clock behind the stream. Without it, the store's
    /// clock (`*`).
    ///
    /// The `~` lets Redis trim lazily, only whole internal nodes (at most
    /// `stream-node-max-entries`, 100 by default, and `stream-node-max-bytes`, 4 KiB):
    /// Redis keeps at least `max_len` entries and, with the defaults, fewer than
    /// `max_len + 100`. The embedded store trims to exactly `max_len`. A reader must
    /// therefore treat `max_len` as "at least this much history", never as an exact
    /// length.
    XAdd {
        /// Key.
        key: String,
        /// How many entries to keep, at least (see above).
        max_len: usize,
        /// The millisecond the entry describes, Unix ms; `None`: now.
        at_ms: Option<u64>,
        /// Field–value pairs, in the order readers get them back. Empty is rejected,
        /// as Redis does.
        fields: Vec<(&'static str, String)>,
    },
    /// `PUBLISH channel message`: delivered to whoever is subscribed at that moment
    /// and to nobody else (no subscribers: nothing happens). Channels are a namespace
    /// of their own, apart from keys.
    Publish {
        /// Channel.
        channel: String,
        /// Payload.
        message: String,
    },
}

/// What a fenced batch is checked against: the lease key of its underlying and the
/// value it must hold, `<token> <holder>` (`crate::lease`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// `massive:lease:<symbol>`.
    pub lease_key: String,
    /// The value the writer was granted.
    pub value: String,
}

/// Commands applied in order, as one pipeline; or, when fenced, as one atomic step
/// that runs only while the writer holds its lease.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    ops: Vec<Op>,
    fence: Option<Fence>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch that the store applies only if `fence.lease_key` still holds
    /// `fence.value`, checked and written atomically (a Lua script on Redis), and
    /// otherwise refuses whole with [`StoreError::Fenced`](crate::StoreError::Fenced).
    /// `None` is an ordinary batch. In a cluster every key of a fenced batch must
    /// share the lease's hash slot (`crate::keys`).
    pub fn fenced(fence: Option<Fence>) -> Self {
        Self {
            ops: Vec::new(),
            fence,
        }
    }

    /// The fence the batch is checked against, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    /// Appends a command.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// The commands, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

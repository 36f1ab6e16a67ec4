//! What the writer asks a store to do: an ordered list of commands, applied as one
//! pipeline.
//!
//! The writer builds batches; the two stores execute them. Keeping the command set
//! this small (five commands) is what lets the embedded store promise the same
//! semantics as Redis: it implements exactly these, with Redis's meaning.

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
}

/// Commands applied in order, as one pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
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

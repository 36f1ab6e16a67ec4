//! Ingestion leases with fencing: one writer per underlying, and a writer that lost
//! its lease can write nothing.
//!
//! A worker that wants to write an underlying takes its lease:
//! `massive:lease:<symbol>` set with `NX`-like semantics and a TTL, holding
//! `<token> <holder>`. The token comes from the `token` counter of
//! `massive:lease:term:<symbol>`, which only grows while Redis keeps it, so later
//! grants have larger tokens. A Redis that loses the counter (a restart without
//! persistence, a failover before it replicated) can grant a token again, so a
//! worker names itself anew for every term (`host:pid#term`): a value, token and
//! holder, is never granted twice to two terms.
//! The holder renews well inside the TTL and deletes the lease on a clean shutdown
//! (a hand-over). `massive:lease:term:<symbol>` is a hash: the last token granted,
//! to whom, and whether that lease was handed over.
//!
//! **Fencing.** A lease alone does not stop a writer that was paused (a long GC, a
//! `SIGSTOP`, a partition) past its TTL: when it resumes it still believes it leads.
//! So every write of the underlying is a [`Fence`]d batch: the store applies it only
//! if the lease key still holds the exact value the writer was granted, checked in
//! the same Lua script that writes. Redis runs a script atomically, so no write can
//! land between the check and the writes, and once a successor holds the lease (a
//! new token, a new value) every write of the old holder is refused with
//! [`StoreError::Fenced`](crate::StoreError::Fenced). The check is against the lease
//! itself rather than "token ≥ the highest seen" because Redis is both the lock and
//! the storage here: it can answer "is this writer the holder now", which is
//! stricter (a writer whose lease merely lapsed is refused too).
//!
//! **Takeover.** The term hash records whether the last holder handed its lease over.
//! A grant after a lease that lapsed, or that its holder gave up without handing it
//! over (it stepped down, or rolled back a partial grant of a lapsed lease), is a
//! takeover ([`LeaseGrant::took_over`]): the new holder's first epoch says
//! `failover`.
//!
//! In a cluster the lease, its term and every key the fenced writes touch share one
//! hash slot (the underlying's hash tag, `crate::keys`), which Redis Cluster
//! requires of a script.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chainboard_model::Underlying;

use crate::batch::{Batch, Fence, Op};
use crate::store::ttl_millis;

/// `KEYS[1]` lease, `KEYS[2]` term; `ARGV[1]` holder, `ARGV[2]` TTL in ms.
/// Returns `{token, value, took_over}`, or `{0, value of the current holder, 0}`.
pub(crate) const ACQUIRE: &str = r"
local held = redis.call('GET', KEYS[1])
if held then return {0, held, 0} end
local released = redis.call('HGET', KEYS[2], 'released')
local token = redis.call('HINCRBY', KEYS[2], 'token', 1)
local value = token .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'holder', ARGV[1], 'released', '0')
local took_over = 0
if token > 1 and released ~= '1' then took_over = 1 end
return {token, value, took_over}
";

/// `KEYS[1]` lease; `ARGV[1]` the value granted, `ARGV[2]` TTL in ms. 1 if renewed.
pub(crate) const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// `KEYS[1]` lease, `KEYS[2]` term; `ARGV[1]` the value granted, `ARGV[2]` `1` for a
/// hand-over (the next grant is no takeover) or `0` (it is). 1 if released.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'released', ARGV[2])
  return 1
end
return 0
";

/// A Lua function, `xadd(key, args)`: `XADD key` with `args` (`MAXLEN ~ n <id>
/// fields…`), where an id `<ms>-*` the stream has already gone past becomes the
/// millisecond of the stream's last generated id (kept even when that entry was
/// deleted) with the next sequence number ([`Op::XAdd`]'s `at_ms`; Redis itself
/// rejects such an id). Returns the reply, an error as a table. `<ms>-*` ids need
/// Redis 7.0 or newer.
macro_rules! xadd_lua {
    () => {
        r"
local function xadd(key, args)
  local reply = redis.pcall('XADD', key, unpack(args))
  if type(reply) == 'table' and reply.err
      and string.find(reply.err, 'equal or smaller', 1, true) then
    local info = redis.call('XINFO', 'STREAM', key)
    local last = '0-0'
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    args[4] = string.match(last, '^(%d+)%-') .. '-*'
    reply = redis.pcall('XADD', key, unpack(args))
  end
  return reply
end
"
    };
}

/// One `XADD` outside a fenced batch, with [`xadd_lua`]'s rule for its id:
/// `KEYS[1]` the stream, `ARGV` the command's arguments after the key.
pub(crate) const XADD: &str = concat!(xadd_lua!(), "return xadd(KEYS[1], ARGV)\n");

/// A fenced batch: `KEYS[1]` the lease, then one key per keyed command in order;
/// `ARGV[1]` the value granted, then per command its name, its argument count and
/// its arguments (`PUBLISH` takes its channel from the arguments: channels are not
/// keys and belong to no slot). Long argument lists are sent in slices, as Lua's
/// `unpack` is limited by its stack (about 8,000 values); only the commands whose
/// arguments are repeated pairs or names (`HSET`, `ZADD`, `HDEL`) can be that long.
/// As in a pipeline, a rejected command does not stop the ones after it (`pcall`);
/// the first rejection is returned once all have run. `XADD` ids follow
/// [`xadd_lua`]'s rule.
pub(crate) const FENCED: &str = concat!(
    xadd_lua!(),
    r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED this writer no longer holds the lease')
end
local first_error = nil
local function note(reply)
  if type(reply) == 'table' and reply.err and not first_error then
    first_error = reply.err
  end
end
local function run(...)
  note(redis.pcall(...))
end
local k, a = 2, 2
while a <= #ARGV do
  local cmd, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  if cmd == 'PUBLISH' then
    run('PUBLISH', ARGV[a], ARGV[a + 1])
  else
    local key = KEYS[k]
    k = k + 1
    if n == 0 then
      run(cmd, key)
    elseif cmd == 'XADD' then
      note(xadd(key, {unpack(ARGV, a, a + n - 1)}))
    else
      local i, last = a, a + n - 1
      while i <= last do
        local j = math.min(i + 999, last)
        run(cmd, key, unpack(ARGV, i, j))
        i = j + 1
      end
    end
  end
  a = a + n
end
if first_error then return redis.error_reply(first_error) end
return 'OK'
"
);

/// A lease granted to this worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGrant {
    /// The token: larger than every token granted before for the underlying.
    pub token: u64,
    /// Whether the previous holder's lease lapsed instead of being released: the new
    /// holder is taking over from a worker that died, hung or was cut off.
    pub took_over: bool,
    /// What every write of the underlying is checked against.
    pub fence: Fence,
}

/// What asking for a lease got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours.
    Granted(LeaseGrant),
    /// Someone holds it: `<token> <holder>`.
    Held(String),
}

/// The fences a process writes under, one per underlying it leads, shared by every
/// writer of the process (the substrate's write-behind, the publisher, the status),
/// with one count of the writes the store refused.
///
/// Without fences ([`Fences::none`]) the process is its store's only writer and
/// writes plainly; this is the single-binary default.
#[derive(Debug, Clone, Default)]
pub struct Fences {
    by_underlying: Arc<BTreeMap<Underlying, Fence>>,
    refused: Arc<AtomicU64>,
}

impl Fences {
    /// No fences: the process is the only writer.
    pub fn none() -> Self {
        Self::default()
    }

    /// The fences of the leases `grants` (one per underlying).
    pub fn new(grants: impl IntoIterator<Item = (Underlying, Fence)>) -> Self {
        Self {
            by_underlying: Arc::new(grants.into_iter().collect()),
            refused: Arc::default(),
        }
    }

    /// An empty batch for `underlying`'s keys: fenced by its lease when this process
    /// writes under leases.
    pub fn batch(&self, underlying: Underlying) -> Batch {
        Batch::fenced(self.by_underlying.get(&underlying).cloned())
    }

    /// `underlying`'s fence, if any.
    pub fn get(&self, underlying: Underlying) -> Option<&Fence> {
        self.by_underlying.get(&underlying)
    }

    /// Counts a write the store refused because its lease was lost; the first one is
    /// logged. Whoever holds the leases watches [`Fences::refused`] and steps down.
    pub fn refuse(&self, underlying: Underlying) {
        if self.refused.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::error!(%underlying, "write refused: this process no longer holds the lease; its writes are dropped");
        }
    }

    /// Writes refused so far because a lease was lost.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// `holder` as a lease's value can hold it after `<token> `: spaces become `_`, so
/// the value splits back unambiguously.
pub fn clean_holder(holder: &str) -> String {
    holder.replace(char::is_whitespace, "_")
}

/// The arguments of a fenced batch's script: the keys and the argument vector
/// ([`FENCED`]).
pub(crate) fn fenced_args<'a>(fence: &'a Fence, ops: &'a [Op]) -> (Vec<&'a str>, Vec<String>) {
    let mut keys = vec![fence.lease_key.as_str()];
    let mut args = vec![fence.value.clone()];
    let mut command = |name: &str, key: Option<&'a str>, list: Vec<String>| {
        if let Some(key) = key {
            keys.push(key);
        }
        args.push(name.to_owned());
        args.push(list.len().to_string());
        args.extend(list);
    };
    for op in ops {
        match op {
            Op::HSet { key, fields } => command(
                "HSET",
                Some(key),
                fields
                    .iter()
                    .flat_map(|(f, v)| [(*f).to_owned(), v.clone()])
                    .collect(),
            ),
            Op::HDel { key, fields } => command(
                "HDEL",
                Some(key),
                fields.iter().map(|f| (*f).to_owned()).collect(),
            ),
            Op::Set { key, value, ttl } => {
                let mut list = vec![value.clone()];
                if let Some(ttl) = ttl {
                    list.push("PX".to_owned());
                    list.push(ttl_millis(*ttl).to_string());
                }
                command("SET", Some(key), list);
            }
            Op::ZAdd { key, members } => command(
                "ZADD",
                Some(key),
                members
                    .iter()
                    .flat_map(|(score, m)| [score.to_string(), m.clone()])
                    .collect(),
            ),
            Op::Expire { key, ttl } => {
                command("PEXPIRE", Some(key), vec![ttl_millis(*ttl).to_string()]);
            }
            Op::Del { key } => command("DEL", Some(key), Vec::new()),
            Op::XAdd {
                key,
                max_len,
                at_ms,
                fields,
            } => command("XADD", Some(key), xadd_args(*max_len, *at_ms, fields)),
            Op::Publish { channel, message } => {
                command("PUBLISH", None, vec![channel.clone(), message.clone()]);
            }
        }
    }
    (keys, args)
}

/// `XADD`'s arguments after the key: `MAXLEN ~ max_len <id> f1 v1 …`, the id
/// `<at_ms>-*` or `*` ([`Op::XAdd`]).
pub(crate) fn xadd_args(
    max_len: usize,
    at_ms: Option<u64>,
    fields: &[(&str, String)],
) -> Vec<String> {
    let id = at_ms.map_or_else(|| "*".to_owned(), |ms| format!("{ms}-*"));
    let mut args = vec!["MAXLEN".to_owned(), "~".to_owned(), max_len.to_string(), id];
    args.extend(
        fields
            .iter()
            .flat_map(|(f, v)| [(*f).to_owned(), v.clone()]),
    );
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_fenced_batch_names_each_keyed_command_once_and_channels_as_arguments() {
        let fence = Fence {
            lease_key: "massive:lease:SPX".into(),
            value: "7 worker-a".into(),
        };
        let ops = [
            Op::Set {
                key: "s".into(),
                value: "v".into(),
                ttl: Some(Duration::from_secs(5)),
            },
            Op::Publish {
                channel: "c".into(),
                message: "m".into(),
            },
            Op::Del { key: "d".into() },
        ];
        let (keys, args) = fenced_args(&fence, &ops);
        assert_eq!(keys, ["massive:lease:SPX", "s", "d"]);
        assert_eq!(
            args,
            [
                "7 worker-a",
                "SET",
                "3",
                "v",
                "PX",
                "5000",
                "PUBLISH",
                "2",
                "c",
                "m",
                "DEL",
                "0"
            ]
        );
    }

    #[test]
    fn holders_have_no_spaces() {
        assert_eq!(clean_holder("box 1\tpid 7"), "box_1_pid_7");
    }
}

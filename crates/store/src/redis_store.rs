//! The Redis store: the design's shared substrate, spoken to with redis-rs.
//!
//! # Why redis-rs and its `ConnectionManager`
//!
//! redis-rs is the mature, maintained client (the `redis` crate), and what we need from
//! a client is small: explicit pipelines (the writer's batches), a handful of reads,
//! and surviving outages. Its `ConnectionManager` is one multiplexed connection, cheap
//! to clone and shared by every task, that replaces itself when it breaks — so the
//! writer keeps one [`RedisStore`] for the life of the process and never rebuilds it.
//! fred is capable too, but larger than this use (pools, routers, its own reconnect
//! policy) when what we want is one connection and explicit pipelines.
//!
//! # Redis Cluster
//!
//! [`RedisStore::connect_cluster`] speaks to a cluster through redis-rs's own cluster
//! client (`cluster-async`), for the same reasons: it is the maintained one, it
//! follows `MOVED` and `ASK` redirections, refreshes its slot map when a node fails
//! over, and resubscribes a subscription's channels after a reconnect. What a
//! cluster asks of the writes is that each pipeline or script stays in one hash
//! slot: the key schema puts every key of an underlying in one slot
//! ([`crate::keys`]), and under leases every write is a per-underlying script. A
//! subscription gets a cluster client of its own (a push sender is per client);
//! classic pub/sub is broadcast to every node, so any node delivers every message.
//! `SCAN` would have to walk every master and is not offered on a cluster.
//!
//! # Outages
//!
//! The manager is created lazily: [`RedisStore::connect`] parses the URL and does no
//! I/O, so the service starts while Redis is down. Each call then either uses the live
//! connection or waits for the manager's connection attempt. A server that is down
//! fails a call at once (refused, reset); one that accepts and never answers (frozen,
//! blackholed, overloaded) is cut off by [`RedisOptions`]: 2 s to connect, and 2 s
//! for a reply plus a small allowance per pipelined command. Either way the caller
//! gets [`StoreError::Unavailable`] and never hangs.
//!
//! The reply deadline is ours (`tokio::time::timeout` around each call) rather than
//! the manager's `response_timeout`, because the manager's is one value for every
//! request on the connection, and one value cannot suit both a `GET` (which should
//! fail fast) and a full epoch (~100k commands for 50k contracts, about a second on a
//! local Redis). The manager's default of 500 ms would fail every full epoch.
//!
//! The manager makes one connection attempt per failure it sees (no internal retry
//! schedule: the caller — the writer — owns the retry policy and its backoff). One
//! consequence is handled here: after a connection failure the manager keeps the
//! *failed* attempt until the next call notices it and starts a fresh one, so the
//! first call after Redis comes back would fail with a stale "connection refused".
//! Since a refused connection means nothing was sent, [`RedisStore`] retries such a
//! call once, immediately, on the fresh attempt. Nothing else is retried here: a
//! pipeline that broke mid-flight may have been partly applied, and deciding to resend
//! it is the caller's business (the writer rewrites the whole epoch).

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue,
    IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo, PushKind, RedisError, RedisFuture,
    Script, Value,
};
use tokio::sync::broadcast;

use crate::batch::{Batch, Fence, Op};
use crate::lease::{self, Acquired, LeaseGrant};
use crate::store::{
    KeyType, SUBSCRIPTION_CAPACITY, StoreError, StreamEntry, Subscription, Ttl, ttl_millis,
};

/// How patiently to talk to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// Longest wait for a TCP connection and the handshake. Short, because while Redis
    /// is unreachable without refusing (a blackholed host) every call pays it.
    pub connect_timeout: Duration,
    /// Longest wait for the reply to one command, or to a pipeline before
    /// `per_command` is added; includes a reconnect the call has to wait for.
    pub response_timeout: Duration,
    /// Extra wait per command in a pipeline, so the deadline grows with the work: a
    /// full epoch of 100k commands gets 4 s by default, against ~1 s measured on a
    /// local Redis. Raise both for a distant server.
    pub per_command: Duration,
}

impl RedisOptions {
    /// How long a pipeline of `commands` may take to answer.
    fn deadline(&self, commands: usize) -> Duration {
        let commands = u32::try_from(commands).unwrap_or(u32::MAX);
        self.response_timeout
            .saturating_add(self.per_command.saturating_mul(commands))
    }
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            per_command: Duration::from_micros(20),
        }
    }
}

/// A Redis server behind an auto-reconnecting multiplexed connection, or a Redis
/// Cluster behind redis-rs's cluster client. Clones share the connection.
#[derive(Debug, Clone)]
pub struct RedisStore {
    /// Where commands go.
    link: Link,
    /// The URL without its password, computed once for logs.
    description: Arc<str>,
    /// Deadlines for each call.
    options: RedisOptions,
}

impl RedisStore {
    /// Parses `url` (`redis://[user[:password]@]host[:port][/db]`) and prepares the
    /// connection without opening it: this fails only for a URL that can never work.
    /// Call it inside the Tokio runtime that will use the store.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        // Errors name the URL, so they must not carry its password into the logs.
        let bad_url = |e: RedisError| StoreError::BadUrl(format!("{:?}: {e}", redact(url)));
        let client = Client::open(url).map_err(bad_url)?;
        let description = describe(url, &client).into();
        let info = client.get_connection_info().clone();
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let pubsub_client = Client::open(info.set_redis_settings(resp3))
            .map(Arc::new)
            .map_err(bad_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            // Replies are bounded per call instead, by size (module docs).
            .set_response_timeout(None)
            // One attempt per failure; the caller owns the retry schedule (module docs).
            .set_number_of_retries(0);
        // Lazy: no I/O here, so a Redis that is down now is not an error now.
        let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(bad_url)?;
        Ok(Self {
            link: Link::Server {
                manager,
                pubsub_client,
            },
            description,
            options,
        })
    }

    /// Prepares a Redis Cluster client over `seeds`, comma-separated node URLs (one
    /// is enough: the client learns the others), without connecting: the first call
    /// does, and a cluster that is down now is retried by the next call.
    pub async fn connect_cluster(seeds: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let mut nodes = Vec::new();
        for url in seeds.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let info = url
                .into_connection_info()
                .map_err(|e| StoreError::BadUrl(format!("{:?}: {e}", redact(url))))?;
            nodes.push(info);
        }
        let Some(first) = seeds.split(',').map(str::trim).find(|u| !u.is_empty()) else {
            return Err(StoreError::BadUrl("no cluster node given".to_owned()));
        };
        let client = cluster_client(&nodes, options)
            .build()
            .map_err(|e| StoreError::BadUrl(format!("{:?}: {e}", redact(seeds))))?;
        let description = format!("redis cluster via {}", redact(first)).into();
        Ok(Self {
            link: Link::Cluster(Arc::new(ClusterLink {
                nodes,
                client,
                connection: tokio::sync::OnceCell::new(),
            })),
            description,
            options,
        })
    }

    /// Whether the server is what the store was opened as: a single server that is
    /// not a cluster node, or a cluster. A mismatch is [`StoreError::WrongKind`] with
    /// the reason; a store that does not answer is [`StoreError::Unavailable`].
    pub async fn check_topology(&self) -> Result<(), StoreError> {
        match &self.link {
            // INFO would go to every master of a cluster; on one server it is one
            // string, which says whether the server is a cluster node.
            Link::Server { .. } => {
                let info: String = self.query(redis::cmd("INFO").arg("cluster")).await?;
                if info.contains("cluster_enabled:1") {
                    return Err(StoreError::WrongKind(format!(
                        "{} is a node of a Redis Cluster; open it as a cluster",
                        self.description
                    )));
                }
                Ok(())
            }
            // The client cannot even start on a server that is not a cluster node.
            Link::Cluster(_) => match self
                .query::<String>(redis::cmd("CLUSTER").arg("INFO"))
                .await
            {
                Ok(_) => Ok(()),
                Err(StoreError::Command(e) | StoreError::Unavailable(e))
                    if e.contains("cluster support disabled") =>
                {
                    Err(StoreError::WrongKind(format!(
                        "{} is not a Redis Cluster node (its cluster support is disabled)",
                        self.description
                    )))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// A connection to send on: the manager's, or the cluster's (connected on first
    /// use, and again after a failed first connection).
    async fn connection(&self) -> redis::RedisResult<Conn> {
        match &self.link {
            Link::Server { manager, .. } => Ok(Conn::Server(manager.clone())),
            Link::Cluster(cluster) => cluster
                .connection
                .get_or_try_init(|| cluster.client.get_async_connection())
                .await
                .map(|c| Conn::Cluster(c.clone())),
        }
    }

    /// The URL without its password.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Sends every command of `batch` in one pipeline. See [`crate::Store::apply`].
    pub async fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        if let Some(fence) = batch.fence() {
            return self.apply_fenced(fence, batch.ops()).await;
        }
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for op in batch.ops() {
            match op {
                Op::HSet { key, fields } => {
                    pipe.cmd("HSET").arg(key);
                    for (field, value) in fields {
                        pipe.arg(*field).arg(value);
                    }
                }
                Op::HDel { key, fields } => {
                    pipe.cmd("HDEL").arg(key).arg(fields.as_slice());
                }
                Op::Set { key, value, ttl } => {
                    pipe.cmd("SET").arg(key).arg(value);
                    if let Some(ttl) = ttl {
                        pipe.arg("PX").arg(ttl_millis(*ttl));
                    }
                }
                Op::ZAdd { key, members } => {
                    pipe.cmd("ZADD").arg(key);
                    for (score, member) in members {
                        pipe.arg(*score).arg(member);
                    }
                }
                Op::Expire { key, ttl } => {
                    pipe.cmd("PEXPIRE").arg(key).arg(ttl_millis(*ttl));
                }
                Op::Del { key } => {
                    pipe.cmd("DEL").arg(key);
                }
                Op::XAdd {
                    key,
                    max_len,
                    at_ms,
                    fields,
                } => {
                    let args = lease::xadd_args(*max_len, *at_ms, fields);
                    if at_ms.is_some() {
                        // Redis rejects a `<ms>-*` the stream has gone past: the
                        // script takes the stream's last millisecond instead.
                        pipe.cmd("EVAL").arg(lease::XADD).arg(1).arg(key).arg(args);
                    } else {
                        pipe.cmd("XADD").arg(key).arg(args);
                    }
                }
                Op::Publish { channel, message } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(message);
                }
            }
            pipe.ignore();
        }
        self.exec(&pipe).await
    }

    /// Runs `ops` as one script that first checks `fence` (`crate::lease`).
    async fn apply_fenced(&self, fence: &Fence, ops: &[Op]) -> Result<(), StoreError> {
        static FENCED: LazyLock<Script> = LazyLock::new(|| Script::new(lease::FENCED));
        let (keys, args) = lease::fenced_args(fence, ops);
        let mut invocation = FENCED.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        self.invoke(&invocation, ops.len()).await
    }

    /// Takes `symbol`'s lease for `holder` if nobody holds it (`crate::lease`).
    pub async fn acquire_lease(
        &self,
        lease_key: &str,
        term_key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquired, StoreError> {
        static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(lease::ACQUIRE));
        let mut invocation = ACQUIRE.prepare_invoke();
        invocation
            .key(lease_key)
            .key(term_key)
            .arg(lease::clean_holder(holder))
            .arg(ttl_millis(ttl));
        let (token, value, took_over): (u64, String, u8) = self.invoke(&invocation, 1).await?;
        Ok(if token == 0 {
            Acquired::Held(value)
        } else {
            Acquired::Granted(LeaseGrant {
                token,
                took_over: took_over == 1,
                fence: Fence {
                    lease_key: lease_key.to_owned(),
                    value,
                },
            })
        })
    }

    /// Extends `grant`'s lease to `ttl` from now; `false` if it is no longer ours.
    pub async fn renew_lease(&self, grant: &LeaseGrant, ttl: Duration) -> Result<bool, StoreError> {
        static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(lease::RENEW));
        let mut invocation = RENEW.prepare_invoke();
        invocation
            .key(&grant.fence.lease_key)
            .arg(&grant.fence.value)
            .arg(ttl_millis(ttl));
        let renewed: u8 = self.invoke(&invocation, 1).await?;
        Ok(renewed == 1)
    }

    /// Gives `grant`'s lease up, recording in `term_key` whether it was handed over
    /// (`crate::lease`); `false` if it was no longer ours.
    pub async fn release_lease(
        &self,
        grant: &LeaseGrant,
        term_key: &str,
        handed_over: bool,
    ) -> Result<bool, StoreError> {
        static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(lease::RELEASE));
        let mut invocation = RELEASE.prepare_invoke();
        invocation
            .key(&grant.fence.lease_key)
            .key(term_key)
            .arg(&grant.fence.value)
            .arg(u8::from(handed_over));
        let released: u8 = self.invoke(&invocation, 1).await?;
        Ok(released == 1)
    }

    /// Runs a script of `commands` commands, within their deadline; retries once if
    /// the connection was refused (nothing was sent).
    async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        commands: usize,
    ) -> Result<T, StoreError> {
        let call = async {
            let mut conn = self.connection().await?;
            match invocation.invoke_async(&mut conn).await {
                Err(e) if e.is_connection_refusal() => invocation.invoke_async(&mut conn).await,
                result => result,
            }
        };
        within(self.options.deadline(commands), call).await
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// `HGETALL key`, sorted by field.
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        let map: BTreeMap<String, String> = self.query(redis::cmd("HGETALL").arg(key)).await?;
        Ok(map.into_iter().collect())
    }

    /// `ZRANGE key 0 -1 WITHSCORES`.
    pub async fn zrange_with_scores(&self, key: &str) -> Result<Vec<(String, f64)>, StoreError> {
        self.query(
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await
    }

    /// `PTTL key`.
    pub async fn pttl(&self, key: &str) -> Result<Ttl, StoreError> {
        let ms: i64 = self.query(redis::cmd("PTTL").arg(key)).await?;
        Ok(match ms {
            -2 => Ttl::Missing,
            -1 => Ttl::Persistent,
            ms => Ttl::Millis(u64::try_from(ms).unwrap_or(0)),
        })
    }

    /// `TYPE key`.
    pub async fn key_type(&self, key: &str) -> Result<Option<KeyType>, StoreError> {
        let name: String = self.query(redis::cmd("TYPE").arg(key)).await?;
        Ok(match name.as_str() {
            "none" => None,
            "string" => Some(KeyType::String),
            "hash" => Some(KeyType::Hash),
            "zset" => Some(KeyType::ZSet),
            "stream" => Some(KeyType::Stream),
            _ => Some(KeyType::Other(name)),
        })
    }

    /// `SCAN 0 MATCH pattern` until the cursor returns to 0; sorted, deduplicated
    /// (SCAN may return a key twice while the keyspace is rehashing).
    pub async fn scan(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        if matches!(self.link, Link::Cluster(_)) {
            return Err(StoreError::Unsupported(
                "SCAN on a cluster (it would have to walk every master)",
            ));
        }
        let mut keys = BTreeSet::new();
        let mut cursor = 0_u64;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000),
                )
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys.into_iter().collect());
            }
            cursor = next;
        }
    }

    /// `EXISTS key`.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let n: i64 = self.query(redis::cmd("EXISTS").arg(key)).await?;
        Ok(n > 0)
    }

    /// `XLEN key`.
    pub async fn xlen(&self, key: &str) -> Result<u64, StoreError> {
        self.query(redis::cmd("XLEN").arg(key)).await
    }

    /// `XREVRANGE key + - COUNT count`, newest first.
    pub async fn xrevrange(&self, key: &str, count: usize) -> Result<Vec<StreamEntry>, StoreError> {
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .query(
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count),
            )
            .await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| StreamEntry { id, fields })
            .collect())
    }

    /// `XRANGE key - + COUNT 1`.
    pub async fn xfirst(&self, key: &str) -> Result<Option<StreamEntry>, StoreError> {
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .query(
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        Ok(entries
            .into_iter()
            .next()
            .map(|(id, fields)| StreamEntry { id, fields }))
    }

    /// The newest entry in each range of id milliseconds, one pipeline; see
    /// [`crate::Store::xlast_in`].
    pub async fn xlast_in(
        &self,
        key: &str,
        ranges: &[(u64, u64)],
    ) -> Result<Vec<Option<StreamEntry>>, StoreError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for &(start, end) in ranges {
            // A bare millisecond means every sequence number in it, at either end.
            pipe.cmd("XREVRANGE")
                .arg(key)
                .arg(end)
                .arg(start)
                .arg("COUNT")
                .arg(1);
        }
        let call = async {
            let mut conn = self.connection().await?;
            pipe.query_async::<Vec<Vec<(String, Vec<(String, String)>)>>>(&mut conn)
                .await
        };
        let replies = within(self.options.deadline(ranges.len()), call).await?;
        Ok(replies
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .next()
                    .map(|(id, fields)| StreamEntry { id, fields })
            })
            .collect())
    }

    /// `SUBSCRIBE channel` on a connection of its own, returning once Redis has
    /// confirmed it (module docs).
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let (sender, messages) = broadcast::channel(SUBSCRIPTION_CAPACITY);
        let wanted = channel.to_owned();
        // Runs on the connection's reader task: must not block. A failed send only
        // means the subscription was dropped and the connection is going too.
        let forward = move |push: PushInfo| {
            if let Some(message) = published_on(&push, &wanted) {
                let _ = sender.send(message);
            }
            Ok::<(), Infallible>(())
        };
        let deadline = self
            .options
            .connect_timeout
            .saturating_add(self.options.deadline(1));
        let held: Box<dyn std::any::Any + Send + Sync> = match &self.link {
            Link::Server { pubsub_client, .. } => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.options.connect_timeout))
                    // Bounded below by `within`, like every other call.
                    .set_response_timeout(None)
                    .set_push_sender(forward);
                let call = async {
                    let mut conn = pubsub_client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?;
                    conn.subscribe(channel).await?;
                    Ok(conn)
                };
                Box::new(within(deadline, call).await?)
            }
            Link::Cluster(cluster) => {
                let client = cluster_client(&cluster.nodes, self.options)
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(forward)
                    .build()
                    .map_err(classify)?;
                let call = async {
                    let mut conn = client.get_async_connection().await?;
                    conn.subscribe(channel).await?;
                    Ok(conn)
                };
                Box::new(within(deadline, call).await?)
            }
        };
        Ok(Subscription::new(channel, messages, Some(held)))
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _pong: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    /// Runs one command; retries once if the connection was refused (module docs).
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let call = async {
            let mut conn = self.connection().await?;
            match cmd.query_async(&mut conn).await {
                Err(e) if e.is_connection_refusal() => cmd.query_async(&mut conn).await,
                result => result,
            }
        };
        within(self.options.deadline(1), call).await
    }

    /// Runs a pipeline whose replies are all ignored; retries once if the connection
    /// was refused (nothing was sent).
    async fn exec(&self, pipe: &Pipeline) -> Result<(), StoreError> {
        let call = async {
            let mut conn = self.connection().await?;
            match pipe.exec_async(&mut conn).await {
                Err(e) if e.is_connection_refusal() => pipe.exec_async(&mut conn).await,
                result => result,
            }
        };
        within(self.options.deadline(pipe.len()), call).await
    }
}

/// Where a store's commands go.
#[derive(Clone)]
enum Link {
    /// One server.
    Server {
        /// Cloned per call (an `Arc` inside); each clone sends on the same socket.
        manager: ConnectionManager,
        /// The same server and credentials, set to RESP3, for opening each
        /// subscription's own connection (module docs). Behind an `Arc`, as the
        /// manager's state is, to keep the store a few words to clone and move.
        pubsub_client: Arc<Client>,
    },
    /// A Redis Cluster.
    Cluster(Arc<ClusterLink>),
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Server { .. } => f.write_str("Server"),
            Link::Cluster(c) => write!(f, "Cluster({} seeds)", c.nodes.len()),
        }
    }
}

/// A cluster's client and its one shared connection.
struct ClusterLink {
    /// The seed nodes, for each subscription's own client.
    nodes: Vec<ConnectionInfo>,
    client: ClusterClient,
    /// Made on first use and kept: it follows redirections, refreshes its slot map
    /// and reconnects to nodes by itself. A failed first attempt leaves it unset,
    /// so the next call tries again.
    connection: tokio::sync::OnceCell<ClusterConnection>,
}

/// The cluster client's settings: our connect timeout; replies bounded per call by
/// `within` instead, as on one server (module docs).
fn cluster_client(nodes: &[ConnectionInfo], options: RedisOptions) -> ClusterClientBuilder {
    ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(options.connect_timeout)
        .response_timeout(Duration::from_secs(3_600))
}

/// One call's connection, either kind, so every call is written once.
enum Conn {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Server(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Server(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The payload of a `message` push on `channel` (`[channel, payload]`); `None` for
/// the subscribe confirmation, the disconnect notice and anything else.
fn published_on(push: &PushInfo, channel: &str) -> Option<String> {
    if push.kind != PushKind::Message {
        return None;
    }
    match push.data.as_slice() {
        [Value::BulkString(on), Value::BulkString(payload)] if on == channel.as_bytes() => {
            // Our publishers send UTF-8; someone else's bytes must not end the stream.
            Some(String::from_utf8_lossy(payload).into_owned())
        }
        _ => None,
    }
}

/// Awaits `call` for at most `deadline`. Giving up drops our interest in the reply;
/// the multiplexed connection discards it when it arrives, and stays usable.
async fn within<T>(
    deadline: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no reply within {deadline:?}"
        ))),
    }
}

/// Sorts a redis-rs error into what the caller must do about it.
fn classify(e: RedisError) -> StoreError {
    use redis::RetryMethod;
    if e.code() == Some("FENCED") {
        return StoreError::Fenced;
    }
    match e.kind() {
        // Connection refused/reset/closed, timeouts, and a broken stream the manager
        // replaces: the server is away, not wrong.
        ErrorKind::Io | ErrorKind::Parse => StoreError::Unavailable(e.to_string()),
        ErrorKind::Server(_) => match e.retry_method() {
            // LOADING, TRYAGAIN, MASTERDOWN, CLUSTERDOWN, READONLY during a failover.
            RetryMethod::WaitAndRetry
            | RetryMethod::RetryImmediately
            | RetryMethod::Reconnect
            | RetryMethod::ReconnectFromInitialConnections
            | RetryMethod::RefreshSlotsAndRetry => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Command(command_error(e)),
        },
        // WRONGTYPE and other codes redis-rs has no kind for arrive as `Extension`.
        _ => StoreError::Command(command_error(e)),
    }
}

/// `op <index>: <CODE> <detail>` for a pipeline's first rejected command (the same
/// shape the embedded store reports), else redis-rs's own text.
fn command_error(e: RedisError) -> String {
    let text = e.to_string();
    match e.into_server_errors().as_deref() {
        Some([(index, first), ..]) => match first.details() {
            Some(detail) => format!("op {index}: {} {detail}", first.code()),
            None => format!("op {index}: {}", first.code()),
        },
        _ => text,
    }
}

/// `scheme://[user@]host:port/db`: what the URL says, minus the password.
fn describe(url: &str, client: &Client) -> String {
    let info = client.get_connection_info();
    let scheme = url.split_once("://").map_or("redis", |(scheme, _)| scheme);
    let settings = info.redis_settings();
    let user = settings
        .username()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = settings.db();
    match info.addr() {
        ConnectionAddr::Unix(path) => format!("{scheme}://{}?db={db}", path.display()),
        addr => format!("{scheme}://{user}{addr}/{db}"),
    }
}

/// `url` with any password replaced by `***`, for a URL that may not even parse.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        let cases = [
            ("redis://u:secret@h:6379/0", "redis://u:***@h:6379/0"),
            ("redis://:secret@h", "redis://:***@h"),
            ("redis://u:se@cret@h:bad", "redis://u:***@h:bad"),
            ("redis://u@h", "redis://u@h"),
            ("redis://h:6379", "redis://h:6379"),
            ("not a url", "not a url"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
    }
}

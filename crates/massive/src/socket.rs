//! One Massive WebSocket connection (`/options` or `/indices`), kept alive.
//!
//! The task connects, waits for the `connected` status (the spec's examples say
//! `success`; both are accepted), authenticates, sends every subscription it holds,
//! then hands each text frame to the consumer as it arrived: a [`Frame`] shares the
//! socket's buffer, so nothing is copied or parsed here per event. The engine's parser
//! does that once, on its own task.
//!
//! # Nothing is lost silently
//!
//! - The channel to the consumer is bounded. When it is full a frame is dropped and
//!   counted, and before the next frame the consumer receives
//!   [`SocketEvent::Overflow`]: prices may be missing, so it treats it as a gap (a
//!   fresh photo), as it does [`SocketEvent::Disconnected`]. Memory never grows with
//!   a slow consumer.
//! - Every connect and disconnect is an event, with the reason.
//!
//! # Massive's statuses
//!
//! | status | what the client does |
//! |---|---|
//! | `auth_failed` | stops for good with [`SocketError::AuthFailed`]: a wrong key does not heal |
//! | `auth_timeout` | reconnects with backoff |
//! | `max_connections`, `force_disconnect` | reconnects after a long backoff (another client holds the account's connection; racing it would only flap both), and says so |
//! | `slow_consumer` | logged and counted; the server closes, the client reconnects |
//! | `error` (e.g. a refused subscription) | logged and counted |
//!
//! Reconnects use jittered exponential backoff and resubscribe everything. A ping goes
//! out every [`SocketConfig::ping_every`]; a connection that has received nothing,
//! not even a pong, for three intervals is considered dead and replaced.
//!
//! Subscriptions are a desired set held in a watch channel: [`SocketHandle::update`]
//! edits it, and the task sends the difference between it and what the server has
//! when connected (unsubscribes first, so a quote limit is never exceeded mid-change)
//! and the whole set after a reconnect. Changes made while disconnected merge into the
//! set; there is no queue to grow. Control messages
//! stay under [`MAX_CONTROL_MESSAGE_BYTES`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use url::Url;

use crate::backoff::{Backoff, BackoffConfig};
use crate::plan::{Action, MAX_CONTROL_MESSAGE_BYTES, control_messages};
use crate::rest::ApiKey;

/// The largest frame accepted. Massive batches events into frames of kilobytes; a
/// frame past this ends the connection (and is reported as a gap) rather than being
/// buffered.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Which of Massive's WebSocket clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cluster {
    /// `/options`: quotes, trades, aggregates of option contracts.
    Options,
    /// `/indices`: index values (`V`) and aggregates.
    Indices,
}

impl Cluster {
    /// The path appended to the WebSocket base URL.
    pub fn path(self) -> &'static str {
        match self {
            Cluster::Options => "options",
            Cluster::Indices => "indices",
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    /// Base URL (`wss://socket.massive.com`); the cluster's path is appended.
    pub ws_url: Url,
    /// Which cluster.
    pub cluster: Cluster,
    /// Connect, `connected` status and authentication must each finish within this.
    pub handshake_timeout: Duration,
    /// Keep-alive ping interval (Massive's Go client uses 25 s).
    pub ping_every: Duration,
    /// Backoff between ordinary reconnects.
    pub backoff: BackoffConfig,
    /// Backoff after `max_connections` or `force_disconnect`.
    pub long_backoff: BackoffConfig,
    /// Frames buffered for the consumer before frames are dropped (and a gap reported).
    pub queue: usize,
}

impl SocketConfig {
    /// Defaults for `cluster` under `ws_url`.
    pub fn new(ws_url: Url, cluster: Cluster) -> Self {
        Self {
            ws_url,
            cluster,
            handshake_timeout: Duration::from_secs(10),
            ping_every: Duration::from_secs(25),
            backoff: BackoffConfig::from_millis(500, 30_000),
            long_backoff: BackoffConfig::from_millis(30_000, 300_000),
            queue: 4_096,
        }
    }

    fn url(&self) -> Result<Url, SocketError> {
        let mut base = self.ws_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.join(self.cluster.path())
            .map_err(|e| SocketError::Setup(format!("bad WebSocket URL: {e}")))
    }
}

/// A text frame as received: a JSON array of events, sharing the socket's buffer.
#[derive(Debug, Clone)]
pub struct Frame(Utf8Bytes);

impl Frame {
    /// The frame's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The frame's bytes, shared (a reference count, no copy): what a recording
    /// keeps.
    pub fn bytes(&self) -> bytes::Bytes {
        self.0.clone().into()
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server closed the socket or the network failed.
    Closed(String),
    /// Massive said `max_connections`: another connection of this key took over.
    MaxConnections(String),
    /// Massive said `force_disconnect`.
    ForceDisconnect(String),
    /// Massive said `slow_consumer`: chainboard read too slowly.
    SlowConsumer(String),
    /// Nothing, not even a pong, arrived for three ping intervals.
    Silent,
    /// The handshake did not complete (no `connected`, no `auth_success` in time, or
    /// `auth_timeout`).
    Handshake(String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Closed(s) => write!(f, "closed: {s}"),
            DisconnectReason::MaxConnections(s) => write!(
                f,
                "max_connections: {s} (another client is using this key's connection)"
            ),
            DisconnectReason::ForceDisconnect(s) => write!(f, "force_disconnect: {s}"),
            DisconnectReason::SlowConsumer(s) => write!(f, "slow_consumer: {s}"),
            DisconnectReason::Silent => f.write_str("no traffic or pong for three ping intervals"),
            DisconnectReason::Handshake(s) => write!(f, "handshake failed: {s}"),
        }
    }
}

/// What the connection tells its consumer.
#[derive(Debug, Clone)]
pub enum SocketEvent {
    /// Authenticated; subscriptions are being (re)sent.
    Connected {
        /// Which cluster.
        cluster: Cluster,
    },
    /// A text frame.
    Frame(Frame),
    /// The consumer fell behind and `dropped` frames were discarded since the last
    /// report: treat as a gap.
    Overflow {
        /// Frames lost.
        dropped: u64,
    },
    /// The connection ended; a reconnect follows unless the error is fatal.
    Disconnected {
        /// Which cluster.
        cluster: Cluster,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Why the connection task stopped for good.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SocketError {
    /// Massive refused the key.
    #[error("Massive refused the API key on the {cluster} WebSocket: {message}")]
    AuthFailed {
        /// Cluster path.
        cluster: &'static str,
        /// The server's message.
        message: String,
    },
    /// The URL cannot be used.
    #[error("WebSocket setup: {0}")]
    Setup(String),
}

/// Counters of one connection task; shared, read at any time.
#[derive(Debug, Default)]
pub struct SocketCounters {
    /// Successful handshakes.
    pub connects: AtomicU64,
    /// Connections that ended (including failed handshakes).
    pub disconnects: AtomicU64,
    /// Text frames received.
    pub frames: AtomicU64,
    /// Bytes of text frames received.
    pub bytes: AtomicU64,
    /// Frames dropped because the consumer was behind.
    pub dropped_frames: AtomicU64,
    /// `slow_consumer` statuses.
    pub slow_consumer: AtomicU64,
    /// `error` statuses (refused subscriptions and the like).
    pub status_errors: AtomicU64,
    /// Subscription acknowledgements (`success` statuses).
    pub acks: AtomicU64,
    /// Params currently subscribed (as sent).
    pub subscribed: AtomicU64,
    /// Control messages sent.
    pub control_messages: AtomicU64,
}

/// A plain copy of [`SocketCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// See [`SocketCounters::connects`].
    pub connects: u64,
    /// See [`SocketCounters::disconnects`].
    pub disconnects: u64,
    /// See [`SocketCounters::frames`].
    pub frames: u64,
    /// See [`SocketCounters::bytes`].
    pub bytes: u64,
    /// See [`SocketCounters::dropped_frames`].
    pub dropped_frames: u64,
    /// See [`SocketCounters::slow_consumer`].
    pub slow_consumer: u64,
    /// See [`SocketCounters::status_errors`].
    pub status_errors: u64,
    /// See [`SocketCounters::acks`].
    pub acks: u64,
    /// See [`SocketCounters::subscribed`].
    pub subscribed: u64,
    /// See [`SocketCounters::control_messages`].
    pub control_messages: u64,
}

impl SocketCounters {
    /// A consistent-enough copy (each counter read once).
    pub fn snapshot(&self) -> SocketStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SocketStats {
            connects: r(&self.connects),
            disconnects: r(&self.disconnects),
            frames: r(&self.frames),
            bytes: r(&self.bytes),
            dropped_frames: r(&self.dropped_frames),
            slow_consumer: r(&self.slow_consumer),
            status_errors: r(&self.status_errors),
            acks: r(&self.acks),
            subscribed: r(&self.subscribed),
            control_messages: r(&self.control_messages),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A change of subscriptions: params such as `Q.O:SPXW261124C06850000`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// Params to add.
    pub subscribe: Vec<String>,
    /// Params to remove.
    pub unsubscribe: Vec<String>,
}

/// The consumer's side of a connection task.
#[derive(Debug, Clone)]
pub struct SocketHandle {
    desired: Arc<watch::Sender<BTreeSet<String>>>,
    counters: Arc<SocketCounters>,
}

impl SocketHandle {
    /// Applies a subscription change to the desired set; the task sends it now if
    /// connected, else on connect. Returns false when the task has stopped.
    pub fn update(&self, change: SubscriptionChange) -> bool {
        self.desired.send_modify(|set| {
            for p in &change.unsubscribe {
                set.remove(p);
            }
            set.extend(change.subscribe);
        });
        !self.desired.is_closed()
    }

    /// The task's counters.
    pub fn stats(&self) -> SocketStats {
        self.counters.snapshot()
    }
}

/// Starts a connection task. Events arrive on the returned receiver; the task ends
/// with an error only when retrying cannot help (a refused key), and quietly when the
/// receiver and every handle are dropped.
pub fn spawn(
    config: SocketConfig,
    key: ApiKey,
    initial: Vec<String>,
) -> (
    SocketHandle,
    mpsc::Receiver<SocketEvent>,
    tokio::task::JoinHandle<Result<(), SocketError>>,
) {
    let (events_tx, events_rx) = mpsc::channel(config.queue.max(1));
    let (desired_tx, desired_rx) = watch::channel(initial.into_iter().collect());
    let counters = Arc::new(SocketCounters::default());
    let task = Connection {
        config,
        key,
        desired: desired_rx,
        subscribed: BTreeSet::new(),
        events: events_tx,
        counters: counters.clone(),
        dropped_since_report: 0,
    };
    let join = tokio::spawn(task.run());
    (
        SocketHandle {
            desired: Arc::new(desired_tx),
            counters,
        },
        events_rx,
        join,
    )
}

/// A status event, as much of it as the client needs.
#[derive(Debug, Deserialize)]
struct StatusEvent {
    ev: Option<String>,
    status: Option<String>,
    message: Option<String>,
}

/// The events of a status frame; `None` when the text is not a JSON array of
/// objects (then it is left alone).
fn status_events(text: &str) -> Option<Vec<StatusEvent>> {
    serde_json::from_str(text).ok()
}

/// What one event of a status frame asks of the client (see the module's table).
#[derive(Debug)]
enum Reaction {
    /// Not a status event.
    Ignore,
    /// A subscription acknowledged (`success`).
    Ack,
    /// Reconnect after the long backoff (`max_connections`, `force_disconnect`).
    Reconnect(DisconnectReason),
    /// Massive drops frames for us (`slow_consumer`).
    SlowConsumer(String),
    /// The key was refused (`auth_failed`): stop for good.
    AuthFailed(String),
    /// A refused request (`error`).
    Error(String),
    /// Anything else, logged at debug level: status and message.
    Other(Option<String>, String),
}

fn reaction(e: StatusEvent) -> Reaction {
    if e.ev.as_deref() != Some("status") {
        return Reaction::Ignore;
    }
    let message = e.message.unwrap_or_default();
    match e.status.as_deref() {
        Some("success") => Reaction::Ack,
        Some("max_connections") => Reaction::Reconnect(DisconnectReason::MaxConnections(message)),
        Some("force_disconnect") => Reaction::Reconnect(DisconnectReason::ForceDisconnect(message)),
        Some("slow_consumer") => Reaction::SlowConsumer(message),
        Some("auth_failed") => Reaction::AuthFailed(message),
        Some("error") => Reaction::Error(message),
        _ => Reaction::Other(e.status, message),
    }
}

/// How a connection ended, for the reconnect decision.
enum Ended {
    /// Reconnect after the ordinary backoff.
    Retry(DisconnectReason),
    /// Reconnect after the long backoff.
    Long(DisconnectReason),
    /// Stop for good.
    Fatal(SocketError),
    /// The consumer is gone.
    Shutdown,
}

impl Ended {
    fn handshake(why: impl Into<String>) -> Self {
        Ended::Retry(DisconnectReason::Handshake(why.into()))
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Connection {
    config: SocketConfig,
    key: ApiKey,
    /// What the consumer wants subscribed.
    desired: watch::Receiver<BTreeSet<String>>,
    /// What this connection has sent (empty between connections).
    subscribed: BTreeSet<String>,
    events: mpsc::Sender<SocketEvent>,
    counters: Arc<SocketCounters>,
    dropped_since_report: u64,
}

impl Connection {
    async fn run(mut self) -> Result<(), SocketError> {
        let url = self.config.url()?;
        let mut backoff = Backoff::unseeded(self.config.backoff);
        let mut long = Backoff::unseeded(self.config.long_backoff);
        loop {
            let ended = self.session(&url, &mut backoff, &mut long).await;
            bump(&self.counters.disconnects);
            self.counters.subscribed.store(0, Ordering::Relaxed);
            let (reason, delay) = match ended {
                Ended::Shutdown => return Ok(()),
                Ended::Fatal(e) => {
                    tracing::error!(cluster = self.config.cluster.path(), error = %e, "WebSocket stopped");
                    let _ = self
                        .events
                        .send(SocketEvent::Disconnected {
                            cluster: self.config.cluster,
                            reason: DisconnectReason::Handshake(e.to_string()),
                        })
                        .await;
                    return Err(e);
                }
                Ended::Retry(r) => (r, backoff.next_delay()),
                Ended::Long(r) => (r, long.next_delay()),
            };
            tracing::warn!(
                cluster = self.config.cluster.path(),
                %reason,
                retry_in_ms = delay.as_millis() as u64,
                "WebSocket disconnected"
            );
            let event = SocketEvent::Disconnected {
                cluster: self.config.cluster,
                reason,
            };
            if self.events.send(event).await.is_err() {
                return Ok(());
            }
            // Changes made meanwhile merge into the desired set.
            tokio::time::sleep(delay).await;
            if self.desired.has_changed().is_err() {
                return Ok(());
            }
        }
    }

    /// One connection from connect to close.
    async fn session(&mut self, url: &Url, backoff: &mut Backoff, long: &mut Backoff) -> Ended {
        let limit = self.config.handshake_timeout;
        let cluster = self.config.cluster.path();
        // Massive's frames are kilobytes; a cap keeps one bad frame from pinning memory.
        let ws_config = WebSocketConfig::default().max_message_size(Some(MAX_FRAME_BYTES));
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(ws_config), true);
        let mut ws = match timeout(limit, connect).await {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                return Ended::Retry(DisconnectReason::Handshake(format!("connect: {e}")));
            }
            Err(_) => return Ended::Retry(DisconnectReason::Handshake("connect timed out".into())),
        };
        // 1. `connected` (or the spec's `success`).
        match timeout(limit, next_statuses(&mut ws)).await {
            Ok(Ok(statuses)) => {
                if !statuses
                    .iter()
                    .any(|s| matches!(s.status.as_deref(), Some("connected" | "success")))
                {
                    return Ended::Retry(DisconnectReason::Handshake(format!(
                        "expected a connected status, got {:?}",
                        statuses
                            .iter()
                            .map(|s| s.status.as_deref())
                            .collect::<Vec<_>>()
                    )));
                }
            }
            Ok(Err(why)) => return Ended::Retry(DisconnectReason::Handshake(why)),
            Err(_) => {
                return Ended::Retry(DisconnectReason::Handshake(
                    "no connected status in time".into(),
                ));
            }
        }
        // 2. auth.
        let auth = serde_json::json!({"action": "auth", "params": self.key.expose()}).to_string();
        if let Err(e) = self.send(&mut ws, Message::text(auth)).await {
            return Ended::Retry(DisconnectReason::Handshake(format!("sending auth: {e}")));
        }
        let authed = timeout(limit, async {
            loop {
                for s in next_statuses(&mut ws).await.map_err(Ended::handshake)? {
                    let message = s.message.unwrap_or_default();
                    match s.status.as_deref() {
                        Some("auth_success") => return Ok(()),
                        Some("auth_failed") => {
                            return Err(Ended::Fatal(SocketError::AuthFailed { cluster, message }));
                        }
                        Some("auth_timeout") => {
                            return Err(Ended::handshake(format!("auth_timeout: {message}")));
                        }
                        Some("max_connections") => {
                            return Err(Ended::Long(DisconnectReason::MaxConnections(message)));
                        }
                        _ => {}
                    }
                }
            }
        })
        .await;
        match authed {
            Ok(Ok(())) => {}
            Ok(Err(ended)) => return ended,
            Err(_) => return Ended::handshake("no auth answer in time"),
        }
        bump(&self.counters.connects);
        tracing::info!(
            cluster,
            subscriptions = self.desired.borrow().len(),
            "WebSocket authenticated"
        );
        if self
            .events
            .send(SocketEvent::Connected {
                cluster: self.config.cluster,
            })
            .await
            .is_err()
        {
            return Ended::Shutdown;
        }
        // 3. Everything desired, then live changes.
        self.subscribed.clear();
        if let Err(e) = self.sync_subscriptions(&mut ws).await {
            return Ended::Retry(DisconnectReason::Closed(e));
        }
        self.read_loop(ws, backoff, long).await
    }

    async fn read_loop(&mut self, mut ws: Ws, backoff: &mut Backoff, long: &mut Backoff) -> Ended {
        let mut ping = tokio::time::interval(self.config.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut last_rx = Instant::now();
        let mut healthy = false;
        loop {
            tokio::select! {
                msg = ws.next() => {
                    last_rx = Instant::now();
                    let msg = match msg {
                        None => return Ended::Retry(DisconnectReason::Closed("connection closed".into())),
                        Some(Err(e)) => return Ended::Retry(DisconnectReason::Closed(e.to_string())),
                        Some(Ok(m)) => m,
                    };
                    match msg {
                        Message::Text(text) => {
                            if text.as_str().contains("\"status\"") {
                                if let Some(ended) = self.on_statuses(text.as_str()) {
                                    return ended;
                                }
                            } else if !healthy {
                                // Only market data earns a fresh backoff: acks arrive even
                                // on a connection the server is about to drop.
                                backoff.reset();
                                long.reset();
                                healthy = true;
                            }
                            if !self.deliver(Frame(text)) {
                                return Ended::Shutdown;
                            }
                        }
                        Message::Close(frame) => {
                            let why = frame.map_or_else(|| "close frame".to_owned(), |f| format!("close {}: {}", f.code, f.reason));
                            return Ended::Retry(DisconnectReason::Closed(why));
                        }
                        // Pings are answered by tungstenite; pongs only prove life.
                        _ => {}
                    }
                }
                changed = self.desired.changed() => {
                    if changed.is_err() {
                        return Ended::Shutdown;
                    }
                    if let Err(e) = self.sync_subscriptions(&mut ws).await {
                        return Ended::Retry(DisconnectReason::Closed(e));
                    }
                }
                _ = ping.tick() => {
                    if last_rx.elapsed() > self.config.ping_every * 3 {
                        return Ended::Retry(DisconnectReason::Silent);
                    }
                    if let Err(e) = self.send(&mut ws, Message::Ping(Vec::new().into())).await {
                        return Ended::Retry(DisconnectReason::Closed(format!("ping: {e}")));
                    }
                }
            }
        }
    }

    /// Hands a frame on, or drops and counts it when the consumer is behind.
    /// Returns false when the consumer is gone.
    fn deliver(&mut self, frame: Frame) -> bool {
        bump(&self.counters.frames);
        self.counters
            .bytes
            .fetch_add(frame.as_str().len() as u64, Ordering::Relaxed);
        if self.dropped_since_report > 0 {
            match self.events.try_send(SocketEvent::Overflow {
                dropped: self.dropped_since_report,
            }) {
                Ok(()) => self.dropped_since_report = 0,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.drop_one();
                    return true;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        match self.events.try_send(SocketEvent::Frame(frame)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.drop_one();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn drop_one(&mut self) {
        if self.dropped_since_report == 0 {
            tracing::warn!(
                cluster = self.config.cluster.path(),
                "consumer behind; dropping frames (reported as a gap)"
            );
        }
        self.dropped_since_report += 1;
        bump(&self.counters.dropped_frames);
    }

    /// Reacts to the status events of a frame that mentions `"status"` (data frames
    /// are not decoded here).
    fn on_statuses(&self, text: &str) -> Option<Ended> {
        // Mixed frames (statuses among data events) are rare; decode loosely.
        let events = status_events(text)?;
        let cluster = self.config.cluster.path();
        for e in events {
            match reaction(e) {
                Reaction::Ignore => {}
                Reaction::Ack => bump(&self.counters.acks),
                Reaction::Reconnect(reason) => return Some(Ended::Long(reason)),
                Reaction::SlowConsumer(message) => {
                    bump(&self.counters.slow_consumer);
                    tracing::warn!(cluster, %message, "Massive says slow_consumer");
                }
                Reaction::AuthFailed(message) => {
                    return Some(Ended::Fatal(SocketError::AuthFailed { cluster, message }));
                }
                Reaction::Error(message) => {
                    bump(&self.counters.status_errors);
                    tracing::warn!(cluster, %message, "Massive status error");
                }
                Reaction::Other(status, message) => {
                    tracing::debug!(cluster, ?status, %message, "status");
                }
            }
        }
        None
    }

    /// Sends the difference between the desired set and what this connection has
    /// subscribed: unsubscribes first.
    async fn sync_subscriptions(&mut self, ws: &mut Ws) -> Result<(), String> {
        let desired = self.desired.borrow_and_update().clone();
        let unsubscribe: Vec<String> = self.subscribed.difference(&desired).cloned().collect();
        let subscribe: Vec<String> = desired.difference(&self.subscribed).cloned().collect();
        self.send_control(ws, Action::Unsubscribe, &unsubscribe)
            .await?;
        self.send_control(ws, Action::Subscribe, &subscribe).await?;
        self.subscribed = desired;
        self.counters
            .subscribed
            .store(self.subscribed.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// A write that cannot hang on a peer that stopped reading.
    async fn send(&self, ws: &mut Ws, message: Message) -> Result<(), String> {
        match timeout(self.config.handshake_timeout, ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("write timed out".to_owned()),
        }
    }

    async fn send_control(
        &self,
        ws: &mut Ws,
        action: Action,
        params: &[String],
    ) -> Result<(), String> {
        for message in control_messages(action, params, MAX_CONTROL_MESSAGE_BYTES) {
            self.send(ws, Message::text(message))
                .await
                .map_err(|e| format!("sending {}: {e}", action.as_str()))?;
            bump(&self.counters.control_messages);
        }
        Ok(())
    }
}

/// Reads until a text frame arrives and decodes its status events.
async fn next_statuses(ws: &mut Ws) -> Result<Vec<StatusEvent>, String> {
    loop {
        match ws.next().await {
            None => return Err("connection closed during handshake".into()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map_err(|e| format!("unexpected handshake frame: {e}"));
            }
            Some(Ok(Message::Close(f))) => {
                return Err(f.map_or_else(
                    || "closed during handshake".to_owned(),
                    |f| format!("closed during handshake: {} {}", f.code, f.reason),
                ));
            }
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_status_gets_its_reaction() {
        let react = |text: &str| -> Vec<String> {
            status_events(text)
                .unwrap_or_default()
                .into_iter()
                .map(|e| format!("{:?}", reaction(e)))
                .collect()
        };
        assert_eq!(
            react(r#"[{"ev":"status","status":"auth_failed","message":"bad key"}]"#),
            [r#"AuthFailed("bad key")"#]
        );
        assert_eq!(
            react(
                r#"[{"ev":"status","status":"max_connections"},{"ev":"status","status":"success"}]"#
            ),
            [r#"Reconnect(MaxConnections(""))"#, "Ack"]
        );
        assert_eq!(react(r#"[{"ev":"Q","status":"auth_failed"}]"#), ["Ignore"]);
        assert!(status_events(r#"{"ev":"status"}"#).is_none());
        assert!(status_events("not json").is_none());
        assert!(status_events(&"[".repeat(100_000)).is_none());
    }

    proptest! {
        /// Any frame text: read or left alone, never a panic. (A fuzz suite:
        /// `PROPTEST_CASES` sets its length, see the README.)
        #[test]
        fn fuzz_status_frames(text in "\\PC{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for t in [text.as_str(), &String::from_utf8_lossy(&bytes)] {
                if let Some(events) = status_events(t) {
                    for e in events {
                        let _ = reaction(e);
                    }
                }
            }
        }

        /// Any status and message in a well-formed frame: only `auth_failed` stops the
        /// client, only `max_connections` and `force_disconnect` reconnect, and the
        /// message is carried through.
        #[test]
        fn fuzz_status_events(status in proptest::option::of("[a-z_]{0,20}|\\PC{0,20}"), message in proptest::option::of("\\PC{0,40}"), ev in proptest::option::of("status|Q|T|\\PC{0,8}")) {
            let event = serde_json::json!([{ "ev": ev, "status": status, "message": message }]).to_string();
            let events = status_events(&event).expect("a well-formed frame is read");
            prop_assert_eq!(events.len(), 1);
            let r = reaction(events.into_iter().next().expect("one"));
            let is_status = ev.as_deref() == Some("status");
            let wanted = message.clone().unwrap_or_default();
            match r {
                Reaction::AuthFailed(m) => prop_assert!(is_status && status.as_deref() == Some("auth_failed") && m == wanted),
                Reaction::Reconnect(_) => prop_assert!(is_status && matches!(status.as_deref(), Some("max_connections" | "force_disconnect"))),
                Reaction::Ignore => prop_assert!(!is_status),
                _ => prop_assert!(is_status),
            }
        }
    }

    #[test]
    fn urls_get_the_cluster_path() {
        let c = SocketConfig::new(
            Url::parse("ws://127.0.0.1:9000").expect("url"),
            Cluster::Options,
        );
        assert_eq!(
            c.url().expect("url").as_str(),
            "ws://127.0.0.1:9000/options"
        );
        let c = SocketConfig::new(
            Url::parse("wss://socket.massive.com/").expect("url"),
            Cluster::Indices,
        );
        assert_eq!(
            c.url().expect("url").as_str(),
            "wss://socket.massive.com/indices"
        );
    }
}

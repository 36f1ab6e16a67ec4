//! Live ingestion: Massive's REST photos and WebSocket paint, joined in the epoch
//! engines.
//!
//! Tasks and who owns what:
//!
//! ```text
//!  loader (one per underlying) ──LoadedChain──►┐
//!      ▲ photo requests                         │
//!      │                                        ▼
//!  market-status poller ──open/closed──► core task: Feed (the engines), Planner
//!                                               ▲            │ subscription changes
//!  /options socket ──frames, gaps────────────────┤            ▼
//!  /indices socket ──V frames────────────────────┘     /options socket
//! ```
//!
//! - The **core task** is the one writer of every engine (`docs/architecture.md`: one writer
//!   per underlying; here one task serves the handful of underlyings of a
//!   connection). It parses frames in place, applies photos, runs the watchdogs and
//!   re-plans subscriptions. It never waits on the network: loaders and sockets talk
//!   to it through channels, and it reads the clock once per event batch.
//! - A **disconnect or an overflow** of the options socket is a gap: every engine asks
//!   its loader for a fresh photo, which repaints prices the gap may have hidden.
//! - A **loader** photographs its chain every [`IngestConfig::refresh_every`] and
//!   whenever its engine asks (stale feed, gap, manual). A failed load is logged and
//!   retried after a backoff; it never reaches the engine (all or nothing).
//! - A refused key (REST 401/403 or WebSocket `auth_failed`) stops ingestion with an
//!   error that says so; everything else is retried.
//!
//! What happened is published as an [`IngestStatus`] on a watch channel, every
//! [`IngestConfig::poll_every`]: epochs, hydration counts, feed and socket counters,
//! the subscription plan.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chainboard_engine::{
    BoardObserver, Engine, EngineConfig, EngineStats, PhotoOutcome, PhotoReason, PhotoRequest,
};
use chainboard_model::{ContractKey, EpochId, EpochReason, RootMap, Underlying};
use chainboard_recording::{Event, Feed as RecordedFeed, Recorder};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::feed::{Feed, FeedStats};
use chainboard_massive::backoff::{Backoff, BackoffConfig};
use chainboard_massive::plan::{BoardView, Planner, PlannerConfig};
use chainboard_massive::rest::{
    ApiKey, ChainFilter, FilterAnchor, LoadedChain, RestClient, RestConfig,
};
use chainboard_massive::socket::{
    self, Cluster, SocketConfig, SocketError, SocketEvent, SocketHandle, SocketStats,
    SubscriptionChange,
};

/// Epoch transitions kept in [`IngestStatus::transitions`].
const TRANSITIONS_KEPT: usize = 32;

/// Everything ingestion needs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// The underlyings, all on one options connection.
    pub underlyings: Vec<Underlying>,
    /// Root → underlying and settlement.
    pub roots: RootMap,
    /// The key, for REST and WebSocket.
    pub key: ApiKey,
    /// REST settings.
    pub rest: RestConfig,
    /// The `/options` connection.
    pub options_socket: SocketConfig,
    /// The `/indices` connection (index values).
    pub indices_socket: SocketConfig,
    /// Photo cadence without requests.
    pub refresh_every: Duration,
    /// Watchdog, status and re-plan cadence.
    pub poll_every: Duration,
    /// Market status cadence.
    pub market_status_every: Duration,
    /// Waits after a failed load.
    pub load_backoff: BackoffConfig,
    /// Engine settings (the same for every underlying).
    pub engine: EngineConfig,
    /// Subscription planning.
    pub planner: PlannerConfig,
    /// Server-side chain filters.
    pub filter: ChainFilter,
    /// Per underlying, the board to continue ([`Engine::resume_after`]): the epoch
    /// the store points at when this process takes the underlying over, and why its
    /// first epoch begins. Empty for a fresh start.
    pub resume: BTreeMap<Underlying, (Option<EpochId>, EpochReason)>,
}

impl IngestConfig {
    /// Defaults for `underlyings` against the given REST and WebSocket bases.
    pub fn new(rest_url: Url, ws_url: Url, key: ApiKey, underlyings: Vec<Underlying>) -> Self {
        Self {
            underlyings,
            roots: RootMap::default(),
            key,
            rest: RestConfig::new(rest_url),
            options_socket: SocketConfig::new(ws_url.clone(), Cluster::Options),
            indices_socket: SocketConfig::new(ws_url, Cluster::Indices),
            refresh_every: Duration::from_secs(30),
            poll_every: Duration::from_millis(250),
            market_status_every: Duration::from_secs(60),
            load_backoff: BackoffConfig::from_millis(1_000, 30_000),
            engine: EngineConfig::default(),
            planner: PlannerConfig::default(),
            filter: ChainFilter::default(),
            resume: BTreeMap::new(),
        }
    }
}

/// Why ingestion stopped.
#[derive(Debug, Clone, Error)]
pub enum IngestError {
    /// The REST API refused the key, or another fatal REST error.
    #[error("{0}")]
    Rest(String),
    /// The WebSocket refused the key.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// Misconfiguration.
    #[error("ingest setup: {0}")]
    Setup(String),
}

/// One underlying's board, for operators.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardStatus {
    /// The underlying.
    pub underlying: Underlying,
    /// The active epoch.
    pub epoch: Option<EpochId>,
    /// Why it began.
    pub reason: Option<EpochReason>,
    /// Contracts on the board.
    pub contracts: usize,
    /// The underlying's latest value.
    pub spot: Option<f64>,
    /// Milliseconds since the last live event for this underlying.
    pub silence_ms: i64,
    /// The engine's counters.
    pub stats: EngineStats,
}

/// An epoch transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new epoch.
    pub id: EpochId,
    /// Why.
    pub reason: EpochReason,
    /// The one it replaced.
    pub previous: Option<EpochId>,
    /// Contracts on the new board.
    pub contracts: usize,
    /// Contracts added and removed against the previous board.
    pub added: usize,
    /// See `added`.
    pub removed: usize,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// What ingestion has done, published every poll.
#[derive(Debug, Clone, Default)]
pub struct IngestStatus {
    /// One per underlying.
    pub boards: Vec<BoardStatus>,
    /// Recent epoch transitions, oldest first.
    pub transitions: VecDeque<Transition>,
    /// Frame-level counters.
    pub feed: FeedStats,
    /// The options connection.
    pub options_socket: SocketStats,
    /// The indices connection.
    pub indices_socket: SocketStats,
    /// Complete photos applied.
    pub loads_ok: u64,
    /// Loads that failed (after their retries); none reached an engine.
    pub loads_failed: u64,
    /// Page retries spent by successful loads.
    pub load_retries: u64,
    /// Gaps of the options feed (disconnects and overflows).
    pub gaps: u64,
    /// Contracts with a quote subscription.
    pub quoted: usize,
    /// Whether the market is open, as Massive's market status last said; `None`
    /// before it answered. A silent feed is a problem only while it is open.
    pub market_open: Option<bool>,
    /// The plan, as logged.
    pub plan: Option<String>,
    /// Set when ingestion stopped for good.
    pub fatal: Option<String>,
    /// Set when the indices connection stopped for good (a plan without it).
    pub indices_error: Option<String>,
    /// The core's clock at its last poll, Unix ms: the wall clock live, the
    /// recording's in a replay.
    pub clock_ms: i64,
}

impl IngestStatus {
    /// The board of `underlying`.
    pub fn board(&self, underlying: Underlying) -> Option<&BoardStatus> {
        self.boards.iter().find(|b| b.underlying == underlying)
    }
}

/// A running ingestion.
#[derive(Debug)]
pub struct IngestHandle {
    status: watch::Receiver<IngestStatus>,
    manual: mpsc::Sender<Underlying>,
    task: tokio::task::JoinHandle<Result<(), IngestError>>,
}

impl IngestHandle {
    /// A handle over a task that publishes `status` (a replay's).
    pub(crate) fn new(
        status: watch::Receiver<IngestStatus>,
        manual: mpsc::Sender<Underlying>,
        task: tokio::task::JoinHandle<Result<(), IngestError>>,
    ) -> Self {
        Self {
            status,
            manual,
            task,
        }
    }

    /// The latest status.
    pub fn status(&self) -> IngestStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status update.
    pub fn subscribe(&self) -> watch::Receiver<IngestStatus> {
        self.status.clone()
    }

    /// Asks for a manual epoch of `underlying`.
    pub async fn request_manual_epoch(&self, underlying: Underlying) -> bool {
        self.manual.send(underlying).await.is_ok()
    }

    /// Waits for ingestion to stop (live, it only stops on a fatal error or abort; a
    /// replay stops when its recording ends).
    pub async fn join(&mut self) -> Result<(), IngestError> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(IngestError::Setup(format!("ingest task failed: {e}"))),
        }
    }

    /// Stops ingestion and every task it started (loaders, sockets, poller).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for IngestHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Aborts the tasks ingestion spawned when ingestion itself ends or is aborted, so no
/// loader keeps calling Massive with the key after the service stopped.
struct Children(Vec<tokio::task::AbortHandle>);

impl Drop for Children {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// A loader's report.
enum LoadReport {
    Loaded(Box<LoadedChain>),
    Failed {
        underlying: Underlying,
        fatal: bool,
        error: String,
    },
}

/// Starts ingestion, handing every board change to `observer` and, when given,
/// every input to `recorder` (`chainboard_recording`). Must be called inside a
/// tokio runtime.
pub fn start(
    config: IngestConfig,
    observer: Option<Box<dyn BoardObserver>>,
    recorder: Option<Recorder>,
) -> Result<IngestHandle, IngestError> {
    if config.underlyings.is_empty() {
        return Err(IngestError::Setup("no underlyings".into()));
    }
    let mut rest_config = config.rest.clone();
    // A recording holds each photo as the pages Massive returned.
    rest_config.keep_bodies = recorder.is_some();
    let rest = RestClient::new(rest_config, config.key.clone())
        .map_err(|e| IngestError::Setup(e.to_string()))?;
    let (status_tx, status_rx) = watch::channel(IngestStatus::default());
    let (manual_tx, manual_rx) = mpsc::channel(8);
    let task = tokio::spawn(run(config, rest, observer, recorder, status_tx, manual_rx));
    Ok(IngestHandle {
        status: status_rx,
        manual: manual_tx,
        task,
    })
}

/// The clock at the edge: Unix milliseconds. The service's one reading of the wall
/// clock; the engines and models are handed its value.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The exchange date (America/New_York) at `now_ms`.
pub fn exchange_date(now_ms: i64) -> jiff::civil::Date {
    let ts = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    chainboard_quant::expiry::exchange_time_zone()
        .to_datetime(ts)
        .date()
}

async fn run(
    config: IngestConfig,
    rest: RestClient,
    observer: Option<Box<dyn BoardObserver>>,
    recorder: Option<Recorder>,
    status_tx: watch::Sender<IngestStatus>,
    manual_rx: mpsc::Receiver<Underlying>,
) -> Result<(), IngestError> {
    let mut children = Children(Vec::new());
    let (loads_tx, loads_rx) = mpsc::channel(config.underlyings.len() * 2);
    let mut loaders = Vec::new();
    let mut spots = Vec::new();
    for &u in &config.underlyings {
        let (req_tx, req_rx) = mpsc::channel(16);
        let (spot_tx, spot_rx) = watch::channel(None);
        let task = tokio::spawn(loader(
            rest.clone(),
            u,
            config.clone(),
            req_rx,
            spot_rx,
            loads_tx.clone(),
        ));
        children.0.push(task.abort_handle());
        loaders.push((u, req_tx));
        spots.push((u, spot_tx));
    }
    drop(loads_tx);
    let (market_tx, market_rx) = mpsc::channel(4);
    let poller = tokio::spawn(market_poller(
        rest.clone(),
        config.market_status_every,
        market_tx,
    ));
    children.0.push(poller.abort_handle());

    let (options, options_rx, options_task) = socket::spawn(
        config.options_socket.clone(),
        config.key.clone(),
        Vec::new(),
    );
    let index_params = config
        .underlyings
        .iter()
        .map(|u| format!("V.I:{u}"))
        .collect();
    let (indices, indices_rx, indices_task) = socket::spawn(
        config.indices_socket.clone(),
        config.key.clone(),
        index_params,
    );

    children.0.push(options_task.abort_handle());
    children.0.push(indices_task.abort_handle());
    let links = Links {
        loaders,
        spots,
        options,
        indices,
    };
    let mut core = Core::new(&config, observer, status_tx, Some(links));
    core.recorder = recorder;
    let result = core
        .run(
            config.poll_every,
            options_rx,
            (indices_rx, indices_task),
            loads_rx,
            market_rx,
            manual_rx,
        )
        .await;
    let result = match result {
        Err(CoreStop::OptionsSocketEnded) => match options_task.await {
            Ok(Err(e)) => Err(IngestError::Socket(e)),
            _ => Err(IngestError::Setup("options socket task ended".into())),
        },
        Err(CoreStop::Fatal(e)) => Err(e),
        Ok(()) => Ok(()),
    };
    if let Err(e) = &result {
        core.stopped(e);
    }
    if let Some(recorder) = core.recorder.take() {
        // Closing writes what is queued and the index; off the async threads.
        let _ = tokio::task::spawn_blocking(move || recorder.close()).await;
    }
    result
}

enum CoreStop {
    OptionsSocketEnded,
    Fatal(IngestError),
}

/// The live connections the core answers: the loaders it asks for photos, the
/// spots it tells them, the sockets it re-plans. A replay has none.
pub(crate) struct Links {
    loaders: Vec<(Underlying, mpsc::Sender<PhotoRequest>)>,
    spots: Vec<(Underlying, watch::Sender<Option<f64>>)>,
    options: SocketHandle,
    indices: SocketHandle,
}

/// The one writer of the engines: every input is handed to it with the time the
/// loop read for it, live (`Core::run`) or from a recording (`crate::replay`), and it
/// does the same with it either way.
pub(crate) struct Core {
    feed: Feed,
    planner: Planner,
    /// Each engine's board keys, cached per epoch for the planner.
    keys: Vec<(Underlying, EpochId, Vec<ContractKey>)>,
    links: Option<Links>,
    /// Downstream of the engines (the store writer, the models).
    observer: Option<Box<dyn BoardObserver>>,
    /// Where the inputs are recorded, when they are.
    recorder: Option<Recorder>,
    pub(crate) status: IngestStatus,
    status_tx: watch::Sender<IngestStatus>,
    /// Malformed frames are counted (`/metrics`) and logged at most once per window:
    /// a broken feed must not flood the log.
    malformed_log: Throttle,
    /// When the counts were last logged.
    last_log_ms: Option<i64>,
}

/// A warning that may repeat many times a second, logged at most once per window
/// with how many were left out since the last one.
#[derive(Debug)]
struct Throttle {
    window_ms: i64,
    last_ms: Option<i64>,
    suppressed: u64,
}

impl Throttle {
    fn every_ms(window_ms: i64) -> Self {
        Self {
            window_ms,
            last_ms: None,
            suppressed: 0,
        }
    }

    /// At `now_ms`: `Some(left out since the last log)` to log now, `None` to count
    /// this one as left out.
    fn allow(&mut self, now_ms: i64) -> Option<u64> {
        if self
            .last_ms
            .is_some_and(|last| now_ms.saturating_sub(last) < self.window_ms)
        {
            self.suppressed += 1;
            return None;
        }
        self.last_ms = Some(now_ms);
        Some(std::mem::take(&mut self.suppressed))
    }
}

impl Core {
    /// The engines of `config`'s underlyings (resumed where it says), the planner,
    /// and whatever is downstream.
    pub(crate) fn new(
        config: &IngestConfig,
        observer: Option<Box<dyn BoardObserver>>,
        status_tx: watch::Sender<IngestStatus>,
        links: Option<Links>,
    ) -> Self {
        let engines = config
            .underlyings
            .iter()
            .map(|&u| {
                let engine = Engine::new(u, config.engine);
                match config.resume.get(&u) {
                    Some(&(last, reason)) => engine.resume_after(last, reason),
                    None => engine,
                }
            })
            .collect();
        Self {
            feed: Feed::new(engines, config.roots.clone()),
            planner: Planner::new(config.planner.clone()),
            keys: Vec::new(),
            links,
            observer,
            recorder: None,
            status: IngestStatus::default(),
            status_tx,
            malformed_log: Throttle::every_ms(10_000),
            last_log_ms: None,
        }
    }

    async fn run(
        &mut self,
        poll_every: Duration,
        mut options_rx: mpsc::Receiver<SocketEvent>,
        indices: (
            mpsc::Receiver<SocketEvent>,
            tokio::task::JoinHandle<Result<(), SocketError>>,
        ),
        mut loads_rx: mpsc::Receiver<LoadReport>,
        mut market_rx: mpsc::Receiver<bool>,
        mut manual_rx: mpsc::Receiver<Underlying>,
    ) -> Result<(), CoreStop> {
        let (mut indices_rx, indices_task) = indices;
        // Until the indices connection ends; it is optional (photos carry the value).
        let mut indices_task = Some(indices_task);
        let mut poll = tokio::time::interval(poll_every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = options_rx.recv() => {
                    let now = now_ms();
                    match ev {
                        Some(SocketEvent::Frame(f)) => {
                            self.record(now, || Event::Frame { feed: RecordedFeed::Options, text: f.bytes() });
                            self.frame(f.as_str(), now);
                        }
                        Some(ev) => {
                            let control = Control::of(ev);
                            self.record(now, || control.event());
                            self.options_control(control, now);
                        }
                        None => return Err(CoreStop::OptionsSocketEnded),
                    }
                },
                ev = indices_rx.recv(), if indices_task.is_some() => {
                    let now = now_ms();
                    match ev {
                        Some(SocketEvent::Frame(f)) => {
                            self.record(now, || Event::Frame { feed: RecordedFeed::Indices, text: f.bytes() });
                            self.frame(f.as_str(), now);
                        }
                        Some(SocketEvent::Disconnected { reason, .. }) => {
                            let reason = reason.to_string();
                            self.record(now, || Event::Disconnected { feed: RecordedFeed::Indices, reason: reason.clone() });
                            Self::indices_disconnected(&reason);
                        }
                        Some(_) => {}
                        None => {
                            // An account without the indices cluster gets auth_failed there;
                            // the underlying's value then comes from the chain photos alone.
                            let error = match indices_task.take() {
                                Some(task) => match task.await {
                                    Ok(Err(e)) => e.to_string(),
                                    _ => "indices socket task ended".to_owned(),
                                },
                                None => String::new(),
                            };
                            self.record(now, || Event::FeedDown { feed: RecordedFeed::Indices, error: error.clone() });
                            self.indices_down(error);
                        }
                    }
                },
                report = loads_rx.recv() => {
                    let now = now_ms();
                    match report {
                        Some(LoadReport::Loaded(mut chain)) => {
                            let pages = std::mem::take(&mut chain.bodies);
                            self.record(now, || Event::Photo {
                                underlying: chain.snapshot.underlying.to_string(),
                                taken_at_ms: chain.snapshot.taken_at_ms,
                                retries: chain.retries,
                                pages,
                            });
                            self.photo(*chain, now);
                        }
                        Some(LoadReport::Failed { underlying, fatal, error }) => {
                            self.record(now, || Event::LoadFailed { underlying: underlying.to_string(), fatal, error: error.clone() });
                            if fatal {
                                return Err(CoreStop::Fatal(IngestError::Rest(error)));
                            }
                            self.load_failed();
                        }
                        None => return Err(CoreStop::Fatal(IngestError::Setup("every loader stopped".into()))),
                    }
                },
                Some(open) = market_rx.recv() => {
                    let now = now_ms();
                    self.record(now, || Event::Market { open });
                    self.market(open, now);
                },
                Some(u) = manual_rx.recv() => {
                    let now = now_ms();
                    self.record(now, || Event::Manual { underlying: u.to_string() });
                    self.manual(u, now);
                },
                _ = poll.tick() => {
                    let now = now_ms();
                    self.record(now, || Event::Poll);
                    self.poll(now);
                }
            }
        }
    }

    /// Records an input, when recording; `event` is only built then.
    fn record(&self, now: i64, event: impl FnOnce() -> Event) {
        if let Some(recorder) = &self.recorder {
            recorder.record(now, event());
        }
    }

    /// A WebSocket text frame of either connection.
    pub(crate) fn frame(&mut self, frame: &str, now: i64) {
        if let Err(e) = self.feed.apply_frame(frame, now)
            && let Some(suppressed) = self.malformed_log.allow(now)
        {
            tracing::warn!(error = %e, suppressed, "malformed frame (later ones within 10 s are counted, not logged)");
        }
    }

    /// What the options connection says besides frames.
    pub(crate) fn options_control(&mut self, control: Control, now: i64) {
        match control {
            Control::Connected => {
                // The socket resubscribes what it holds; nothing else to do.
            }
            Control::Overflow(dropped) => {
                tracing::warn!(dropped, "options frames dropped; treating as a gap");
                self.gap(now);
            }
            Control::Disconnected(reason) => {
                tracing::warn!(%reason, "options feed disconnected; treating as a gap");
                self.gap(now);
            }
        }
    }

    pub(crate) fn indices_disconnected(reason: &str) {
        tracing::info!(%reason, "indices feed disconnected; chain photos still carry the value");
    }

    pub(crate) fn indices_down(&mut self, error: String) {
        tracing::warn!(%error, "indices feed unavailable; using chain photos for the underlying's value");
        self.status.indices_error = Some(error);
    }

    /// A load that failed after its retries (nothing reached an engine).
    pub(crate) fn load_failed(&mut self) {
        self.status.loads_failed += 1;
    }

    pub(crate) fn market(&mut self, open: bool, now: i64) {
        self.status.market_open = Some(open);
        for e in self.feed.engines_mut() {
            e.set_market_open(open, now);
        }
    }

    pub(crate) fn manual(&mut self, u: Underlying, now: i64) {
        if let Some(req) = self.feed.engine_mut(u).map(|e| e.request_manual_epoch(now)) {
            self.request(req);
        }
    }

    /// The loop's poll: watchdogs, re-plan, the observers' ticks (the store's
    /// write-behind, the models), the status.
    pub(crate) fn poll(&mut self, now: i64) {
        let requests: Vec<PhotoRequest> = self
            .feed
            .engines_mut()
            .iter_mut()
            .filter_map(|e| e.poll(now))
            .collect();
        for req in requests {
            tracing::warn!(underlying = %req.underlying, "feed silent; asking for a fresh photo");
            self.request(req);
        }
        self.replan(now);
        if let Some(observer) = self.observer.as_mut() {
            for engine in self.feed.engines_mut() {
                observer.tick(engine, now);
            }
        }
        self.publish(now);
        let last = *self.last_log_ms.get_or_insert(now);
        if now - last >= 10_000 {
            self.last_log_ms = Some(now);
            self.log_counts();
        }
    }

    /// Ingestion stopped for good: the status says why.
    pub(crate) fn stopped(&mut self, e: &IngestError) {
        tracing::error!(error = %e, "ingestion stopped");
        self.status.fatal = Some(e.to_string());
        let _ = self.status_tx.send(self.status.clone());
    }

    fn gap(&mut self, now: i64) {
        self.status.gaps += 1;
        let requests: Vec<PhotoRequest> = self
            .feed
            .engines_mut()
            .iter_mut()
            .map(|e| e.on_feed_gap(now))
            .collect();
        for req in requests {
            self.request(req);
        }
    }

    fn request(&self, req: PhotoRequest) {
        if let Some(links) = &self.links
            && let Some((_, tx)) = links.loaders.iter().find(|(u, _)| *u == req.underlying)
        {
            // A full queue already holds a request that this one would duplicate.
            let _ = tx.try_send(req);
        }
    }

    /// A complete chain photo; the epoch it started, if it started one.
    pub(crate) fn photo(&mut self, chain: LoadedChain, now: i64) -> Option<EpochId> {
        self.status.loads_ok += 1;
        self.status.load_retries += u64::from(chain.retries);
        let underlying = chain.snapshot.underlying;
        let engine = self.feed.engine_mut(underlying)?;
        let mut started = None;
        match engine.on_photo(chain.snapshot, now) {
            PhotoOutcome::Started(s) => {
                tracing::info!(
                    epoch = %s.id,
                    reason = %s.reason,
                    contracts = s.contracts,
                    added = s.diff.added.len(),
                    removed = s.diff.removed.len(),
                    previous = ?s.previous.map(|p| p.to_string()),
                    "epoch started"
                );
                self.record(now, || Event::EpochStarted {
                    id: s.id.to_string(),
                    reason: s.reason.as_str().to_owned(),
                });
                started = Some(s.id);
                self.status.transitions.push_back(Transition {
                    id: s.id,
                    reason: s.reason,
                    previous: s.previous,
                    contracts: s.contracts,
                    added: s.diff.added.len(),
                    removed: s.diff.removed.len(),
                    at_ms: now,
                });
                while self.status.transitions.len() > TRANSITIONS_KEPT {
                    self.status.transitions.pop_front();
                }
                if let (Some(observer), Some(engine)) =
                    (self.observer.as_mut(), self.feed.engine_mut(underlying))
                {
                    observer.epoch_started(engine, now);
                }
                self.replan(now);
            }
            PhotoOutcome::Refreshed { id, changed } => {
                tracing::debug!(epoch = %id, changed, "photo refreshed the board in place");
            }
            PhotoOutcome::Held { active, proposed } => {
                tracing::warn!(%underlying, active, proposed, "photo would shrink the board; held until confirmed");
            }
            PhotoOutcome::Rejected(why) => {
                tracing::warn!(%underlying, ?why, "photo rejected");
            }
        }
        if let Some(links) = &self.links
            && let Some(engine) = self.feed.engine_mut(underlying)
            && let Some((value, _)) = engine.epoch().and_then(|e| e.underlying_value())
            && let Some((_, tx)) = links.spots.iter().find(|(u, _)| *u == underlying)
        {
            let _ = tx.send(Some(value));
        }
        started
    }

    /// Re-plans quote subscriptions when an epoch changed or a spot left its band.
    fn replan(&mut self, now: i64) {
        for e in self.feed.engines() {
            let Some(epoch) = e.epoch() else { continue };
            let fresh = self
                .keys
                .iter()
                .any(|(u, id, _)| *u == e.underlying() && *id == epoch.id());
            if !fresh {
                self.keys.retain(|(u, _, _)| *u != e.underlying());
                let keys = epoch.board().contracts().iter().map(|g| g.key).collect();
                self.keys.push((e.underlying(), epoch.id(), keys));
            }
        }
        let spots: Vec<Option<f64>> = self
            .keys
            .iter()
            .map(|(u, _, _)| {
                self.feed
                    .engines()
                    .iter()
                    .find(|e| e.underlying() == *u)
                    .and_then(|e| e.epoch())
                    .and_then(|ep| ep.underlying_value())
                    .map(|(v, _)| v)
            })
            .collect();
        let boards: Vec<BoardView<'_>> = self
            .keys
            .iter()
            .zip(&spots)
            .map(|((u, id, keys), spot)| BoardView {
                underlying: *u,
                epoch: id,
                contracts: keys,
                spot: *spot,
            })
            .collect();
        if boards.is_empty() {
            return;
        }
        let Some(change) = self.planner.update(&boards, exchange_date(now)) else {
            return;
        };
        let summary = change.summary.to_string();
        tracing::info!(
            subscribe = change.subscribe.len(),
            unsubscribe = change.unsubscribe.len(),
            plan = %summary,
            "subscription plan"
        );
        self.status.plan = Some(summary);
        self.status.quoted = self.planner.current().quoted().len();
        if let Some(links) = &self.links {
            links.options.update(SubscriptionChange {
                subscribe: change.subscribe,
                unsubscribe: change.unsubscribe,
            });
        }
    }

    fn publish(&mut self, now: i64) {
        self.status.clock_ms = now;
        self.status.boards = self
            .feed
            .engines()
            .iter()
            .map(|e| BoardStatus {
                underlying: e.underlying(),
                epoch: e.epoch().map(|ep| ep.id()),
                reason: e.epoch().map(|ep| ep.reason()),
                contracts: e.epoch().map_or(0, |ep| ep.len()),
                spot: e
                    .epoch()
                    .and_then(|ep| ep.underlying_value())
                    .map(|(v, _)| v),
                silence_ms: e.feed_silence_ms(now),
                stats: *e.stats(),
            })
            .collect();
        self.status.feed = *self.feed.stats();
        if let Some(links) = &self.links {
            self.status.options_socket = links.options.stats();
            self.status.indices_socket = links.indices.stats();
        }
        let _ = self.status_tx.send(self.status.clone());
    }

    fn log_counts(&self) {
        for b in &self.status.boards {
            tracing::info!(
                underlying = %b.underlying,
                epoch = ?b.epoch.map(|e| e.to_string()),
                contracts = b.contracts,
                quotes = b.stats.quotes,
                trades = b.stats.trades,
                geometry_miss = b.stats.geometry_miss,
                silence_ms = b.silence_ms,
                "hydration"
            );
        }
    }
}

/// What the options connection says besides frames, as the core acts on it.
#[derive(Debug, Clone)]
pub(crate) enum Control {
    Connected,
    Overflow(u64),
    Disconnected(String),
}

impl Control {
    fn of(ev: SocketEvent) -> Self {
        match ev {
            // Frames are applied, never made controls; a stray one changes nothing.
            SocketEvent::Connected { .. } | SocketEvent::Frame(_) => Control::Connected,
            SocketEvent::Overflow { dropped } => Control::Overflow(dropped),
            SocketEvent::Disconnected { reason, .. } => Control::Disconnected(reason.to_string()),
        }
    }

    /// As recorded.
    fn event(&self) -> Event {
        let feed = RecordedFeed::Options;
        match self {
            Control::Connected => Event::Connected { feed },
            Control::Overflow(dropped) => Event::Overflow { dropped: *dropped },
            Control::Disconnected(reason) => Event::Disconnected {
                feed,
                reason: reason.clone(),
            },
        }
    }
}

/// Photographs one underlying's chain on a cadence and on request.
async fn loader(
    rest: RestClient,
    underlying: Underlying,
    config: IngestConfig,
    mut requests: mpsc::Receiver<PhotoRequest>,
    spot: watch::Receiver<Option<f64>>,
    out: mpsc::Sender<LoadReport>,
) {
    let mut anchor = FilterAnchor::new(config.filter);
    let mut failures = Backoff::unseeded(config.load_backoff);
    let mut why = "startup";
    loop {
        let taken_at = now_ms();
        let mut known = *spot.borrow();
        // Before the first photo the spot comes from the indices snapshot, so even the
        // first load can use a strike window.
        if known.is_none() && config.filter.strike_window.is_some() {
            match rest.index_values(&[underlying]).await {
                Ok(values) => known = values.first().map(|v| v.value),
                Err(e) => {
                    tracing::warn!(%underlying, error = %e, "index value unavailable; loading every strike")
                }
            }
        }
        let query = anchor.query(known, exchange_date(taken_at));
        tracing::debug!(%underlying, why, "loading chain");
        let report = match rest
            .load_chain(underlying, &config.roots, &query, taken_at)
            .await
        {
            Ok(chain) => {
                failures.reset();
                LoadReport::Loaded(Box::new(chain))
            }
            Err(e) => {
                tracing::error!(%underlying, error = %e, "chain load failed; nothing applied");
                LoadReport::Failed {
                    underlying,
                    fatal: e.is_fatal(),
                    error: e.to_string(),
                }
            }
        };
        let failed = matches!(report, LoadReport::Failed { .. });
        let fatal = matches!(report, LoadReport::Failed { fatal: true, .. });
        if out.send(report).await.is_err() || fatal {
            return;
        }
        let wait = if failed {
            failures.next_delay().min(config.refresh_every)
        } else {
            config.refresh_every
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => why = "refresh",
            req = requests.recv() => {
                let Some(req) = req else { return };
                why = match req.reason {
                    PhotoReason::StaleFeed => "stale feed",
                    PhotoReason::FeedGap => "feed gap",
                    PhotoReason::Manual => "manual",
                };
                // Requests queued meanwhile are answered by this same photo.
                while requests.try_recv().is_ok() {}
            }
        }
    }
}

/// Reports whether the market is open, now and then every `every`.
async fn market_poller(rest: RestClient, every: Duration, out: mpsc::Sender<bool>) {
    loop {
        match rest.market_open().await {
            Ok(open) => {
                if out.send(open).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "market status unavailable; keeping the last one"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn a_throttled_warning_logs_once_a_window_with_what_it_left_out() {
        let mut t = Throttle::every_ms(10_000);
        assert_eq!(t.allow(0), Some(0));
        assert_eq!(t.allow(1), None);
        assert_eq!(t.allow(9_999), None);
        assert_eq!(t.allow(10_000), Some(2));
        assert_eq!(t.allow(10_001), None);
        assert_eq!(t.allow(40_000), Some(1));
        // A clock that steps back logs nothing new and counts it.
        assert_eq!(t.allow(39_000), None);
    }
}

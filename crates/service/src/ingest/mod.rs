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
    BoardObserver, EngineConfig, EngineStats, FlowStats, PhotoReason, PhotoRequest,
};
use chainboard_model::{EpochId, EpochReason, RootMap, Underlying};
use chainboard_recording::Recorder;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::feed::FeedStats;
use chainboard_massive::backoff::{Backoff, BackoffConfig};
use chainboard_massive::plan::PlannerConfig;
use chainboard_massive::rest::{
    ApiKey, ChainFilter, FilterAnchor, LoadedChain, RestClient, RestConfig,
};
use chainboard_massive::socket::{self, Cluster, SocketConfig, SocketError, SocketStats};

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
    /// The session's customer flow counters.
    pub flow: FlowStats,
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

mod core;

pub(crate) use core::{Control, Core};
use core::{CoreStop, Links};

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

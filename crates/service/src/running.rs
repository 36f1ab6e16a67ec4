//! The whole service, started and stopped as one: the store's write-behind, the
//! models and their publisher, ingestion, and the HTTP server over them.
//!
//! [`Service::start`] is what `chainboard run`, `chainboard demo` and `chainboard
//! replay` call (the inputs from Massive or from a recording, [`Inputs`]), and what a
//! test calls in-process to get the real thing on a loopback port. Stopping goes in
//! the order that keeps the board's last writes: ingestion first (its task owns the
//! engines and drops their observers, so the writer drains what it was handed and
//! ends), then the writer's last writes (waited for, at most 5 s) and, when
//! recording, the recorder's (its last second and its segment's closed index, at
//! most 5 s), a last status saying the service stopped, then the browser streams
//! (closed with 1001), then the HTTP server. The publisher is not waited for: a tick being written is superseded
//! anyway, but GEX history entries still held from a store outage are lost with the
//! process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chainboard_analytics::{ModelConfig, ModelObserver};
use chainboard_engine::BoardObserver;
use chainboard_model::Underlying;
use chainboard_quant::exposure::DealerSign;
use chainboard_server::{AppState, ServerConfig};
use chainboard_server::{ServiceStatus, Source};
use chainboard_store::writer::{StoreHealth, WriterConfig};
use chainboard_store::{Fences, KeySchema, Op, Store, StoreError};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use chainboard_recording::{
    Header, Recorder, RecorderConfig, RecorderDone, RecorderError, RecorderStats,
};

use crate::history::HistoryReader;
use crate::ingest::{self, IngestConfig, IngestError, IngestHandle, IngestStatus};
use crate::local::{LocalSource, TickTimes, TimedModels};
use crate::publisher::{self, Published, PublisherConfig, PublisherHandle};
use crate::remote::RedisSource;
use crate::replay::{self, ReplayConfig, ReplayProgress};
use crate::worker::LeaseBoard;

/// How long stopping waits for the writer to hand its last batches to the store.
const WRITER_FLUSH: Duration = Duration::from_secs(5);
/// How long stopping waits for the browser streams to close.
const STREAMS_CLOSE: Duration = Duration::from_secs(1);
/// How long stopping waits for the HTTP server to finish its requests.
const HTTP_STOP: Duration = Duration::from_secs(2);
/// How often the status is written to the store for `serve` processes.
pub(crate) const STATUS_WRITE_EVERY: Duration = Duration::from_secs(1);
/// The status key's TTL: a reader never sees a status older than this, and a service
/// that stopped writing it is seen as gone.
pub(crate) const STATUS_TTL: Duration = Duration::from_secs(5);

/// How the models are computed and published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSettings {
    /// The continuous annual rate.
    pub rate: f64,
    /// The dividend yield; `None` for each index's own.
    pub div_yield: Option<f64>,
    /// Which side dealers are assumed to hold.
    pub dealer_sign: DealerSign,
    /// Milliseconds between model ticks.
    pub tick_ms: i64,
    /// Top flow's window, milliseconds.
    pub flow_window_ms: i64,
    /// The snapshot publisher.
    pub publisher: PublisherConfig,
}

impl Default for ModelSettings {
    /// A 4% rate, each index's dividend yield, dealers long calls, a tick a second,
    /// top flow over 15 minutes, a session of history.
    fn default() -> Self {
        Self {
            rate: 0.04,
            div_yield: None,
            dealer_sign: DealerSign::CallsLong,
            tick_ms: 1_000,
            flow_window_ms: 15 * 60_000,
            publisher: PublisherConfig::default(),
        }
    }
}

impl ModelSettings {
    /// The models' observer, publishing through `publisher`.
    pub fn observer(&self, publisher: &PublisherHandle) -> ModelObserver {
        let (rate, div_yield, dealer_sign) = (self.rate, self.div_yield, self.dealer_sign);
        let flow_window_ms = self.flow_window_ms;
        ModelObserver::with_configs(
            self.tick_ms,
            move |u| {
                let base = ModelConfig::for_underlying(u);
                ModelConfig {
                    rate,
                    div_yield: div_yield.unwrap_or(base.div_yield),
                    dealer_sign,
                    flow_window_ms,
                    ..base
                }
            },
            publisher.sink(),
        )
    }
}

/// Where the service's inputs come from.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// Massive: the vendor's addresses and key, the underlyings, the engines.
    Massive(Box<IngestConfig>),
    /// A recording, replayed with its own clock ([`crate::replay`]).
    Replay(ReplayConfig),
}

impl Inputs {
    /// The underlyings ingested.
    pub fn underlyings(&self) -> Vec<Underlying> {
        match self {
            Inputs::Massive(ingest) => ingest.underlyings.clone(),
            Inputs::Replay(replay) => replay::recorded(&replay.recording)
                .map(|(u, _)| u)
                .unwrap_or_default(),
        }
    }
}

/// Everything the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where the inputs come from.
    pub inputs: Inputs,
    /// Record every input into this directory (Massive's inputs only).
    pub record: Option<RecorderConfig>,
    /// The epoch substrate, connected ([`Store::connect`]); a Redis that does not
    /// answer yet is retried by the writer.
    pub store: Store,
    /// The substrate's write-behind.
    pub writer: WriterConfig,
    /// The models and their publisher.
    pub models: ModelSettings,
    /// Where the HTTP server listens (port 0: any free port, see
    /// [`Service::address`]); `None` for no HTTP server (an ingestion worker, whose
    /// process serves over the store instead).
    pub listen: Option<SocketAddr>,
    /// Its limits and access rules.
    pub http: ServerConfig,
    /// The leases every write is fenced by ([`chainboard_store::lease`]);
    /// [`Fences::none`] when this is the store's only writer.
    pub fences: Fences,
    /// Where every published tick is also sent, from the first
    /// ([`PublisherHandle::tap`]).
    pub tap: Option<mpsc::UnboundedSender<Arc<Published>>>,
}

/// Why the service did not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The HTTP address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Ingestion refused its configuration.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The recording cannot be written.
    #[error(transparent)]
    Record(#[from] RecorderError),
}

/// What stopping did.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// Whether the writer handed its last writes to the store in time.
    pub flushed: bool,
    /// Ingestion's last status.
    pub status: IngestStatus,
    /// The write-behind's last counters.
    pub store_health: Arc<StoreHealth>,
    /// The publisher, with its last tick per underlying and its counters.
    pub publisher: PublisherHandle,
    /// The recorder's counters, when recording.
    pub recorder: Option<Arc<RecorderStats>>,
    /// How far the replay got, when replaying.
    pub replay: Option<Arc<ReplayProgress>>,
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    address: Option<SocketAddr>,
    store: Store,
    ingest: IngestHandle,
    writer_task: JoinHandle<()>,
    health: Arc<StoreHealth>,
    publisher: PublisherHandle,
    http: Option<Http>,
    /// Writes [`ServiceStatus`](chainboard_server::ServiceStatus) to the store for
    /// `serve` processes.
    status_writer: JoinHandle<()>,
    /// What it writes, and how (the last status is written when stopping).
    source: LocalSource,
    status: StatusWriter,
    recorder: Option<Arc<RecorderStats>>,
    /// Waits for the recorder's last writes when stopping.
    recorder_done: Option<RecorderDone>,
    replay: Option<Arc<ReplayProgress>>,
}

impl Service {
    /// Binds the HTTP address (if any), starts the writer, the publisher, ingestion
    /// and the server, on the current Tokio runtime.
    pub async fn start(config: ServiceConfig) -> Result<Self, StartError> {
        let ServiceConfig {
            inputs,
            record,
            store,
            writer,
            models,
            listen,
            http: mut http_config,
            fences,
            tap,
        } = config;
        let listener = match listen {
            Some(listen) => Some(bind(listen, &mut http_config).await?),
            None => None,
        };
        if let Err(e) = store.ping().await {
            tracing::warn!(store = %store.describe(), error = %e, "store unavailable; running in memory until it answers");
        }
        tracing::info!(store = %store.describe(), "epoch substrate");
        let (writer, writer_task) =
            chainboard_store::writer::spawn_fenced(store.clone(), writer, fences.clone());
        let health = writer.health().clone();
        let publisher = publisher::spawn_fenced(store.clone(), models.publisher, fences.clone());
        if let Some(tap) = tap {
            publisher.tap(tap);
        }
        let ticks = Arc::new(TickTimes::default());
        let timed = TimedModels::new(models.observer(&publisher), ticks.clone());
        let observers: Vec<Box<dyn BoardObserver>> = vec![Box::new(writer), Box::new(timed)];
        let observers: Box<dyn BoardObserver> = Box::new(observers);
        let symbols = inputs.underlyings();
        let (ingest, recording, replay) = match inputs {
            Inputs::Massive(ingest_config) => {
                tracing::info!(
                    rest = %ingest_config.rest.rest_url,
                    ws = %ingest_config.options_socket.ws_url,
                    symbols = ?symbols.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>(),
                    "starting ingestion"
                );
                let recorder = match record {
                    Some(record) => Some(start_recorder(record, &ingest_config, &models)?),
                    None => None,
                };
                let stats = recorder.as_ref().map(|r| (r.stats().clone(), r.done()));
                let ingest = ingest::start(*ingest_config, Some(observers), recorder)?;
                (ingest, stats, None)
            }
            Inputs::Replay(replay_config) => {
                if record.is_some() {
                    return Err(StartError::Ingest(IngestError::Setup(
                        "a replay is not recorded again: its recording is the record".into(),
                    )));
                }
                tracing::info!(
                    recording = %replay_config.recording.dir().display(),
                    symbols = ?symbols.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>(),
                    "starting a replay"
                );
                let (ingest, progress) =
                    replay::start(replay_config, Some(observers), publisher.clone())?;
                (ingest, None, Some(progress))
            }
        };
        let (recorder, recorder_done) = recording.unzip();
        let schema = models.publisher.schema;
        let source = LocalSource::new(
            publisher.clone(),
            ingest.subscribe(),
            health.clone(),
            store.describe(),
            ticks,
            HistoryReader::new(store.clone(), schema),
        )
        .with_recorder(recorder.clone())
        .with_replay(replay.is_some());
        let status = StatusWriter {
            store: store.clone(),
            schema,
            fences: fences.clone(),
            symbols: symbols.clone(),
        };
        let status_writer = tokio::spawn(status.clone().run(source.clone()));
        let (http, address) = match listener {
            Some((listener, address)) => {
                let state = AppState::new(symbols, Arc::new(source.clone()), http_config);
                tracing::info!(%address, "web UI and API");
                (Some(Http::spawn(listener, state)), Some(address))
            }
            None => (None, None),
        };
        Ok(Self {
            address,
            store,
            ingest,
            writer_task,
            health,
            publisher,
            http,
            status_writer,
            source,
            status,
            recorder,
            recorder_done,
            replay,
        })
    }

    /// How far the replay got; `None` unless replaying.
    pub fn replay(&self) -> Option<&Arc<ReplayProgress>> {
        self.replay.as_ref()
    }

    /// Where the HTTP server listens; `None` without one.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// The publisher: each symbol's latest tick, typed and as documents.
    pub fn publisher(&self) -> &PublisherHandle {
        &self.publisher
    }

    /// Ingestion's status now.
    pub fn status(&self) -> IngestStatus {
        self.ingest.status()
    }

    /// The epoch substrate's write-behind health.
    pub fn store_health(&self) -> &Arc<StoreHealth> {
        &self.health
    }

    /// Resolves if ingestion stops by itself: only for good (a refused key), with
    /// the reason. Cancel-safe; once it has resolved, only [`Service::stop`] is
    /// left to call.
    pub async fn ingestion_ended(&mut self) -> Result<(), IngestError> {
        self.ingest.join().await
    }

    /// Stops everything in order (see the module docs).
    pub async fn stop(self) -> Stopped {
        self.ingest.abort();
        self.status_writer.abort();
        // Readers of the store learn at once that the service is gone, rather than
        // when the last status expires.
        let mut last = self.source.status();
        last.fatal = Some("the service stopped".to_owned());
        self.status.write(&last).await;
        let flushed = tokio::time::timeout(WRITER_FLUSH, self.writer_task)
            .await
            .is_ok();
        if let Some(done) = self.recorder_done {
            // The recording's last second and its closed index, before the process
            // may exit.
            let waited = tokio::task::spawn_blocking(move || done.wait());
            if tokio::time::timeout(WRITER_FLUSH, waited).await.is_err() {
                tracing::warn!("the recorder did not finish its last writes in time");
            }
        }
        if !flushed {
            tracing::warn!(store = %self.store.describe(), "the store did not take the last writes in time");
        }
        if let Some(http) = self.http {
            http.stop().await;
        }
        Stopped {
            flushed,
            status: self.ingest.status(),
            store_health: self.health,
            publisher: self.publisher,
            recorder: self.recorder,
            replay: self.replay,
        }
    }
}

/// Opens the recording with a header that says what a replay needs to do what this
/// run does (the underlyings, the engines' and the models' settings).
fn start_recorder(
    config: RecorderConfig,
    ingest: &IngestConfig,
    models: &ModelSettings,
) -> Result<Recorder, StartError> {
    let settings = replay::RecordedSettings::of(ingest, models);
    let header = Header {
        format: chainboard_recording::FORMAT_VERSION,
        writer: format!("chainboard {}", env!("CARGO_PKG_VERSION")),
        started_ms: ingest::now_ms(),
        underlyings: ingest.underlyings.iter().map(|u| u.to_string()).collect(),
        settings: serde_json::to_value(settings).unwrap_or_default(),
    };
    let dir = config.dir.display().to_string();
    let recorder = Recorder::start(config, header)?;
    tracing::info!(%dir, "recording every input");
    Ok(recorder)
}

/// Writes the service's status to the store for processes that serve the board from
/// it (`chainboard serve`, the HTTP side of ingestion workers): one key per
/// underlying, each fenced by that underlying's lease, so a reader learns each
/// board's state from the process that writes it.
#[derive(Debug, Clone)]
struct StatusWriter {
    store: Store,
    schema: KeySchema,
    fences: Fences,
    symbols: Vec<Underlying>,
}

impl StatusWriter {
    /// Every [`STATUS_WRITE_EVERY`], with [`STATUS_TTL`]. A failed write is
    /// superseded by the next; the store's health already says why.
    async fn run(self, source: LocalSource) {
        let mut every = tokio::time::interval(STATUS_WRITE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.write(&source.status()).await;
        }
    }

    /// Writes `status` under each underlying's key with [`STATUS_TTL`].
    async fn write(&self, status: &ServiceStatus) {
        let value = match serde_json::to_string(status) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "the status does not serialize");
                return;
            }
        };
        for &symbol in &self.symbols {
            let mut batch = self.fences.batch(symbol);
            batch.push(Op::Set {
                key: self.schema.service_status(symbol),
                value: value.clone(),
                ttl: Some(STATUS_TTL),
            });
            if let Err(StoreError::Fenced) = self.store.apply(&batch).await {
                self.fences.refuse(symbol);
            }
        }
    }
}

/// What a serving process needs: the HTTP side alone, over the store.
#[derive(Debug)]
pub struct ServeConfig {
    /// The store the service publishes to (Redis, for another process to read).
    pub store: Store,
    /// The underlyings to serve.
    pub symbols: Vec<Underlying>,
    /// How the service spells its keys.
    pub schema: KeySchema,
    /// Where the HTTP server listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Its limits and access rules.
    pub http: ServerConfig,
    /// An ingestion worker's own leases, shown in the status it serves; `None` for
    /// `chainboard serve`.
    pub leases: Option<Arc<LeaseBoard>>,
}

/// A running HTTP side over the store ([`RedisSource`]): the web UI, the API, the
/// stream and metrics, with no state but caches. Any number of these can serve one
/// service's board.
#[derive(Debug)]
pub struct Serving {
    address: SocketAddr,
    http: Http,
}

impl Serving {
    /// Binds the address and starts following the store and serving.
    pub async fn start(config: ServeConfig) -> Result<Self, StartError> {
        let ServeConfig {
            store,
            symbols,
            schema,
            listen,
            http: mut http_config,
            leases,
        } = config;
        let (listener, address) = bind(listen, &mut http_config).await?;
        if let Err(e) = store.ping().await {
            tracing::warn!(store = %store.describe(), error = %e, "store unavailable; serving what it has once it answers");
        }
        let source = RedisSource::start(store, &symbols, schema, leases);
        let state = AppState::new(symbols, Arc::new(source), http_config);
        let http = Http::spawn(listener, state);
        tracing::info!(%address, "web UI and API over the store");
        Ok(Self { address, http })
    }

    /// Where the HTTP server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes the browser streams (1001) and stops the HTTP server.
    pub async fn stop(self) {
        self.http.stop().await;
    }
}

/// Binds `listen` (an error names the address) and tells the access rules the
/// address bound: port 0 becomes the port the system chose, which the loopback Host
/// and Origin checks must accept.
async fn bind(
    listen: SocketAddr,
    http: &mut ServerConfig,
) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Listen {
        address: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(failed)?;
    let address = listener.local_addr().map_err(failed)?;
    http.access.listening_on(address);
    Ok((listener, address))
}

/// The HTTP server over an [`AppState`], stopped gracefully.
#[derive(Debug)]
struct Http {
    state: AppState,
    task: JoinHandle<std::io::Result<()>>,
    /// Tells the server to stop accepting and finish its requests.
    stop: oneshot::Sender<()>,
}

impl Http {
    fn spawn(listener: tokio::net::TcpListener, state: AppState) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chainboard_server::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self { state, task, stop }
    }

    /// Closes the browser streams (1001), then stops the server, each within its
    /// grace.
    async fn stop(self) {
        self.state.close_streams(STREAMS_CLOSE).await;
        let _ = self.stop.send(());
        match tokio::time::timeout(HTTP_STOP, self.task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server task failed"),
            Ok(Ok(Ok(()))) | Err(_) => {}
        }
    }
}

//! Replay: a recording (`chainboard_recording`) driven through the same ingestion
//! core as a live run, with the recording's clock.
//!
//! Each record is handed to the core exactly as the live loop handed it, with the
//! time the live loop read for it: frames to the feed, photos (re-normalized from the
//! pages Massive returned) to the engines, polls to the watchdogs, the store's
//! write-behind and the models. Nothing reads the wall clock on the way, so a replay
//! begins the same epochs with the same ids, ticks the models at the same moments
//! with the same seqs, and publishes the same documents, byte for byte, as the run
//! that was recorded, through the same publisher, store and server.
//!
//! Two things make that hold at any speed:
//! - before a poll or a photo (the inputs that can tick the models) the replay waits
//!   for the publisher to finish every tick it was given ([`PublisherHandle::caught_up`]),
//!   so no tick is skipped and each is diffed against the one before it, as live;
//! - the settings that shape the output (the engines', the models') come from the
//!   recording's header ([`RecordedSettings`]), not from flags.
//!
//! A live run's publisher may itself skip a tick when it falls more than a second
//! behind (`chainboard_snapshots_skipped_total`); the replay then publishes that tick
//! and diffs the next against it, where the live run diffed across the gap.
//!
//! The `EpochStarted` marks the live run wrote are checked against the epochs the
//! replay begins; a difference is logged and counted (`diverged`). Damage in the
//! recording is logged and counted (`problems`) and the replay goes on with the
//! records after it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chainboard_engine::{BoardObserver, EngineConfig, WatchdogConfig};
use chainboard_massive::rest::LoadedChain;
use chainboard_model::{EpochId, EpochReason, FlowConfig, RootMap, Underlying};
use chainboard_quant::exposure::DealerSign;
use chainboard_recording::{Event, Feed as RecordedFeed, Recording};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::ingest::{Control, Core, IngestConfig, IngestError, IngestHandle, IngestStatus};
use crate::publisher::PublisherHandle;
use crate::running::ModelSettings;

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// This many times the recorded pace (1: as it happened).
    Times(f64),
    /// As fast as the machine allows.
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Times(x)),
            _ => Err(format!(
                "`{s}` is not a speed: a positive multiple of real time (1, 10) or `max`"
            )),
        }
    }
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The recording, opened.
    pub recording: Recording,
    /// Records before this (Unix ms) are replayed at full speed, unpaced: the board,
    /// the models and the history are built as they were, and pacing begins here.
    pub from_ms: Option<i64>,
    /// The replay ends at the first record after this (Unix ms).
    pub to_ms: Option<i64>,
    /// The pace.
    pub speed: Speed,
}

/// The settings that shape what a run publishes, in a recording's header, so a
/// replay does what the recorded run did whatever flags it is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedSettings {
    /// Feed silence that makes it stale, ms.
    pub stale_after_ms: i64,
    /// Longest interval between forced photos, ms.
    pub max_backoff_ms: i64,
    /// The shrink guard's fraction.
    pub shrink_guard: f64,
    /// The first epoch sequence number.
    pub first_seq: u32,
    /// Per underlying, the epoch the run continued and why its first epoch began.
    pub resume: BTreeMap<String, (Option<String>, String)>,
    /// The models' rate.
    pub rate: f64,
    /// The dividend yield, if one was forced.
    pub div_yield: Option<f64>,
    /// `calls_long` or `puts_long`.
    pub dealer_sign: String,
    /// Milliseconds between model ticks.
    pub tick_ms: i64,
    /// The flow rule's settings (recordings made before flow have none: the defaults).
    #[serde(default)]
    pub flow: Option<RecordedFlow>,
}

/// The flow rule's settings in a recording's header.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecordedFlow {
    /// [`FlowConfig::inside_margin`].
    pub inside_margin: f64,
    /// [`FlowConfig::photo_quote_max_age_ms`].
    pub photo_quote_max_age_ms: i64,
    /// [`ModelSettings::flow_window_ms`].
    pub window_ms: i64,
}

impl RecordedSettings {
    /// What `ingest` and `models` say.
    pub fn of(ingest: &IngestConfig, models: &ModelSettings) -> Self {
        let e = &ingest.engine;
        Self {
            stale_after_ms: e.watchdog.stale_after_ms,
            max_backoff_ms: e.watchdog.max_backoff_ms,
            shrink_guard: e.shrink_guard,
            first_seq: e.first_seq,
            resume: ingest
                .resume
                .iter()
                .map(|(u, (last, reason))| {
                    (
                        u.to_string(),
                        (last.map(|id| id.to_string()), reason.as_str().to_owned()),
                    )
                })
                .collect(),
            rate: models.rate,
            div_yield: models.div_yield,
            dealer_sign: match models.dealer_sign {
                DealerSign::CallsLong => "calls_long",
                DealerSign::PutsLong => "puts_long",
            }
            .to_owned(),
            tick_ms: models.tick_ms,
            flow: Some(RecordedFlow {
                inside_margin: e.flow.inside_margin,
                photo_quote_max_age_ms: e.flow.photo_quote_max_age_ms,
                window_ms: models.flow_window_ms,
            }),
        }
    }

    /// The engines' settings.
    fn engine(&self) -> EngineConfig {
        EngineConfig {
            watchdog: WatchdogConfig {
                stale_after_ms: self.stale_after_ms,
                max_backoff_ms: self.max_backoff_ms,
            },
            shrink_guard: self.shrink_guard,
            first_seq: self.first_seq,
            flow: self.flow.map_or_else(FlowConfig::default, |f| FlowConfig {
                inside_margin: f.inside_margin,
                photo_quote_max_age_ms: f.photo_quote_max_age_ms,
            }),
        }
    }

    /// `base` (the publisher's settings) with the recorded models' settings.
    pub fn models(&self, base: ModelSettings) -> ModelSettings {
        ModelSettings {
            rate: self.rate,
            div_yield: self.div_yield,
            dealer_sign: self.sign().unwrap_or_default(),
            tick_ms: self.tick_ms,
            flow_window_ms: self.flow.map_or(base.flow_window_ms, |f| f.window_ms),
            ..base
        }
    }

    /// The recorded dealer sign; `None` for a name this build does not know.
    fn sign(&self) -> Option<DealerSign> {
        match self.dealer_sign.as_str() {
            "calls_long" => Some(DealerSign::CallsLong),
            "puts_long" => Some(DealerSign::PutsLong),
            _ => None,
        }
    }
}

/// Reads the settings and the underlyings of a recording's header.
pub fn recorded(recording: &Recording) -> Result<(Vec<Underlying>, RecordedSettings), String> {
    let header = recording.header();
    let underlyings = header
        .underlyings
        .iter()
        .map(|u| Underlying::new(u).map_err(|e| format!("the recording's underlying {u}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let settings: RecordedSettings = serde_json::from_value(header.settings.clone())
        .map_err(|e| format!("the recording's settings: {e}"))?;
    if settings.sign().is_none() {
        return Err(format!(
            "the recording's dealer sign {:?} is not one this build knows",
            settings.dealer_sign
        ));
    }
    Ok((underlyings, settings))
}

/// How far a replay got, shared with whoever reports it.
#[derive(Debug, Default)]
pub struct ReplayProgress {
    /// Records handed to the core.
    pub records: AtomicU64,
    /// WebSocket frames among them.
    pub frames: AtomicU64,
    /// Chain photos among them.
    pub photos: AtomicU64,
    /// Damage found and skipped (logged with file and offset).
    pub problems: AtomicU64,
    /// Epochs that did not begin as the recording says the live run began them.
    pub diverged: AtomicU64,
    /// The first and the latest record's time, Unix ms.
    pub first_ms: AtomicI64,
    /// See `first_ms`.
    pub last_ms: AtomicI64,
    /// Wall time spent, ms.
    pub wall_ms: AtomicU64,
    /// Whether the recording has ended.
    pub done: AtomicBool,
}

/// Starts the replay: the core's inputs come from the recording, the board changes
/// go to `observer`, and the publisher is waited for as the module docs say.
pub(crate) fn start(
    config: ReplayConfig,
    observer: Option<Box<dyn BoardObserver>>,
    publisher: PublisherHandle,
) -> Result<(IngestHandle, Arc<ReplayProgress>), IngestError> {
    let (underlyings, settings) = recorded(&config.recording).map_err(IngestError::Setup)?;
    let mut resume = BTreeMap::new();
    for (u, (last, reason)) in &settings.resume {
        let u = Underlying::new(u).map_err(|e| IngestError::Setup(e.to_string()))?;
        let last = match last {
            Some(id) => Some(EpochId::parse(id).map_err(|e| IngestError::Setup(e.to_string()))?),
            None => None,
        };
        let reason = EpochReason::ALL
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or_else(|| IngestError::Setup(format!("unknown epoch reason {reason}")))?;
        resume.insert(u, (last, reason));
    }
    // The addresses are never used: a replay has no links.
    let nowhere = url::Url::parse("http://replay.invalid/").expect("a valid URL");
    let key = chainboard_massive::rest::ApiKey::new("replay").expect("a non-empty key");
    let mut ingest = IngestConfig::new(nowhere.clone(), nowhere, key, underlyings);
    ingest.engine = settings.engine();
    ingest.resume = resume;
    let (status_tx, status_rx) = watch::channel(IngestStatus::default());
    let core = Core::new(&ingest, observer, status_tx, None);
    let progress = Arc::new(ReplayProgress::default());
    let (manual_tx, mut manual_rx) = mpsc::channel::<Underlying>(8);
    let task = tokio::spawn({
        let progress = progress.clone();
        async move {
            tokio::spawn(async move {
                while let Some(u) = manual_rx.recv().await {
                    tracing::warn!(%u, "a replay takes no manual epochs: the recording decides");
                }
            });
            let mut replay = Replay {
                core,
                roots: ingest.roots,
                publisher,
                progress,
                config,
            };
            replay.run().await;
            Ok(())
        }
    });
    Ok((IngestHandle::new(status_rx, manual_tx, task), progress))
}

/// Waits until `at` is due at `speed`, counted from the first paced record (`pace`).
async fn pace_to(speed: Speed, pace: &mut Option<(Instant, i64)>, at: i64) {
    let Speed::Times(speed) = speed else {
        return;
    };
    let (wall, recorded) = *pace.get_or_insert((Instant::now(), at));
    let due = Duration::from_secs_f64(((at - recorded).max(0) as f64 / 1_000.0) / speed);
    tokio::time::sleep_until((wall + due).into()).await;
}

struct Replay {
    core: Core,
    roots: RootMap,
    publisher: PublisherHandle,
    progress: Arc<ReplayProgress>,
    config: ReplayConfig,
}

impl Replay {
    async fn run(&mut self) {
        let started = Instant::now();
        // Decompressing and checking records runs on its own thread, ahead of the core.
        let (tx, mut rx) = mpsc::channel(4_096);
        let records = self.config.recording.records();
        let reader = std::thread::Builder::new()
            .name("replay-reader".into())
            .spawn(move || {
                for record in records {
                    if tx.blocking_send(record).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = reader {
            tracing::error!(error = %e, "no thread to read the recording with; nothing replayed");
            self.progress.problems.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut pace: Option<(Instant, i64)> = None;
        let mut handled = 0u64;
        while let Some(record) = rx.recv().await {
            let (at, event) = match record {
                Ok(r) => r,
                Err(problem) => {
                    self.progress.problems.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%problem, "recording damaged; replaying what follows");
                    continue;
                }
            };
            if self.config.to_ms.is_some_and(|to| at > to) {
                break;
            }
            if self.config.from_ms.is_none_or(|from| at >= from) {
                pace_to(self.config.speed, &mut pace, at).await;
            }
            if handled == 0 {
                self.progress.first_ms.store(at, Ordering::Relaxed);
            }
            handled += 1;
            self.progress.last_ms.store(at, Ordering::Relaxed);
            self.progress.records.fetch_add(1, Ordering::Relaxed);
            if !self.apply(at, event).await {
                break;
            }
            if handled.is_multiple_of(1_024) {
                self.progress
                    .wall_ms
                    .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
        self.publisher.caught_up().await;
        self.progress
            .wall_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.progress.done.store(true, Ordering::Relaxed);
        tracing::info!(
            records = self.progress.records.load(Ordering::Relaxed),
            problems = self.progress.problems.load(Ordering::Relaxed),
            diverged = self.progress.diverged.load(Ordering::Relaxed),
            "the recording has ended"
        );
    }

    /// Hands one record to the core; `false` when the recorded run stopped there.
    async fn apply(&mut self, at: i64, event: Event) -> bool {
        match event {
            Event::Frame { text, .. } => {
                self.progress.frames.fetch_add(1, Ordering::Relaxed);
                match std::str::from_utf8(&text) {
                    Ok(frame) => self.core.frame(frame, at),
                    Err(_) => self.problem(at, "a frame that is not UTF-8"),
                }
            }
            Event::Connected { feed } => {
                if feed == RecordedFeed::Options {
                    self.core.options_control(Control::Connected, at);
                }
            }
            Event::Disconnected { feed, reason } => match feed {
                RecordedFeed::Options => {
                    self.core.options_control(Control::Disconnected(reason), at)
                }
                RecordedFeed::Indices => Core::indices_disconnected(&reason),
            },
            Event::Overflow { dropped } => {
                self.core.options_control(Control::Overflow(dropped), at);
            }
            Event::FeedDown { feed, error } => match feed {
                RecordedFeed::Indices => self.core.indices_down(error),
                RecordedFeed::Options => {
                    tracing::warn!(%error, "the recorded run's options feed stopped here");
                    return false;
                }
            },
            Event::Photo {
                underlying,
                taken_at_ms,
                retries,
                pages,
            } => {
                self.progress.photos.fetch_add(1, Ordering::Relaxed);
                self.publisher.caught_up().await;
                self.photo(at, &underlying, taken_at_ms, retries, &pages);
            }
            Event::LoadFailed { fatal, error, .. } => {
                if fatal {
                    tracing::warn!(%error, "the recorded run stopped here");
                    return false;
                }
                self.core.load_failed();
            }
            Event::Market { open } => self.core.market(open, at),
            Event::Manual { underlying } => match Underlying::new(&underlying) {
                Ok(u) => self.core.manual(u, at),
                Err(_) => self.problem(at, "a manual request for an unknown underlying"),
            },
            Event::Poll => {
                self.publisher.caught_up().await;
                self.core.poll(at);
            }
            Event::Dropped { records } => {
                self.progress.problems.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    at_ms = at,
                    records,
                    "the recorder dropped records here (its queue was full): what follows may differ from the live run"
                );
            }
            Event::EpochStarted { id, reason } => {
                let began = self.core.status.transitions.back();
                let same =
                    began.is_some_and(|t| t.id.to_string() == id && t.reason.as_str() == reason);
                if !same {
                    self.progress.diverged.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        recorded = %id,
                        %reason,
                        replayed = ?began.map(|t| t.id.to_string()),
                        "the replay did not begin the epoch the recorded run began"
                    );
                }
            }
        }
        true
    }

    fn photo(
        &mut self,
        at: i64,
        underlying: &str,
        taken_at_ms: i64,
        retries: u32,
        pages: &[String],
    ) {
        let Ok(u) = Underlying::new(underlying) else {
            return self.problem(at, "a photo of an unknown underlying");
        };
        let bodies = pages.iter().map(String::as_str);
        match chainboard_massive::assemble(bodies, &self.roots, u, taken_at_ms) {
            Ok((snapshot, pages)) => {
                self.core.photo(
                    LoadedChain {
                        snapshot,
                        pages,
                        retries,
                        elapsed: Duration::ZERO,
                        bodies: Vec::new(),
                    },
                    at,
                );
            }
            Err(e) => self.problem(
                at,
                &format!("a recorded photo of {u} does not normalize: {e}"),
            ),
        }
    }

    fn problem(&self, at: i64, what: &str) {
        self.progress.problems.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(at_ms = at, what, "record skipped");
    }
}

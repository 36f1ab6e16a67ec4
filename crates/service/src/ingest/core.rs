//! The ingestion core: the one writer of the engines. Every input (a frame, a
//! photo, a control event, a poll) is handed to it with the time the loop read for
//! it, live (`Core::run`, the select loop over the sockets, loaders and timers) or
//! from a recording (`crate::replay`), and it does the same with it either way:
//! applies it to the engines, re-plans the quote subscriptions, ticks the
//! observers (the store's write-behind, the models) and publishes the status.

use std::time::Duration;

use chainboard_engine::{BoardObserver, Engine, PhotoOutcome, PhotoRequest};
use chainboard_massive::plan::{BoardView, Planner};
use chainboard_massive::rest::LoadedChain;
use chainboard_massive::socket::{SocketError, SocketEvent, SocketHandle, SubscriptionChange};
use chainboard_model::{ContractKey, EpochId, Underlying};
use chainboard_quant::expiry;
use chainboard_recording::{Event, Feed as RecordedFeed, Recorder};
use tokio::sync::{mpsc, watch};

use super::{
    BoardStatus, IngestConfig, IngestError, IngestStatus, LoadReport, TRANSITIONS_KEPT, Transition,
    exchange_date, now_ms,
};
use crate::feed::Feed;

pub(super) enum CoreStop {
    OptionsSocketEnded,
    Fatal(IngestError),
}

/// The live connections the core answers: the loaders it asks for photos, the
/// spots it tells them, the sockets it re-plans. A replay has none.
pub(crate) struct Links {
    pub(super) loaders: Vec<(Underlying, mpsc::Sender<PhotoRequest>)>,
    pub(super) spots: Vec<(Underlying, watch::Sender<Option<f64>>)>,
    pub(super) options: SocketHandle,
    pub(super) indices: SocketHandle,
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
    /// Where the inputs are recorded, when they are (live only).
    pub(super) recorder: Option<Recorder>,
    pub(crate) status: IngestStatus,
    status_tx: watch::Sender<IngestStatus>,
    /// Malformed frames are counted (`/metrics`) and logged at most once per window:
    /// a broken feed must not flood the log.
    malformed_log: Throttle,
    /// When the counts were last logged.
    last_log_ms: Option<i64>,
    /// New York, for the trading session flow is counted over.
    tz: jiff::tz::TimeZone,
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
            tz: expiry::exchange_time_zone(),
        }
    }

    pub(super) async fn run(
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
        self.roll_session(now);
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

    /// Tells the engines which trading session `now` is in: flow is counted per
    /// session, and a new one starts every contract's flow at zero.
    fn roll_session(&mut self, now: i64) {
        let session = expiry::flow_session(now, &self.tz);
        for engine in self.feed.engines_mut() {
            if engine.set_session(session) {
                tracing::info!(underlying = %engine.underlying(), date = %session.date, "flow session begins");
            }
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
        self.roll_session(now);
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
                flow: *e.flow_stats(),
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

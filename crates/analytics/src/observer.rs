//! Drives the model builders from the ingestion loop.
//!
//! [`ModelObserver`] is a [`BoardObserver`]: the loop that owns the engines calls it
//! on every poll. It registers its own dirty set with each engine (so the store's
//! write-behind and the models drain independently), starts a builder's epoch when
//! the engine starts one, ticks each builder once per `interval_ms` of the loop's
//! clock, and hands every [`Tick`] to a [`ModelSink`], which must return at once
//! (the publisher behind it takes the latest and does the slow work elsewhere).
//!
//! The ticks run on the ingestion task itself: an ordinary tick costs a fraction of a
//! millisecond, and the two O(board) cases (a new epoch, ~13 ms on an SPX board, and a
//! re-anchor, ~5 ms) are rare; frames queue in the bounded socket channel meanwhile.

use std::collections::BTreeMap;

use chainboard_engine::{BoardObserver, Engine, WatchState};
use chainboard_model::Underlying;
use tracing::warn;

use crate::snapshot::{FeedState, FeedStatus};
use crate::{ModelConfig, Models, Tick};

/// Where ticks go.
pub trait ModelSink: Send {
    /// Takes one tick's snapshots; must not block.
    fn publish(&mut self, tick: Tick);
}

impl<F: FnMut(Tick) + Send> ModelSink for F {
    fn publish(&mut self, tick: Tick) {
        self(tick);
    }
}

/// One underlying's builder and its cadence.
#[derive(Debug)]
struct Side {
    models: Models,
    last_tick_ms: i64,
}

/// The models' [`BoardObserver`].
pub struct ModelObserver {
    configs: Box<dyn Fn(Underlying) -> ModelConfig + Send>,
    interval_ms: i64,
    sides: BTreeMap<Underlying, Side>,
    sink: Box<dyn ModelSink>,
    /// Ticks handed to the sink (epoch starts included).
    ticks: u64,
}

impl std::fmt::Debug for ModelObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelObserver")
            .field("interval_ms", &self.interval_ms)
            .field("sides", &self.sides)
            .finish_non_exhaustive()
    }
}

impl ModelObserver {
    /// Ticks every `interval_ms` (1,000 for the design's 1 Hz) with
    /// [`ModelConfig::for_underlying`] and hands each tick to `sink`.
    pub fn new(interval_ms: i64, sink: impl ModelSink + 'static) -> Self {
        Self::with_configs(interval_ms, ModelConfig::for_underlying, sink)
    }

    /// Like [`ModelObserver::new`], with each underlying's configuration from
    /// `configs`.
    pub fn with_configs(
        interval_ms: i64,
        configs: impl Fn(Underlying) -> ModelConfig + Send + 'static,
        sink: impl ModelSink + 'static,
    ) -> Self {
        Self {
            configs: Box::new(configs),
            interval_ms,
            sides: BTreeMap::new(),
            sink: Box::new(sink),
            ticks: 0,
        }
    }

    /// Ticks handed to the sink so far (epoch starts included).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }
}

/// The feed's health as `engine` sees it at `now_ms`.
pub fn feed_status(engine: &Engine, now_ms: i64) -> FeedStatus {
    let stats = engine.stats();
    FeedStatus {
        state: match engine.watch_state() {
            WatchState::Watching => FeedState::Live,
            WatchState::Awaiting { .. } => FeedState::AwaitingPhoto,
            WatchState::Quiet { .. } => FeedState::Quiet,
        },
        silence_ms: engine.feed_silence_ms(now_ms),
        quotes: stats.quotes,
        trades: stats.trades,
        geometry_miss: stats.geometry_miss,
        session: engine.session().map(|s| s.date),
        flow: *engine.flow_stats(),
    }
}

impl BoardObserver for ModelObserver {
    fn epoch_started(&mut self, engine: &mut Engine, now_ms: i64) {
        let underlying = engine.underlying();
        if !self.sides.contains_key(&underlying) {
            let Some(consumer) = engine.add_dirty_consumer() else {
                warn!(%underlying, "no dirty set left for the models");
                return;
            };
            // Seqs from the clock: a restarted service never repeats one.
            let first_seq = u64::try_from(now_ms).unwrap_or(1).max(1);
            let models = Models::new(underlying, (self.configs)(underlying), consumer)
                .with_first_seq(first_seq);
            self.sides.insert(
                underlying,
                Side {
                    models,
                    last_tick_ms: now_ms,
                },
            );
        }
        let feed = feed_status(engine, now_ms);
        let (Some(side), Some(epoch)) = (self.sides.get_mut(&underlying), engine.epoch_mut())
        else {
            return;
        };
        match side.models.start_epoch(epoch, feed, now_ms) {
            Ok(tick) => {
                side.last_tick_ms = now_ms;
                self.ticks += 1;
                self.sink.publish(tick);
            }
            Err(e) => warn!(%underlying, ?e, "board cannot be laid out; models paused"),
        }
    }

    fn tick(&mut self, engine: &mut Engine, now_ms: i64) {
        let underlying = engine.underlying();
        let feed = feed_status(engine, now_ms);
        let (Some(side), Some(epoch)) = (self.sides.get_mut(&underlying), engine.epoch_mut())
        else {
            return;
        };
        if now_ms - side.last_tick_ms < self.interval_ms {
            return;
        }
        // Keep the cadence: the next tick is due one interval after this one was,
        // not after the poll that noticed it (unless a stall left it far behind).
        side.last_tick_ms = (side.last_tick_ms + self.interval_ms).max(now_ms - self.interval_ms);
        if let Some(tick) = side.models.tick(epoch, feed, now_ms) {
            self.ticks += 1;
            self.sink.publish(tick);
        }
    }
}

//! The model builder of one underlying: live greeks, heatmap cells and GEX sums,
//! advanced tick by tick from the engine's dirty set.
//!
//! A tick costs O(changed): it drains the contracts the feed touched since the last
//! tick, re-solves the volatility of those whose quote or photo fields changed,
//! re-evaluates their greeks and exposures at the anchor, and replaces their old
//! contribution in the GEX sums by the new one. Only two events cost O(board): a new
//! epoch, and moving the anchor (the index left the band around it, or the time step
//! passed), which re-evaluates every contract at the new spot and time with the
//! volatility each already has. Both run [`Models::recompute`], the same function a
//! test uses to check that incremental ticks never drift from a full recompute.

use std::sync::Arc;

use chainboard_engine::{DirtyConsumer, Epoch};
use chainboard_model::{ContractGeometry, ContractState, FieldMask, Strike, Underlying};
use chainboard_quant::expiry;
use chainboard_quant::exposure::{Exposure, MULTIPLIER};
use jiff::tz::TimeZone;

use crate::ModelConfig;
use crate::gex::{Contribution, ExpiryFilter, GexBook, Metric};
use crate::layout::{Layout, LayoutError};
use crate::snapshot::{
    Cell, Cells, Column, EpochInfo, Exposures, FeedStatus, FilterGex, GexSnapshot, HeatmapMeta,
    HeatmapSnapshot, Levels,
};
use crate::valuation::{self, Anchor, GreeksSource, UnusableCounts, Vol};

/// Fields whose change calls for a new volatility: the quote, and the photo's vendor
/// greeks and IV (the fallback). Open interest and volume only re-weight.
const RESOLVE: FieldMask = FieldMask::QUOTE;

/// A snapshot pair produced by one tick.
#[derive(Debug, Clone)]
pub struct Tick {
    /// The heatmap.
    pub heatmap: Arc<HeatmapSnapshot>,
    /// GEX and levels (the zero-gamma flip still [`crate::ZeroGamma::Pending`]).
    pub gex: Arc<GexSnapshot>,
    /// Whether the tick re-evaluated the whole board (new epoch or new anchor).
    pub full: bool,
    /// Contracts re-evaluated.
    pub evaluated: usize,
    /// The assumptions the tick used (the flip search needs the same ones).
    pub config: ModelConfig,
}

/// What a full recompute gives: the reference for incremental ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Recomputed {
    /// Per contract cells.
    pub cells: Vec<Cell>,
    /// Per contract contributions.
    pub contributions: Vec<Contribution>,
    /// The sums.
    pub book: GexBook,
}

/// The models of one epoch.
#[derive(Debug)]
struct EpochModels {
    info: EpochInfo,
    layout: Arc<Layout>,
    columns: Arc<Vec<Column>>,
    anchor: Option<Anchor>,
    today: jiff::civil::Date,
    vols: Vec<Vol>,
    contributions: Vec<Contribution>,
    cells: Cells,
    book: GexBook,
    sources: [u64; 3],
    unusable: UnusableCounts,
    /// Slots drained this tick (reused: no allocation per tick once warm).
    scratch: Vec<(u32, FieldMask)>,
}

/// The model builder of one underlying.
#[derive(Debug)]
pub struct Models {
    symbol: Underlying,
    config: ModelConfig,
    tz: TimeZone,
    consumer: DirtyConsumer,
    seq: u64,
    epoch: Option<EpochModels>,
}

impl Models {
    /// A builder for `symbol` that drains the engine's dirty set `consumer`.
    pub fn new(symbol: Underlying, config: ModelConfig, consumer: DirtyConsumer) -> Self {
        Self {
            symbol,
            config,
            tz: expiry::exchange_time_zone(),
            consumer,
            seq: 0,
            epoch: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The last published seq (0 before the first tick).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Starts over on `epoch`'s board: lays it out, solves every contract's volatility
    /// at the epoch's index value and `now_ms`, and returns the first snapshots.
    pub fn start_epoch(
        &mut self,
        epoch: &mut Epoch,
        feed: FeedStatus,
        now_ms: i64,
    ) -> Result<Tick, LayoutError> {
        // Everything the dirty set holds is in the states read below.
        epoch.drain_dirty_for(self.consumer, |_, _, _, _| {});
        let layout = Arc::new(Layout::new(epoch.board(), &self.tz)?);
        let spot = live_spot(epoch);
        let anchor = spot.map(|spot| Anchor {
            spot,
            at_ms: now_ms,
        });
        let (columns, today) = columns(&layout, now_ms, &self.tz);
        let n = layout.len();
        let mut unusable = UnusableCounts::default();
        let vols = epoch
            .contracts()
            .zip(&layout.positions)
            .map(|((g, s), pos)| {
                let t = expiry::years_between(
                    now_ms,
                    layout.expirations[usize::from(pos.expiry)].settles_ms,
                );
                let (vol, why) = valuation::solve(g, s, spot, t, &self.config);
                if let Some(why) = why {
                    unusable.add(why);
                }
                vol
            })
            .collect::<Vec<_>>();
        let mut models = EpochModels {
            info: EpochInfo {
                id: epoch.id(),
                reason: epoch.reason(),
                started_at_ms: epoch.started_at_ms(),
            },
            layout: layout.clone(),
            columns: Arc::new(columns),
            anchor,
            today,
            vols,
            contributions: vec![Contribution::default(); n],
            cells: Cells::new(n),
            book: GexBook::new(layout.strikes.len(), layout.expirations.len()),
            sources: [0; 3],
            unusable,
            scratch: Vec::with_capacity(n),
        };
        self.install(&mut models, epoch);
        let tick = self.emit(&models, epoch, feed, now_ms, true, n);
        self.epoch = Some(models);
        Ok(tick)
    }

    /// One tick: applies what changed since the last, moves the anchor if due, and
    /// returns the new snapshots. `None` before the first epoch, or when `epoch` is
    /// not the one [`Models::start_epoch`] saw (the caller starts it first).
    pub fn tick(&mut self, epoch: &mut Epoch, feed: FeedStatus, now_ms: i64) -> Option<Tick> {
        let mut models = self.epoch.take()?;
        if models.info.id != epoch.id() {
            self.epoch = Some(models);
            return None;
        }
        let spot = live_spot(epoch);
        models.scratch.clear();
        let scratch = &mut models.scratch;
        epoch.drain_dirty_for(self.consumer, |slot, mask, _, _| {
            scratch.push((slot.index() as u32, mask));
        });
        // New volatilities for quotes that changed, at this tick's spot and time.
        for i in 0..models.scratch.len() {
            let (slot, mask) = models.scratch[i];
            let slot = slot as usize;
            if !mask.intersects(RESOLVE) && !mask.intersects(FieldMask::SLOW) {
                continue;
            }
            let (g, s) = contract(epoch, slot);
            let pos = models.layout.positions[slot];
            let settles = models.layout.expirations[usize::from(pos.expiry)].settles_ms;
            let t = expiry::years_between(now_ms, settles);
            let (vol, why) = valuation::solve(g, s, spot, t, &self.config);
            if let Some(why) = why {
                models.unusable.add(why);
            }
            models.vols[slot] = vol;
        }
        let due = anchor_due(models.anchor, spot, now_ms, &self.config);
        let evaluated = if due {
            models.anchor = spot
                .map(|spot| Anchor {
                    spot,
                    at_ms: now_ms,
                })
                .or(models.anchor.map(|a| Anchor { at_ms: now_ms, ..a }));
            let (columns, today) = columns(
                &models.layout,
                models.anchor.map_or(now_ms, |a| a.at_ms),
                &self.tz,
            );
            models.columns = Arc::new(columns);
            models.today = today;
            self.install(&mut models, epoch);
            models.cells.len()
        } else {
            for i in 0..models.scratch.len() {
                let slot = models.scratch[i].0 as usize;
                let (cell, contribution) =
                    evaluate(&models, &self.config, contract(epoch, slot), slot);
                let pos = models.layout.positions[slot];
                let filters = models.columns[usize::from(pos.expiry)].filters;
                models
                    .book
                    .replace(pos, filters, &models.contributions[slot], &contribution);
                models.contributions[slot] = contribution;
                let old_source = models.cells.get(slot).map(|c| c.source);
                if old_source != Some(cell.source) {
                    if let Some(old) = old_source {
                        models.sources[source_index(old)] -= 1;
                    }
                    models.sources[source_index(cell.source)] += 1;
                }
                models.cells.set(slot, cell);
            }
            models.scratch.len()
        };
        let tick = self.emit(&models, epoch, feed, now_ms, due, evaluated);
        self.epoch = Some(models);
        Some(tick)
    }

    /// Every contract evaluated afresh at the current anchor with the volatilities
    /// held now, and the sums built from nothing: what incremental ticks must equal.
    pub fn recompute(&self, epoch: &Epoch) -> Option<Recomputed> {
        let models = self.epoch.as_ref()?;
        (models.info.id == epoch.id()).then(|| recompute(models, &self.config, epoch))
    }

    /// The sums as the ticks left them (for comparison with [`Models::recompute`]).
    pub fn book(&self) -> Option<&GexBook> {
        self.epoch.as_ref().map(|m| &m.book)
    }

    /// Re-evaluates every contract into `models` (new epoch or new anchor).
    fn install(&self, models: &mut EpochModels, epoch: &Epoch) {
        let full = recompute(models, &self.config, epoch);
        let mut sources = [0u64; 3];
        for (slot, cell) in full.cells.into_iter().enumerate() {
            sources[source_index(cell.source)] += 1;
            models.cells.set(slot, cell);
        }
        models.sources = sources;
        models.contributions = full.contributions;
        models.book = full.book;
    }

    /// Takes the next seq and renders the models' current state as snapshots.
    fn emit(
        &mut self,
        models: &EpochModels,
        epoch: &Epoch,
        feed: FeedStatus,
        now_ms: i64,
        full: bool,
        evaluated: usize,
    ) -> Tick {
        self.seq += 1;
        let spot = live_spot(epoch);
        let heatmap = HeatmapSnapshot {
            symbol: self.symbol,
            epoch: models.info,
            layout: models.layout.clone(),
            columns: models.columns.clone(),
            meta: HeatmapMeta {
                seq: self.seq,
                ts_ms: now_ms,
                spot,
                anchor: models.anchor,
                today: models.today,
                feed,
                sources: models.sources,
                unusable: models.unusable,
            },
            cells: models.cells.clone(),
        };
        let filters = ExpiryFilter::ALL
            .iter()
            .map(|&filter| {
                let rows = models.book.per_strike(filter);
                FilterGex {
                    filter,
                    per_strike: rows.iter().map(Exposures::from_sums).collect(),
                    total: Exposures::from_sums(&models.book.total(filter)),
                    levels: walls(rows, &models.layout.strikes, spot),
                }
            })
            .collect();
        let gex = GexSnapshot {
            symbol: self.symbol,
            epoch: models.info,
            layout: models.layout.clone(),
            seq: self.seq,
            ts_ms: now_ms,
            spot,
            anchor: models.anchor,
            dealer_sign: self.config.dealer_sign,
            filters,
            per_expiry: models
                .book
                .per_expiry()
                .iter()
                .map(Exposures::from_sums)
                .collect(),
        };
        Tick {
            heatmap: Arc::new(heatmap),
            gex: Arc::new(gex),
            full,
            evaluated,
            config: self.config,
        }
    }
}

/// Every contract of `models` evaluated at its anchor, and the sums built from
/// nothing.
fn recompute(models: &EpochModels, config: &ModelConfig, epoch: &Epoch) -> Recomputed {
    let n = models.layout.len();
    let mut cells = Vec::with_capacity(n);
    let mut contributions = Vec::with_capacity(n);
    let mut book = GexBook::new(models.layout.strikes.len(), models.layout.expirations.len());
    for slot in 0..n {
        let (cell, c) = evaluate(models, config, contract(epoch, slot), slot);
        let pos = models.layout.positions[slot];
        book.add(pos, models.columns[usize::from(pos.expiry)].filters, &c);
        cells.push(cell);
        contributions.push(c);
    }
    Recomputed {
        cells,
        contributions,
        book,
    }
}

fn source_index(source: GreeksSource) -> usize {
    match source {
        GreeksSource::Live => 0,
        GreeksSource::Vendor => 1,
        GreeksSource::Missing => 2,
    }
}

fn live_spot(epoch: &Epoch) -> Option<f64> {
    epoch
        .underlying_value()
        .map(|(v, _)| v)
        .filter(|v| v.is_finite() && *v > 0.0)
}

fn contract(epoch: &Epoch, slot: usize) -> (&ContractGeometry, &ContractState) {
    let board = epoch.board();
    (&board.contracts()[slot], &epoch.states()[slot])
}

fn anchor_due(
    anchor: Option<Anchor>,
    spot: Option<f64>,
    now_ms: i64,
    config: &ModelConfig,
) -> bool {
    match (anchor, spot) {
        (None, Some(_)) => true,
        (None, None) => false,
        (Some(a), spot) => {
            now_ms - a.at_ms >= config.retime_ms
                || spot.is_some_and(|s| (s / a.spot - 1.0).abs() > config.respot_band)
        }
    }
}

/// Per-column values at `at_ms`: time to settlement, days to expiry, and filters.
fn columns(layout: &Layout, at_ms: i64, tz: &TimeZone) -> (Vec<Column>, jiff::civil::Date) {
    let today = jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| tz.to_datetime(t).date())
        .unwrap_or_default();
    let next_settle = layout
        .expirations
        .iter()
        .map(|e| e.settles_ms)
        .filter(|&s| s > at_ms)
        .min();
    let columns = layout
        .expirations
        .iter()
        .map(|e| {
            let dte = (e.date - today).get_days();
            let live = e.settles_ms > at_ms;
            let mut filters = ExpiryFilter::All.bit();
            if live && e.date == today {
                filters |= ExpiryFilter::ZeroDte.bit();
            }
            if live && Some(e.settles_ms) == next_settle {
                filters |= ExpiryFilter::Next.bit();
            }
            if live && dte <= 7 {
                filters |= ExpiryFilter::Week.bit();
            }
            if live && dte <= 45 {
                filters |= ExpiryFilter::Days45.bit();
            }
            Column {
                t_years: expiry::years_between(at_ms, e.settles_ms),
                dte,
                filters,
            }
        })
        .collect();
    (columns, today)
}

/// One contract's cell and contribution at the models' anchor.
fn evaluate(
    models: &EpochModels,
    config: &ModelConfig,
    (g, s): (&ContractGeometry, &ContractState),
    slot: usize,
) -> (Cell, Contribution) {
    let pos = models.layout.positions[slot];
    let column = models.columns[usize::from(pos.expiry)];
    let vol = models.vols[slot];
    let greeks = valuation::greeks_at(g, s, vol, models.anchor, column.t_years, config);
    let has_greeks = vol.source != GreeksSource::Missing;
    let spot = models.anchor.map_or(0.0, |a| a.spot);
    let oi = s.slow.oi.unwrap_or(0) as f64;
    let volume = s.volume.unwrap_or(0) as f64;
    let by_oi = Exposure::of(&greeks, g.key.right, oi, spot, config.dealer_sign);
    let sign = config.dealer_sign.of(g.key.right);
    let gex_volume = greeks.gamma * sign * volume * MULTIPLIER * spot * spot * 0.01;
    let call = g.key.right == chainboard_model::Right::Call;
    let mut dollars = [0.0; Metric::ALL.len()];
    dollars[if call {
        Metric::CallGex
    } else {
        Metric::PutGex
    } as usize] = by_oi.gex;
    dollars[if call {
        Metric::CallGexVolume
    } else {
        Metric::PutGexVolume
    } as usize] = gex_volume;
    dollars[Metric::Dex as usize] = by_oi.dex;
    dollars[Metric::Vanna as usize] = by_oi.vanna;
    dollars[Metric::Charm as usize] = by_oi.charm;
    let contribution = Contribution::from_dollars(dollars);
    let gex_metric = if call {
        Metric::CallGex
    } else {
        Metric::PutGex
    };
    let vol_metric = if call {
        Metric::CallGexVolume
    } else {
        Metric::PutGexVolume
    };
    let cell = Cell {
        bid: s.bid,
        ask: s.ask,
        mid: s.mid(),
        iv: vol.iv,
        delta: has_greeks.then_some(greeks.delta),
        gamma: has_greeks.then_some(greeks.gamma),
        theta: has_greeks.then_some(greeks.theta / 365.0),
        vega: has_greeks.then_some(greeks.vega / 100.0),
        oi: s.slow.oi,
        volume: s.volume,
        gex: contribution.dollars(gex_metric),
        gex_volume: contribution.dollars(vol_metric),
        source: vol.source,
    };
    (cell, contribution)
}

/// Call and put walls from one filter's rows: the strike with the largest call GEX
/// and the one with the largest put GEX in size (ties go to the strike nearer spot).
fn walls(rows: &[crate::gex::Sums], strikes: &[Strike], spot: Option<f64>) -> Levels {
    let pick = |metric: Metric| {
        let distance = |k: Strike| spot.map_or(0.0, |s| (k.points() - s).abs());
        rows.iter()
            .zip(strikes)
            .filter(|(r, _)| r.units(metric) != 0)
            .max_by(|(a, ka), (b, kb)| {
                a.units(metric)
                    .abs()
                    .cmp(&b.units(metric).abs())
                    .then(distance(**kb).total_cmp(&distance(**ka)))
            })
            .map(|(_, k)| *k)
    };
    Levels {
        call_wall: pick(Metric::CallGex),
        put_wall: pick(Metric::PutGex),
        ..Levels::default()
    }
}

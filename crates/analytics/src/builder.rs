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
use chainboard_model::{ContractGeometry, ContractState, FieldMask, Right, Settlement, Underlying};
use chainboard_quant::expiry;
use chainboard_quant::exposure::Exposure;
use jiff::tz::TimeZone;

use crate::ModelConfig;
use crate::flow::{FlowTracker, Valued};
use crate::gex::{Contribution, ExpiryFilter, GexBook, Metric};
use crate::layout::{Layout, LayoutError};
use crate::snapshot::{
    Cell, Cells, Column, EpochInfo, Exposures, FeedStatus, FilterGex, GexSnapshot, HeatmapMeta,
    HeatmapSnapshot, Levels,
};
use crate::valuation::{self, Anchor, GreeksSource, Unusable, UnusableCounts, Vol};

/// A changed quote calls for a new volatility. A photo's slow fields (vendor greeks,
/// IV, open interest) call for one only where the vendor's numbers are in use: a
/// contract priced from its live quote keeps the volatility solved when that quote
/// came, against the spot of that moment.
fn needs_solve(mask: FieldMask, current: Vol) -> bool {
    mask.intersects(FieldMask::QUOTE)
        || (mask.intersects(FieldMask::SLOW) && current.source != GreeksSource::Live)
}

/// A snapshot pair produced by one tick.
#[derive(Debug, Clone)]
pub struct Tick {
    /// The heatmap.
    pub heatmap: Arc<HeatmapSnapshot>,
    /// GEX, its levels not yet settled: every filter's [`crate::Levels`] is the
    /// default (flip [`crate::ZeroGamma::Pending`], no walls) until
    /// [`crate::levels::settle`] fills them against the previous published tick.
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
    /// Which epoch, for snapshots and to refuse another epoch's engine.
    info: EpochInfo,
    /// The grid, shared with every snapshot of the epoch.
    layout: Arc<Layout>,
    /// Per-column time to settlement and filters at the anchor; replaced (not
    /// mutated) at each re-anchor so snapshots can share it.
    columns: Arc<Vec<Column>>,
    /// Where greeks are evaluated; `None` until the index has a value.
    anchor: Option<Anchor>,
    /// The anchor's exchange date (0DTE and days to expiry).
    today: jiff::civil::Date,
    /// Per slot: the volatility in use, the only per-contract input that survives
    /// between ticks.
    vols: Vec<Vol>,
    /// Per slot: why its live quote gave no volatility at its last solve.
    unusable_why: Vec<Option<Unusable>>,
    /// Per slot: its part in the GEX sums, to subtract when it changes.
    contributions: Vec<Contribution>,
    /// Per slot: the published numbers.
    cells: Cells,
    /// The exact GEX sums.
    book: GexBook,
    /// Contracts per greeks source, kept with the cells.
    sources: [u64; GreeksSource::ALL.len()],
    /// Contracts per reason their live quote is unusable, kept with `unusable_why`.
    unusable: UnusableCounts,
    /// Slots drained this tick (reused: no allocation per tick once warm).
    scratch: Vec<(u32, FieldMask)>,
}

impl EpochModels {
    /// Solves slot `slot`'s volatility at `spot` and `now_ms` and keeps the counts.
    fn solve(
        &mut self,
        epoch: &Epoch,
        slot: usize,
        spot: Option<f64>,
        now_ms: i64,
        config: &ModelConfig,
    ) {
        let (g, s) = contract(epoch, slot);
        let pos = self.layout.positions[slot];
        let settles = self.layout.expirations[usize::from(pos.expiry)].settles_ms;
        let t = expiry::years_between(now_ms, settles);
        let (vol, why) = valuation::solve(g, s, spot, t, config);
        self.vols[slot] = vol;
        let old = std::mem::replace(&mut self.unusable_why[slot], why);
        if old != why {
            if let Some(old) = old {
                self.unusable.remove(old);
            }
            if let Some(why) = why {
                self.unusable.add(why);
            }
        }
    }
}

/// The model builder of one underlying.
#[derive(Debug)]
pub struct Models {
    /// Whose board.
    symbol: Underlying,
    /// Rate, dividend yield, sign convention, anchor band, flip search.
    config: ModelConfig,
    /// New York, for settlement moments and the exchange date.
    tz: TimeZone,
    /// The engine's dirty set this builder drains.
    consumer: DirtyConsumer,
    /// The last snapshot's seq; runs on across epochs so a diff never spans two.
    seq: u64,
    /// The current epoch's models; `None` before the first.
    epoch: Option<EpochModels>,
    /// Today's flow: hedge pressure and top flow, across epochs.
    flow: FlowTracker,
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
            flow: FlowTracker::new(config.flow_window_ms),
        }
    }

    /// Numbers snapshots from `first` on (default 1). A service seeds it from the
    /// clock, so a restarted process never reuses a `(epoch, seq)` pair a client may
    /// still hold.
    pub fn with_first_seq(mut self, first: u64) -> Self {
        self.seq = first.saturating_sub(1);
        self
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
            vols: vec![Vol::default(); n],
            unusable_why: vec![None; n],
            contributions: vec![Contribution::default(); n],
            cells: Cells::new(n),
            book: GexBook::new(layout.strikes.len(), layout.expirations.len()),
            sources: [0; GreeksSource::ALL.len()],
            unusable: UnusableCounts::default(),
            scratch: Vec::with_capacity(n),
        };
        for slot in 0..n {
            models.solve(epoch, slot, spot, now_ms, &self.config);
        }
        self.install(&mut models, epoch);
        // Flow carried into this board, and any that landed since the last tick.
        self.flow.session(feed.session);
        for slot in 0..n {
            self.observe_flow(&models, epoch, slot, now_ms);
        }
        self.flow.expire(now_ms);
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
        if models.anchor.is_none() && spot.is_some() {
            // The index has its first value: every quote can be solved now.
            for slot in 0..models.vols.len() {
                models.solve(epoch, slot, spot, now_ms, &self.config);
            }
        } else {
            // New volatilities for quotes that changed, at this tick's spot and time.
            for i in 0..models.scratch.len() {
                let (slot, mask) = models.scratch[i];
                let slot = slot as usize;
                if needs_solve(mask, models.vols[slot]) {
                    models.solve(epoch, slot, spot, now_ms, &self.config);
                }
            }
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
                        models.sources[old.index()] -= 1;
                    }
                    models.sources[cell.source.index()] += 1;
                }
                models.cells.set(slot, cell);
            }
            models.scratch.len()
        };
        self.flow.session(feed.session);
        for i in 0..models.scratch.len() {
            let (slot, mask) = models.scratch[i];
            if mask.intersects(FieldMask::FLOW) {
                self.observe_flow(&models, epoch, slot as usize, now_ms);
            }
        }
        self.flow.expire(now_ms);
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

    /// Hands slot `slot`'s flow, valued at the anchor, to the tracker.
    fn observe_flow(&mut self, models: &EpochModels, epoch: &Epoch, slot: usize, now_ms: i64) {
        let (g, s) = contract(epoch, slot);
        let pos = models.layout.positions[slot];
        let filters = models.columns[usize::from(pos.expiry)].filters;
        let cell = models.cells.get(slot);
        let valued = match (cell.and_then(|c| c.delta), cell.and_then(|c| c.gamma)) {
            (Some(delta), Some(gamma)) => models.anchor.map(|a| Valued {
                delta,
                gamma,
                spot: a.spot,
            }),
            _ => None,
        };
        self.flow.observe(
            now_ms,
            g.key,
            filters,
            s.flow.net(),
            s.flow.net_premium_cents(),
            valued,
        );
    }

    /// Re-evaluates every contract into `models` (new epoch or new anchor).
    fn install(&self, models: &mut EpochModels, epoch: &Epoch) {
        let full = recompute(models, &self.config, epoch);
        let mut sources = [0u64; GreeksSource::ALL.len()];
        for (slot, cell) in full.cells.into_iter().enumerate() {
            sources[cell.source.index()] += 1;
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
                    levels: Levels::default(),
                    curve: None,
                    curve_flow: None,
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
            flow: Arc::new(self.flow.summary(feed.flow)),
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
    // Days to expiry and 0DTE count from the session the moment belongs to: after
    // Friday's close, Monday's expiration is the one traders mean by 0DTE.
    let today = expiry::session_date(at_ms, tz);
    // The next expiry is the nearest expiration date with anything not yet settled
    // (on a monthly Friday morning, the AM monthly and the PM weekly alike).
    let next_date = layout
        .expirations
        .iter()
        .filter(|e| e.settles_ms > at_ms)
        .map(|e| e.date)
        .min();
    // The front: through the session's Friday, and the next monthly (the standard
    // monthlies are the AM-settled ones; a holiday Friday moves one, and the listing
    // says where to).
    let days_to_friday = 4 - i16::from(today.weekday().to_monday_zero_offset()).min(4);
    let week_end = today
        .checked_add(jiff::Span::new().days(days_to_friday))
        .unwrap_or(today);
    let monthly_date = layout
        .expirations
        .iter()
        .filter(|e| e.settles_ms > at_ms && e.settlement == Settlement::AmOpen)
        .map(|e| e.date)
        .min();
    let columns = layout
        .expirations
        .iter()
        .map(|e| {
            let dte = (e.date - today).get_days();
            // A settled column is in no filter: its contracts have no greeks left and
            // stay on the board only until a photo drops them.
            let mut filters = 0;
            if e.settles_ms > at_ms {
                filters |= ExpiryFilter::All.bit();
                if e.date == today {
                    filters |= ExpiryFilter::ZeroDte.bit();
                }
                if Some(e.date) == next_date {
                    filters |= ExpiryFilter::Next.bit();
                }
                if dte <= 7 {
                    filters |= ExpiryFilter::Week.bit();
                }
                if dte <= 45 {
                    filters |= ExpiryFilter::Days45.bit();
                }
                if e.date <= week_end || Some(e.date) == monthly_date {
                    filters |= ExpiryFilter::Front.bit();
                }
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
    let quote = Cell {
        bid: s.bid,
        ask: s.ask,
        mid: s.mid(),
        oi: s.slow.oi,
        volume: s.volume,
        flow_net: s.flow.net(),
        ..Cell::default()
    };
    if column.t_years <= 0.0 {
        // Settled: the quote is history, there are no greeks and no exposure.
        return (quote, Contribution::default());
    }
    let vol = models.vols[slot];
    let greeks = valuation::greeks_at(g, s, vol, models.anchor, column.t_years, config);
    let spot = models.anchor.map_or(0.0, |a| a.spot);
    let right = g.key.right;
    let by_oi = Exposure::of(
        &greeks,
        right,
        s.slow.oi.unwrap_or(0) as f64,
        spot,
        config.dealer_sign,
    );
    let by_volume = Exposure::of(
        &greeks,
        right,
        s.volume.unwrap_or(0) as f64,
        spot,
        config.dealer_sign,
    );
    // Dealers took the other side of today's customer flow: their position is the
    // convention's open-interest position less the customers' net purchases.
    let flow_net = s.flow.net();
    let flow_position =
        config.dealer_sign.of(right) * s.slow.oi.unwrap_or(0) as f64 - flow_net as f64;
    let by_flow = Exposure::of_position(&greeks, flow_position, spot);
    let (gex_metric, volume_metric, flow_metric) = match right {
        Right::Call => (Metric::CallGex, Metric::CallGexVolume, Metric::CallGexFlow),
        Right::Put => (Metric::PutGex, Metric::PutGexVolume, Metric::PutGexFlow),
    };
    let mut dollars = [0.0; Metric::ALL.len()];
    dollars[gex_metric as usize] = by_oi.gex;
    dollars[volume_metric as usize] = by_volume.gex;
    dollars[flow_metric as usize] = by_flow.gex;
    dollars[Metric::Dex as usize] = by_oi.dex;
    dollars[Metric::Vanna as usize] = by_oi.vanna;
    dollars[Metric::Charm as usize] = by_oi.charm;
    let contribution = Contribution::from_dollars(dollars);
    let has_greeks = vol.source != GreeksSource::Missing;
    let published = valuation::Published::from(greeks);
    let cell = Cell {
        iv: vol.iv,
        delta: has_greeks.then_some(published.delta),
        gamma: has_greeks.then_some(published.gamma),
        theta: has_greeks.then_some(published.theta_per_day),
        vega: has_greeks.then_some(published.vega_per_point),
        gex: contribution.dollars(gex_metric),
        gex_volume: contribution.dollars(volume_metric),
        dex: contribution.dollars(Metric::Dex),
        vanna: contribution.dollars(Metric::Vanna),
        charm: contribution.dollars(Metric::Charm),
        gex_flow: contribution.dollars(flow_metric),
        source: vol.source,
        ..quote
    };
    (cell, contribution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Expiry;
    use chainboard_model::Root;
    use jiff::civil::date;

    fn expiry(d: jiff::civil::Date, root: &str, settlement: Settlement, tz: &TimeZone) -> Expiry {
        Expiry {
            date: d,
            root: Root::new(root).expect("root"),
            settlement,
            settles_ms: expiry::settlement_ms(d, settlement, tz).expect("settles"),
        }
    }

    /// Which of `layout`'s columns are in `filter` at `at`.
    fn dates_in(layout: &Layout, at: jiff::civil::DateTime, filter: ExpiryFilter) -> Vec<String> {
        let tz = expiry::exchange_time_zone();
        let at_ms = tz.to_timestamp(at).expect("a time").as_millisecond();
        let (columns, _) = columns(layout, at_ms, &tz);
        layout
            .expirations
            .iter()
            .zip(&columns)
            .filter(|(_, c)| c.filters & filter.bit() != 0)
            .map(|(e, _)| format!("{} {}", e.date, e.root))
            .collect()
    }

    #[test]
    fn the_front_is_this_week_and_the_next_monthly() {
        let tz = expiry::exchange_time_zone();
        let (am, pm) = (Settlement::AmOpen, Settlement::PmClose);
        let layout = Layout {
            expirations: vec![
                expiry(date(2026, 12, 9), "SPXW", pm, &tz),
                expiry(date(2026, 12, 10), "SPXW", pm, &tz),
                expiry(date(2026, 12, 11), "SPXW", pm, &tz),
                expiry(date(2026, 12, 14), "SPXW", pm, &tz),
                expiry(date(2026, 12, 18), "SPX", am, &tz),
                expiry(date(2026, 12, 18), "SPXW", pm, &tz),
                expiry(date(2027, 1, 15), "SPX", am, &tz),
            ],
            strikes: Vec::new(),
            positions: Vec::new(),
        };
        // A Wednesday: today, Thursday, Friday, and the December monthly (both roots).
        let wednesday = date(2026, 12, 9).at(11, 0, 0, 0);
        assert_eq!(
            dates_in(&layout, wednesday, ExpiryFilter::Front),
            [
                "2026-12-09 SPXW",
                "2026-12-10 SPXW",
                "2026-12-11 SPXW",
                "2026-12-18 SPX",
                "2026-12-18 SPXW"
            ]
        );
        // The monthly's Friday after the AM settlement: its PM weekly is 0DTE and in
        // the week; the next monthly is January's.
        let monthly_friday = date(2026, 12, 18).at(11, 0, 0, 0);
        assert_eq!(
            dates_in(&layout, monthly_friday, ExpiryFilter::Front),
            ["2026-12-18 SPXW", "2027-01-15 SPX"]
        );
        // Saturday belongs to Monday's session: that week, and the monthly.
        let saturday = date(2026, 12, 12).at(11, 0, 0, 0);
        assert_eq!(
            dates_in(&layout, saturday, ExpiryFilter::Front),
            ["2026-12-14 SPXW", "2026-12-18 SPX", "2026-12-18 SPXW"]
        );
    }
}

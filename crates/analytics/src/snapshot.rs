//! Snapshots: immutable values of the models at one tick, and diffs between them.
//!
//! A snapshot is what publishers share (`Arc`): the store writes it, the browser hub
//! streams it. It must be cheap to take every second from a 25,000-contract board, so
//! the per-contract cells live in chunks of [`CHUNK`] behind `Arc`s: a tick copies
//! only the chunks it changed ([`Arc::make_mut`], while the previous snapshot still
//! holds them) and a snapshot clones the chunk pointers. Per-contract work is
//! O(changed); the rest of a snapshot is a few hundred pointers and the per-strike GEX
//! rows. Two consecutive snapshots share every chunk the tick did not touch, which is
//! also what makes [`HeatmapSnapshot::diff`] cheap.
//!
//! Every snapshot has a per-underlying `seq`. A diff carries `base_seq` and `seq`;
//! applying it to any snapshot other than the one with `base_seq` is refused, so a
//! client that missed one knows to resync with a full snapshot. A diff never crosses
//! epochs: the grid itself changed, and the next message is a full snapshot.

use std::sync::Arc;

use chainboard_model::{EpochId, EpochReason, Strike, Underlying};
use chainboard_quant::exposure::DealerSign;
use chainboard_quant::levels::{Flip, Transition};
use jiff::civil::Date;

use crate::flow::FlowSummary;
use crate::gex::{ExpiryFilter, Metric, Sums};
use crate::layout::Layout;
use crate::valuation::{Anchor, GreeksSource, UnusableCounts};

/// Contracts per chunk: small enough that a tick touching a few hundred scattered
/// contracts copies little, large enough that a snapshot is a few hundred pointers.
pub const CHUNK: usize = 64;

/// One contract's numbers on the heatmap.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cell {
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Mid of a two-sided, uncrossed quote.
    pub mid: Option<f64>,
    /// Implied volatility the greeks use (live or vendor).
    pub iv: Option<f64>,
    /// Delta at the anchor.
    pub delta: Option<f64>,
    /// Gamma at the anchor, per index point.
    pub gamma: Option<f64>,
    /// Theta at the anchor, per calendar day.
    pub theta: Option<f64>,
    /// Vega at the anchor, per vol point.
    pub vega: Option<f64>,
    /// Open interest.
    pub oi: Option<u64>,
    /// Today's volume.
    pub volume: Option<u64>,
    /// Signed dealer GEX by open interest, dollars per 1% move.
    pub gex: f64,
    /// Signed dealer GEX by today's volume.
    pub gex_volume: f64,
    /// Signed dealer delta exposure by open interest, dollars of index.
    pub dex: f64,
    /// Signed dealer vanna exposure, dollars of delta per vol point.
    pub vanna: f64,
    /// Signed dealer charm exposure, dollars of delta per calendar day.
    pub charm: f64,
    /// Customer net size today (bought minus sold, as signed), contracts.
    pub flow_net: i64,
    /// Signed dealer GEX, flow-adjusted (open interest plus today's flow change).
    pub gex_flow: f64,
    /// Where the greeks came from.
    pub source: GreeksSource,
}

/// Per-contract cells, chunked for cheap snapshots (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Cells {
    chunks: Vec<Arc<Vec<Cell>>>,
    len: usize,
}

impl Cells {
    /// `len` default cells.
    pub fn new(len: usize) -> Self {
        let chunks = (0..len.div_ceil(CHUNK))
            .map(|c| Arc::new(vec![Cell::default(); CHUNK.min(len - c * CHUNK)]))
            .collect();
        Self { chunks, len }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cell of board slot `i`.
    pub fn get(&self, i: usize) -> Option<&Cell> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// Replaces the cell of slot `i`, copying its chunk first if a snapshot shares it.
    /// Returns whether it changed; an index past the end changes nothing.
    pub fn set(&mut self, i: usize, cell: Cell) -> bool {
        let Some(chunk) = self.chunks.get_mut(i / CHUNK) else {
            return false;
        };
        if chunk.get(i % CHUNK) == Some(&cell) {
            return false;
        }
        let chunk = Arc::make_mut(chunk);
        chunk[i % CHUNK] = cell;
        true
    }

    /// Every cell, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Cell> + Clone + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// Slots whose cells differ between `self` and `other` (same length), visiting
    /// only chunks the two do not share.
    fn changed_from(&self, other: &Cells) -> Vec<usize> {
        let mut changed = Vec::new();
        for (c, (mine, theirs)) in self.chunks.iter().zip(&other.chunks).enumerate() {
            if Arc::ptr_eq(mine, theirs) {
                continue;
            }
            for (j, (a, b)) in mine.iter().zip(theirs.iter()).enumerate() {
                if a != b {
                    changed.push(c * CHUNK + j);
                }
            }
        }
        changed
    }
}

impl PartialEq for Cells {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Per expiration column, what depends on the anchor's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Years (ACT/365) from the anchor to settlement; ≤ 0 once settled.
    pub t_years: f64,
    /// Calendar days from the anchor's exchange date to the expiration date.
    pub dte: i32,
    /// Which [`ExpiryFilter`]s the column belongs to (bits of [`ExpiryFilter::bit`]).
    pub filters: u8,
}

/// The epoch a snapshot belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochInfo {
    /// Its id.
    pub id: EpochId,
    /// Why it began.
    pub reason: EpochReason,
    /// When it began, Unix ms.
    pub started_at_ms: i64,
}

/// The watchdog's view of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// Live messages arrive (or have not been missing for `stale_after` yet).
    Live,
    /// Silent: a forced photo was asked for.
    AwaitingPhoto,
    /// Still silent after a forced photo (or the market is closed): asking again
    /// with backoff.
    Quiet,
}

impl FeedState {
    /// `live`, `awaiting_photo` or `quiet`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedState::Live => "live",
            FeedState::AwaitingPhoto => "awaiting_photo",
            FeedState::Quiet => "quiet",
        }
    }
}

/// The feed's health as the engine sees it at the tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedStatus {
    /// The watchdog's state.
    pub state: FeedState,
    /// Milliseconds since the last live message.
    pub silence_ms: i64,
    /// Quotes applied since the engine started.
    pub quotes: u64,
    /// Trades applied since the engine started.
    pub trades: u64,
    /// Live events for contracts not on the board.
    pub geometry_miss: u64,
    /// The trading session the engine counts flow for.
    pub session: Option<Date>,
    /// What the engine's flow signed, excluded and refused this session.
    pub flow: chainboard_engine::FlowStats,
}

/// What a heatmap snapshot says besides its cells; a diff carries it whole.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapMeta {
    /// Per-underlying sequence number.
    pub seq: u64,
    /// When the tick ran, Unix ms.
    pub ts_ms: i64,
    /// The live index value.
    pub spot: Option<f64>,
    /// Where the greeks are evaluated; `None` without any index value.
    pub anchor: Option<Anchor>,
    /// The exchange's session date at the anchor: what `0dte` and days to expiry are
    /// counted from (today before the close, else the next trading day).
    pub today: Date,
    /// Feed health.
    pub feed: FeedStatus,
    /// Contracts by greeks source, in [`GreeksSource::ALL`] order.
    pub sources: [u64; GreeksSource::ALL.len()],
    /// Contracts whose live quote is unusable for an IV, by reason.
    pub unusable: UnusableCounts,
}

/// The strikes × expirations board at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapSnapshot {
    /// The underlying.
    pub symbol: Underlying,
    /// The epoch.
    pub epoch: EpochInfo,
    /// The grid (shared by every snapshot of the epoch).
    pub layout: Arc<Layout>,
    /// Per expiration column, at the anchor (shared until the next re-anchor).
    pub columns: Arc<Vec<Column>>,
    /// Everything else that is not per contract.
    pub meta: HeatmapMeta,
    /// Per contract, in slot order.
    pub cells: Cells,
}

/// A heatmap diff: what changed from the snapshot `base_seq` to `meta.seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapDiff {
    /// The underlying.
    pub symbol: Underlying,
    /// The epoch both snapshots belong to.
    pub epoch: EpochId,
    /// The snapshot this applies to.
    pub base_seq: u64,
    /// The new metadata (its `seq` is the result's).
    pub meta: HeatmapMeta,
    /// New per-column values, when a re-anchor changed them.
    pub columns: Option<Arc<Vec<Column>>>,
    /// Changed cells, by slot, ascending.
    pub cells: Vec<(u32, Cell)>,
}

/// Why a diff does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffError {
    /// The diff is for another underlying or epoch.
    OtherBoard,
    /// The diff's `base_seq` is not this snapshot's `seq`: resync.
    Gap {
        /// What the diff needs.
        base_seq: u64,
        /// What the snapshot is.
        have_seq: u64,
    },
    /// A slot outside the board.
    BadSlot(u32),
}

impl std::fmt::Display for DiffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffError::OtherBoard => f.write_str("diff is for another underlying or epoch"),
            DiffError::Gap { base_seq, have_seq } => {
                write!(f, "diff needs seq {base_seq}, have {have_seq}: resync")
            }
            DiffError::BadSlot(s) => write!(f, "diff names slot {s}, outside the board"),
        }
    }
}

impl std::error::Error for DiffError {}

impl HeatmapSnapshot {
    /// The sequence number.
    pub fn seq(&self) -> u64 {
        self.meta.seq
    }

    /// What changed from `self` to `next`, or `None` when they are different boards
    /// (another underlying or epoch), which only a full snapshot can bridge.
    pub fn diff(&self, next: &HeatmapSnapshot) -> Option<HeatmapDiff> {
        if self.symbol != next.symbol
            || self.epoch.id != next.epoch.id
            || self.cells.len() != next.cells.len()
        {
            return None;
        }
        let cells = next
            .cells
            .changed_from(&self.cells)
            .into_iter()
            .filter_map(|i| Some((u32::try_from(i).ok()?, *next.cells.get(i)?)))
            .collect();
        let columns = (!Arc::ptr_eq(&self.columns, &next.columns) && self.columns != next.columns)
            .then(|| next.columns.clone());
        Some(HeatmapDiff {
            symbol: next.symbol,
            epoch: next.epoch.id,
            base_seq: self.meta.seq,
            meta: next.meta.clone(),
            columns,
            cells,
        })
    }

    /// `self` with `diff` applied.
    pub fn apply(&self, diff: &HeatmapDiff) -> Result<HeatmapSnapshot, DiffError> {
        if diff.symbol != self.symbol || diff.epoch != self.epoch.id {
            return Err(DiffError::OtherBoard);
        }
        if diff.base_seq != self.meta.seq {
            return Err(DiffError::Gap {
                base_seq: diff.base_seq,
                have_seq: self.meta.seq,
            });
        }
        let mut next = self.clone();
        for &(slot, cell) in &diff.cells {
            if usize::try_from(slot).map_or(true, |i| i >= next.cells.len()) {
                return Err(DiffError::BadSlot(slot));
            }
            next.cells.set(slot as usize, cell);
        }
        if let Some(columns) = &diff.columns {
            next.columns = columns.clone();
        }
        next.meta = diff.meta.clone();
        Ok(next)
    }
}

/// Exposures of one strike row (or one column, or a total), dollars.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Exposures(pub [f64; Metric::ALL.len()]);

impl Exposures {
    /// From exact sums.
    pub fn from_sums(sums: &Sums) -> Self {
        Self(sums.to_dollars())
    }

    /// One metric.
    pub fn get(&self, metric: Metric) -> f64 {
        self.0[metric as usize]
    }

    /// Net GEX by open interest.
    pub fn net_gex(&self) -> f64 {
        self.get(Metric::CallGex) + self.get(Metric::PutGex)
    }

    /// Net GEX by today's volume.
    pub fn net_gex_volume(&self) -> f64 {
        self.get(Metric::CallGexVolume) + self.get(Metric::PutGexVolume)
    }

    /// Net GEX, flow-adjusted.
    pub fn net_gex_flow(&self) -> f64 {
        self.get(Metric::CallGexFlow) + self.get(Metric::PutGexFlow)
    }
}

/// The zero-gamma flip as published: found, looked for and absent (with why), or not
/// looked for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ZeroGamma {
    /// Not searched for this snapshot (the builder's tick, before the levels are
    /// settled, or no spot).
    #[default]
    Pending,
    /// No material sign change of the gamma profile within the filter's search range:
    /// absent, never invented.
    NoneInRange,
    /// Every contract with open interest is on one side (calls only, or puts only):
    /// the profile cannot change sign.
    OneSided,
    /// The filter has no expiration (no 0DTE expiration on the board, say).
    NoExpiration,
    /// No contract of the filter's expirations has open interest.
    NoOpenInterest,
    /// Contracts have open interest, but none (or none on one side) has a volatility
    /// to re-price gamma at other spots (every quote unusable and no vendor
    /// volatility).
    NoUsableContracts,
    /// The flip level, index points, and whether gamma turns positive going up.
    At {
        /// Index level.
        level: f64,
        /// Whether GEX is negative below and positive above.
        rising: bool,
    },
}

impl ZeroGamma {
    /// The level, if found.
    pub fn level(&self) -> Option<f64> {
        match self {
            ZeroGamma::At { level, .. } => Some(*level),
            _ => None,
        }
    }

    /// The flip as a root, if found.
    pub fn flip(&self) -> Option<Flip> {
        match *self {
            ZeroGamma::At { level, rising } => Some(Flip { level, rising }),
            _ => None,
        }
    }

    /// `found`, or why not: `pending`, `none_in_range`, `one_sided`,
    /// `no_expiration`, `no_open_interest`, `no_usable_contracts`.
    pub fn status(&self) -> &'static str {
        match self {
            ZeroGamma::Pending => "pending",
            ZeroGamma::NoneInRange => "none_in_range",
            ZeroGamma::OneSided => "one_sided",
            ZeroGamma::NoExpiration => "no_expiration",
            ZeroGamma::NoOpenInterest => "no_open_interest",
            ZeroGamma::NoUsableContracts => "no_usable_contracts",
            ZeroGamma::At { .. } => "found",
        }
    }
}

/// The key levels of one filter. See `crate::levels` for how each is chosen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Levels {
    /// Where net GEX (open interest basis) changes sign as the index moves: the
    /// published root.
    pub zero_gamma: ZeroGamma,
    /// How the published root relates to last tick's; `None` before the levels are
    /// settled.
    pub transition: Option<Transition>,
    /// Every material root of the profile in the search range, ascending (the
    /// published one among them).
    pub roots: Vec<Flip>,
    /// Call wall: the strike with the largest call GEX by open interest; `None`
    /// without any.
    pub call_wall: Option<Strike>,
    /// Put wall: the strike with the largest put GEX by open interest, in size.
    pub put_wall: Option<Strike>,
    /// The call wall on the volume basis (today's volume instead of open interest).
    pub call_wall_volume: Option<Strike>,
    /// The put wall on the volume basis.
    pub put_wall_volume: Option<Strike>,
    /// The zero-gamma flip on the flow-adjusted basis.
    pub zero_gamma_flow: ZeroGamma,
    /// How the flow-adjusted flip relates to last tick's.
    pub transition_flow: Option<Transition>,
    /// Every material root of the flow-adjusted profile, ascending.
    pub roots_flow: Vec<Flip>,
    /// The call wall on the flow-adjusted basis.
    pub call_wall_flow: Option<Strike>,
    /// The put wall on the flow-adjusted basis.
    pub put_wall_flow: Option<Strike>,
}

/// The gamma curve `G(S')` of one filter on its scan grid: why the flip is where it
/// is.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaCurve {
    /// Hypothetical index levels, ascending.
    pub spots: Vec<f64>,
    /// Net dealer GEX (on the curve's basis: open interest or flow-adjusted) with
    /// every contract re-priced at each level, dollars per 1% move.
    pub values: Vec<f64>,
    /// The `|G|` a crossing's side must reach to count (a fraction of `peak`).
    pub floor: f64,
    /// The largest `|G|` on the curve.
    pub peak: f64,
}

/// The GEX profile of one expiry filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterGex {
    /// Which expirations.
    pub filter: ExpiryFilter,
    /// Per strike row of the layout.
    pub per_strike: Vec<Exposures>,
    /// The sum over strikes.
    pub total: Exposures,
    /// Key levels.
    pub levels: Levels,
    /// The gamma curve the flip was found on; `None` until the levels are settled, or
    /// when there was nothing to scan.
    pub curve: Option<Arc<GammaCurve>>,
    /// The flow-adjusted flip's gamma curve, the same way (the open-interest curve
    /// while the filter has no flow).
    pub curve_flow: Option<Arc<GammaCurve>>,
}

/// Dealer exposure and its levels at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct GexSnapshot {
    /// The underlying.
    pub symbol: Underlying,
    /// The epoch.
    pub epoch: EpochInfo,
    /// The grid (strikes and expirations).
    pub layout: Arc<Layout>,
    /// Same seq as the heatmap snapshot of the same tick.
    pub seq: u64,
    /// When the tick ran, Unix ms.
    pub ts_ms: i64,
    /// The live index value.
    pub spot: Option<f64>,
    /// Where the greeks are evaluated.
    pub anchor: Option<Anchor>,
    /// The sign convention.
    pub dealer_sign: DealerSign,
    /// One profile per filter, in [`ExpiryFilter::ALL`] order.
    pub filters: Vec<FilterGex>,
    /// Per expiration column (every strike).
    pub per_expiry: Vec<Exposures>,
    /// Today's customer flow: hedge pressure and top flow.
    pub flow: Arc<FlowSummary>,
}

impl GexSnapshot {
    /// The profile of `filter`.
    pub fn filter(&self, filter: ExpiryFilter) -> &FilterGex {
        &self.filters[filter.index()]
    }

    /// What changed from `self` to `next`; `None` across boards.
    pub fn diff(&self, next: &GexSnapshot) -> Option<GexDiff> {
        if self.symbol != next.symbol || self.epoch.id != next.epoch.id {
            return None;
        }
        let filters = self
            .filters
            .iter()
            .zip(&next.filters)
            .map(|(a, b)| FilterDiff {
                changed: changed_rows(&a.per_strike, &b.per_strike),
                total: b.total,
                levels: b.levels.clone(),
                curve: b.curve.clone(),
                curve_flow: b.curve_flow.clone(),
            })
            .collect();
        Some(GexDiff {
            symbol: next.symbol,
            epoch: next.epoch.id,
            base_seq: self.seq,
            seq: next.seq,
            ts_ms: next.ts_ms,
            spot: next.spot,
            anchor: next.anchor,
            filters,
            per_expiry: changed_rows(&self.per_expiry, &next.per_expiry),
            flow: next.flow.clone(),
        })
    }

    /// `self` with `diff` applied.
    pub fn apply(&self, diff: &GexDiff) -> Result<GexSnapshot, DiffError> {
        if diff.symbol != self.symbol
            || diff.epoch != self.epoch.id
            || diff.filters.len() != self.filters.len()
        {
            return Err(DiffError::OtherBoard);
        }
        if diff.base_seq != self.seq {
            return Err(DiffError::Gap {
                base_seq: diff.base_seq,
                have_seq: self.seq,
            });
        }
        let mut next = self.clone();
        for (f, d) in next.filters.iter_mut().zip(&diff.filters) {
            apply_rows(&mut f.per_strike, &d.changed)?;
            f.total = d.total;
            f.levels = d.levels.clone();
            f.curve = d.curve.clone();
            f.curve_flow = d.curve_flow.clone();
        }
        apply_rows(&mut next.per_expiry, &diff.per_expiry)?;
        next.seq = diff.seq;
        next.ts_ms = diff.ts_ms;
        next.spot = diff.spot;
        next.anchor = diff.anchor;
        next.flow = diff.flow.clone();
        Ok(next)
    }
}

fn changed_rows(a: &[Exposures], b: &[Exposures]) -> Vec<(u32, Exposures)> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .filter_map(|(i, (_, y))| Some((u32::try_from(i).ok()?, *y)))
        .collect()
}

fn apply_rows(rows: &mut [Exposures], changed: &[(u32, Exposures)]) -> Result<(), DiffError> {
    for &(i, e) in changed {
        let row = rows.get_mut(i as usize).ok_or(DiffError::BadSlot(i))?;
        *row = e;
    }
    Ok(())
}

/// What changed in one filter's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterDiff {
    /// Changed strike rows, by index, ascending.
    pub changed: Vec<(u32, Exposures)>,
    /// The new total.
    pub total: Exposures,
    /// The new levels.
    pub levels: Levels,
    /// The new gamma curve.
    pub curve: Option<Arc<GammaCurve>>,
    /// The new flow-adjusted gamma curve.
    pub curve_flow: Option<Arc<GammaCurve>>,
}

/// A GEX diff between consecutive snapshots of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct GexDiff {
    /// The underlying.
    pub symbol: Underlying,
    /// The epoch.
    pub epoch: EpochId,
    /// The snapshot this applies to.
    pub base_seq: u64,
    /// The result's seq.
    pub seq: u64,
    /// When the new tick ran.
    pub ts_ms: i64,
    /// The new live index value.
    pub spot: Option<f64>,
    /// The new anchor.
    pub anchor: Option<Anchor>,
    /// Per filter, in [`ExpiryFilter::ALL`] order.
    pub filters: Vec<FilterDiff>,
    /// Changed expiration columns.
    pub per_expiry: Vec<(u32, Exposures)>,
    /// Today's flow, whole (it is small).
    pub flow: Arc<FlowSummary>,
}

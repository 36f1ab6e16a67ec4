//! The published JSON of snapshots and diffs, and the JSON Schemas that define it.
//!
//! A full SPX heatmap is 25,000 contracts: as an array of objects it would be
//! megabytes of repeated keys, so it is **columnar**: one array per field, index `i`
//! of every array being contract `i` (board slot order). Rights and greeks sources
//! are one character per contract in a string (`"CCPP…"`, `"LLV-…"`). Numbers are
//! rounded to what a trader reads (prices 1e-4, vols and delta 1e-6, gamma six
//! significant digits, dollar exposures to the dollar); missing values are `null`.
//!
//! Every document names its schema and version in `schema`
//! (`chainboard/heatmap/v1`, …); the schemas live in `docs/schema/` and are embedded
//! here ([`HEATMAP_SCHEMA`], …) so tests validate what the code writes against the
//! files a client reads. Timestamps `ts`, `started_at`, `at` and `settles_at` are Unix
//! seconds with a fractional part, like the contract records.
//!
//! The writer appends straight into one `String` (no intermediate JSON tree): a full
//! board renders in a few milliseconds, off the tick path, in the publisher.

use std::fmt::Write as _;

use chainboard_engine::Refused;
use chainboard_model::flow::{Excluded, QuoteSource, Rule, Side};
use chainboard_model::time::ms_to_seconds;
use chainboard_model::{EpochId, Underlying};
use chainboard_quant::levels::{Flip, Transition};

use crate::flow::{FlowSummary, HedgePressure};
use crate::gex::{ExpiryFilter, Metric};
use crate::snapshot::{
    Cell, Column, EpochInfo, Exposures, FeedStatus, GammaCurve, GexDiff, GexSnapshot, HeatmapDiff,
    HeatmapMeta, HeatmapSnapshot, Levels, ZeroGamma,
};
use crate::valuation::{Anchor, GreeksSource, UnusableCounts};

/// The heatmap snapshot schema (`docs/schema/heatmap.schema.json`).
pub const HEATMAP_SCHEMA: &str = include_str!("../../../docs/schema/heatmap.schema.json");
/// The heatmap diff schema.
pub const HEATMAP_DIFF_SCHEMA: &str = include_str!("../../../docs/schema/heatmap-diff.schema.json");
/// The GEX snapshot schema.
pub const GEX_SCHEMA: &str = include_str!("../../../docs/schema/gex.schema.json");
/// The GEX diff schema.
pub const GEX_DIFF_SCHEMA: &str = include_str!("../../../docs/schema/gex-diff.schema.json");
/// The heatmap resync notice schema.
pub const HEATMAP_RESYNC_SCHEMA: &str =
    include_str!("../../../docs/schema/heatmap-resync.schema.json");
/// The GEX resync notice schema.
pub const GEX_RESYNC_SCHEMA: &str = include_str!("../../../docs/schema/gex-resync.schema.json");

/// A JSON text being written.
pub(crate) struct Out(pub(crate) String);

impl Out {
    pub(crate) fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    pub(crate) fn key(&mut self, k: &str) {
        self.key_parts(k, "");
    }

    /// The key `<k><suffix>`, for the fields one name prefixes.
    pub(crate) fn key_parts(&mut self, k: &str, suffix: &str) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(k);
        self.0.push_str(suffix);
        self.0.push_str("\":");
    }

    /// A string known to need no escaping (names, dates, ids, letters).
    pub(crate) fn plain(&mut self, s: &str) {
        self.0.push('"');
        self.0.push_str(s);
        self.0.push('"');
    }

    pub(crate) fn num(&mut self, x: f64) {
        if x.is_finite() {
            let mut b = ryu::Buffer::new();
            let s = b.format_finite(x);
            // `1.0` → `1`: shorter, and the same number.
            self.0.push_str(s.strip_suffix(".0").unwrap_or(s));
        } else {
            self.0.push_str("null");
        }
    }

    pub(crate) fn int(&mut self, x: i64) {
        let _ = write!(self.0, "{x}");
    }

    pub(crate) fn opt(&mut self, x: Option<f64>) {
        match x {
            Some(x) => self.num(x),
            None => self.0.push_str("null"),
        }
    }

    pub(crate) fn opt_u(&mut self, x: Option<u64>) {
        match x {
            Some(x) => {
                let _ = write!(self.0, "{x}");
            }
            None => self.0.push_str("null"),
        }
    }

    pub(crate) fn array<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Self, T),
    ) {
        self.0.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            f(self, item);
        }
        self.0.push(']');
    }

    /// Any string, escaped as JSON requires (for text that did not come from us).
    pub(crate) fn string(&mut self, s: &str) {
        self.0.push('"');
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", u32::from(c));
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    pub(crate) fn letters(&mut self, letters: impl Iterator<Item = char>) {
        self.0.push('"');
        self.0.extend(letters);
        self.0.push('"');
    }
}

/// Rounds to `decimals` places.
pub(crate) fn fixed(x: f64, decimals: i32) -> f64 {
    // Scale by an exact power of ten (10⁻ⁿ is not exact in binary).
    if decimals >= 0 {
        let scale = 10f64.powi(decimals);
        (x * scale).round() / scale
    } else {
        let scale = 10f64.powi(-decimals);
        (x / scale).round() * scale
    }
}

/// Rounds to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    // Below 1e-300 the scale would overflow; nothing published is that small but
    // zero in any unit a reader uses.
    if x.abs() < 1e-300 || !x.is_finite() {
        return if x.is_finite() { 0.0 } else { x };
    }
    let magnitude = x.abs().log10().floor() as i32;
    fixed(x, digits - 1 - magnitude)
}

fn epoch_info(o: &mut Out, e: &EpochInfo) {
    o.raw("{");
    o.key("id");
    o.plain(&e.id.to_string());
    o.key("reason");
    o.plain(e.reason.as_str());
    o.key("started_at");
    o.num(ms_to_seconds(e.started_at_ms));
    o.raw("}");
}

fn anchor(o: &mut Out, a: Option<Anchor>) {
    match a {
        Some(a) => {
            o.raw("{");
            o.key("spot");
            o.num(a.spot);
            o.key("at");
            o.num(ms_to_seconds(a.at_ms));
            o.raw("}");
        }
        None => o.raw("null"),
    }
}

fn feed(o: &mut Out, f: &FeedStatus) {
    o.raw("{");
    o.key("state");
    o.plain(f.state.as_str());
    o.key("silence_ms");
    o.int(f.silence_ms);
    o.key("quotes");
    o.opt_u(Some(f.quotes));
    o.key("trades");
    o.opt_u(Some(f.trades));
    o.key("geometry_miss");
    o.opt_u(Some(f.geometry_miss));
    o.raw("}");
}

fn counts(o: &mut Out, sources: &[u64; GreeksSource::ALL.len()], unusable: &UnusableCounts) {
    o.key("sources");
    o.raw("{");
    for (source, n) in GreeksSource::ALL.iter().zip(sources) {
        o.key(source.as_str());
        o.opt_u(Some(*n));
    }
    o.raw("}");
    o.key("unusable");
    o.raw("{");
    for (why, n) in unusable.iter() {
        o.key(why.as_str());
        o.opt_u(Some(n));
    }
    o.raw("}");
}

/// `seq`, `ts`, `spot` and `anchor`: what every document says about its tick.
fn tick_fields(o: &mut Out, seq: u64, ts_ms: i64, spot: Option<f64>, a: Option<Anchor>) {
    o.key("seq");
    o.opt_u(Some(seq));
    o.key("ts");
    o.num(ms_to_seconds(ts_ms));
    o.key("spot");
    o.opt(spot);
    o.key("anchor");
    anchor(o, a);
}

/// The opening every diff and notice shares: `{"schema":…,"symbol":…,"epoch":…`.
fn message_head(o: &mut Out, schema: &str, symbol: Underlying, epoch: &EpochId) {
    o.raw("{");
    o.key("schema");
    o.plain(schema);
    o.key("symbol");
    o.plain(symbol.as_str());
    o.key("epoch");
    o.plain(&epoch.to_string());
}

/// The opening of a diff: the message head and `"base_seq":…`.
fn diff_head(o: &mut Out, schema: &str, symbol: Underlying, epoch: &EpochId, base_seq: u64) {
    message_head(o, schema, symbol, epoch);
    o.key("base_seq");
    o.opt_u(Some(base_seq));
}

/// A filter's `total`, `levels` (with distances from `spot`) and gamma `curve`.
/// The curves are the open interest basis's (`curve`) and the flow-adjusted one's
/// (`curve_flow`).
fn total_and_levels(
    o: &mut Out,
    t: &Exposures,
    l: &Levels,
    curves: [Option<&GammaCurve>; 2],
    spot: Option<f64>,
) {
    o.key("total");
    total(o, t);
    o.key("levels");
    levels(o, l, spot);
    o.key("curve");
    curve(o, curves[0]);
    o.key("curve_flow");
    curve(o, curves[1]);
}

fn meta(o: &mut Out, m: &HeatmapMeta) {
    tick_fields(o, m.seq, m.ts_ms, m.spot, m.anchor);
    o.key("today");
    o.plain(&m.today.to_string());
    o.key("feed");
    feed(o, &m.feed);
    counts(o, &m.sources, &m.unusable);
}

fn filter_names(o: &mut Out, mask: u8) {
    o.array(
        ExpiryFilter::ALL.iter().filter(|f| mask & f.bit() != 0),
        |o, f| o.plain(f.as_str()),
    );
}

/// The per-column values that move with the anchor.
fn column_values(o: &mut Out, columns: &[Column]) {
    o.key("dte");
    o.array(columns, |o, c| o.int(i64::from(c.dte)));
    o.key("t_years");
    o.array(columns, |o, c| o.num(significant(c.t_years, 9)));
    o.key("filters");
    o.array(columns, |o, c| filter_names(o, c.filters));
}

/// The per-contract value columns shared by snapshots and diffs.
fn cell_columns<'a>(o: &mut Out, cells: impl Iterator<Item = &'a Cell> + Clone) {
    type Field = (&'static str, fn(&Cell) -> Option<f64>);
    let fields: [Field; 8] = [
        ("bid", |c| c.bid.map(|x| fixed(x, 4))),
        ("ask", |c| c.ask.map(|x| fixed(x, 4))),
        ("mid", |c| c.mid.map(|x| fixed(x, 4))),
        ("iv", |c| c.iv.map(|x| fixed(x, 6))),
        ("delta", |c| c.delta.map(|x| fixed(x, 6))),
        ("gamma", |c| c.gamma.map(|x| significant(x, 6))),
        ("theta", |c| c.theta.map(|x| significant(x, 6))),
        ("vega", |c| c.vega.map(|x| significant(x, 6))),
    ];
    for (name, get) in fields {
        o.key(name);
        o.array(cells.clone(), |o, c| o.opt(get(c)));
    }
    o.key("oi");
    o.array(cells.clone(), |o, c| o.opt_u(c.oi));
    o.key("volume");
    o.array(cells.clone(), |o, c| o.opt_u(c.volume));
    o.key("gex");
    o.array(cells.clone(), |o, c| o.num(c.gex.round()));
    o.key("gex_volume");
    o.array(cells.clone(), |o, c| o.num(c.gex_volume.round()));
    for (name, get) in [
        ("dex", (|c| c.dex) as fn(&Cell) -> f64),
        ("vanna", |c| c.vanna),
        ("charm", |c| c.charm),
        ("gex_flow", |c| c.gex_flow),
    ] {
        o.key(name);
        o.array(cells.clone(), |o, c| o.num(get(c).round()));
    }
    o.key("flow_net");
    o.array(cells.clone(), |o, c| o.int(c.flow_net));
    o.key("source");
    o.letters(cells.map(|c| c.source.letter()));
}

/// The full heatmap snapshot (`chainboard/heatmap/v1`).
pub fn heatmap(s: &HeatmapSnapshot) -> String {
    let mut o = Out(String::with_capacity(64 + s.cells.len() * 120));
    o.raw("{");
    o.key("schema");
    o.plain("chainboard/heatmap/v1");
    o.key("symbol");
    o.plain(s.symbol.as_str());
    o.key("epoch");
    epoch_info(&mut o, &s.epoch);
    meta(&mut o, &s.meta);
    let layout = &s.layout;
    o.key("expirations");
    o.raw("{");
    o.key("date");
    o.array(&layout.expirations, |o, e| o.plain(&e.date.to_string()));
    o.key("root");
    o.array(&layout.expirations, |o, e| o.plain(e.root.as_str()));
    o.key("settlement");
    o.array(&layout.expirations, |o, e| o.plain(e.settlement.as_str()));
    o.key("settles_at");
    o.array(&layout.expirations, |o, e| {
        o.num(ms_to_seconds(e.settles_ms))
    });
    column_values(&mut o, &s.columns);
    o.raw("}");
    o.key("strikes");
    o.array(&layout.strikes, |o, k| o.num(k.points()));
    o.key("contracts");
    o.raw("{");
    o.key("expiry");
    o.array(&layout.positions, |o, p| o.int(i64::from(p.expiry)));
    o.key("strike");
    o.array(&layout.positions, |o, p| o.int(i64::from(p.strike)));
    o.key("right");
    o.letters(layout.positions.iter().map(|p| p.right.occ_letter()));
    cell_columns(&mut o, s.cells.iter());
    o.raw("}}");
    o.0
}

/// The notice published instead of a diff when the next heatmap cannot be reached
/// by one (a new epoch, or the first snapshot): read the snapshot key
/// (`chainboard/heatmap-resync/v1`).
pub fn heatmap_resync(s: &HeatmapSnapshot) -> String {
    resync(
        "chainboard/heatmap-resync/v1",
        s.symbol,
        &s.epoch.id,
        s.meta.seq,
    )
}

/// The notice published on the GEX updates channel instead of a diff, likewise
/// (`chainboard/gex-resync/v1`): read the GEX snapshot key.
pub fn gex_resync(s: &GexSnapshot) -> String {
    resync("chainboard/gex-resync/v1", s.symbol, &s.epoch.id, s.seq)
}

fn resync(schema: &str, symbol: Underlying, epoch: &EpochId, seq: u64) -> String {
    let mut o = Out(String::with_capacity(128));
    message_head(&mut o, schema, symbol, epoch);
    o.key("seq");
    o.opt_u(Some(seq));
    o.raw("}");
    o.0
}

/// A heatmap diff (`chainboard/heatmap-diff/v1`).
pub fn heatmap_diff(d: &HeatmapDiff) -> String {
    let mut o = Out(String::with_capacity(512 + d.cells.len() * 120));
    diff_head(
        &mut o,
        "chainboard/heatmap-diff/v1",
        d.symbol,
        &d.epoch,
        d.base_seq,
    );
    meta(&mut o, &d.meta);
    if let Some(columns) = &d.columns {
        o.key("expirations");
        o.raw("{");
        column_values(&mut o, columns);
        o.raw("}");
    }
    o.key("contracts");
    o.raw("{");
    o.key("slot");
    o.array(&d.cells, |o, (slot, _)| o.int(i64::from(*slot)));
    cell_columns(&mut o, d.cells.iter().map(|(_, c)| c));
    o.raw("}}");
    o.0
}

fn exposure_columns<'a>(o: &mut Out, rows: impl Iterator<Item = &'a Exposures> + Clone) {
    for metric in Metric::ALL {
        o.key(metric.as_str());
        o.array(rows.clone(), |o, r| o.num(r.get(metric).round()));
    }
}

fn total(o: &mut Out, t: &Exposures) {
    o.raw("{");
    for metric in Metric::ALL {
        o.key(metric.as_str());
        o.num(t.get(metric).round());
    }
    o.key("net_gex");
    o.num(t.net_gex().round());
    o.key("net_gex_volume");
    o.num(t.net_gex_volume().round());
    o.key("net_gex_flow");
    o.num(t.net_gex_flow().round());
    o.raw("}");
}

/// One basis's flip as `<name>`, `<name>_status`, `<name>_rising`,
/// `<name>_transition` and `<name>_roots`.
fn flip(
    o: &mut Out,
    name: &str,
    zero_gamma: &ZeroGamma,
    transition: Option<Transition>,
    roots: &[Flip],
) {
    o.key(name);
    o.opt(zero_gamma.level().map(|x| fixed(x, 2)));
    o.key_parts(name, "_status");
    o.plain(zero_gamma.status());
    o.key_parts(name, "_rising");
    match zero_gamma.flip() {
        Some(f) => o.raw(if f.rising { "true" } else { "false" }),
        None => o.raw("null"),
    }
    o.key_parts(name, "_transition");
    match transition {
        Some(t) => o.plain(t.as_str()),
        None => o.raw("null"),
    }
    o.key_parts(name, "_roots");
    o.array(roots, |o, r| {
        o.raw("{");
        o.key("level");
        o.num(fixed(r.level, 2));
        o.key("rising");
        o.raw(if r.rising { "true" } else { "false" });
        o.raw("}");
    });
}

fn levels(o: &mut Out, l: &Levels, spot: Option<f64>) {
    o.raw("{");
    flip(o, "zero_gamma", &l.zero_gamma, l.transition, &l.roots);
    flip(
        o,
        "zero_gamma_flow",
        &l.zero_gamma_flow,
        l.transition_flow,
        &l.roots_flow,
    );
    let strike = |k: Option<chainboard_model::Strike>| k.map(|k| k.points());
    let walls = [
        ("call_wall", strike(l.call_wall)),
        ("put_wall", strike(l.put_wall)),
        ("call_wall_volume", strike(l.call_wall_volume)),
        ("put_wall_volume", strike(l.put_wall_volume)),
        ("call_wall_flow", strike(l.call_wall_flow)),
        ("put_wall_flow", strike(l.put_wall_flow)),
    ];
    for (name, level) in walls {
        o.key(name);
        o.opt(level);
    }
    o.key("distance");
    o.raw("{");
    let flips = [
        ("zero_gamma", l.zero_gamma.level()),
        ("zero_gamma_flow", l.zero_gamma_flow.level()),
    ];
    for (name, level) in flips.into_iter().chain(walls) {
        o.key(name);
        match (level, spot) {
            (Some(level), Some(spot)) if spot > 0.0 => {
                o.raw("{");
                o.key("points");
                o.num(fixed(level - spot, 2));
                o.key("pct");
                o.num(fixed(100.0 * (level / spot - 1.0), 3));
                o.raw("}");
            }
            _ => o.raw("null"),
        }
    }
    o.raw("}}");
}

/// A filter's gamma curve: levels and `G` on the scan grid, `G` to four significant
/// digits (what a plot resolves), or `null`.
fn curve(o: &mut Out, c: Option<&GammaCurve>) {
    let Some(c) = c else {
        o.raw("null");
        return;
    };
    o.raw("{");
    o.key("spot");
    o.array(&c.spots, |o, &s| o.num(fixed(s, 2)));
    o.key("gex");
    o.array(&c.values, |o, &g| o.num(significant(g, 4)));
    o.key("floor");
    o.num(significant(c.floor, 4));
    o.key("peak");
    o.num(significant(c.peak, 4));
    o.raw("}");
}

/// The full GEX snapshot (`chainboard/gex/v1`).
pub fn gex(s: &GexSnapshot) -> String {
    let strikes = s.layout.strikes.len();
    let mut o = Out(String::with_capacity(1024 + strikes * 400));
    o.raw("{");
    o.key("schema");
    o.plain("chainboard/gex/v1");
    o.key("symbol");
    o.plain(s.symbol.as_str());
    o.key("epoch");
    epoch_info(&mut o, &s.epoch);
    tick_fields(&mut o, s.seq, s.ts_ms, s.spot, s.anchor);
    o.key("dealer_sign");
    o.plain(s.dealer_sign.as_str());
    o.key("strikes");
    o.array(&s.layout.strikes, |o, k| o.num(k.points()));
    o.key("expirations");
    o.raw("{");
    o.key("date");
    o.array(&s.layout.expirations, |o, e| o.plain(&e.date.to_string()));
    o.key("root");
    o.array(&s.layout.expirations, |o, e| o.plain(e.root.as_str()));
    exposure_columns(&mut o, s.per_expiry.iter());
    o.raw("}");
    o.key("filters");
    o.raw("{");
    for f in &s.filters {
        o.key(f.filter.as_str());
        o.raw("{");
        exposure_columns(&mut o, f.per_strike.iter());
        total_and_levels(
            &mut o,
            &f.total,
            &f.levels,
            [f.curve.as_deref(), f.curve_flow.as_deref()],
            s.spot,
        );
        o.raw("}");
    }
    o.raw("}");
    o.key("flow");
    flow(&mut o, &s.flow);
    o.raw("}");
    o.0
}

/// A GEX diff (`chainboard/gex-diff/v1`).
pub fn gex_diff(d: &GexDiff) -> String {
    let mut o = Out(String::with_capacity(2048));
    diff_head(
        &mut o,
        "chainboard/gex-diff/v1",
        d.symbol,
        &d.epoch,
        d.base_seq,
    );
    tick_fields(&mut o, d.seq, d.ts_ms, d.spot, d.anchor);
    o.key("expirations");
    o.raw("{");
    o.key("index");
    o.array(&d.per_expiry, |o, (i, _)| o.int(i64::from(*i)));
    exposure_columns(&mut o, d.per_expiry.iter().map(|(_, e)| e));
    o.raw("}");
    o.key("filters");
    o.raw("{");
    for (filter, f) in ExpiryFilter::ALL.iter().zip(&d.filters) {
        o.key(filter.as_str());
        o.raw("{");
        o.key("index");
        o.array(&f.changed, |o, (i, _)| o.int(i64::from(*i)));
        exposure_columns(&mut o, f.changed.iter().map(|(_, e)| e));
        total_and_levels(
            &mut o,
            &f.total,
            &f.levels,
            [f.curve.as_deref(), f.curve_flow.as_deref()],
            d.spot,
        );
        o.raw("}");
    }
    o.raw("}");
    o.key("flow");
    flow(&mut o, &d.flow);
    o.raw("}");
    o.0
}

/// Counts keyed by name, in the order of `names`.
fn named_counts(o: &mut Out, names: impl Iterator<Item = &'static str>, counts: &[u64]) {
    o.raw("{");
    for (name, &n) in names.zip(counts) {
        o.key(name);
        o.opt_u(Some(n));
    }
    o.raw("}");
}

fn hedge(o: &mut Out, h: &HedgePressure) {
    o.raw("{");
    for (name, x) in [
        ("call_delta", h.call_delta),
        ("put_delta", h.put_delta),
        ("delta", h.delta()),
        ("call_gamma", h.call_gamma),
        ("put_gamma", h.put_gamma),
        ("gamma", h.gamma()),
    ] {
        o.key(name);
        o.num(x.round());
    }
    o.raw("}");
}

/// Today's customer flow: what was signed and how, hedge pressure per filter (and
/// `rest`, every expiration but the session's), and top flow.
fn flow(o: &mut Out, f: &FlowSummary) {
    let s = &f.stats;
    o.raw("{");
    o.key("session");
    match f.session {
        Some(d) => o.plain(&d.to_string()),
        None => o.raw("null"),
    }
    o.key("volume");
    o.raw("{");
    for side in Side::ALL {
        o.key(side.as_str());
        o.opt_u(Some(s.volume[side.index()]));
    }
    o.key("excluded");
    o.opt_u(Some(s.excluded_volume));
    o.raw("}");
    o.key("signed_share");
    o.num(fixed(s.signed_share(), 4));
    o.key("trades");
    named_counts(o, Side::ALL.iter().map(|x| x.as_str()), &s.trades);
    o.key("rules");
    named_counts(o, Rule::ALL.iter().map(|x| x.as_str()), &s.rules);
    o.key("quotes");
    named_counts(o, QuoteSource::ALL.iter().map(|x| x.as_str()), &s.quotes);
    o.key("quote_age_ms");
    o.raw("{");
    for source in [QuoteSource::Live, QuoteSource::Photo] {
        o.key(source.as_str());
        o.opt(s.mean_quote_age_ms(source).map(f64::round));
    }
    o.raw("}");
    o.key("excluded");
    named_counts(o, Excluded::ALL.iter().map(|x| x.as_str()), &s.excluded);
    o.key("refused");
    named_counts(o, Refused::ALL.iter().map(|x| x.as_str()), &s.refused);
    o.key("hedge_pressure");
    o.raw("{");
    for filter in ExpiryFilter::ALL {
        o.key(filter.as_str());
        hedge(o, &f.hedge[filter.index()]);
    }
    let (all, zero) = (
        f.hedge[ExpiryFilter::All.index()],
        f.hedge[ExpiryFilter::ZeroDte.index()],
    );
    o.key("rest");
    hedge(
        o,
        &HedgePressure {
            call_delta: all.call_delta - zero.call_delta,
            put_delta: all.put_delta - zero.put_delta,
            call_gamma: all.call_gamma - zero.call_gamma,
            put_gamma: all.put_gamma - zero.put_gamma,
        },
    );
    o.raw("}");
    o.key("window_s");
    o.num(ms_to_seconds(f.window_ms));
    o.key("top_contracts");
    o.array(&f.top_contracts, |o, t| {
        o.raw("{");
        o.key("id");
        o.plain(&t.key.to_string());
        o.key("expiration");
        o.plain(&t.key.expiration.to_string());
        o.key("strike");
        o.num(t.key.strike.points());
        o.key("type");
        o.plain(t.key.right.as_str());
        o.key("net_premium");
        o.num(t.net_premium.round());
        o.key("net_size");
        o.int(t.net_size);
        o.raw("}");
    });
    o.key("top_strikes");
    o.array(&f.top_strikes, |o, t| {
        o.raw("{");
        o.key("strike");
        o.num(t.key.points());
        o.key("net_premium");
        o.num(t.net_premium.round());
        o.key("net_size");
        o.int(t.net_size);
        o.raw("}");
    });
    o.raw("}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_what_a_trader_reads() {
        assert_eq!(fixed(12.345_67, 2), 12.35);
        assert_eq!(significant(0.001_234_567_8, 6), 0.001_234_57);
        assert_eq!(significant(-98_765_432.1, 3), -98_800_000.0);
        assert_eq!(significant(0.0, 6), 0.0);
        assert_eq!(significant(1e-310, 6), 0.0, "subnormal: zero, not null");
        let mut o = Out(String::new());
        o.array([1.0, 0.5, f64::NAN, 1e-7, 2e21], |o, x| o.num(x));
        assert_eq!(o.0, "[1,0.5,null,1e-7,2e21]");
    }
}

//! The session's GEX timeline: one stream entry per published tick, and the history
//! document read back from them.
//!
//! Every published tick appends an entry to `massive:gex:history:<symbol>`
//! ([`entry_fields`]), placed at the tick's millisecond, so a reader finds the state
//! at any time by the stream id alone. An entry carries what the strike × time view
//! and the levels over the session need, and no more:
//!
//! - `tick`: the entry format ([`ENTRY_VERSION`]), the tick's seq, its time (Unix
//!   seconds), its epoch and spot: `1,1796599668367,1796599692.395,SPX-20261206-0001,6851.19`;
//! - `levels`: per expiry filter, in `all;0dte;next;7d;45d;front` order and separated by
//!   `;`, six values: net GEX on the open interest and the volume bases (dollars per
//!   1% move), the zero-gamma flip and its status, the call wall and the put wall;
//! - `flow`: per expiry filter, in the same order, five values on the flow-adjusted
//!   basis: net GEX, the zero-gamma flip and its status, the call wall and the put
//!   wall;
//! - `hedge`: the session's hedge pressure so far ([`crate::flow`]): index delta
//!   dealers took on from 0DTE flow and from the rest, their gamma likewise, and the
//!   share of regular volume signed;
//! - `strikes`: the listed strikes within [`HISTORY_REACH`] of spot (evenly spaced
//!   runs written `first:last:step`);
//! - for the filters a trader switches the view between ([`PROFILE_FILTERS`]: `all`
//!   and `0dte`), `<f>.profile`: net GEX per strike, millions of dollars per 1%
//!   move, one decimal, parallel to `strikes`.
//!
//! Numbers are plain decimal text, lists comma-separated, a missing value empty: an
//! entry reads as it is in `redis-cli`, and parses without a JSON parser. Few fields
//! because each costs a reader more than its bytes do: a history request reads
//! 1,500 entries, and on Redis each field is two strings to parse and allocate. On
//! SPX an entry is about 1.7 KB of text, 2.1 KB of Redis memory; a regular session
//! at 1 Hz (23,400 entries) about 48 MB per underlying.
//!
//! Reading back, a [`HistoryPlan`] cuts the asked time range into `step`-wide
//! columns, the store returns the last entry of each ([`HistoryPlan::ranges`]), and
//! [`document`] renders `chainboard/gex-history/v1`: each column is the **last** tick
//! published in it, exactly as it was published (a mean of walls or flips would be a
//! level that never existed), with its profile on the union of the columns' strikes.

use std::sync::Arc;

use chainboard_model::Underlying;
use chainboard_model::time::ms_to_seconds;

use crate::gex::ExpiryFilter;
use crate::json::{Out, fixed};
use crate::snapshot::GexSnapshot;

/// How far from spot an entry's profile reaches, as a fraction of spot: where the
/// levels live on a normal day, and small enough that a session of entries stays in
/// tens of megabytes per underlying.
pub const HISTORY_REACH: f64 = 0.05;

/// The filters whose per-strike profile every entry keeps.
pub const PROFILE_FILTERS: [ExpiryFilter; 2] = [ExpiryFilter::All, ExpiryFilter::ZeroDte];

/// The entry format written now (`v`); a reader skips entries of another.
pub const ENTRY_VERSION: &str = "1";

/// `chainboard/gex-history/v1`'s schema (`docs/schema/gex-history.schema.json`).
pub const HISTORY_SCHEMA: &str = include_str!("../../../docs/schema/gex-history.schema.json");

/// [`PROFILE_FILTERS`]' profile field names, in the same order.
const PROFILE_FIELDS: [&str; PROFILE_FILTERS.len()] = ["all.profile", "0dte.profile"];

/// A number as entry text: shortest decimal, empty when missing or not finite.
fn text(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => {
            let mut b = ryu::Buffer::new();
            let s = b.format_finite(x);
            s.strip_suffix(".0").unwrap_or(s).to_owned()
        }
        _ => String::new(),
    }
}

/// Numbers as entry text, comma-separated.
fn list(xs: impl Iterator<Item = f64>) -> String {
    let mut out = String::new();
    for (i, x) in xs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // `+ 0.0` turns a rounded-away −0 into 0; a value that is not a number
        // (never expected: the sums are fixed point) is JSON's null.
        if x.is_finite() {
            out.push_str(&text(Some(x + 0.0)));
        } else {
            out.push_str("null");
        }
    }
    out
}

/// The tick's history entry, as stream fields (module docs).
pub fn entry_fields(s: &GexSnapshot) -> Vec<(&'static str, String)> {
    let center = s.anchor.map(|a| a.spot).or(s.spot);
    let rows: Vec<usize> = (0..s.layout.strikes.len())
        .filter(|&i| {
            let k = s.layout.strikes[i].points();
            center.is_some_and(|c| (k / c - 1.0).abs() <= HISTORY_REACH)
        })
        .collect();
    let mut fields = Vec::with_capacity(3 + PROFILE_FILTERS.len());
    let tick = [
        ENTRY_VERSION.to_owned(),
        s.seq.to_string(),
        text(Some(ms_to_seconds(s.ts_ms))),
        s.epoch.id.to_string(),
        text(s.spot),
    ];
    fields.push(("tick", tick.join(",")));
    let levels: Vec<String> = ExpiryFilter::ALL
        .iter()
        .map(|&filter| {
            let g = s.filter(filter);
            let levels = &g.levels;
            [
                text(Some(g.total.net_gex().round())),
                text(Some(g.total.net_gex_volume().round())),
                text(levels.zero_gamma.level().map(|x| fixed(x, 2))),
                levels.zero_gamma.status().to_owned(),
                text(levels.call_wall.map(|k| k.points())),
                text(levels.put_wall.map(|k| k.points())),
            ]
            .join(",")
        })
        .collect();
    fields.push(("levels", levels.join(";")));
    let flow: Vec<String> = ExpiryFilter::ALL
        .iter()
        .map(|&filter| {
            let g = s.filter(filter);
            let levels = &g.levels;
            [
                text(Some(g.total.net_gex_flow().round())),
                text(levels.zero_gamma_flow.level().map(|x| fixed(x, 2))),
                levels.zero_gamma_flow.status().to_owned(),
                text(levels.call_wall_flow.map(|k| k.points())),
                text(levels.put_wall_flow.map(|k| k.points())),
            ]
            .join(",")
        })
        .collect();
    fields.push(("flow", flow.join(";")));
    let (all, zero) = (
        s.flow.hedge[ExpiryFilter::All.index()],
        s.flow.hedge[ExpiryFilter::ZeroDte.index()],
    );
    let hedge = [
        text(Some(zero.delta().round())),
        text(Some((all.delta() - zero.delta()).round())),
        text(Some(zero.gamma().round())),
        text(Some((all.gamma() - zero.gamma()).round())),
        text(Some(fixed(s.flow.stats.signed_share(), 4))),
    ];
    fields.push(("hedge", hedge.join(",")));
    let strikes: Vec<f64> = rows.iter().map(|&i| s.layout.strikes[i].points()).collect();
    fields.push(("strikes", strike_runs(&strikes)));
    for (filter, name) in PROFILE_FILTERS.into_iter().zip(PROFILE_FIELDS) {
        let per_strike = &s.filter(filter).per_strike;
        fields.push((
            name,
            list(
                rows.iter()
                    .map(|&i| fixed(per_strike[i].net_gex() / 1e6, 1)),
            ),
        ));
    }
    fields
}

/// One history entry read back, for one filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The tick's seq.
    pub seq: u64,
    /// When the tick ran, Unix ms.
    pub ts_ms: i64,
    /// Its epoch.
    pub epoch: String,
    /// The index then.
    pub spot: Option<f64>,
    /// Net GEX, open interest basis, dollars per 1% move.
    pub net_gex: Option<f64>,
    /// Net GEX, volume basis.
    pub net_gex_volume: Option<f64>,
    /// The zero-gamma flip.
    pub zero_gamma: Option<f64>,
    /// Why there is a flip or not (`found`, `none_in_range`, …).
    pub zero_gamma_status: String,
    /// The call wall's strike.
    pub call_wall: Option<f64>,
    /// The put wall's strike.
    pub put_wall: Option<f64>,
    /// Net GEX per strike near spot; `None` for a filter whose profile entries do
    /// not keep.
    pub profile: Option<Profile>,
    /// The levels on the flow-adjusted basis; `None` in entries written before flow.
    pub flow: Option<FlowLevels>,
    /// The session's hedge pressure; `None` in entries written before flow.
    pub hedge: Option<HedgeSample>,
}

/// One filter's levels on the flow-adjusted basis, as an entry holds them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FlowLevels {
    /// Net GEX, flow-adjusted.
    pub net_gex: Option<f64>,
    /// The flow-adjusted zero-gamma flip.
    pub zero_gamma: Option<f64>,
    /// The flow-adjusted call wall.
    pub call_wall: Option<f64>,
    /// The flow-adjusted put wall.
    pub put_wall: Option<f64>,
}

/// The session's hedge pressure at a tick, as an entry holds it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HedgeSample {
    /// Index delta dealers took on from 0DTE flow, dollars.
    pub delta_0dte: Option<f64>,
    /// ... from every other expiration.
    pub delta_rest: Option<f64>,
    /// Gamma dealers took on from 0DTE flow, dollars per 1% move.
    pub gamma_0dte: Option<f64>,
    /// ... from every other expiration.
    pub gamma_rest: Option<f64>,
    /// The share of regular volume signed.
    pub signed_share: Option<f64>,
}

/// A tick's net GEX profile near spot.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Ascending. Shared between consecutive samples with the same strikes (most of a
    /// session), so they are parsed once and placed on the axis once.
    pub strikes: Arc<[f64]>,
    /// $M per 1% move, parallel to `strikes`: JSON numbers, comma-separated, as
    /// the entry holds them (checked, so a document can carry them without parsing
    /// and printing each again: most of a history document is these).
    pub values: String,
}

impl Profile {
    /// The values as numbers.
    pub fn numbers(&self) -> impl Iterator<Item = f64> + '_ {
        self.values
            .split(',')
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().unwrap_or(f64::NAN))
    }
}

/// Why an entry could not be read: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry(pub String);

/// Reads one filter's view of entries, in order.
#[derive(Debug)]
pub struct EntryReader {
    filter: ExpiryFilter,
    /// The last `strikes` text read and its numbers: consecutive entries mostly
    /// repeat it.
    strikes: Option<(String, Arc<[f64]>)>,
}

impl EntryReader {
    /// A reader of `filter`'s levels and profile.
    pub fn new(filter: ExpiryFilter) -> Self {
        Self {
            filter,
            strikes: None,
        }
    }

    /// Reads an entry's `fields`.
    pub fn read(&mut self, fields: &[(String, String)]) -> Result<Sample, BadEntry> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(f, _)| f == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| BadEntry(format!("no field {name}")))
        };
        let tick: Vec<&str> = get("tick")?.split(',').collect();
        let [version, seq, ts, epoch, spot] = tick[..] else {
            return Err(BadEntry(format!("tick: {} values, not 5", tick.len())));
        };
        if version != ENTRY_VERSION {
            return Err(BadEntry(format!("entry format {version:?}")));
        }
        let seq = seq
            .parse()
            .map_err(|_| BadEntry("tick: seq is not a count".to_owned()))?;
        let ts_ms = number("tick", ts)?
            .map(|s| (s * 1_000.0).round() as i64)
            .ok_or_else(|| BadEntry("tick: no time".to_owned()))?;
        // Entries written before `front` existed carry the first five filters.
        let filters = get("levels")?.split(';').count();
        if filters != ExpiryFilter::ALL.len() && filters != OLDER_FILTERS {
            return Err(BadEntry(format!(
                "levels: {filters} filters, not {}",
                ExpiryFilter::ALL.len()
            )));
        }
        let Some(levels) = get("levels")?.split(';').nth(self.filter.index()) else {
            return Err(BadEntry(format!(
                "levels: none for {} (written before it existed)",
                self.filter.as_str()
            )));
        };
        let levels: Vec<&str> = levels.split(',').collect();
        let [net, volume, flip, status, call, put] = levels[..] else {
            return Err(BadEntry(format!(
                "levels: {} values for {}, not 6",
                levels.len(),
                self.filter.as_str()
            )));
        };
        let profile = match PROFILE_FILTERS.iter().position(|&f| f == self.filter) {
            None => None,
            Some(i) => {
                Some(self.profile(get("strikes")?, PROFILE_FIELDS[i], get(PROFILE_FIELDS[i])?)?)
            }
        };
        if !(0..=HistoryPlan::LAST_MS as i64).contains(&ts_ms) {
            return Err(BadEntry("tick: time out of range".to_owned()));
        }
        if !STATUSES.contains(&status) {
            return Err(BadEntry(format!("levels: unknown flip status {status:?}")));
        }
        let flow = match fields.iter().find(|(f, _)| f == "flow") {
            None => None,
            Some((_, v)) => Some(self.flow_levels(v)?),
        };
        let hedge = match fields.iter().find(|(f, _)| f == "hedge") {
            None => None,
            Some((_, v)) => Some(hedge_sample(v)?),
        };
        Ok(Sample {
            flow,
            hedge,
            seq,
            ts_ms,
            epoch: epoch.to_owned(),
            spot: level("tick", spot)?,
            net_gex: number("levels", net)?,
            net_gex_volume: number("levels", volume)?,
            zero_gamma: level("levels", flip)?,
            zero_gamma_status: status.to_owned(),
            call_wall: level("levels", call)?,
            put_wall: level("levels", put)?,
            profile,
        })
    }

    /// The reader's filter's flow-adjusted levels from a `flow` field.
    fn flow_levels(&self, raw: &str) -> Result<FlowLevels, BadEntry> {
        let filters = raw.split(';').count();
        if filters != ExpiryFilter::ALL.len() {
            return Err(BadEntry(format!(
                "flow: {filters} filters, not {}",
                ExpiryFilter::ALL.len()
            )));
        }
        let values: Vec<&str> = raw
            .split(';')
            .nth(self.filter.index())
            .unwrap_or_default()
            .split(',')
            .collect();
        let [net, flip, status, call, put] = values[..] else {
            return Err(BadEntry(format!(
                "flow: {} values for {}, not 5",
                values.len(),
                self.filter.as_str()
            )));
        };
        if !STATUSES.contains(&status) {
            return Err(BadEntry(format!("flow: unknown flip status {status:?}")));
        }
        Ok(FlowLevels {
            net_gex: number("flow", net)?,
            zero_gamma: level("flow", flip)?,
            call_wall: level("flow", call)?,
            put_wall: level("flow", put)?,
        })
    }

    fn profile(&mut self, strikes: &str, name: &str, values: &str) -> Result<Profile, BadEntry> {
        let strikes = match &self.strikes {
            Some((text, parsed)) if text == strikes => parsed.clone(),
            _ => {
                let parsed: Arc<[f64]> = expand_strikes(strikes)
                    .filter(|k| k.is_sorted_by(|a, b| a < b) && k.iter().all(|&k| a_level(k)))
                    .ok_or_else(|| bad_list("strikes"))?
                    .into();
                self.strikes = Some((strikes.to_owned(), parsed.clone()));
                parsed
            }
        };
        let count = json_numbers(values).ok_or_else(|| bad_list(name))?;
        if strikes.len() != count {
            return Err(BadEntry(format!(
                "{name}: {count} values for {} strikes",
                strikes.len()
            )));
        }
        Ok(Profile {
            strikes,
            values: values.to_owned(),
        })
    }
}

/// An index level of field `name` (a flip, a wall, spot); empty is none.
fn level(name: &str, raw: &str) -> Result<Option<f64>, BadEntry> {
    match number(name, raw)? {
        Some(x) if !a_level(x) => Err(BadEntry(format!("{name}: {x} is not an index level"))),
        x => Ok(x),
    }
}

/// A `hedge` field.
fn hedge_sample(raw: &str) -> Result<HedgeSample, BadEntry> {
    let values: Vec<&str> = raw.split(',').collect();
    let [d0, dr, g0, gr, share] = values[..] else {
        return Err(BadEntry(format!("hedge: {} values, not 5", values.len())));
    };
    Ok(HedgeSample {
        delta_0dte: number("hedge", d0)?,
        delta_rest: number("hedge", dr)?,
        gamma_0dte: number("hedge", g0)?,
        gamma_rest: number("hedge", gr)?,
        signed_share: number("hedge", share)?.filter(|x| (0.0..=1.0).contains(x)),
    })
}

/// A number of field `name`; empty is none.
fn number(name: &str, raw: &str) -> Result<Option<f64>, BadEntry> {
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(BadEntry(format!("{name}: not a number"))),
    }
}

fn bad_list(name: &str) -> BadEntry {
    BadEntry(format!("{name}: not a list of numbers"))
}

/// How many values a comma-separated list holds, if each is `null` or a JSON number
/// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) of at most 15 digits before
/// and after the point and 2 in the exponent; `None` otherwise.
fn json_numbers(raw: &str) -> Option<usize> {
    if raw.is_empty() {
        return Some(0);
    }
    // One pass over the bytes (no splitting): this is most of reading an entry.
    let b = raw.as_bytes();
    // The index past the digits from `i`, if there is at least one.
    // The index past the digits from `i`: at least one and at most 15 (an exponent
    // at most 2), so every number a reader parses is finite in f64 and in
    // JavaScript.
    let digits = |i: usize, most: usize| {
        let end = i + b[i.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (end > i && end - i <= most).then_some(end)
    };
    let (mut i, mut count) = (0, 0);
    loop {
        if b[i.min(b.len())..].starts_with(b"null") {
            // A value that was not a number when written.
            i += 4;
            count += 1;
            match b.get(i) {
                None => return Some(count),
                Some(b',') => {
                    i += 1;
                    continue;
                }
                Some(_) => return None,
            }
        }
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match b.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i, 15)?,
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1, 15)?;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = digits(i, 2)?;
        }
        count += 1;
        match b.get(i) {
            None => return Some(count),
            Some(b',') => i += 1,
            Some(_) => return None,
        }
    }
}

/// The most strikes a history document's axis holds: a session's listings many
/// times over.
const MAX_AXIS: usize = 4 * MAX_STRIKES;

/// The zero-gamma statuses an entry may carry (`ZeroGamma::status`).
const STATUSES: [&str; 7] = [
    "pending",
    "none_in_range",
    "one_sided",
    "no_expiration",
    "no_open_interest",
    "no_usable_contracts",
    "found",
];

/// Filters in entries written before [`ExpiryFilter::Front`].
const OLDER_FILTERS: usize = 5;

/// Index levels and strikes a reader accepts: above zero and below ten million
/// points (anything else is a damaged entry, and would stretch a chart's axis).
fn a_level(x: f64) -> bool {
    x > 0.0 && x < 1e7
}

/// The most strikes an entry's `strikes` may expand to: far more than any listing
/// holds within [`HISTORY_REACH`], and a bound on what a damaged entry can cost.
const MAX_STRIKES: usize = 10_000;

/// A strike as the entry's runs give it: to the thousandth of a point, the
/// precision strikes are listed in.
fn thousandths(x: f64) -> f64 {
    (x * 1_000.0).round() / 1_000.0
}

/// Ascending strikes as entry text: comma-separated items, each a strike or a run
/// `first:last:step` of three or more evenly spaced ones (SPX near spot:
/// `6510:6900:5`, 12 bytes where the strikes one by one take 400).
fn strike_runs(strikes: &[f64]) -> String {
    let mut items = Vec::new();
    let mut i = 0;
    while i < strikes.len() {
        let mut end = i + 1;
        if let Some(&next) = strikes.get(i + 1) {
            let step = thousandths(next - strikes[i]);
            while end < strikes.len()
                && thousandths(strikes[i] + (end - i) as f64 * step) == strikes[end]
            {
                end += 1;
            }
            if end - i >= 3 && step > 0.0 {
                let last = strikes[end - 1];
                items.push(format!(
                    "{}:{}:{}",
                    text(Some(strikes[i])),
                    text(Some(last)),
                    text(Some(step))
                ));
                i = end;
                continue;
            }
        }
        items.push(text(Some(strikes[i])));
        i += 1;
    }
    items.join(",")
}

/// The strikes of [`strike_runs`]' text; `None` if it is not such text or holds more
/// than [`MAX_STRIKES`].
fn expand_strikes(raw: &str) -> Option<Vec<f64>> {
    if raw.is_empty() {
        return Some(Vec::new());
    }
    let mut strikes = Vec::new();
    for item in raw.split(',') {
        let number = |x: &str| x.parse::<f64>().ok().filter(|x| x.is_finite());
        match item.split(':').collect::<Vec<_>>()[..] {
            [one] => strikes.push(number(one)?),
            [first, last, step] => {
                let (first, last, step) = (number(first)?, number(last)?, number(step)?);
                if step <= 0.0 || last < first {
                    return None;
                }
                let n = ((last - first) / step).round();
                if n >= MAX_STRIKES as f64 || thousandths(first + n * step) != last {
                    return None;
                }
                strikes.extend((0..=n as usize).map(|i| thousandths(first + i as f64 * step)));
            }
            _ => return None,
        }
        if strikes.len() > MAX_STRIKES {
            return None;
        }
    }
    Some(strikes)
}

/// A request parameter that cannot be served: which, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    /// `from`, `to`, `step` or `filter`.
    pub name: &'static str,
    /// What is wrong, for the client.
    pub why: String,
}

/// The columns a history request asks for: `[from, to]` cut into `step`-wide
/// columns, the last one cut short at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPlan {
    /// First millisecond, Unix ms.
    pub from_ms: u64,
    /// Last millisecond, included.
    pub to_ms: u64,
    /// Column width, ms.
    pub step_ms: u64,
}

impl HistoryPlan {
    /// The most columns one request may ask for (more than any screen is wide).
    pub const MAX_COLUMNS: u64 = 5_000;
    /// The columns a request gets without `step`: about one per pixel of a wide view.
    pub const DEFAULT_COLUMNS: u64 = 1_500;
    /// The narrowest column: the models tick once a second.
    pub const MIN_STEP_MS: u64 = 1_000;
    /// The last instant a plan covers: the end of the year 9999.
    pub const LAST_MS: u64 = 253_402_300_799_999;

    /// The plan for `[from_ms, to_ms]` with `step_ms`, or by default the narrowest
    /// whole-second step giving at most [`Self::DEFAULT_COLUMNS`] columns.
    pub fn new(from_ms: u64, to_ms: u64, step_ms: Option<u64>) -> Result<Self, BadParameter> {
        // Bounded, so no arithmetic below can overflow, whatever a stream id says.
        let (from_ms, to_ms) = (from_ms.min(Self::LAST_MS), to_ms.min(Self::LAST_MS));
        let step_ms = step_ms.map(|s| s.min(Self::LAST_MS));
        if from_ms > to_ms {
            return Err(BadParameter {
                name: "from",
                why: "from is after to".to_owned(),
            });
        }
        let span = to_ms - from_ms + 1;
        let step_ms = match step_ms {
            Some(step) if step < Self::MIN_STEP_MS => {
                return Err(BadParameter {
                    name: "step",
                    why: "the narrowest step is 1 second: the models tick once a second".to_owned(),
                });
            }
            Some(step) => step,
            None => span
                .div_ceil(Self::DEFAULT_COLUMNS)
                .div_ceil(1_000)
                .max(1)
                .saturating_mul(1_000),
        };
        let plan = HistoryPlan {
            from_ms,
            to_ms,
            step_ms,
        };
        if plan.columns() > Self::MAX_COLUMNS {
            return Err(BadParameter {
                name: "step",
                why: format!(
                    "{} columns asked; at most {} (widen step to {} s or more)",
                    plan.columns(),
                    Self::MAX_COLUMNS,
                    span.div_ceil(Self::MAX_COLUMNS).div_ceil(1_000)
                ),
            });
        }
        Ok(plan)
    }

    /// How many columns.
    pub fn columns(&self) -> u64 {
        (self.to_ms - self.from_ms + 1).div_ceil(self.step_ms)
    }

    /// Each column's milliseconds, first and last included.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        (0..self.columns())
            .map(|i| {
                let start = self.from_ms + i * self.step_ms;
                (start, (start + self.step_ms - 1).min(self.to_ms))
            })
            .collect()
    }
}

/// `chainboard/gex-history/v1`: `samples[i]` is the last entry of the plan's column
/// `i`, `None` where the column has none (not rendered); `skipped` entries could not
/// be read. Profiles are placed on the union of the columns' strikes, `null` where a
/// column's entry did not reach a strike.
pub fn document(
    symbol: Underlying,
    filter: ExpiryFilter,
    plan: &HistoryPlan,
    samples: &[Option<Sample>],
    skipped: usize,
) -> String {
    let profiles = || samples.iter().flatten().filter_map(|s| s.profile.as_ref());
    // Each distinct strike list once (consecutive samples share theirs).
    // Each distinct strike list once (consecutive samples share theirs), merged as
    // it grows: damaged entries with ever-different lists cannot grow it unbounded.
    let mut axis: Vec<f64> = Vec::new();
    let mut last: Option<&Arc<[f64]>> = None;
    for p in profiles() {
        if last.is_none_or(|l| !Arc::ptr_eq(l, &p.strikes)) {
            axis.extend_from_slice(&p.strikes);
            last = Some(&p.strikes);
            if axis.len() > 2 * MAX_AXIS {
                axis.sort_unstable_by(f64::total_cmp);
                axis.dedup();
                if axis.len() >= MAX_AXIS {
                    break;
                }
            }
        }
    }
    axis.sort_unstable_by(f64::total_cmp);
    axis.dedup();
    axis.truncate(MAX_AXIS);
    let has_profile = PROFILE_FILTERS.contains(&filter);
    let mut o = Out(String::with_capacity(
        (256 + samples.len() * (256 + axis.len() * 6)).min(64 << 20),
    ));
    o.raw("{");
    o.key("schema");
    o.plain("chainboard/gex-history/v1");
    o.key("symbol");
    o.plain(symbol.as_str());
    o.key("filter");
    o.plain(filter.as_str());
    o.key("from");
    o.num(ms_to_seconds(plan.from_ms as i64));
    o.key("to");
    o.num(ms_to_seconds(plan.to_ms as i64));
    o.key("step");
    o.num(plan.step_ms as f64 / 1_000.0);
    o.key("sample");
    o.plain("last");
    o.key("has_profile");
    o.raw(if has_profile { "true" } else { "false" });
    o.key("strikes");
    o.array(&axis, |o, &k| o.num(k));
    o.key("columns");
    let ranges = plan.ranges();
    let present = ranges
        .iter()
        .zip(samples)
        .filter_map(|(r, s)| Some((r.0, s.as_ref()?)));
    o.array(present, |o, (start, s)| {
        o.raw("{");
        o.key("t");
        o.num(ms_to_seconds(start as i64));
        o.key("seq");
        o.opt_u(Some(s.seq));
        o.key("ts");
        o.num(ms_to_seconds(s.ts_ms));
        o.key("epoch");
        o.string(&s.epoch);
        for (name, x) in [
            ("spot", s.spot),
            ("net_gex", s.net_gex),
            ("net_gex_volume", s.net_gex_volume),
            ("zero_gamma", s.zero_gamma),
        ] {
            o.key(name);
            o.opt(x);
        }
        o.key("zero_gamma_status");
        o.string(&s.zero_gamma_status);
        o.key("call_wall");
        o.opt(s.call_wall);
        o.key("put_wall");
        o.opt(s.put_wall);
        let flow = s.flow.unwrap_or_default();
        let hedge = s.hedge.unwrap_or_default();
        for (name, x) in [
            ("net_gex_flow", flow.net_gex),
            ("zero_gamma_flow", flow.zero_gamma),
            ("call_wall_flow", flow.call_wall),
            ("put_wall_flow", flow.put_wall),
            ("hedge_delta_0dte", hedge.delta_0dte),
            ("hedge_delta_rest", hedge.delta_rest),
            ("hedge_gamma_0dte", hedge.gamma_0dte),
            ("hedge_gamma_rest", hedge.gamma_rest),
            ("signed_share", hedge.signed_share),
        ] {
            o.key(name);
            o.opt(x);
        }
        o.key("profile");
        match &s.profile {
            None => o.raw("null"),
            Some(p) if *p.strikes == *axis => {
                o.raw("[");
                o.raw(&p.values);
                o.raw("]");
            }
            Some(p) => {
                // Both ascending: one merge walk.
                let mut values = p.strikes.iter().zip(p.values.split(',')).peekable();
                o.array(&axis, |o, &k| {
                    while values.next_if(|&(&at, _)| at < k).is_some() {}
                    match values.next_if(|&(&at, _)| at == k) {
                        Some((_, v)) => o.raw(v),
                        None => o.raw("null"),
                    }
                });
            }
        }
        o.raw("}");
    });
    o.key("skipped");
    o.int(skipped as i64);
    o.raw("}");
    o.0
}

#[cfg(test)]
mod tests;

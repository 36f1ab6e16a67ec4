//! The session's GEX timeline: one stream entry per published tick, and the history
//! document read back from them.
//!
//! Every published tick appends an entry to `massive:gex:history:<symbol>`
//! ([`entry_fields`]), placed at the tick's millisecond, so a reader finds the state
//! at any time by the stream id alone. An entry carries what the strike × time view
//! and the levels over the session need, and no more:
//!
//! - `v` (the entry format, [`ENTRY_VERSION`]), `seq`, `ts` (Unix seconds), `epoch`,
//!   `spot`;
//! - for every expiry filter `<f>` (`all`, `0dte`, `next`, `7d`, `45d`):
//!   `<f>.net_gex` and `<f>.net_gex_volume` (dollars per 1% move, open interest and
//!   volume bases), `<f>.zero_gamma` with `<f>.zero_gamma_status`, `<f>.call_wall`
//!   and `<f>.put_wall`;
//! - `strikes`: the listed strikes within [`HISTORY_REACH`] of spot, and for the
//!   filters a trader switches the view between ([`PROFILE_FILTERS`]: `all` and
//!   `0dte`) `<f>.profile`: net GEX per strike, millions of dollars per 1% move, one
//!   decimal, parallel to `strikes`.
//!
//! Numbers are plain decimal text, lists comma-separated, a missing value empty: an
//! entry reads as it is in `redis-cli`, and parses without a JSON parser. On SPX
//! (strikes 5 points apart near spot) an entry is about 2.5 KB; a regular session
//! at 1 Hz (23,400 entries) is about 60 MB per underlying.
//!
//! Reading back, a [`HistoryPlan`] cuts the asked time range into `step`-wide
//! columns, the store returns the last entry of each ([`HistoryPlan::ranges`]), and
//! [`document`] renders `chainboard/gex-history/v1`: each column is the **last** tick
//! published in it, exactly as it was published (a mean of walls or flips would be a
//! level that never existed), with its profile on the union of the columns' strikes.

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

/// Per filter (in [`ExpiryFilter::ALL`] order), its levels' field names: net GEX,
/// net GEX by volume, the flip, its status, the call wall, the put wall.
const LEVEL_FIELDS: [[&str; 6]; ExpiryFilter::ALL.len()] = [
    [
        "all.net_gex",
        "all.net_gex_volume",
        "all.zero_gamma",
        "all.zero_gamma_status",
        "all.call_wall",
        "all.put_wall",
    ],
    [
        "0dte.net_gex",
        "0dte.net_gex_volume",
        "0dte.zero_gamma",
        "0dte.zero_gamma_status",
        "0dte.call_wall",
        "0dte.put_wall",
    ],
    [
        "next.net_gex",
        "next.net_gex_volume",
        "next.zero_gamma",
        "next.zero_gamma_status",
        "next.call_wall",
        "next.put_wall",
    ],
    [
        "7d.net_gex",
        "7d.net_gex_volume",
        "7d.zero_gamma",
        "7d.zero_gamma_status",
        "7d.call_wall",
        "7d.put_wall",
    ],
    [
        "45d.net_gex",
        "45d.net_gex_volume",
        "45d.zero_gamma",
        "45d.zero_gamma_status",
        "45d.call_wall",
        "45d.put_wall",
    ],
];

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
        out.push_str(&text(Some(x)));
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
    let mut fields = Vec::with_capacity(6 + 6 * ExpiryFilter::ALL.len() + 3);
    fields.push(("v", ENTRY_VERSION.to_owned()));
    fields.push(("seq", s.seq.to_string()));
    fields.push(("ts", text(Some(ms_to_seconds(s.ts_ms)))));
    fields.push(("epoch", s.epoch.id.to_string()));
    fields.push(("spot", text(s.spot)));
    for filter in ExpiryFilter::ALL {
        let g = s.filter(filter);
        let [net, volume, flip, status, call, put] = LEVEL_FIELDS[filter.index()];
        let levels = &g.levels;
        fields.push((net, text(Some(g.total.net_gex().round()))));
        fields.push((volume, text(Some(g.total.net_gex_volume().round()))));
        fields.push((flip, text(levels.zero_gamma.level().map(|x| fixed(x, 2)))));
        fields.push((status, levels.zero_gamma.status().to_owned()));
        fields.push((call, text(levels.call_wall.map(|k| k.points()))));
        fields.push((put, text(levels.put_wall.map(|k| k.points()))));
    }
    fields.push((
        "strikes",
        list(rows.iter().map(|&i| s.layout.strikes[i].points())),
    ));
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
    /// (strike, net GEX in $M per 1% move) near spot, ascending by strike; `None`
    /// for a filter whose profile entries do not keep.
    pub profile: Option<Vec<(f64, f64)>>,
}

/// Why an entry could not be read: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry(pub String);

impl Sample {
    /// Reads `filter`'s view of an entry's `fields`.
    pub fn parse(fields: &[(String, String)], filter: ExpiryFilter) -> Result<Self, BadEntry> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(f, _)| f == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| BadEntry(format!("no field {name}")))
        };
        let number = |name: &str| -> Result<Option<f64>, BadEntry> {
            let raw = get(name)?;
            if raw.is_empty() {
                return Ok(None);
            }
            match raw.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(BadEntry(format!("{name}: not a number"))),
            }
        };
        let version = get("v")?;
        if version != ENTRY_VERSION {
            return Err(BadEntry(format!("entry format {version:?}")));
        }
        let seq = get("seq")?
            .parse()
            .map_err(|_| BadEntry("seq: not a count".to_owned()))?;
        let ts_ms = number("ts")?
            .map(|s| (s * 1_000.0).round() as i64)
            .ok_or_else(|| BadEntry("ts: empty".to_owned()))?;
        let [net, volume, flip, status, call, put] = LEVEL_FIELDS[filter.index()];
        let profile = match PROFILE_FILTERS.iter().position(|&f| f == filter) {
            None => None,
            Some(i) => {
                let strikes = numbers(get("strikes")?).ok_or_else(|| bad_list("strikes"))?;
                let values =
                    numbers(get(PROFILE_FIELDS[i])?).ok_or_else(|| bad_list(PROFILE_FIELDS[i]))?;
                if strikes.len() != values.len() {
                    return Err(BadEntry(format!(
                        "{}: {} values for {} strikes",
                        PROFILE_FIELDS[i],
                        values.len(),
                        strikes.len()
                    )));
                }
                Some(strikes.into_iter().zip(values).collect())
            }
        };
        Ok(Sample {
            seq,
            ts_ms,
            epoch: get("epoch")?.to_owned(),
            spot: number("spot")?,
            net_gex: number(net)?,
            net_gex_volume: number(volume)?,
            zero_gamma: number(flip)?,
            zero_gamma_status: get(status)?.to_owned(),
            call_wall: number(call)?,
            put_wall: number(put)?,
            profile,
        })
    }
}

fn bad_list(name: &str) -> BadEntry {
    BadEntry(format!("{name}: not a list of numbers"))
}

/// A comma-separated list of finite numbers; `None` if any is not one.
fn numbers(raw: &str) -> Option<Vec<f64>> {
    if raw.is_empty() {
        return Some(Vec::new());
    }
    raw.split(',')
        .map(|x| x.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect()
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

    /// The plan for `[from_ms, to_ms]` with `step_ms`, or by default the narrowest
    /// whole-second step giving at most [`Self::DEFAULT_COLUMNS`] columns.
    pub fn new(from_ms: u64, to_ms: u64, step_ms: Option<u64>) -> Result<Self, BadParameter> {
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
    let mut axis: Vec<f64> = samples
        .iter()
        .flatten()
        .filter_map(|s| s.profile.as_ref())
        .flat_map(|p| p.iter().map(|&(k, _)| k))
        .collect();
    axis.sort_by(f64::total_cmp);
    axis.dedup();
    let has_profile = PROFILE_FILTERS.contains(&filter);
    let mut o = Out(String::with_capacity(
        256 + samples.len() * (256 + axis.len() * 7),
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
        o.int(s.seq as i64);
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
        o.key("profile");
        match &s.profile {
            None => o.raw("null"),
            Some(profile) => {
                // Both ascending: one merge walk.
                let mut values = profile.iter().peekable();
                o.array(&axis, |o, &k| {
                    while values.next_if(|&&(at, _)| at < k).is_some() {}
                    match values.next_if(|&&(at, _)| at == k) {
                        Some(&(_, v)) => o.num(v),
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
mod tests {
    use super::*;

    #[test]
    fn level_field_names_follow_the_filters() {
        for filter in ExpiryFilter::ALL {
            for name in LEVEL_FIELDS[filter.index()] {
                assert!(name.starts_with(&format!("{}.", filter.as_str())), "{name}");
            }
        }
        for (filter, name) in PROFILE_FILTERS.into_iter().zip(PROFILE_FIELDS) {
            assert_eq!(name, format!("{}.profile", filter.as_str()));
        }
    }

    #[test]
    fn a_plan_cuts_the_range_into_columns() {
        let plan = HistoryPlan::new(10_000, 14_999, Some(2_000)).expect("valid");
        assert_eq!(
            plan.ranges(),
            [(10_000, 11_999), (12_000, 13_999), (14_000, 14_999)]
        );
        // A session by default: 1,500 columns at most, whole seconds.
        let session = 23_400_000;
        let plan = HistoryPlan::new(0, session - 1, None).expect("valid");
        assert_eq!(plan.step_ms, 16_000);
        assert!(plan.columns() <= HistoryPlan::DEFAULT_COLUMNS);
        let short = HistoryPlan::new(0, 59_999, None).expect("valid");
        assert_eq!((short.step_ms, short.columns()), (1_000, 60));
        let one = HistoryPlan::new(5, 5, None).expect("valid");
        assert_eq!(one.ranges(), [(5, 5)]);
    }

    #[test]
    fn a_plan_names_the_parameter_it_cannot_serve() {
        let name = |r: Result<HistoryPlan, BadParameter>| r.map_err(|e| e.name);
        assert_eq!(name(HistoryPlan::new(2, 1, None)), Err("from"));
        assert_eq!(name(HistoryPlan::new(0, 10_000, Some(999))), Err("step"));
        assert_eq!(
            name(HistoryPlan::new(0, 23_400_000, Some(1_000))),
            Err("step"),
            "23,400 columns"
        );
        assert!(HistoryPlan::new(0, u64::MAX - 1, None).is_ok());
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_entry_reads_back_and_bad_ones_say_why() {
        let mut entry = vec![
            ("v", "1"),
            ("seq", "7"),
            ("ts", "1765000000.25"),
            ("epoch", "SPX-20261204-0001"),
            ("spot", "6000.5"),
            ("strikes", "5995,6000,6005"),
            ("all.profile", "1.5,-2,0"),
            ("0dte.profile", "0,0.1,0"),
        ];
        for names in LEVEL_FIELDS {
            entry.extend(names.into_iter().zip([
                "-1e9",
                "2e8",
                "",
                "none_in_range",
                "6100",
                "5900",
            ]));
        }
        let sample = Sample::parse(&fields(&entry), ExpiryFilter::All).expect("reads");
        assert_eq!(sample.seq, 7);
        assert_eq!(sample.ts_ms, 1_765_000_000_250);
        assert_eq!(sample.zero_gamma, None);
        assert_eq!(sample.call_wall, Some(6100.0));
        assert_eq!(
            sample.profile,
            Some(vec![(5995.0, 1.5), (6000.0, -2.0), (6005.0, 0.0)])
        );
        let week = Sample::parse(&fields(&entry), ExpiryFilter::Week).expect("reads");
        assert_eq!(week.profile, None, "no profile kept for 7d");

        let broken = |name: &str, value: &str| {
            let mut e = fields(&entry);
            e.iter_mut().find(|(f, _)| f == name).expect("field").1 = value.to_owned();
            Sample::parse(&e, ExpiryFilter::All).expect_err("broken")
        };
        assert_eq!(broken("v", "2").0, "entry format \"2\"");
        assert!(
            broken("all.profile", "1,2")
                .0
                .contains("2 values for 3 strikes")
        );
        assert!(broken("strikes", "1,x,3").0.contains("strikes"));
        assert!(broken("spot", "NaN").0.contains("spot"));
        assert!(Sample::parse(&fields(&entry[1..]), ExpiryFilter::All).is_err());
    }

    #[test]
    fn the_document_places_profiles_on_one_strike_axis() {
        let sample = |seq: u64, profile: &[(f64, f64)]| Sample {
            seq,
            ts_ms: 1_000 * seq as i64,
            epoch: "E\"1".to_owned(),
            spot: Some(100.0),
            net_gex: Some(1.0),
            net_gex_volume: None,
            zero_gamma: None,
            zero_gamma_status: "none_in_range".to_owned(),
            call_wall: Some(105.0),
            put_wall: None,
            profile: Some(profile.to_vec()),
        };
        let plan = HistoryPlan::new(0, 2_999, Some(1_000)).expect("valid");
        let samples = [
            Some(sample(0, &[(95.0, 1.0), (100.0, 2.0)])),
            None,
            Some(sample(2, &[(100.0, 3.0), (105.0, 4.0)])),
        ];
        let doc = document(
            Underlying::new("SPX").expect("valid"),
            ExpiryFilter::All,
            &plan,
            &samples,
            1,
        );
        let value: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
        assert_eq!(value["strikes"], serde_json::json!([95, 100, 105]));
        let columns = value["columns"].as_array().expect("columns");
        assert_eq!(columns.len(), 2, "the empty column is left out");
        assert_eq!(columns[0]["profile"], serde_json::json!([1, 2, null]));
        assert_eq!(columns[1]["profile"], serde_json::json!([null, 3, 4]));
        assert_eq!(columns[1]["t"], 2);
        assert_eq!(columns[0]["epoch"], "E\"1");
        assert_eq!(value["skipped"], 1);
    }
}

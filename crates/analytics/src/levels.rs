//! The key levels of each expiry filter, settled against the ones published the tick
//! before: the zero-gamma flip with every material root and the gamma curve, and the
//! call and put walls on both bases.
//!
//! Traders place orders at these levels, so a level must mean the same thing from one
//! second to the next. The builder's tick leaves them [`ZeroGamma::Pending`]; the
//! publisher calls [`settle`] with the snapshot it published last, off the tick path
//! (the flip search costs milliseconds on a full board), and publishes the result.
//!
//! # Definitions (also in the README)
//!
//! - **Zero-gamma flip**: a level `S'` where the filter's net dealer GEX by open
//!   interest, with every contract's gamma re-priced at `S'` (its own implied
//!   volatility, strike and time to settlement), changes sign
//!   ([`chainboard_quant::levels`]). Only *material* crossings count, within a range
//!   that follows the filter's gamma width. The published one is the root tracked
//!   since last tick ([`chainboard_quant::levels::track`]): it stays while it exists
//!   and another root replaces it only when nearer spot by 0.25% of spot. Contracts
//!   without a volatility (vendor greeks only) cannot be re-priced and are left out.
//!   When there is no flip, the status says why: `none_in_range`, `one_sided`,
//!   `no_expiration`, `no_open_interest`, `no_usable_contracts` (or `pending`
//!   without a spot).
//! - **Call wall** / **put wall**: the strike with the largest call GEX / the largest
//!   put GEX in size, by open interest, at the models' anchor (summed over the
//!   filter's expirations). Not the strike with the most open interest: gamma
//!   weights it by how near the money and how near expiry it is. A wall moves only
//!   when another strike's GEX beats the held wall's by [`ModelConfig::wall_margin`]
//!   (10%); ties go to the strike nearer spot, then the lower one.
//! - **Volume walls**: the same on the volume basis (today's volume instead of open
//!   interest): a proxy of today's activity, not of positions.
//! - **Flow-adjusted flip and walls**: the same on the flow-adjusted position, open
//!   interest (under the sign convention) less today's customer net purchases as
//!   signed ([`chainboard_model::flow`]), with its own roots and gamma curve. The
//!   flip is tracked as the open-interest one is; when no contract of the filter has
//!   flow, flip, roots and curve are the open-interest ones.

use std::sync::Arc;

use chainboard_model::{Right, Strike};
use chainboard_quant::exposure::MULTIPLIER;
use chainboard_quant::levels::{self, GammaLeg, GammaProfile};

use crate::ModelConfig;
use crate::gex::{ExpiryFilter, Metric};
use crate::snapshot::{FilterGex, GammaCurve, GexSnapshot, HeatmapSnapshot, Levels, ZeroGamma};

/// `gex` with every filter's levels and gamma curve settled against `previous`, the
/// snapshot published the tick before (of any epoch: levels are index levels and
/// strikes, which outlive an epoch).
pub fn settle(
    heatmap: &HeatmapSnapshot,
    gex: &GexSnapshot,
    config: &ModelConfig,
    previous: Option<&GexSnapshot>,
) -> GexSnapshot {
    let mut next = gex.clone();
    let spot = heatmap.meta.anchor.map(|a| a.spot);
    for f in &mut next.filters {
        let before = previous.map(|p| p.filter(f.filter));
        let (zero_gamma, transition, roots, curve) = match spot {
            Some(spot) => flip(heatmap, config, f.filter, spot, before, Basis::OpenInterest),
            None => (ZeroGamma::Pending, None, Vec::new(), None),
        };
        // Without any flow in the filter the flow-adjusted profile is the open-interest
        // one: its flip, roots and curve are the same, and not searched for twice. (The
        // tick a session reset empties the flow, its transition is the open-interest
        // flip's.)
        let (zero_gamma_flow, transition_flow, roots_flow, curve_flow) = match spot {
            Some(_) if !has_flow(heatmap, f.filter) => {
                (zero_gamma, transition, roots.clone(), curve.clone())
            }
            Some(spot) => flip(heatmap, config, f.filter, spot, before, Basis::FlowAdjusted),
            None => (ZeroGamma::Pending, None, Vec::new(), None),
        };
        let held = |pick: fn(&Levels) -> Option<Strike>| before.and_then(|b| pick(&b.levels));
        let live = gex.spot.or(spot);
        let wall = |metric, held| wall(f, &gex.layout.strikes, metric, live, held, config);
        f.levels = Levels {
            zero_gamma,
            transition,
            roots,
            call_wall: wall(Metric::CallGex, held(|l| l.call_wall)),
            put_wall: wall(Metric::PutGex, held(|l| l.put_wall)),
            call_wall_volume: wall(Metric::CallGexVolume, held(|l| l.call_wall_volume)),
            put_wall_volume: wall(Metric::PutGexVolume, held(|l| l.put_wall_volume)),
            zero_gamma_flow,
            transition_flow,
            roots_flow,
            call_wall_flow: wall(Metric::CallGexFlow, held(|l| l.call_wall_flow)),
            put_wall_flow: wall(Metric::PutGexFlow, held(|l| l.put_wall_flow)),
        };
        f.curve = curve;
        f.curve_flow = curve_flow;
    }
    next
}

type FlipParts = (
    ZeroGamma,
    Option<levels::Transition>,
    Vec<levels::Flip>,
    Option<Arc<GammaCurve>>,
);

/// The dealer position a flip re-prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Open interest, under the configured sign convention.
    OpenInterest,
    /// Open interest plus the change today's customer flow made to dealers' books.
    FlowAdjusted,
}

/// Whether any contract of `filter` has customer flow today.
fn has_flow(heatmap: &HeatmapSnapshot, filter: ExpiryFilter) -> bool {
    heatmap
        .cells
        .iter()
        .zip(&heatmap.layout.positions)
        .any(|(cell, pos)| {
            cell.flow_net != 0
                && heatmap
                    .columns
                    .get(usize::from(pos.expiry))
                    .is_some_and(|c| c.filters & filter.bit() != 0)
        })
}

/// One filter's flip, roots and curve at `spot`, on `basis`.
fn flip(
    heatmap: &HeatmapSnapshot,
    config: &ModelConfig,
    filter: ExpiryFilter,
    spot: f64,
    before: Option<&FilterGex>,
    basis: Basis,
) -> FlipParts {
    let mut census = Census::default();
    let profile = GammaProfile::new(
        legs(heatmap, config, filter, basis, &mut census),
        config.rate,
        config.div_yield,
    );
    let previous = before.and_then(|b| match basis {
        Basis::OpenInterest => b.levels.zero_gamma.flip(),
        Basis::FlowAdjusted => b.levels.zero_gamma_flow.flip(),
    });
    let absent = |why: ZeroGamma| {
        let transition = previous.map(|_| levels::Transition::Vanished);
        (why, transition, Vec::new(), None)
    };
    let in_filter = heatmap
        .columns
        .iter()
        .any(|c| c.filters & filter.bit() != 0);
    if !in_filter {
        return absent(ZeroGamma::NoExpiration);
    }
    if census.calls + census.puts == 0 {
        return absent(ZeroGamma::NoOpenInterest);
    }
    if census.calls == 0 || census.puts == 0 {
        return absent(ZeroGamma::OneSided);
    }
    if profile.is_empty() {
        return absent(ZeroGamma::NoUsableContracts);
    }
    let Some(scan) = profile.scan(spot, &config.flip) else {
        return absent(ZeroGamma::NoneInRange);
    };
    let curve = Some(Arc::new(GammaCurve {
        spots: scan.spots.clone(),
        values: scan.values.clone(),
        floor: scan.floor,
        peak: scan.peak,
    }));
    if profile.is_one_sided() {
        // Both sides hold open interest, but one has no volatility to re-price.
        let (zero_gamma, transition, roots, _) = absent(ZeroGamma::NoUsableContracts);
        return (zero_gamma, transition, roots, curve);
    }
    let (published, transition) = match levels::track(&scan, spot, previous, &config.hysteresis) {
        // A flip after a tick without one is news, not the first flip ever.
        (Some(f), levels::Transition::First) if before.is_some() => {
            (Some(f), levels::Transition::Appeared)
        }
        other => other,
    };
    let zero_gamma = match published {
        Some(f) => ZeroGamma::At {
            level: f.level,
            rising: f.rising,
        },
        None => ZeroGamma::NoneInRange,
    };
    // Nothing published before and nothing now is not a transition.
    let transition = (published.is_some() || previous.is_some()).then_some(transition);
    (zero_gamma, transition, scan.roots, curve)
}

/// Contracts with open interest in a filter, usable or not, by side (as counted by
/// [`legs`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Calls with open interest.
    pub calls: usize,
    /// Puts with open interest.
    pub puts: usize,
}

/// The legs of `filter`: contracts with a volatility and a position on `basis` in its
/// expirations. `census` counts the contracts with a position, usable or not.
pub fn legs<'a>(
    heatmap: &'a HeatmapSnapshot,
    config: &'a ModelConfig,
    filter: ExpiryFilter,
    basis: Basis,
    census: &'a mut Census,
) -> impl Iterator<Item = GammaLeg> + 'a {
    let layout = &heatmap.layout;
    heatmap
        .cells
        .iter()
        .zip(&layout.positions)
        .filter_map(move |(cell, pos)| {
            let column = heatmap.columns.get(usize::from(pos.expiry))?;
            if column.filters & filter.bit() == 0 {
                return None;
            }
            let oi = config.dealer_sign.of(pos.right) * cell.oi.unwrap_or(0) as f64;
            let position = match basis {
                Basis::OpenInterest => oi,
                Basis::FlowAdjusted => oi - cell.flow_net as f64,
            };
            if position == 0.0 {
                return None;
            }
            match pos.right {
                Right::Call => census.calls += 1,
                Right::Put => census.puts += 1,
            }
            let vol = cell.iv?;
            let strike = layout.strikes.get(usize::from(pos.strike))?.points();
            Some(GammaLeg {
                strike,
                t_years: column.t_years,
                vol,
                weight: position * MULTIPLIER,
            })
        })
}

/// The wall of `metric` in one filter: the strike with the largest `|GEX|`, unless
/// `held` (last tick's wall) is within the margin of it. Ties go to the strike nearer
/// `spot`, then the lower strike. `None` when no strike has any.
fn wall(
    f: &FilterGex,
    strikes: &[Strike],
    metric: Metric,
    spot: Option<f64>,
    held: Option<Strike>,
    config: &ModelConfig,
) -> Option<Strike> {
    let size = |i: usize| f.per_strike.get(i).map_or(0.0, |r| r.get(metric).abs());
    let distance = |k: Strike| spot.map_or(0.0, |s| (k.points() - s).abs());
    let best = (0..strikes.len().min(f.per_strike.len()))
        .filter(|&i| size(i) > 0.0)
        .max_by(|&a, &b| {
            size(a)
                .total_cmp(&size(b))
                .then(distance(strikes[b]).total_cmp(&distance(strikes[a])))
                .then(strikes[b].cmp(&strikes[a]))
        })?;
    let held = held.and_then(|k| strikes.iter().position(|&s| s == k));
    match held {
        Some(h) if size(h) > 0.0 && size(best) <= (1.0 + config.wall_margin) * size(h) => {
            Some(strikes[h])
        }
        _ => Some(strikes[best]),
    }
}

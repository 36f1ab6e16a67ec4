//! The zero-gamma flip of each expiry filter, from a heatmap snapshot.
//!
//! The flip is where dealer gamma changes sign as the index moves: it needs gamma
//! re-priced at hypothetical spots, which the vendor's greeks (at one spot) cannot
//! give. Each contract with a volatility and open interest becomes a
//! [`GammaLeg`] with its strike, its time to settlement at the snapshot's anchor and
//! that volatility, and [`GammaProfile::zero_gamma`] finds the sign change nearest
//! spot (see [`chainboard_quant::levels`] for the search and its limits). Contracts
//! whose greeks are the vendor's raw numbers, without a volatility (`iv` null in the
//! heatmap, source `V`), cannot be re-priced and are left out.
//!
//! The search costs milliseconds on a full board, so it runs off the 1 Hz tick path:
//! the publisher calls [`zero_gamma`] on the snapshot it is about to publish, and the
//! result goes into the published GEX snapshot of that same seq.

use chainboard_quant::exposure::MULTIPLIER;
use chainboard_quant::levels::{GammaLeg, GammaProfile};

use crate::ModelConfig;
use crate::gex::ExpiryFilter;
use crate::snapshot::{HeatmapSnapshot, ZeroGamma};

/// The zero-gamma flip of every filter, in [`ExpiryFilter::ALL`] order; all
/// [`ZeroGamma::Pending`] without an index value.
pub fn zero_gamma(
    heatmap: &HeatmapSnapshot,
    config: &ModelConfig,
) -> [ZeroGamma; ExpiryFilter::ALL.len()] {
    let Some(spot) = heatmap.meta.anchor.map(|a| a.spot) else {
        return [ZeroGamma::Pending; ExpiryFilter::ALL.len()];
    };
    ExpiryFilter::ALL.map(|filter| {
        let profile =
            GammaProfile::new(legs(heatmap, config, filter), config.rate, config.div_yield);
        match profile.zero_gamma(spot, &config.flip) {
            Some(flip) => ZeroGamma::At {
                level: flip.level,
                rising: flip.rising,
            },
            None => ZeroGamma::NoneInRange,
        }
    })
}

/// The legs of `filter`: contracts with a volatility and open interest in its
/// expirations.
pub fn legs<'a>(
    heatmap: &'a HeatmapSnapshot,
    config: &'a ModelConfig,
    filter: ExpiryFilter,
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
            let vol = cell.iv?;
            let oi = cell.oi.filter(|&oi| oi > 0)?;
            let strike = layout.strikes.get(usize::from(pos.strike))?.points();
            Some(GammaLeg {
                strike,
                t_years: column.t_years,
                vol,
                weight: config.dealer_sign.of(pos.right) * oi as f64 * MULTIPLIER,
            })
        })
}

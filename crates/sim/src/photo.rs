//! The simulated chain as the engine's [`ChainPhoto`], without the wire.
//!
//! The fake Massive serves the chain as REST pages, and ingestion parses them back;
//! tests and benchmarks of what sits downstream of the engine (the models) want the
//! same photo directly, with the vendor's quirks kept: greeks `{}` for deep in the
//! money, neither greeks nor IV in the far wings, theta per day and vega per vol point.

use chainboard_model::{
    ChainContract, ChainPhoto, ContractState, Greeks, RejectTally, RootMap, SlowFields,
};

use crate::chain::{SimChain, SimContract, VendorGreeks};

/// A contract as a chain photo taken at `now_ms` reports it; `None` for a root the
/// default [`RootMap`] does not know.
pub fn chain_contract(c: &SimContract, now_ms: i64) -> Option<ChainContract> {
    let geometry = RootMap::default().geometry(c.key)?;
    let (greeks, iv) = match c.vendor_greeks {
        VendorGreeks::Full => (
            Greeks {
                delta: Some(c.greeks.delta),
                gamma: Some(c.greeks.gamma),
                theta: Some(c.greeks.theta / 365.0),
                vega: Some(c.greeks.vega / 100.0),
            },
            Some(c.vol),
        ),
        VendorGreeks::Empty => (Greeks::default(), Some(c.vol)),
        VendorGreeks::Absent => (Greeks::default(), None),
    };
    let state = ContractState {
        bid: Some(c.bid()),
        ask: Some(c.ask()),
        bid_size: Some(u64::from(c.bid_size)),
        ask_size: Some(u64::from(c.ask_size)),
        quote_ts_ms: Some(now_ms - c.quote_age_ms),
        last_price: c.last_trade.map(|t| crate::ticks::points(t.price_cents)),
        trade_ts_ms: c.last_trade.map(|t| now_ms - t.age_ms),
        last_size: c.last_trade.map(|t| u64::from(t.size)),
        volume: c.day.map(|d| d.volume),
        slow: SlowFields {
            greeks,
            iv,
            oi: Some(c.open_interest),
        },
        slow_ts_ms: Some(now_ms),
        ..ContractState::default()
    };
    Some(ChainContract { geometry, state })
}

/// A photo of the contracts of `chain` that `keep` selects, taken at `now_ms`.
pub fn photo(chain: &SimChain, now_ms: i64, keep: impl Fn(&SimContract) -> bool) -> ChainPhoto {
    ChainPhoto {
        underlying: chain.config().underlying,
        taken_at_ms: now_ms,
        underlying_value: Some(chain.spot()),
        contracts: chain
            .contracts()
            .iter()
            .filter(|c| keep(c))
            .filter_map(|c| chain_contract(c, now_ms))
            .collect(),
        rejected: RejectTally::default(),
    }
}

//! Massive's REST chain snapshot as it is on the wire.
//!
//! Every field is optional: Massive omits what an entitlement does not cover
//! (`last_quote`, `last_trade`), sends `greeks: {}` for deep ITM contracts, and puts an
//! index's level in `value` where an equity's is in `price`. Deciding what is required
//! is [`crate::chain`]'s job, not serde's, so that one odd contract is rejected on its
//! own instead of failing the page.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A response of `GET /v3/snapshot/options/{underlyingAsset}`, results left raw so
/// each can fail alone.
#[derive(Debug, Deserialize)]
pub(crate) struct MassiveChainResponse<'a> {
    pub(crate) status: Option<String>,
    pub(crate) request_id: Option<String>,
    #[serde(borrow)]
    pub(crate) results: Option<Vec<&'a RawValue>>,
    pub(crate) next_url: Option<String>,
    /// Error text of a `NOT_AUTHORIZED` body.
    pub(crate) message: Option<String>,
    /// Error text of an `ERROR` body.
    pub(crate) error: Option<String>,
}

/// One contract of a chain snapshot.
#[derive(Debug, Deserialize)]
pub(crate) struct MassiveChainResult {
    pub(crate) details: Option<MassiveDetails>,
    pub(crate) greeks: Option<MassiveGreeks>,
    pub(crate) implied_volatility: Option<f64>,
    pub(crate) open_interest: Option<f64>,
    pub(crate) last_quote: Option<MassiveLastQuote>,
    pub(crate) last_trade: Option<MassiveLastTrade>,
    pub(crate) day: Option<MassiveDay>,
    pub(crate) underlying_asset: Option<MassiveUnderlyingAsset>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MassiveDetails {
    pub(crate) ticker: Option<String>,
    pub(crate) contract_type: Option<String>,
    pub(crate) expiration_date: Option<String>,
    pub(crate) strike_price: Option<f64>,
    pub(crate) shares_per_contract: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MassiveGreeks {
    pub(crate) delta: Option<f64>,
    pub(crate) gamma: Option<f64>,
    pub(crate) theta: Option<f64>,
    pub(crate) vega: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MassiveLastQuote {
    pub(crate) bid: Option<f64>,
    pub(crate) ask: Option<f64>,
    pub(crate) bid_size: Option<f64>,
    pub(crate) ask_size: Option<f64>,
    pub(crate) last_updated: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MassiveLastTrade {
    pub(crate) price: Option<f64>,
    pub(crate) size: Option<f64>,
    pub(crate) sip_timestamp: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MassiveDay {
    pub(crate) volume: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MassiveUnderlyingAsset {
    /// Indices carry their level here.
    pub(crate) value: Option<f64>,
    /// Equities carry their price here.
    pub(crate) price: Option<f64>,
}

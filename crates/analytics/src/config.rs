//! What the models assume about the market, and how often they re-anchor.

use chainboard_model::Underlying;
use chainboard_quant::exposure::DealerSign;
use chainboard_quant::levels::{FlipSearch, Hysteresis};

/// The models' assumptions for one underlying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConfig {
    /// Continuous risk-free rate for BSM (0.04 = 4%).
    pub rate: f64,
    /// Continuous dividend yield of the index (SPX about 1.3%, NDX about 0.7%).
    pub div_yield: f64,
    /// Which side of the book counts positive in GEX.
    pub dealer_sign: DealerSign,
    /// The board's greeks are evaluated at one reference spot (see
    /// [`crate::valuation`]); when the live index leaves this band around it (a
    /// fraction: 0.001 = 0.1%), every contract is re-evaluated at the new spot.
    pub respot_band: f64,
    /// ... and at least this often, so time decay reaches contracts that do not
    /// quote (0DTE gamma changes by the minute). Milliseconds.
    pub retime_ms: i64,
    /// Where the zero-gamma flip is looked for, and what counts as one.
    pub flip: FlipSearch,
    /// When the published flip follows its root and when it moves to another.
    pub hysteresis: Hysteresis,
    /// A wall moves to another strike only when that strike's GEX exceeds the held
    /// wall's by this fraction (0.10 = 10%): walls a few percent apart trade places
    /// on every re-quote otherwise.
    pub wall_margin: f64,
    /// Top flow covers the last this many milliseconds (default 15 minutes).
    pub flow_window_ms: i64,
}

impl ModelConfig {
    /// Defaults for `underlying`: a 4% rate, the index's dividend yield (SPX 1.3%,
    /// NDX 0.7%, others 1.3%), dealers long calls, re-anchored on a 0.1% move or
    /// every 60 s, the flip looked for where each filter's gamma lives (at most ±15%),
    /// held until another root is 0.25% nearer spot, walls held within 10%, top flow
    /// over 15 minutes.
    pub fn for_underlying(underlying: Underlying) -> Self {
        let div_yield = match underlying.as_str() {
            "NDX" => 0.007,
            _ => 0.013,
        };
        Self {
            rate: 0.04,
            div_yield,
            dealer_sign: DealerSign::CallsLong,
            respot_band: 0.001,
            retime_ms: 60_000,
            flip: FlipSearch::default(),
            hysteresis: Hysteresis::default(),
            wall_margin: 0.10,
            flow_window_ms: 15 * 60_000,
        }
    }
}

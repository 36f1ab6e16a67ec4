//! The session's customer flow, kept by the engine beside hydration.
//!
//! Each trade that reaches a contract on the board is checked here before it is signed
//! ([`chainboard_model::flow`] has the rule): its conditions must make it a regular
//! single-leg trade, its price and size must be positive, and its time must fall in
//! the trading session the engine was told of ([`Session`]). Everything refused is
//! counted by reason; nothing is guessed.
//!
//! Flow is the one thing that crosses an epoch boundary: an epoch is a board from one
//! photo, but a contract that both boards list is the same contract, traded in both,
//! so its session totals go with it into the new epoch ([`crate::Engine`] carries
//! them by contract id). A new session starts every contract at zero.

pub use chainboard_model::flow::Session;
use chainboard_model::flow::{
    Conditions, Excluded, FlowConfig, MAX_TRADE_PRICE, MAX_TRADE_SIZE, QuoteSource, Rule, Side,
};
use chainboard_model::{ContractState, FieldMask, TradeUpdate};

/// Why a trade on the board was not signed at all (beyond its conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refused {
    /// A zero price, or one above [`MAX_TRADE_PRICE`].
    BadPrice,
    /// A zero size, or one above [`MAX_TRADE_SIZE`].
    BadSize,
    /// Stamped outside the current session.
    OutsideSession,
    /// No session has been set yet.
    NoSession,
}

impl Refused {
    /// Every reason, in the order counts are published.
    pub const ALL: [Refused; 4] = [
        Refused::BadPrice,
        Refused::BadSize,
        Refused::OutsideSession,
        Refused::NoSession,
    ];

    /// The name in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::BadPrice => "bad_price",
            Refused::BadSize => "bad_size",
            Refused::OutsideSession => "outside_session",
            Refused::NoSession => "no_session",
        }
    }
}

/// What the flow saw this session, for the published share of volume signed and for
/// operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowStats {
    /// Regular trades by customer side ([`Side::ALL`] order).
    pub trades: [u64; 3],
    /// Their contracts by side.
    pub volume: [u64; 3],
    /// Regular trades by the step that decided them ([`Rule::ALL`] order).
    pub rules: [u64; 5],
    /// Regular trades by the quote that signed them ([`QuoteSource::ALL`] order).
    pub quotes: [u64; 3],
    /// Sum of quote ages at the trades signed against a live quote and a photo's
    /// quote, ms (`quotes` gives the counts).
    pub quote_age_ms: [u64; 2],
    /// Trades excluded by their conditions ([`Excluded::ALL`] order).
    pub excluded: [u64; 6],
    /// Their contracts.
    pub excluded_volume: u64,
    /// Trades refused ([`Refused::ALL`] order).
    pub refused: [u64; 4],
}

impl FlowStats {
    /// Contracts of regular trades, signed or not.
    pub fn regular_volume(&self) -> u64 {
        self.volume.iter().sum()
    }

    /// The share of regular volume signed buy or sell (0 when there was none).
    pub fn signed_share(&self) -> f64 {
        let all = self.regular_volume();
        if all == 0 {
            return 0.0;
        }
        (self.volume[Side::Buy.index()] + self.volume[Side::Sell.index()]) as f64 / all as f64
    }

    /// Mean age of the quotes that signed trades, ms, for `source` (live or photo).
    pub fn mean_quote_age_ms(&self, source: QuoteSource) -> Option<f64> {
        let i = match source {
            QuoteSource::Live => 0,
            QuoteSource::Photo => 1,
            QuoteSource::None => return None,
        };
        let n = self.quotes[source.index()];
        (n > 0).then(|| self.quote_age_ms[i] as f64 / n as f64)
    }
}

/// The engine's flow settings, session and counts.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    pub(crate) config: FlowConfig,
    pub(crate) session: Option<Session>,
    pub(crate) stats: FlowStats,
}

impl Flow {
    pub(crate) fn new(config: FlowConfig) -> Self {
        Self {
            config,
            session: None,
            stats: FlowStats::default(),
        }
    }

    /// Signs `t` into `state`'s flow if it is signable; returns [`FieldMask::FLOW`]
    /// when the flow changed.
    #[inline]
    pub(crate) fn on_trade(&mut self, state: &mut ContractState, t: &TradeUpdate) -> FieldMask {
        if let Conditions::Excluded(why) = t.conditions() {
            self.stats.excluded[why.index()] += 1;
            self.stats.excluded_volume = self.stats.excluded_volume.saturating_add(t.size());
            return FieldMask::NONE;
        }
        let refused = match self.session {
            _ if t.price() <= 0.0 || t.price() > MAX_TRADE_PRICE => Some(Refused::BadPrice),
            _ if t.size() == 0 || t.size() > MAX_TRADE_SIZE => Some(Refused::BadSize),
            None => Some(Refused::NoSession),
            Some(s) if t.ts_ms() < s.start_ms || t.ts_ms() >= s.end_ms => {
                Some(Refused::OutsideSession)
            }
            Some(_) => None,
        };
        if let Some(why) = refused {
            self.stats.refused[why as usize] += 1;
            return FieldMask::NONE;
        }
        let signed = state.apply_flow(t, &self.config);
        let stats = &mut self.stats;
        stats.trades[signed.side.index()] += 1;
        let volume = &mut stats.volume[signed.side.index()];
        *volume = volume.saturating_add(t.size());
        stats.rules[signed.rule.index()] += 1;
        stats.quotes[signed.quote.index()] += 1;
        if let Some(age) = signed.quote_age_ms {
            let i = usize::from(signed.quote == QuoteSource::Photo);
            stats.quote_age_ms[i] = stats.quote_age_ms[i].saturating_add(age.max(0) as u64);
        }
        FieldMask::FLOW
    }
}

// The published orders of the count arrays follow the model's enums.
const _: () = {
    assert!(Side::ALL.len() == 3);
    assert!(Rule::ALL.len() == 5);
    assert!(QuoteSource::ALL.len() == 3);
    assert!(Excluded::ALL.len() == 6);
};

//! One contract: its frozen geometry and its mutable state, kept in separate types.
//!
//! The design's rule is that live events repaint prices and never change the board.
//! chainboard makes that a property of the types rather than of discipline: an epoch
//! stores [`ContractGeometry`] in a frozen, shared table, and hydration only ever gets a
//! `&mut` [`ContractState`], which has no root, expiration, right, strike or underlying
//! to change. [`ContractRecord`] joins the two for output, with the design's field
//! names.

use serde::Serialize;
use thiserror::Error;

use crate::flow::{Conditions, ContractFlow, FlowConfig, QuoteAt, Signed};
use crate::roots::Settlement;
use crate::symbol::ContractKey;
use crate::ticker::Underlying;
use crate::time::ms_to_seconds;

/// The immutable part of a contract: what places it on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContractGeometry {
    /// Root, expiration, right, strike.
    pub key: ContractKey,
    /// The underlying the root maps to (`SPXW` → `SPX`).
    pub underlying: Underlying,
    /// AM or PM settlement, from the root.
    pub settlement: Settlement,
}

/// Vendor greeks from the chain snapshot; each may be missing on its own (Massive
/// sends `{}` or omits `greeks` for deep ITM and illiquid contracts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Greeks {
    /// ∂price/∂spot.
    pub delta: Option<f64>,
    /// ∂²price/∂spot².
    pub gamma: Option<f64>,
    /// ∂price/∂t, per day as the vendor quotes it.
    pub theta: Option<f64>,
    /// ∂price/∂σ, per vol point as the vendor quotes it.
    pub vega: Option<f64>,
}

/// Fields only a chain snapshot provides; refreshed in place when a same-geometry
/// photo arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SlowFields {
    /// Vendor greeks.
    pub greeks: Greeks,
    /// Vendor implied volatility (annualized, 0.18 = 18%).
    pub iv: Option<f64>,
    /// Open interest, contracts; OCC publishes it once a day.
    pub oi: Option<u64>,
}

/// Which fields an update changed: consumers (the store's field-level writes, the
/// models) read this instead of diffing records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FieldMask(u16);

impl FieldMask {
    /// Nothing changed.
    pub const NONE: Self = Self(0);
    /// Bid price.
    pub const BID: Self = Self(1 << 0);
    /// Ask price.
    pub const ASK: Self = Self(1 << 1);
    /// Bid size.
    pub const BID_SIZE: Self = Self(1 << 2);
    /// Ask size.
    pub const ASK_SIZE: Self = Self(1 << 3);
    /// Quote timestamp.
    pub const QUOTE_TS: Self = Self(1 << 4);
    /// Last trade price.
    pub const LAST_PRICE: Self = Self(1 << 5);
    /// Last trade size.
    pub const LAST_SIZE: Self = Self(1 << 6);
    /// Last trade timestamp.
    pub const TRADE_TS: Self = Self(1 << 7);
    /// Day volume.
    pub const VOLUME: Self = Self(1 << 8);
    /// Any vendor greek.
    pub const GREEKS: Self = Self(1 << 9);
    /// Vendor implied volatility.
    pub const IV: Self = Self(1 << 10);
    /// Open interest.
    pub const OI: Self = Self(1 << 11);
    /// The session's customer flow ([`ContractFlow`]).
    pub const FLOW: Self = Self(1 << 12);
    /// Every field a live quote can touch.
    pub const QUOTE: Self = Self(0b1_1111);
    /// Every field a live trade can touch.
    pub const TRADE: Self = Self(0b1_1110_0000);
    /// Every slow (photo-only) field.
    pub const SLOW: Self = Self(0b1110_0000_0000);

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set in `self`.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The raw bits.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Adds `bit` if `changed`, without a branch: whether a field changed is data, and
    /// on the quote path it is close to random.
    #[inline]
    fn set_if(&mut self, changed: bool, bit: Self) {
        self.0 |= u16::from(changed) * bit.0;
    }
}

impl std::ops::BitOr for FieldMask {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for FieldMask {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// Why a live update was refused before touching any contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UpdateError {
    /// A price was negative, infinite or NaN.
    #[error("price is not a finite non-negative number")]
    BadPrice,
    /// A timestamp was not a positive Unix time.
    #[error("timestamp is not a positive Unix time")]
    BadTimestamp,
}

/// A validated live quote (Massive `Q`): NBBO bid/ask with sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteUpdate {
    bid: f64,
    ask: f64,
    bid_size: u64,
    ask_size: u64,
    ts_ms: i64,
}

impl QuoteUpdate {
    /// Validates a quote. Crossed or locked markets are kept as sent (they happen, and
    /// the models decide what to do with them); a zero bid is a real, common quote.
    pub fn new(
        bid: f64,
        ask: f64,
        bid_size: u64,
        ask_size: u64,
        ts_ms: i64,
    ) -> Result<Self, UpdateError> {
        // The common case in one test: a finite non-negative double other than -0.0
        // has its bits below those of +∞, so the larger of the two prices' bits
        // decides both. Anything else (including -0.0, which is accepted) takes the
        // checks below, which also pick the error.
        let fine = bid.to_bits().max(ask.to_bits()) < f64::INFINITY.to_bits();
        if !(fine && ts_ms > 0) {
            check_price(bid)?;
            check_price(ask)?;
            check_ts(ts_ms)?;
        }
        Ok(Self {
            bid,
            ask,
            bid_size,
            ask_size,
            ts_ms,
        })
    }

    /// Quote time, Unix milliseconds.
    pub fn ts_ms(&self) -> i64 {
        self.ts_ms
    }
}

/// A validated live trade (Massive `T`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeUpdate {
    price: f64,
    size: u64,
    ts_ms: i64,
    conditions: Conditions,
}

impl TradeUpdate {
    /// Validates a trade; it counts as a regular trade until
    /// [`TradeUpdate::with_conditions`] says otherwise.
    pub fn new(price: f64, size: u64, ts_ms: i64) -> Result<Self, UpdateError> {
        check_price(price)?;
        check_ts(ts_ms)?;
        Ok(Self {
            price,
            size,
            ts_ms,
            conditions: Conditions::Regular,
        })
    }

    /// The trade as its condition codes qualify it.
    pub fn with_conditions(self, conditions: Conditions) -> Self {
        Self { conditions, ..self }
    }

    /// Price, points.
    pub fn price(&self) -> f64 {
        self.price
    }

    /// Size, contracts.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Trade time, Unix ms.
    pub fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    /// Whether its conditions let it be signed.
    pub fn conditions(&self) -> Conditions {
        self.conditions
    }
}

/// A validated aggregate (Massive `A`/`AM`): only the day's accumulated volume is
/// taken from it; the bar itself is not part of a contract's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateUpdate {
    day_volume: u64,
}

impl AggregateUpdate {
    /// An aggregate carrying the day's volume so far (`av`).
    pub fn new(day_volume: u64) -> Self {
        Self { day_volume }
    }
}

fn check_price(p: f64) -> Result<(), UpdateError> {
    if p.is_finite() && p >= 0.0 {
        Ok(())
    } else {
        Err(UpdateError::BadPrice)
    }
}

fn check_ts(ts_ms: i64) -> Result<(), UpdateError> {
    if ts_ms > 0 {
        Ok(())
    } else {
        Err(UpdateError::BadTimestamp)
    }
}

/// The quote before a contract's current one, kept flat (no `Option`s: a missing side
/// is NaN, no quote a zero time) so that the quote path stores it in a few words.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriorQuote {
    bid: f64,
    ask: f64,
    ts_ms: i64,
    live: bool,
}

impl PriorQuote {
    /// The quote, if there was one stamped at or before `ts_ms`.
    pub fn at_or_before(&self, ts_ms: i64) -> Option<QuoteAt> {
        let side = |x: f64| (!x.is_nan()).then_some(x);
        (self.ts_ms > 0 && self.ts_ms <= ts_ms).then(|| QuoteAt {
            bid: side(self.bid),
            ask: side(self.ask),
            ts_ms: self.ts_ms,
            live: self.live,
        })
    }
}

/// The mutable part of a contract. It has no geometry fields, so code holding
/// `&mut ContractState` cannot move a contract on the board.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContractState {
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Size at the bid, contracts.
    pub bid_size: Option<u64>,
    /// Size at the ask, contracts.
    pub ask_size: Option<u64>,
    /// When the quote was made, Unix ms.
    pub quote_ts_ms: Option<i64>,
    /// Last trade price.
    pub last_price: Option<f64>,
    /// Last trade size, contracts.
    pub last_size: Option<u64>,
    /// When the last trade happened, Unix ms.
    pub trade_ts_ms: Option<i64>,
    /// Contracts traded today. Never decreases within an epoch: trades add to it and
    /// authoritative totals (photo `day.volume`, aggregate `av`) raise it.
    pub volume: Option<u64>,
    /// Photo-only fields.
    pub slow: SlowFields,
    /// When the slow fields were last refreshed by a photo, Unix ms.
    pub slow_ts_ms: Option<i64>,
    /// Whether the quote came from the live feed rather than a photo.
    pub quote_live: bool,
    /// The quote before the current one, so that a trade stamped before the current
    /// quote is signed against the quote in force when it printed.
    pub prior_quote: PriorQuote,
    /// The session's customer flow ([`crate::flow`]); carried across epochs.
    pub flow: ContractFlow,
}

impl ContractState {
    /// Applies a live quote: last write wins. Returns what changed.
    #[inline]
    pub fn apply_quote(&mut self, q: &QuoteUpdate) -> FieldMask {
        // Each field's "changed" is computed without a branch on the `Option` tag
        // (`unwrap_or` with a value the new one never equals when the field was
        // empty) and the masks are summed as integers: whether a field changed is
        // close to random on the quote path, so a branch per field mispredicts.
        self.prior_quote = self.prior();
        self.quote_live = true;
        let mut m = FieldMask::NONE;
        m.set_if(replace_f64(&mut self.bid, q.bid), FieldMask::BID);
        m.set_if(replace_f64(&mut self.ask, q.ask), FieldMask::ASK);
        m.set_if(
            replace_int(&mut self.bid_size, q.bid_size),
            FieldMask::BID_SIZE,
        );
        m.set_if(
            replace_int(&mut self.ask_size, q.ask_size),
            FieldMask::ASK_SIZE,
        );
        m.set_if(
            replace_int(&mut self.quote_ts_ms, q.ts_ms),
            FieldMask::QUOTE_TS,
        );
        m
    }

    /// Applies a live trade: last write wins for price/size/time; the size adds to the
    /// day's volume.
    pub fn apply_trade(&mut self, t: &TradeUpdate) -> FieldMask {
        let mut m = FieldMask::NONE;
        m.set_if(
            replace(&mut self.last_price, t.price),
            FieldMask::LAST_PRICE,
        );
        m.set_if(replace(&mut self.last_size, t.size), FieldMask::LAST_SIZE);
        m.set_if(replace(&mut self.trade_ts_ms, t.ts_ms), FieldMask::TRADE_TS);
        let volume = self.volume.unwrap_or(0).saturating_add(t.size);
        m.set_if(replace(&mut self.volume, volume), FieldMask::VOLUME);
        m
    }

    /// Raises the day's volume to an aggregate's total.
    pub fn apply_aggregate(&mut self, a: &AggregateUpdate) -> FieldMask {
        self.raise_volume(a.day_volume)
    }

    /// Refreshes this contract from a same-geometry photo of it (`photo`), taken at
    /// `photo_ts_ms`.
    ///
    /// Slow fields are replaced. Quote and trade fields are taken from the photo only
    /// when the photo's own timestamps are newer than what the live feed already
    /// painted, so last write wins across both sources; volume is raised, never
    /// lowered. Contracts outside the quote subscription (Massive allows 1,000 quoted
    /// contracts per connection) get their prices from these refreshes.
    pub fn refresh_from_photo(&mut self, photo: &ContractState, photo_ts_ms: i64) -> FieldMask {
        let mut m = FieldMask::NONE;
        let old = self.slow;
        self.slow = photo.slow;
        m.set_if(old.greeks != photo.slow.greeks, FieldMask::GREEKS);
        m.set_if(!same_opt(old.iv, photo.slow.iv), FieldMask::IV);
        m.set_if(old.oi != photo.slow.oi, FieldMask::OI);
        self.slow_ts_ms = Some(photo_ts_ms);

        if newer(photo.quote_ts_ms, self.quote_ts_ms) {
            m.set_if(!same_opt(self.bid, photo.bid), FieldMask::BID);
            m.set_if(!same_opt(self.ask, photo.ask), FieldMask::ASK);
            m.set_if(self.bid_size != photo.bid_size, FieldMask::BID_SIZE);
            m.set_if(self.ask_size != photo.ask_size, FieldMask::ASK_SIZE);
            m |= FieldMask::QUOTE_TS;
            self.prior_quote = self.prior();
            // A photo that shows the quote the live feed last painted confirms it: the
            // contract is still on the feed and its quote in force. Other prices mean
            // the feed did not bring them (not subscribed, or a gap): a photo's quote,
            // good only while young.
            self.quote_live =
                self.quote_live && same_opt(self.bid, photo.bid) && same_opt(self.ask, photo.ask);
            self.bid = photo.bid;
            self.ask = photo.ask;
            self.bid_size = photo.bid_size;
            self.ask_size = photo.ask_size;
            self.quote_ts_ms = photo.quote_ts_ms;
        }
        if newer(photo.trade_ts_ms, self.trade_ts_ms) {
            m.set_if(
                !same_opt(self.last_price, photo.last_price),
                FieldMask::LAST_PRICE,
            );
            m.set_if(self.last_size != photo.last_size, FieldMask::LAST_SIZE);
            m |= FieldMask::TRADE_TS;
            self.last_price = photo.last_price;
            self.last_size = photo.last_size;
            self.trade_ts_ms = photo.trade_ts_ms;
        }
        if let Some(v) = photo.volume {
            m |= self.raise_volume(v);
        }
        m
    }

    /// The quote as held now, if there is one.
    #[inline]
    fn quote_at_now(&self) -> Option<QuoteAt> {
        self.quote_ts_ms.map(|ts_ms| QuoteAt {
            bid: self.bid,
            ask: self.ask,
            ts_ms,
            live: self.quote_live,
        })
    }

    /// The quote as held now, as the one before the next.
    #[inline(always)]
    fn prior(&self) -> PriorQuote {
        PriorQuote {
            bid: self.bid.unwrap_or(f64::NAN),
            ask: self.ask.unwrap_or(f64::NAN),
            ts_ms: self.quote_ts_ms.unwrap_or(0),
            live: self.quote_live,
        }
    }

    /// The latest quote stamped at or before `ts_ms` of the two the contract holds:
    /// the current one and the one before it (which is the later of the two when a
    /// quote arrived out of order).
    pub fn quote_at(&self, ts_ms: i64) -> Option<QuoteAt> {
        let now = self.quote_at_now().filter(|q| q.ts_ms <= ts_ms);
        match (now, self.prior_quote.at_or_before(ts_ms)) {
            (Some(q), Some(p)) if p.ts_ms > q.ts_ms => Some(p),
            (Some(q), _) => Some(q),
            (None, p) => p,
        }
    }

    /// Signs a regular trade against the quote in force when it printed and adds it
    /// to the session's flow ([`crate::flow`]). The caller has checked that the trade
    /// is signable (conditions, price, size, session).
    #[inline]
    pub fn apply_flow(&mut self, t: &TradeUpdate, config: &FlowConfig) -> Signed {
        let quote = self.quote_at(t.ts_ms);
        let signed = crate::flow::sign(t.price, t.ts_ms, quote, &mut self.flow, config);
        self.flow.add(signed.side, t.size, t.price);
        signed
    }

    /// Midpoint of a two-sided, uncrossed market; `None` otherwise.
    ///
    /// Rounded to 1e-6: vendor prices have at most four decimals, so this only removes
    /// binary noise (`(6.1 + 6.3) / 2` is `6.199999999999999` in `f64`).
    pub fn mid(&self) -> Option<f64> {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) if a >= b && a > 0.0 => {
                Some(((a + b) * 500_000.0).round() / 1_000_000.0)
            }
            _ => None,
        }
    }

    /// The newest time any source touched this contract, Unix ms.
    pub fn last_update_ms(&self) -> Option<i64> {
        [self.quote_ts_ms, self.trade_ts_ms, self.slow_ts_ms]
            .into_iter()
            .flatten()
            .max()
    }

    fn raise_volume(&mut self, total: u64) -> FieldMask {
        if self.volume.is_some_and(|v| v >= total) {
            return FieldMask::NONE;
        }
        self.volume = Some(total);
        FieldMask::VOLUME
    }
}

/// [`replace`] for a price: `value != old` as `f64` equality (so `0.0` and `-0.0`
/// are the same price, as with `Option` equality), or `true` if `slot` was empty.
#[inline(always)]
fn replace_f64(slot: &mut Option<f64>, value: f64) -> bool {
    // NaN is never equal, so an empty slot reads as changed without a branch.
    let changed = slot.unwrap_or(f64::NAN) != value;
    *slot = Some(value);
    changed
}

/// [`replace`] for an integer field, without a branch on the `Option` tag.
#[inline(always)]
fn replace_int<T: PartialEq + Copy + Default>(slot: &mut Option<T>, value: T) -> bool {
    let was = slot.is_none();
    let changed = slot.unwrap_or_default() != value;
    *slot = Some(value);
    changed | was
}

/// Sets `slot` to `Some(value)`; reports whether that changed it.
fn replace<T: PartialEq + Copy>(slot: &mut Option<T>, value: T) -> bool {
    let changed = *slot != Some(value);
    *slot = Some(value);
    changed
}

fn same_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
        (None, None) => true,
        _ => false,
    }
}

fn newer(candidate: Option<i64>, current: Option<i64>) -> bool {
    match (candidate, current) {
        (Some(c), Some(cur)) => c > cur,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// A contract as chainboard publishes it: the design's field names and units.
///
/// `ts` is the newest update from any source, in Unix seconds with a fractional part;
/// every absent value is `null` rather than a made-up zero.
#[derive(Debug, Clone, Serialize)]
pub struct ContractRecord {
    /// The Massive ticker, `O:SPXW261124C06850000`; the `<contract_id>` of store keys.
    pub id: ContractKey,
    /// `SPX`, `NDX`, ...
    pub underlying: Underlying,
    /// OCC root.
    pub root: crate::ticker::Root,
    /// `YYYY-MM-DD`.
    pub expiration: jiff::civil::Date,
    /// Strike in points.
    pub strike: crate::symbol::Strike,
    /// `call` or `put`.
    #[serde(rename = "type")]
    pub right: crate::symbol::Right,
    /// `am_open` or `pm_close`.
    pub settlement: Settlement,
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Midpoint of a two-sided, uncrossed market.
    pub mid: Option<f64>,
    /// Size at the bid.
    pub bid_size: Option<u64>,
    /// Size at the ask.
    pub ask_size: Option<u64>,
    /// Vendor delta.
    pub delta: Option<f64>,
    /// Vendor gamma.
    pub gamma: Option<f64>,
    /// Vendor theta.
    pub theta: Option<f64>,
    /// Vendor vega.
    pub vega: Option<f64>,
    /// Vendor implied volatility.
    pub iv: Option<f64>,
    /// Open interest.
    pub oi: Option<u64>,
    /// Last trade price.
    pub last_price: Option<f64>,
    /// Last trade size.
    pub last_size: Option<u64>,
    /// Day volume.
    pub volume: Option<u64>,
    /// Contracts customers bought this session, as signed by [`crate::flow`].
    pub flow_buy: u64,
    /// Contracts customers sold this session.
    pub flow_sell: u64,
    /// Contracts of regular trades the rule could not sign.
    pub flow_unknown: u64,
    /// Premium customers paid buying, dollars.
    pub flow_buy_premium: f64,
    /// Premium customers received selling, dollars.
    pub flow_sell_premium: f64,
    /// Newest update, Unix seconds.
    pub ts: Option<f64>,
}

impl ContractRecord {
    /// Joins geometry and state into the published shape.
    pub fn new(g: &ContractGeometry, s: &ContractState) -> Self {
        Self {
            id: g.key,
            underlying: g.underlying,
            root: g.key.root,
            expiration: g.key.expiration,
            strike: g.key.strike,
            right: g.key.right,
            settlement: g.settlement,
            bid: s.bid,
            ask: s.ask,
            mid: s.mid(),
            bid_size: s.bid_size,
            ask_size: s.ask_size,
            delta: s.slow.greeks.delta,
            gamma: s.slow.greeks.gamma,
            theta: s.slow.greeks.theta,
            vega: s.slow.greeks.vega,
            iv: s.slow.iv,
            oi: s.slow.oi,
            last_price: s.last_price,
            last_size: s.last_size,
            volume: s.volume,
            flow_buy: s.flow.buy,
            flow_sell: s.flow.sell,
            flow_unknown: s.flow.unknown,
            flow_buy_premium: s.flow.buy_premium_cents as f64 / 100.0,
            flow_sell_premium: s.flow.sell_premium_cents as f64 / 100.0,
            ts: s.last_update_ms().map(ms_to_seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(bid: f64, ask: f64, ts: i64) -> QuoteUpdate {
        QuoteUpdate::new(bid, ask, 10, 20, ts).unwrap()
    }

    #[test]
    fn quotes_validate_prices_and_times() {
        assert_eq!(
            QuoteUpdate::new(-0.05, 1.0, 1, 1, 1),
            Err(UpdateError::BadPrice)
        );
        assert_eq!(
            QuoteUpdate::new(1.0, f64::INFINITY, 1, 1, 1),
            Err(UpdateError::BadPrice)
        );
        assert_eq!(
            QuoteUpdate::new(1.0, f64::NAN, 1, 1, 1),
            Err(UpdateError::BadPrice)
        );
        assert_eq!(
            QuoteUpdate::new(1.0, 1.1, 1, 1, 0),
            Err(UpdateError::BadTimestamp)
        );
        assert!(
            QuoteUpdate::new(0.0, 0.05, 0, 3, 1).is_ok(),
            "zero bid is a real quote"
        );
        assert!(TradeUpdate::new(-1.0, 1, 1).is_err());
    }

    #[test]
    fn a_quote_reports_exactly_what_it_changed() {
        let mut s = ContractState::default();
        assert_eq!(s.apply_quote(&quote(1.0, 1.2, 5)), FieldMask::QUOTE);
        let m = s.apply_quote(&quote(1.0, 1.3, 6));
        assert_eq!(m, FieldMask::ASK | FieldMask::QUOTE_TS);
        assert_eq!(s.apply_quote(&quote(1.0, 1.3, 6)), FieldMask::NONE);
        assert_eq!(s.mid(), Some(1.15));
    }

    #[test]
    fn a_photo_keeps_a_live_quote_live_only_when_it_shows_the_same_prices() {
        let mut s = ContractState::default();
        s.apply_quote(&quote(1.0, 1.2, 5));
        assert!(s.quote_live);
        let photo = |bid, ask, ts| ContractState {
            bid: Some(bid),
            ask: Some(ask),
            quote_ts_ms: Some(ts),
            ..ContractState::default()
        };
        s.refresh_from_photo(&photo(1.0, 1.2, 9), 10);
        assert!(
            s.quote_live,
            "the same quote, stamped later: still the live one"
        );
        assert_eq!(s.quote_at(7).map(|q| q.ts_ms), Some(5), "the one before");
        s.refresh_from_photo(&photo(1.1, 1.3, 20), 21);
        assert!(!s.quote_live, "prices the feed never brought");
        s.apply_quote(&quote(1.1, 1.3, 25));
        assert!(s.quote_live);
    }

    #[test]
    fn a_trade_meets_the_latest_quote_stamped_before_it_even_out_of_order() {
        let mut s = ContractState::default();
        s.apply_quote(&quote(1.0, 1.2, 10));
        s.apply_quote(&quote(0.9, 1.1, 4)); // late: now the current one, but older
        let at = |ts| s.quote_at(ts).map(|q| (q.bid, q.ts_ms));
        assert_eq!(at(12), Some((Some(1.0), 10)), "the later of the two");
        assert_eq!(at(6), Some((Some(0.9), 4)));
        assert_eq!(at(3), None, "none stamped before");
    }

    #[test]
    fn mid_needs_a_two_sided_uncrossed_market() {
        let mut s = ContractState::default();
        assert_eq!(s.mid(), None);
        s.apply_quote(&quote(1.5, 1.2, 5));
        assert_eq!(s.mid(), None, "crossed");
        s.apply_quote(&quote(0.0, 0.0, 6));
        assert_eq!(s.mid(), None, "no market");
        s.apply_quote(&quote(0.0, 0.1, 7));
        assert_eq!(s.mid(), Some(0.05));
        s.apply_quote(&quote(6.1, 6.3, 8));
        assert_eq!(s.mid(), Some(6.2), "no binary noise in published mids");
    }

    #[test]
    fn trades_accumulate_volume_and_totals_only_raise_it() {
        let mut s = ContractState::default();
        s.apply_trade(&TradeUpdate::new(2.0, 3, 10).unwrap());
        s.apply_trade(&TradeUpdate::new(2.1, 4, 11).unwrap());
        assert_eq!(s.volume, Some(7));
        assert_eq!(s.apply_aggregate(&AggregateUpdate::new(5)), FieldMask::NONE);
        assert_eq!(
            s.apply_aggregate(&AggregateUpdate::new(9)),
            FieldMask::VOLUME
        );
        assert_eq!(s.volume, Some(9));
    }

    #[test]
    fn photo_refresh_keeps_newer_live_prices() {
        let mut live = ContractState::default();
        live.apply_quote(&quote(1.0, 1.2, 2_000));
        let mut photo = ContractState {
            slow: SlowFields {
                iv: Some(0.2),
                oi: Some(500),
                ..Default::default()
            },
            ..Default::default()
        };
        photo.apply_quote(&quote(0.9, 1.1, 1_000));
        let m = live.refresh_from_photo(&photo, 3_000);
        assert_eq!(
            (live.bid, live.ask),
            (Some(1.0), Some(1.2)),
            "older photo quote loses"
        );
        assert!(m.contains(FieldMask::IV | FieldMask::OI));
        assert!(!m.intersects(FieldMask::QUOTE));

        photo.apply_quote(&quote(0.8, 1.0, 4_000));
        let m = live.refresh_from_photo(&photo, 5_000);
        assert_eq!(
            (live.bid, live.ask),
            (Some(0.8), Some(1.0)),
            "newer photo quote wins"
        );
        assert!(m.contains(FieldMask::BID | FieldMask::ASK | FieldMask::QUOTE_TS));
        assert_eq!(live.last_update_ms(), Some(5_000));
    }
}

#[cfg(test)]
mod shortcut_tests {
    //! The quote path's shortcuts (one-test validation, tag-free replaces) against the
    //! plain definitions they stand for.
    use super::*;
    use proptest::prelude::*;

    fn price() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            -1e6..1e6f64,
            any::<f64>(),
        ]
    }

    fn slow_new(bid: f64, ask: f64, ts_ms: i64) -> Result<(), UpdateError> {
        check_price(bid)?;
        check_price(ask)?;
        check_ts(ts_ms)
    }

    proptest! {
        #[test]
        fn quote_validation_matches_the_checks(bid in price(), ask in price(), ts in prop_oneof![Just(0i64), Just(1), Just(-1), any::<i64>()]) {
            prop_assert_eq!(QuoteUpdate::new(bid, ask, 1, 2, ts).map(|_| ()), slow_new(bid, ask, ts));
        }

        #[test]
        fn replaces_match_option_equality(
            old in proptest::option::of(price()),
            new in price(),
            old_int in proptest::option::of(prop_oneof![Just(0u64), any::<u64>()]),
            new_int in prop_oneof![Just(0u64), any::<u64>()],
        ) {
            let (mut a, mut b) = (old, old);
            prop_assert_eq!(replace_f64(&mut a, new), replace(&mut b, new));
            prop_assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
            let (mut a, mut b) = (old_int, old_int);
            prop_assert_eq!(replace_int(&mut a, new_int), replace(&mut b, new_int));
            prop_assert_eq!(a, b);
        }
    }
}

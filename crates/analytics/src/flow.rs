//! Today's customer flow as the models publish it: hedge pressure and top flow.
//!
//! The engine signs each trade into its contract's session flow
//! ([`chainboard_model::flow`]); the builder's tick sees which contracts' flow changed
//! and hands each change here, with the contract's greeks at the anchor:
//!
//! - **Hedge pressure** is what dealers took on from the flow, trade by trade:
//!   customers' net purchases since the last tick, `Δn`, leave dealers with
//!   `−Δn · Δ · 100 · S` dollars of index delta and `−Δn · γ · 100 · S² · 0.01` of
//!   gamma, at the greeks of that tick. Summed over the session, per expiry filter,
//!   calls and puts apart. Below zero, dealers are short delta from today's flow, and
//!   hedging it means buying the index. Greeks of the tick, not of the trade's second:
//!   the anchor is at most 0.1% of spot and a minute away.
//! - **Top flow** is the contracts and strikes with the largest customer net premium
//!   (bought minus sold, dollars) in the last [`FlowTracker::window_ms`].
//!
//! Changes are measured against the net last seen per contract id, not per slot, so
//! flow that lands between a tick and a new epoch is counted once, in the new epoch.
//! A new session (the engine's) starts everything at zero. Each tick costs O(changed)
//! plus the window's expiries and a top-k over the contracts that traded in the
//! window.

use std::collections::VecDeque;

use chainboard_engine::FlowStats;
use chainboard_model::{ContractKey, Right, Strike};
use chainboard_quant::exposure::MULTIPLIER;
use rustc_hash::FxHashMap;

use crate::gex::ExpiryFilter;

/// How many contracts and strikes top flow lists.
pub const TOP: usize = 10;

/// The greeks at the anchor and the spot a flow change is valued at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Valued {
    /// Delta.
    pub delta: f64,
    /// Gamma per index point.
    pub gamma: f64,
    /// The anchor's spot.
    pub spot: f64,
}

/// What dealers took on from today's flow in one filter, dollars, summed over the
/// session.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HedgePressure {
    /// Index delta from call flow (`Σ −Δn · Δ · 100 · S`).
    pub call_delta: f64,
    /// Index delta from put flow.
    pub put_delta: f64,
    /// Gamma from call flow, dollars of delta per 1% move.
    pub call_gamma: f64,
    /// Gamma from put flow.
    pub put_gamma: f64,
}

impl HedgePressure {
    /// Calls and puts together: dealers' index delta from today's flow.
    pub fn delta(&self) -> f64 {
        self.call_delta + self.put_delta
    }

    /// Calls and puts together: dealers' gamma from today's flow.
    pub fn gamma(&self) -> f64 {
        self.call_gamma + self.put_gamma
    }
}

/// A contract or strike in top flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopFlow<K> {
    /// The contract or the strike.
    pub key: K,
    /// Customer net premium in the window, dollars (bought minus sold).
    pub net_premium: f64,
    /// Customer net size in the window, contracts.
    pub net_size: i64,
}

/// Today's flow at one tick, as the GEX document carries it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlowSummary {
    /// The trading session it counts (`None` before the engine has one).
    pub session: Option<jiff::civil::Date>,
    /// What the engine signed, excluded and refused this session.
    pub stats: FlowStats,
    /// Per filter, in [`ExpiryFilter::ALL`] order.
    pub hedge: [HedgePressure; ExpiryFilter::ALL.len()],
    /// The top-flow window, ms.
    pub window_ms: i64,
    /// Contracts by customer net premium in the window, largest in size first.
    pub top_contracts: Vec<TopFlow<ContractKey>>,
    /// Strikes (all expirations) by customer net premium in the window.
    pub top_strikes: Vec<TopFlow<Strike>>,
}

/// One window entry: a contract's change of net premium (cents) and size at a tick.
#[derive(Debug, Clone, Copy)]
struct Change {
    at_ms: i64,
    key: ContractKey,
    premium_cents: i64,
    size: i64,
}

/// The session's hedge pressure and the top-flow window, across epochs.
#[derive(Debug, Clone)]
pub struct FlowTracker {
    session: Option<jiff::civil::Date>,
    /// Per contract: net size and net premium (cents) last seen.
    seen: FxHashMap<ContractKey, (i64, i64)>,
    hedge: [HedgePressure; ExpiryFilter::ALL.len()],
    window_ms: i64,
    window: VecDeque<Change>,
    /// Per contract: the window's sums (premium cents, size).
    in_window: FxHashMap<ContractKey, (i64, i64)>,
}

impl FlowTracker {
    /// An empty tracker whose top flow covers the last `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        Self {
            session: None,
            seen: FxHashMap::default(),
            hedge: Default::default(),
            window_ms: window_ms.max(1),
            window: VecDeque::new(),
            in_window: FxHashMap::default(),
        }
    }

    /// The top-flow window, ms.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Follows the engine's session: a new one starts everything at zero.
    pub fn session(&mut self, session: Option<jiff::civil::Date>) {
        if session != self.session {
            *self = Self {
                session,
                ..Self::new(self.window_ms)
            };
        }
    }

    /// A contract's flow as it stands at `now_ms`: the change since it was last seen
    /// goes into hedge pressure (in the filters of `filters`, a column mask) and the
    /// window.
    pub fn observe(
        &mut self,
        now_ms: i64,
        key: ContractKey,
        filters: u8,
        net: i64,
        net_premium_cents: i64,
        valued: Option<Valued>,
    ) {
        if net == 0 && net_premium_cents == 0 && !self.seen.contains_key(&key) {
            // Nothing yet: most of a board at a new epoch. Not remembered either.
            return;
        }
        let seen = self.seen.entry(key).or_insert((0, 0));
        let (d_size, d_premium) = (net - seen.0, net_premium_cents - seen.1);
        if d_size == 0 && d_premium == 0 {
            return;
        }
        *seen = (net, net_premium_cents);
        if let Some(v) = valued.filter(|v| v.spot.is_finite() && v.spot > 0.0) {
            let shares = -(d_size as f64) * MULTIPLIER;
            let delta = shares * v.delta * v.spot;
            let gamma = shares * v.gamma * v.spot * v.spot * 0.01;
            for f in ExpiryFilter::ALL {
                if filters & f.bit() == 0 {
                    continue;
                }
                let h = &mut self.hedge[f.index()];
                match key.right {
                    Right::Call => {
                        h.call_delta += delta;
                        h.call_gamma += gamma;
                    }
                    Right::Put => {
                        h.put_delta += delta;
                        h.put_gamma += gamma;
                    }
                }
            }
        }
        self.window.push_back(Change {
            at_ms: now_ms,
            key,
            premium_cents: d_premium,
            size: d_size,
        });
        let w = self.in_window.entry(key).or_insert((0, 0));
        w.0 += d_premium;
        w.1 += d_size;
    }

    /// Drops window entries older than `now_ms − window_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let cutoff = now_ms - self.window_ms;
        while let Some(c) = self.window.front().copied().filter(|c| c.at_ms < cutoff) {
            self.window.pop_front();
            if let Some(w) = self.in_window.get_mut(&c.key) {
                w.0 -= c.premium_cents;
                w.1 -= c.size;
                if *w == (0, 0) {
                    self.in_window.remove(&c.key);
                }
            }
        }
    }

    /// The summary at this tick, with the engine's `stats`.
    pub fn summary(&self, stats: FlowStats) -> FlowSummary {
        let contracts: Vec<TopFlow<ContractKey>> = self
            .in_window
            .iter()
            .map(|(&key, &(premium, size))| TopFlow {
                key,
                net_premium: premium as f64 / 100.0,
                net_size: size,
            })
            .collect();
        let mut strikes: FxHashMap<Strike, (f64, i64)> = FxHashMap::default();
        for c in &contracts {
            let s = strikes.entry(c.key.strike).or_insert((0.0, 0));
            s.0 += c.net_premium;
            s.1 += c.net_size;
        }
        let strikes = strikes
            .into_iter()
            .map(|(key, (net_premium, net_size))| TopFlow {
                key,
                net_premium,
                net_size,
            })
            .collect();
        FlowSummary {
            session: self.session,
            stats,
            hedge: self.hedge,
            window_ms: self.window_ms,
            top_contracts: top(contracts),
            top_strikes: top(strikes),
        }
    }
}

/// The [`TOP`] entries largest in size, ties broken by key so the order is stable.
fn top<K: Ord + Copy>(mut all: Vec<TopFlow<K>>) -> Vec<TopFlow<K>> {
    let order = |a: &TopFlow<K>, b: &TopFlow<K>| {
        b.net_premium
            .abs()
            .total_cmp(&a.net_premium.abs())
            .then(a.key.cmp(&b.key))
    };
    if all.len() > TOP {
        all.select_nth_unstable_by(TOP - 1, order);
        all.truncate(TOP);
    }
    all.retain(|t| t.net_premium != 0.0 || t.net_size != 0);
    all.sort_by(order);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ContractKey {
        ContractKey::parse(s).expect("a ticker")
    }

    #[test]
    fn changes_are_valued_once_and_the_window_forgets() {
        let call = key("O:SPXW261207C06900000");
        let put = key("O:SPXW261207P06800000");
        let all = ExpiryFilter::All.bit() | ExpiryFilter::ZeroDte.bit();
        let v = Some(Valued {
            delta: 0.5,
            gamma: 0.01,
            spot: 6_850.0,
        });
        let mut t = FlowTracker::new(60_000);
        t.session(Some(jiff::civil::date(2026, 12, 7)));
        // Customers buy 10 calls ($2,000 of premium): dealers get short 10 × 50 deltas.
        t.observe(1_000, call, all, 10, 200_000, v);
        t.observe(1_000, call, all, 10, 200_000, v);
        t.observe(2_000, put, ExpiryFilter::All.bit(), -4, -40_000, v);
        let s = t.summary(FlowStats::default());
        let h = s.hedge[ExpiryFilter::All.index()];
        assert_eq!(h.call_delta, -10.0 * 100.0 * 0.5 * 6_850.0);
        assert_eq!(h.put_delta, 4.0 * 100.0 * 0.5 * 6_850.0);
        assert_eq!(s.hedge[ExpiryFilter::ZeroDte.index()].put_delta, 0.0);
        assert_eq!(
            h.call_gamma,
            -10.0 * 100.0 * 0.01 * 6_850.0 * 6_850.0 * 0.01
        );
        assert_eq!(s.top_contracts[0].key, call);
        assert_eq!(s.top_contracts[0].net_premium, 2_000.0);
        assert_eq!(s.top_strikes.len(), 2);
        // A minute after the call trade, only the put is in the window.
        t.expire(61_500);
        let s = t.summary(FlowStats::default());
        assert_eq!(s.top_contracts.len(), 1);
        assert_eq!(s.top_contracts[0].key, put);
        assert_eq!(s.top_contracts[0].net_size, -4);
        // Hedge pressure is the session's, not the window's.
        assert_eq!(s.hedge[ExpiryFilter::All.index()].call_delta, h.call_delta);
        // A new session starts at zero.
        t.session(Some(jiff::civil::date(2026, 12, 8)));
        let zero: [HedgePressure; ExpiryFilter::ALL.len()] = Default::default();
        assert_eq!(t.summary(FlowStats::default()).hedge, zero);
    }

    #[test]
    fn top_keeps_the_largest_in_size() {
        let all: Vec<TopFlow<u32>> = (0..30)
            .map(|i| TopFlow {
                key: i,
                net_premium: if i % 2 == 0 { i as f64 } else { -(i as f64) },
                net_size: 1,
            })
            .collect();
        let t = top(all);
        assert_eq!(t.len(), TOP);
        assert_eq!(t[0].key, 29);
        assert_eq!(t[0].net_premium, -29.0);
        assert_eq!(t[TOP - 1].key, 20);
    }
}

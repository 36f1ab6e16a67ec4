//! Live quote and trade traffic for a [`SimChain`], as Massive's options WebSocket
//! sends it: each frame a JSON array of `Q` and `T` events.
//!
//! The hydration benchmarks feed these frames to the parser and the epoch engine, and
//! the fake Massive server will push them to clients. Like the real feed, the traffic
//! is concentrated where traders are: a contract's share falls off exponentially with
//! its distance from spot and with its days to expiry, so 0DTE at-the-money SPXW
//! contracts update constantly and deep wings almost never. Quotes follow a
//! mean-reverting random walk of the spot through BSM, on the exchange's tick grid.
//!
//! A configurable fraction of events names a contract that is not on the chain (a
//! strike between listed strikes): the engine must count it as a `geometry_miss`, not
//! invent a contract. Everything is drawn from one seeded RNG, so a seed replays the
//! same frames.

use std::fmt::Write as _;

use chainboard_model::flow::Side;
use chainboard_model::{ContractKey, Right, Strike};
use chainboard_quant::bsm;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::chain::SimChain;
use crate::tape::{self, Regime};
use crate::ticks;

/// What the traffic looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficConfig {
    /// Fraction of events that are trades (`T`); the rest are quotes (`Q`).
    pub trade_fraction: f64,
    /// Fraction of events whose symbol is not on the chain, to exercise the engine's
    /// `geometry_miss` path. Zero by default so benchmarks measure the happy path.
    pub miss_fraction: f64,
    /// Fraction of quotes that change only sizes, keeping the contract's last prices
    /// (over 90% of OPRA quote messages are size-only; this feed is NBBO, so fewer).
    pub size_only_fraction: f64,
    /// Log-moneyness scale of the activity: a contract's weight is
    /// `exp(−|ln(K/S)| / moneyness_width)`.
    pub moneyness_width: f64,
    /// Expiry decay of the activity: weight divided by `(1 + days)^expiry_power`.
    pub expiry_power: f64,
    /// Standard deviation of the spot's log move per frame.
    pub spot_vol_per_frame: f64,
    /// Relative standard deviation of a quote's midpoint around its BSM value: market
    /// makers' disagreement with the model.
    pub mid_jitter: f64,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            trade_fraction: 0.05,
            miss_fraction: 0.0,
            size_only_fraction: 0.3,
            moneyness_width: 0.01,
            expiry_power: 1.5,
            spot_vol_per_frame: 0.000_2,
            mid_jitter: 0.002,
        }
    }
}

/// What the generator keeps per contract: enough to price it and to repeat its last
/// prices on a size-only update.
#[derive(Debug, Clone)]
struct LiveContract {
    ticker: String,
    key: ContractKey,
    right: Right,
    strike: f64,
    t_years: f64,
    vol: f64,
    /// Largest displayed size; near-the-money books are deeper.
    size_cap: u32,
    bid_cents: u32,
    ask_cents: u32,
}

/// Per-frame pull of the spot's log offset back towards zero, so long runs stay near
/// the chain's strikes.
const SPOT_REVERSION: f64 = 0.999;

/// A deterministic source of Massive options WebSocket frames for one chain.
#[derive(Debug, Clone)]
pub struct QuoteTraffic {
    config: TrafficConfig,
    rng: ChaCha8Rng,
    contracts: Vec<LiveContract>,
    /// Running sum of activity weights, for sampling by binary search.
    cumulative: Vec<f64>,
    /// Every listed key, sorted: a miss must name a contract that is not among them.
    listed: Vec<ContractKey>,
    spot0: f64,
    /// `ln(spot / spot0)`, the random walk's state.
    log_offset: f64,
    rate: f64,
    div_yield: f64,
    exchange: u16,
    /// Next event sequence number (`q`).
    seq: u64,
    /// The lean of customer flow ([`crate::tape`]).
    regime: Regime,
}

impl QuoteTraffic {
    /// Traffic for `chain` with the default [`TrafficConfig`].
    pub fn new(chain: &SimChain, seed: u64) -> Self {
        Self::with_config(chain, seed, TrafficConfig::default())
    }

    /// Traffic for `chain` shaped by `config`. The same chain, seed and config give the
    /// same frames.
    pub fn with_config(chain: &SimChain, seed: u64, config: TrafficConfig) -> Self {
        let spot0 = chain.spot();
        let width = config.moneyness_width.max(1e-6);
        let mut total = 0.0;
        let mut cumulative = Vec::with_capacity(chain.len());
        let mut contracts = Vec::with_capacity(chain.len());
        for c in chain.contracts() {
            let distance = (c.strike() / spot0).ln().abs();
            let days = c.days_to_expiry.max(0) as f64;
            total += (-distance / width).exp() / (1.0 + days).powf(config.expiry_power);
            cumulative.push(total);
            contracts.push(LiveContract {
                ticker: c.ticker.clone(),
                key: c.key,
                right: c.right(),
                strike: c.strike(),
                t_years: c.t_years,
                vol: c.vol,
                size_cap: 5 + (150.0 * (-distance / 0.02).exp()) as u32,
                bid_cents: c.bid_cents,
                ask_cents: c.ask_cents,
            });
        }
        let mut listed: Vec<ContractKey> = contracts.iter().map(|c| c.key).collect();
        listed.sort_unstable();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let seq = rng.random_range(1..1_000_000_000);
        Self {
            config,
            rng,
            contracts,
            cumulative,
            listed,
            spot0,
            log_offset: 0.0,
            rate: chain.config().rate,
            div_yield: chain.config().div_yield,
            exchange: chain.config().exchange,
            seq,
            regime: Regime::default(),
        }
    }

    /// The traffic's shape.
    pub fn config(&self) -> &TrafficConfig {
        &self.config
    }

    /// The index level the latest frame was priced at.
    pub fn spot(&self) -> f64 {
        self.spot0 * self.log_offset.exp()
    }

    /// Appends one frame of `events` events, all stamped `now_ms` (Unix milliseconds),
    /// to `out`: a JSON array such as
    /// `[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":9.7,"ap":9.8,"bs":17,"as":24,"t":1795532400000,"q":844090872}]`.
    ///
    /// Keys are in the order of Massive's examples (`ev` first); consumers must not
    /// rely on it. An empty chain gives `[]`. The spot takes one step of the traffic's
    /// own mean-reverting walk first.
    pub fn next_frame(&mut self, events: usize, now_ms: i64, out: &mut String) {
        let step = normal(&mut self.rng) * self.config.spot_vol_per_frame;
        self.log_offset = SPOT_REVERSION * self.log_offset + step;
        let spot = self.spot();
        out.push('[');
        let total = self.total_weight();
        if total > 0.0 {
            for i in 0..events {
                if i > 0 {
                    out.push(',');
                }
                let event = self.draw_event(spot, total);
                event.write_with(self.symbol_of(&event), self.exchange, now_ms, out);
            }
        }
        out.push(']');
    }

    /// Draws `events` events priced at `spot` and appends them to `out`, without
    /// moving the traffic's own spot walk: for a caller (the [`crate::market`]) that
    /// runs the index on its own path and routes events itself. An empty chain draws
    /// nothing.
    pub fn next_events(&mut self, spot: f64, events: usize, out: &mut Vec<TrafficEvent>) {
        let total = self.total_weight();
        if total > 0.0 && spot.is_finite() && spot > 0.0 {
            out.extend((0..events).map(|_| self.draw_event(spot, total)));
        }
    }

    /// The Massive ticker of the contract at `index` (the chain's ticker order).
    pub fn ticker(&self, index: usize) -> Option<&str> {
        self.contracts.get(index).map(|c| c.ticker.as_str())
    }

    /// The exchange id stamped on every event (`bx`, `ax`, `x`).
    pub fn exchange(&self) -> u16 {
        self.exchange
    }

    /// Rebuilds the per-contract state and activity weights for `chain`'s current
    /// listing, centred on its [`SimChain::spot`], keeping the random stream and the
    /// sequence numbers: the traffic goes on as one stream across a listing change.
    pub(crate) fn relist(&mut self, chain: &SimChain) {
        let fresh = Self::with_config(chain, 0, self.config);
        self.contracts = fresh.contracts;
        self.cumulative = fresh.cumulative;
        self.listed = fresh.listed;
        self.spot0 = fresh.spot0;
        self.log_offset = 0.0;
    }

    /// Sets the last prices of the contract at `index`, which a size-only quote
    /// repeats: after a listing change the book must continue from the live market,
    /// not from the prices at generation.
    pub(crate) fn set_book(&mut self, index: usize, bid_cents: u32, ask_cents: u32) {
        if let Some(c) = self.contracts.get_mut(index) {
            (c.bid_cents, c.ask_cents) = (bid_cents, ask_cents);
        }
    }

    fn total_weight(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    fn symbol_of(&self, event: &TrafficEvent) -> Symbol<'_> {
        match event.unlisted {
            Some(key) => Symbol::Key(key),
            None => Symbol::Ticker(&self.contracts[event.contract].ticker),
        }
    }

    /// One event. The order of random draws is part of the output's identity (a seed
    /// must replay the same frames), so it is kept exactly as the frames always had it.
    fn draw_event(&mut self, spot: f64, total: f64) -> TrafficEvent {
        let target = self.rng.random::<f64>() * total;
        let idx = self
            .cumulative
            .partition_point(|&c| c <= target)
            .min(self.contracts.len() - 1);
        let miss = self.config.miss_fraction > 0.0
            && self.rng.random_bool(self.config.miss_fraction.min(1.0));
        let trade = self.config.trade_fraction > 0.0
            && self.rng.random_bool(self.config.trade_fraction.min(1.0));
        let size_only = self.config.size_only_fraction > 0.0
            && self
                .rng
                .random_bool(self.config.size_only_fraction.min(1.0));

        let c = &self.contracts[idx];
        let (mut bid, mut ask) = (c.bid_cents, c.ask_cents);
        if !size_only {
            let theo = bsm::Inputs {
                right: c.right,
                spot,
                strike: c.strike,
                t_years: c.t_years,
                vol: c.vol,
                rate: self.rate,
                div_yield: self.div_yield,
            }
            .price();
            let mid = theo * (1.0 + self.config.mid_jitter * normal(&mut self.rng));
            let spread = ticks::natural_spread(theo) * self.rng.random_range(0.8..1.5);
            (bid, ask) = ticks::two_sided(mid, spread);
        }
        let size_cap = c.size_cap;
        let seq = self.seq;
        self.seq += 1;
        let unlisted = if miss { self.unlisted_near(idx) } else { None };
        let kind = if trade {
            // A trade meets the book in force (the contract's last quote), not the
            // fresh prices drawn above.
            let c = &self.contracts[idx];
            let (book_bid, book_ask, right) = (c.bid_cents, c.ask_cents, c.right);
            self.regime.step(normal(&mut self.rng));
            let buy = self.rng.random_bool(self.regime.buy_probability(right));
            let side = if buy { Side::Buy } else { Side::Sell };
            let print = tape::print(side, book_bid, book_ask, &mut self.rng);
            let size = 1 + self.rng.random_range(0..size_cap.min(25));
            EventKind::Trade {
                price_cents: print.price_cents,
                size,
                condition: print.condition,
                side: print.side,
            }
        } else {
            let bid_size = 1 + self.rng.random_range(0..size_cap);
            let ask_size = 1 + self.rng.random_range(0..size_cap);
            // Only a quote for a listed contract moves its book.
            if !miss {
                let c = &mut self.contracts[idx];
                (c.bid_cents, c.ask_cents) = (bid, ask);
            }
            EventKind::Quote {
                bid_cents: bid,
                ask_cents: ask,
                bid_size,
                ask_size,
            }
        };
        TrafficEvent {
            contract: idx,
            unlisted,
            seq,
            kind,
        }
    }
}

impl QuoteTraffic {
    /// A contract next to `idx` that is not listed: the same series with the strike
    /// moved by a point or two, which no listed strike ladder contains.
    fn unlisted_near(&self, idx: usize) -> Option<ContractKey> {
        let key = self.contracts[idx].key;
        (1..=4u32).find_map(|points| {
            let strike = Strike::from_milli(key.strike.milli().checked_add(points * 1000)?)?;
            let candidate = ContractKey { strike, ..key };
            self.listed
                .binary_search(&candidate)
                .is_err()
                .then_some(candidate)
        })
    }
}

/// What an event says happened, in the units the wire prints (cents, contracts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new NBBO (`Q`).
    Quote {
        /// Best bid in cents.
        bid_cents: u32,
        /// Best offer in cents.
        ask_cents: u32,
        /// Contracts bid.
        bid_size: u32,
        /// Contracts offered.
        ask_size: u32,
    },
    /// A print (`T`).
    Trade {
        /// Price in cents.
        price_cents: u32,
        /// Contracts.
        size: u32,
        /// One sale condition code.
        condition: u16,
        /// The customer's true side (never on the wire): what trade signing is
        /// scored against.
        side: Side,
    },
}

/// One quote or trade before it is rendered: what a server needs to decide who
/// receives it (the contract) and to apply it to its own book (the prices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficEvent {
    /// Index of the contract in the chain's ticker order (see [`QuoteTraffic::ticker`]).
    pub contract: usize,
    /// For a deliberate miss, the unlisted contract the event names instead.
    pub unlisted: Option<ContractKey>,
    /// Sequence number (`q`).
    pub seq: u64,
    /// Quote or trade, with its numbers.
    pub kind: EventKind,
}

impl TrafficEvent {
    /// Whether this is a trade (`T`) rather than a quote (`Q`).
    pub fn is_trade(&self) -> bool {
        matches!(self.kind, EventKind::Trade { .. })
    }

    /// Appends the event as Massive's JSON object (`{"ev":"Q","sym":...}`, keys in the
    /// order of its examples), naming `ticker` (ignored for a miss, which names its
    /// unlisted contract), stamped `now_ms`. Writes into `out` without allocating.
    pub fn write_json(&self, ticker: &str, exchange: u16, now_ms: i64, out: &mut String) {
        let symbol = match self.unlisted {
            Some(key) => Symbol::Key(key),
            None => Symbol::Ticker(ticker),
        };
        self.write_with(symbol, exchange, now_ms, out);
    }

    fn write_with(&self, symbol: Symbol<'_>, exchange: u16, now_ms: i64, out: &mut String) {
        out.push_str("{\"ev\":\"");
        out.push_str(if self.is_trade() { "T" } else { "Q" });
        out.push_str("\",\"sym\":\"");
        match symbol {
            Symbol::Key(key) => {
                let _ = write!(out, "{key}");
            }
            Symbol::Ticker(t) => out.push_str(t),
        }
        out.push('"');
        match self.kind {
            EventKind::Trade {
                price_cents,
                size,
                condition,
                ..
            } => {
                let _ = write!(out, ",\"x\":{exchange},\"p\":");
                ticks::push_points(out, price_cents);
                let _ = write!(out, ",\"s\":{size},\"c\":[{condition}]");
            }
            EventKind::Quote {
                bid_cents,
                ask_cents,
                bid_size,
                ask_size,
            } => {
                let x = exchange;
                let _ = write!(out, ",\"bx\":{x},\"ax\":{x},\"bp\":");
                ticks::push_points(out, bid_cents);
                out.push_str(",\"ap\":");
                ticks::push_points(out, ask_cents);
                let _ = write!(out, ",\"bs\":{bid_size},\"as\":{ask_size}");
            }
        }
        let _ = write!(out, ",\"t\":{now_ms},\"q\":{}}}", self.seq);
    }
}

/// The symbol an event names: a listed ticker, or a key rendered on the fly.
#[derive(Clone, Copy)]
enum Symbol<'a> {
    Ticker(&'a str),
    Key(ContractKey),
}

/// A standard normal draw (Box-Muller; one of the pair is discarded for simplicity).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // `1 − u` keeps the logarithm's argument in (0, 1].
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainConfig;
    use jiff::civil::date;
    use serde_json::Value;

    const NOW_MS: i64 = 1_795_532_400_000;

    fn spx() -> SimChain {
        SimChain::generate(ChainConfig::spx_like(date(2026, 11, 24), 7))
    }

    fn frames(traffic: &mut QuoteTraffic, n: usize, events: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let mut out = String::new();
                traffic.next_frame(events, NOW_MS + i as i64, &mut out);
                out
            })
            .collect()
    }

    fn events(frames: &[String]) -> Vec<Value> {
        frames
            .iter()
            .flat_map(|f| {
                let v: Value = serde_json::from_str(f).expect("valid JSON");
                v.as_array().cloned().expect("frames are arrays")
            })
            .collect()
    }

    fn cents(v: &Value) -> bool {
        let x = v.as_f64().unwrap_or(f64::NAN);
        (x * 100.0).round() / 100.0 == x
    }

    #[test]
    fn frames_are_arrays_of_well_formed_events() {
        let chain = spx();
        let mut traffic = QuoteTraffic::new(&chain, 11);
        let all = events(&frames(&mut traffic, 200, 50));
        assert_eq!(all.len(), 200 * 50);
        let mut trades = 0;
        let mut last_seq = 0;
        for e in &all {
            let sym = e["sym"].as_str().expect("sym");
            assert!(
                chain.get(sym).is_some(),
                "default traffic stays on the chain: {sym}"
            );
            let seq = e["q"].as_u64().expect("q");
            assert!(seq > last_seq);
            last_seq = seq;
            assert!(e["t"].as_i64().is_some_and(|t| t >= NOW_MS));
            match e["ev"].as_str() {
                Some("Q") => {
                    let (bp, ap) = (&e["bp"], &e["ap"]);
                    assert!(cents(bp) && cents(ap), "{e}");
                    assert!(bp.as_f64() < ap.as_f64() && bp.as_f64() >= Some(0.0), "{e}");
                    assert!(e["bs"].as_u64() >= Some(1) && e["as"].as_u64() >= Some(1));
                    assert_eq!(e["bx"], 302);
                }
                Some("T") => {
                    trades += 1;
                    assert!(cents(&e["p"]) && e["p"].as_f64() > Some(0.0), "{e}");
                    assert!(e["c"].as_array().is_some_and(|c| c.len() == 1));
                    assert!(e["s"].as_u64() >= Some(1));
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        // About 5% trades.
        assert!((300..=700).contains(&trades), "{trades} trades");
        let mut empty = String::new();
        traffic.next_frame(0, NOW_MS, &mut empty);
        assert_eq!(empty, "[]");
    }

    #[test]
    fn traffic_is_skewed_to_near_the_money_near_expiry() {
        let chain = spx();
        let mut traffic = QuoteTraffic::new(&chain, 11);
        let all = events(&frames(&mut traffic, 200, 50));
        let near = all
            .iter()
            .filter_map(|e| chain.get(e["sym"].as_str()?))
            .filter(|c| (c.strike() / chain.spot()).ln().abs() <= 0.02 && c.days_to_expiry <= 7)
            .count();
        let share = near as f64 / all.len() as f64;
        println!("share of events within ±2% of spot and ≤ 7 days: {share:.3}");
        assert!(share > 0.5, "{share}");
        // Yet the traffic is not a handful of contracts.
        let mut distinct: Vec<&str> = all.iter().filter_map(|e| e["sym"].as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 500, "{}", distinct.len());
    }

    #[test]
    fn misses_name_contracts_that_are_not_listed() {
        let chain = spx();
        let config = TrafficConfig {
            miss_fraction: 0.05,
            ..TrafficConfig::default()
        };
        let mut traffic = QuoteTraffic::with_config(&chain, 3, config);
        let all = events(&frames(&mut traffic, 100, 50));
        let mut misses = 0;
        for e in &all {
            let sym = e["sym"].as_str().expect("sym");
            assert!(ContractKey::parse(sym).is_ok(), "{sym}");
            misses += usize::from(chain.get(sym).is_none());
        }
        assert!(
            (150..=350).contains(&misses),
            "{misses} misses in {}",
            all.len()
        );
    }

    #[test]
    fn the_same_seed_replays_the_same_frames() {
        let chain = spx();
        let run = |seed| frames(&mut QuoteTraffic::new(&chain, seed), 50, 20);
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}

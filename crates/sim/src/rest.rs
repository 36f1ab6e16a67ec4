//! The chain photo as Massive's REST pages: `GET /v3/snapshot/options/I:SPX` responses.
//!
//! The chain loader and its benchmarks read these exactly as they would read Massive,
//! and the fake Massive server will serve them. The shape follows Massive's documented response: results
//! sorted by ticker, at most 250 per page, `next_url` with an opaque `cursor` on every
//! page but the last; index underlyings carry `value` (not `price`) and no
//! `change_to_break_even`; greeks are per day and per vol point as the vendor quotes
//! them, an empty object for deep in-the-money contracts and absent (with the implied
//! volatility) for some far-wing ones; `last_trade` is absent for contracts that never
//! traded, and their `day` is an empty object. Timestamps are Unix nanoseconds.

use chainboard_model::Right;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::chain::{SimChain, SimContract, VendorGreeks};
use crate::ticks;

/// Massive's maximum `limit` for the chain snapshot endpoint.
pub const MAX_LIMIT: usize = 250;

/// Where `next_url` points, as on the real service.
const API_BASE: &str = "https://api.massive.com";

/// Renders `chain` as the sequence of responses a client paging through
/// `GET /v3/snapshot/options/I:<underlying>?limit=<limit>` receives, one compact JSON
/// document per page, at wall time `now_ms` (Unix milliseconds).
///
/// `limit` is clamped to `1..=250` as Massive clamps it. An empty chain gives one page
/// with no results. Deterministic in `(chain, limit, now_ms)`.
pub fn chain_pages(chain: &SimChain, limit: usize, now_ms: i64) -> Vec<String> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let underlying = format!("I:{}", chain.config().underlying);
    let mut ids = ChaCha8Rng::seed_from_u64(chain.config().seed ^ now_ms as u64 ^ 0x7265_7374);
    let contracts = chain.contracts();
    let mut chunks: Vec<&[SimContract]> = contracts.chunks(limit).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let pages = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let next_url = chunk.last().filter(|_| i + 1 < pages).map(|last| {
                let cursor = hex(format!("after={}&limit={limit}", last.ticker).as_bytes());
                format!("{API_BASE}/v3/snapshot/options/{underlying}?cursor={cursor}")
            });
            let request_id = hex(&ids.random::<[u8; 16]>());
            snapshot_page(
                &underlying,
                chain.spot(),
                chunk,
                now_ms,
                &request_id,
                next_url.as_deref(),
            )
        })
        .collect()
}

/// Renders one `GET /v3/snapshot/options/{underlying}` response holding `contracts`
/// (already filtered and cut to the page), as of `now_ms` (Unix milliseconds): each
/// quote's and trade's `last_updated` is `now_ms` minus the contract's recorded age.
///
/// `underlying` is the Massive ticker (`I:SPX`) and `underlying_value` the index
/// level every result carries in `underlying_asset.value`. `next_url` is written as
/// given (absent on the last page). The fake Massive server renders its pages with
/// this, so the page shape is defined once.
pub fn snapshot_page(
    underlying: &str,
    underlying_value: f64,
    contracts: &[SimContract],
    now_ms: i64,
    request_id: &str,
    next_url: Option<&str>,
) -> String {
    let now_ns = now_ms.saturating_mul(NS_PER_MS);
    let asset = WireUnderlying {
        last_updated: now_ns - NS_PER_MS * 1_000,
        timeframe: "REAL-TIME",
        ticker: underlying,
        value: ticks::round_cents(underlying_value),
    };
    let page = WirePage {
        status: "OK",
        request_id,
        results: contracts
            .iter()
            .map(|c| wire_result(c, &asset, now_ns))
            .collect(),
        next_url,
    };
    // Serializing plain structs of numbers and strings cannot fail; an empty
    // page would only hide a bug that the tests catch.
    serde_json::to_string(&page).unwrap_or_default()
}

const NS_PER_MS: i64 = 1_000_000;

/// Lowercase hex, for request ids and cursors.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn wire_result<'a>(
    c: &'a SimContract,
    asset: &'a WireUnderlying<'a>,
    now_ns: i64,
) -> WireResult<'a> {
    let strike = c.strike();
    let mid = c.midpoint();
    let break_even = match c.right() {
        Right::Call => strike + mid,
        Right::Put => strike - mid,
    };
    let greeks = match c.vendor_greeks {
        VendorGreeks::Full => Some(WireGreeks {
            delta: Some(c.greeks.delta),
            gamma: Some(c.greeks.gamma),
            // The vendor quotes theta per calendar day and vega per vol point.
            theta: Some(c.greeks.theta / 365.0),
            vega: Some(c.greeks.vega / 100.0),
        }),
        VendorGreeks::Empty => Some(WireGreeks::default()),
        VendorGreeks::Absent => None,
    };
    let trade_ns = |age_ms: i64| now_ns - age_ms * NS_PER_MS;
    let day = match (c.day, c.last_trade) {
        (Some(d), Some(t)) => {
            let change_cents = i64::from(d.close_cents) - i64::from(d.previous_close_cents);
            let change = change_cents as f64 / 100.0;
            WireDay {
                change: Some(change),
                change_percent: Some(ticks::round_cents(
                    100.0 * change / ticks::points(d.previous_close_cents),
                )),
                close: Some(ticks::points(d.close_cents)),
                high: Some(ticks::points(d.high_cents)),
                last_updated: Some(trade_ns(t.age_ms)),
                low: Some(ticks::points(d.low_cents)),
                open: Some(ticks::points(d.open_cents)),
                previous_close: Some(ticks::points(d.previous_close_cents)),
                volume: Some(d.volume),
                vwap: Some(d.vwap),
            }
        }
        _ => WireDay::default(),
    };
    WireResult {
        break_even_price: ticks::round_cents(break_even),
        day,
        details: WireDetails {
            contract_type: c.right().as_str(),
            exercise_style: "european",
            expiration_date: c.key.expiration.to_string(),
            shares_per_contract: 100,
            strike_price: strike,
            ticker: &c.ticker,
        },
        implied_volatility: (c.vendor_greeks != VendorGreeks::Absent)
            .then(|| (c.vol * 1e4).round() / 1e4),
        greeks,
        last_quote: WireQuote {
            ask: c.ask(),
            ask_size: c.ask_size,
            bid: c.bid(),
            bid_size: c.bid_size,
            last_updated: now_ns - c.quote_age_ms * NS_PER_MS,
            midpoint: ticks::round_cents(mid),
            timeframe: "REAL-TIME",
        },
        last_trade: c.last_trade.map(|t| WireTrade {
            conditions: [t.condition],
            exchange: t.exchange,
            price: ticks::points(t.price_cents),
            sip_timestamp: trade_ns(t.age_ms),
            size: t.size,
            timeframe: "REAL-TIME",
        }),
        open_interest: c.open_interest,
        underlying_asset: asset,
    }
}

// The wire shapes below are private: field names and order are Massive's, and nothing
// outside this module should depend on them (the client crate has its own, tolerant,
// types).

#[derive(Serialize)]
struct WirePage<'a> {
    status: &'static str,
    request_id: &'a str,
    results: Vec<WireResult<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
}

#[derive(Serialize)]
struct WireResult<'a> {
    break_even_price: f64,
    day: WireDay,
    details: WireDetails<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    greeks: Option<WireGreeks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    implied_volatility: Option<f64>,
    last_quote: WireQuote,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_trade: Option<WireTrade>,
    open_interest: u64,
    underlying_asset: &'a WireUnderlying<'a>,
}

#[derive(Serialize, Default)]
struct WireDay {
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_close: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vwap: Option<f64>,
}

#[derive(Serialize)]
struct WireDetails<'a> {
    contract_type: &'static str,
    exercise_style: &'static str,
    expiration_date: String,
    shares_per_contract: u32,
    strike_price: f64,
    ticker: &'a str,
}

#[derive(Serialize, Default)]
struct WireGreeks {
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gamma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    theta: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vega: Option<f64>,
}

#[derive(Serialize)]
struct WireQuote {
    ask: f64,
    ask_size: u32,
    bid: f64,
    bid_size: u32,
    last_updated: i64,
    midpoint: f64,
    timeframe: &'static str,
}

#[derive(Serialize)]
struct WireTrade {
    conditions: [u16; 1],
    exchange: u16,
    price: f64,
    sip_timestamp: i64,
    size: u32,
    timeframe: &'static str,
}

#[derive(Serialize)]
struct WireUnderlying<'a> {
    last_updated: i64,
    timeframe: &'static str,
    ticker: &'a str,
    value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainConfig;
    use chainboard_model::ContractKey;
    use jiff::civil::date;
    use serde_json::Value;

    const NOW_MS: i64 = 1_795_532_400_000;

    fn spx() -> SimChain {
        SimChain::generate(ChainConfig::spx_like(date(2026, 11, 24), 7))
    }

    #[test]
    fn pages_cover_the_chain_within_the_limit() {
        let chain = spx();
        for limit in [250, 1000, 97] {
            let pages = chain_pages(&chain, limit, NOW_MS);
            let mut tickers = Vec::new();
            for (i, page) in pages.iter().enumerate() {
                let v: Value = serde_json::from_str(page).expect("valid JSON");
                assert_eq!(v["status"], "OK");
                assert_eq!(v["request_id"].as_str().map(str::len), Some(32));
                let results = v["results"].as_array().expect("results");
                assert!(results.len() <= limit.min(MAX_LIMIT));
                let last = i + 1 == pages.len();
                assert_eq!(v.get("next_url").is_none(), last, "page {i}");
                if let Some(url) = v["next_url"].as_str() {
                    assert!(
                        url.starts_with(
                            "https://api.massive.com/v3/snapshot/options/I:SPX?cursor="
                        )
                    );
                }
                for r in results {
                    let t = r["details"]["ticker"].as_str().expect("ticker").to_owned();
                    assert!(ContractKey::parse(&t).is_ok(), "{t}");
                    tickers.push(t);
                }
            }
            let all: Vec<&str> = chain
                .contracts()
                .iter()
                .map(|c| c.ticker.as_str())
                .collect();
            assert_eq!(tickers, all, "limit {limit}");
        }
    }

    #[test]
    fn results_have_massives_shape() {
        let chain = spx();
        let pages = chain_pages(&chain, 250, NOW_MS);
        let results: Vec<Value> = pages
            .iter()
            .flat_map(|p| {
                let v: Value = serde_json::from_str(p).expect("valid JSON");
                v["results"].as_array().cloned().unwrap_or_default()
            })
            .collect();
        let (mut empty_greeks, mut no_greeks, mut no_trade) = (0, 0, 0);
        for r in &results {
            let d = &r["details"];
            assert!(matches!(d["contract_type"].as_str(), Some("call" | "put")));
            assert_eq!(d["exercise_style"], "european");
            assert_eq!(d["shares_per_contract"], 100);
            assert_eq!(d["expiration_date"].as_str().map(str::len), Some(10));
            let u = &r["underlying_asset"];
            assert_eq!(u["ticker"], "I:SPX");
            assert_eq!(u["value"], 6850.0);
            assert!(u.get("price").is_none() && u.get("change_to_break_even").is_none());
            let q = &r["last_quote"];
            let (bid, ask) = (
                q["bid"].as_f64().unwrap_or(-1.0),
                q["ask"].as_f64().unwrap_or(-1.0),
            );
            assert!(0.0 <= bid && bid < ask, "{q}");
            assert_eq!(q["timeframe"], "REAL-TIME");
            assert!(q["last_updated"].as_i64().unwrap_or(0) > 1_000_000_000_000_000_000);
            match r.get("greeks") {
                None => {
                    no_greeks += 1;
                    assert!(r.get("implied_volatility").is_none());
                }
                Some(g) if g.as_object().is_some_and(|o| o.is_empty()) => empty_greeks += 1,
                Some(g) => {
                    let delta = g["delta"].as_f64().unwrap_or(f64::NAN);
                    assert!(delta.abs() <= 0.995, "{g}");
                    assert!(r["implied_volatility"].as_f64().is_some());
                }
            }
            match r.get("last_trade") {
                None => {
                    no_trade += 1;
                    assert_eq!(r["day"], serde_json::json!({}));
                }
                Some(t) => {
                    assert!(t["price"].as_f64().is_some_and(|p| p > 0.0));
                    assert_eq!(t["timeframe"], "REAL-TIME");
                    assert!(r["day"]["close"].as_f64().is_some());
                }
            }
        }
        assert!(empty_greeks > 0 && no_greeks > 0 && no_trade > 0);
        // Prices are whole cents, printed without float noise.
        let cents = |v: &Value| {
            let x = v.as_f64().unwrap_or(f64::NAN);
            (x * 100.0).round() / 100.0 == x && !v.to_string().contains("000000")
        };
        for r in &results {
            let q = &r["last_quote"];
            for v in [&q["bid"], &q["ask"], &q["midpoint"], &r["break_even_price"]] {
                assert!(cents(v), "{v}");
            }
            if let Some(t) = r.get("last_trade") {
                assert!(cents(&t["price"]) && cents(&r["day"]["vwap"]), "{r}");
            }
        }
    }

    #[test]
    fn pages_are_deterministic_and_edge_limits_work() {
        let chain = spx();
        assert_eq!(
            chain_pages(&chain, 250, NOW_MS),
            chain_pages(&chain, 250, NOW_MS)
        );
        assert_eq!(chain_pages(&chain, 0, NOW_MS).len(), chain.len());
        let mut empty = ChainConfig::spx_like(date(2026, 11, 24), 1);
        empty.schedule.daily_days = -1;
        empty.schedule.weekly_days = -1;
        empty.schedule.monthly_days = -1;
        empty.schedule.quarterly_days = -1;
        let pages = chain_pages(&SimChain::generate(empty), 250, NOW_MS);
        assert_eq!(pages.len(), 1);
        let v: Value = serde_json::from_str(&pages[0]).expect("valid JSON");
        assert_eq!(v["results"], serde_json::json!([]));
        assert!(v.get("next_url").is_none());
    }
}

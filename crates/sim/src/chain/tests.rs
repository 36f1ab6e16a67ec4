//! The generated chain: sizes, tickers, strike ladders, prices and determinism.

use super::*;
use jiff::civil::date;

fn spx() -> SimChain {
    SimChain::generate(ChainConfig::spx_like(date(2026, 11, 24), 7))
}

#[test]
fn spx_and_ndx_chains_have_realistic_sizes() {
    let spx = spx();
    let ndx = SimChain::generate(ChainConfig::ndx_like(date(2026, 11, 24), 7));
    println!(
        "SPX: {} contracts in {} expirations; NDX: {} contracts in {} expirations",
        spx.len(),
        spx.expirations().len(),
        ndx.len(),
        ndx.expirations().len()
    );
    assert!((20_000..=26_000).contains(&spx.len()), "SPX {}", spx.len());
    assert!((20_000..=40_000).contains(&ndx.len()), "NDX {}", ndx.len());
}

#[test]
fn every_ticker_parses_back_to_its_key_and_the_chain_is_sorted() {
    for chain in [
        spx(),
        SimChain::generate(ChainConfig::ndx_like(date(2026, 11, 24), 1)),
    ] {
        for c in chain.contracts() {
            assert_eq!(ContractKey::parse(&c.ticker), Ok(c.key), "{}", c.ticker);
        }
        assert!(
            chain
                .contracts()
                .windows(2)
                .all(|w| w[0].ticker < w[1].ticker)
        );
        let middle = &chain.contracts()[chain.len() / 2];
        assert_eq!(chain.get(&middle.ticker), Some(middle));
        assert!(chain.get("O:SPXW261124C06851000").is_none());
    }
}

#[test]
fn strikes_are_dense_near_the_money_and_widen_with_time() {
    let chain = spx();
    let strikes_of = |d: Date| -> Vec<u32> {
        chain
            .contracts()
            .iter()
            .filter(|c| c.key.expiration == d && c.key.root.as_str() == "SPXW")
            .filter(|c| c.key.right == Right::Call)
            .map(|c| c.key.strike.milli() / 1000)
            .collect()
    };
    let near = strikes_of(date(2026, 11, 24));
    let far = strikes_of(date(2027, 11, 19));
    assert!(near.contains(&6850) && near.contains(&6855));
    assert!(!far.contains(&6005) && far.contains(&6300));
    assert!(near.iter().all(|k| k % 5 == 0));
    let span = |s: &[u32]| s.last().copied().unwrap_or(0) - s.first().copied().unwrap_or(0);
    assert!(
        span(&far) > 2 * span(&near),
        "{} vs {}",
        span(&far),
        span(&near)
    );
    // The wings are 100 points apart.
    let low = far.first().copied().unwrap_or(0);
    assert_eq!(low % 100, 0);
}

#[test]
fn prices_quotes_and_vendor_fields_are_sane() {
    let chain = spx();
    let mut empty = 0;
    let mut absent = 0;
    for c in chain.contracts() {
        assert!(c.theo.is_finite() && c.theo >= 0.0, "{}", c.ticker);
        assert!(c.bid_cents < c.ask_cents, "{}", c.ticker);
        assert!(c.vol > 0.0 && c.vol < 2.0);
        match c.vendor_greeks {
            VendorGreeks::Empty => {
                empty += 1;
                assert!(c.greeks.delta.abs() > 0.995);
            }
            VendorGreeks::Absent => {
                absent += 1;
                assert_eq!(c.band, StrikeBand::Wide);
            }
            VendorGreeks::Full => assert!(c.greeks.delta.abs() <= 0.995),
        }
        if let Some(day) = c.day {
            assert!(day.low_cents <= day.close_cents && day.close_cents <= day.high_cents);
        }
        assert_eq!(c.day.is_some(), c.last_trade.is_some());
    }
    assert!(empty > 0 && absent > 0, "empty {empty}, absent {absent}");
    // The smile is skewed: a 10% OTM put is dearer in vol than a 10% OTM call.
    let vol_at = |k: f64| {
        chain
            .config()
            .smile
            .vol((k / 6850.0_f64).ln(), 30.0 / 365.0)
    };
    assert!(vol_at(6165.0) > vol_at(6850.0) && vol_at(6850.0) > vol_at(7535.0));
}

#[test]
fn generation_is_deterministic() {
    let a = spx();
    let b = spx();
    assert_eq!(a.contracts(), b.contracts());
    let c = SimChain::generate(ChainConfig::spx_like(date(2026, 11, 24), 8));
    assert_ne!(a.contracts(), c.contracts());
}

//! The simulated books are shaped like the real SPX and NDX books, on every day the
//! simulator may be started: totals on their targets, open interest where the
//! published figures put it, and a dealer gamma profile that a trader would believe
//! (net GEX in range, a flip near spot). `docs/simulator.md` gives the sources.

use chainboard_model::Right;
use chainboard_quant::expiry;
use chainboard_sim::chain::{ExpiryKind, SimContract};
use chainboard_sim::positioning::gamma_profile;
use chainboard_sim::{ChainConfig, SimChain};
use jiff::civil::{Date, date};

/// Every `step`-th trading day of 2026 and 2027, at three times of the session.
fn days(step: usize) -> Vec<(Date, f64)> {
    let mut out = Vec::new();
    let mut day = date(2026, 1, 2);
    let mut n = 0;
    while day < date(2028, 1, 1) {
        if expiry::is_trading_day(day) {
            if n % step == 0 {
                let hours = [6.0, 3.0, 0.25][(n / step) % 3];
                out.push((day, hours));
            }
            n += 1;
        }
        day = day.tomorrow().expect("a date");
    }
    out
}

fn chain(symbol: &str, day: Date, hours_to_close: f64, seed: u64) -> SimChain {
    let mut config = match symbol {
        "SPX" => ChainConfig::spx_like(day, seed),
        _ => ChainConfig::ndx_like(day, seed),
    };
    config.hours_to_close = hours_to_close;
    SimChain::generate(config)
}

fn oi(c: &[&SimContract]) -> f64 {
    c.iter().map(|c| c.open_interest as f64).sum()
}

#[test]
fn net_gex_and_the_flip_are_believable_across_two_years_of_start_days() {
    // (symbol, net GEX bound in $ per 1% move)
    for (symbol, bound) in [("SPX", 30e9), ("NDX", 10e9)] {
        let (mut low, mut high, mut farthest) = (f64::MAX, f64::MIN, 0.0f64);
        for (i, (day, hours)) in days(9).into_iter().enumerate() {
            let chain = chain(symbol, day, hours, 7 + i as u64);
            let spot = chain.spot();
            let profile = gamma_profile(&chain);
            let net = profile.gex_at(spot);
            assert!(
                net.abs() <= bound,
                "{symbol} {day} {hours}h: net GEX {:.1} bn",
                net / 1e9
            );
            let flip = profile
                .zero_gamma(spot, &Default::default())
                .unwrap_or_else(|| panic!("{symbol} {day} {hours}h: no flip"));
            assert!(
                (flip.level / spot - 1.0).abs() <= 0.05,
                "{symbol} {day} {hours}h: flip {} vs spot {spot}",
                flip.level
            );
            (low, high) = (low.min(net), high.max(net));
            farthest = farthest.max((flip.level / spot - 1.0).abs());
        }
        println!(
            "{symbol}: net GEX {:.1} to {:.1} bn, flip within {:.2}% of spot",
            low / 1e9,
            high / 1e9,
            100.0 * farthest
        );
    }
}

#[test]
fn open_interest_and_volume_sit_where_the_real_books_have_them() {
    for symbol in ["SPX", "NDX"] {
        for (day, hours) in days(40) {
            let chain = chain(symbol, day, hours, 11);
            let p = chain.config().positioning;
            let spot = chain.spot();
            let all: Vec<&SimContract> = chain.contracts().iter().collect();
            let side = |r: Right| -> Vec<&SimContract> {
                all.iter().copied().filter(|c| c.right() == r).collect()
            };
            let (calls, puts) = (side(Right::Call), side(Right::Put));
            let total = oi(&all);
            let context = format!("{symbol} {day} {hours}h");
            // Totals on target (the noise has mean one).
            assert!(
                (total / p.open_interest - 1.0).abs() < 0.03,
                "{context}: {total}"
            );
            let ratio = oi(&puts) / oi(&calls);
            assert!(
                (ratio / p.put_call_ratio - 1.0).abs() < 0.05,
                "{context}: {ratio}"
            );
            // Puts: the bulk 3–15% below spot; calls: near and above.
            let m = |c: &&SimContract| (c.strike() / spot).ln();
            let protective: Vec<&SimContract> = puts
                .iter()
                .copied()
                .filter(|c| (-0.15..=-0.03).contains(&m(c)))
                .collect();
            assert!(
                oi(&protective) > 0.4 * oi(&puts),
                "{context}: protective puts {}",
                oi(&protective) / oi(&puts)
            );
            let above: Vec<&SimContract> =
                calls.iter().copied().filter(|c| m(c) >= -0.01).collect();
            assert!(
                oi(&above) > 0.6 * oi(&calls),
                "{context}: calls above {}",
                oi(&above) / oi(&calls)
            );
            // Monthlies and quarterlies hold more per expiration than dailies.
            let per_expiry = |kind: ExpiryKind| {
                let of_kind: Vec<&SimContract> =
                    all.iter().copied().filter(|c| c.kind == kind).collect();
                let count = chain
                    .expirations()
                    .iter()
                    .filter(|e| e.kind == kind)
                    .count()
                    .max(1);
                oi(&of_kind) / count as f64
            };
            assert!(
                per_expiry(ExpiryKind::Monthly) > 3.0 * per_expiry(ExpiryKind::Daily),
                "{context}: monthlies"
            );
            // Round strikes carry more than their neighbours.
            let step = p.round_strikes[0].0;
            let at = |round: bool| {
                let near: Vec<&SimContract> = all
                    .iter()
                    .copied()
                    .filter(|c| m(c).abs() < 0.03 && c.days_to_expiry < 60)
                    .filter(|c| ((c.key.strike.milli() / 1000) % step == 0) == round)
                    .collect();
                oi(&near) / near.len().max(1) as f64
            };
            assert!(at(true) > 1.5 * at(false), "{context}: round strikes");
            // 0DTE carries its share of the day's volume.
            let volume = |c: &&SimContract| c.day.map_or(0.0, |d| d.volume as f64);
            let day_volume: f64 = all.iter().map(volume).sum();
            let zero: f64 = all
                .iter()
                .filter(|c| c.days_to_expiry == 0)
                .map(volume)
                .sum();
            assert!(
                (zero / day_volume - p.zero_dte_volume_share).abs() < 0.05,
                "{context}: 0DTE volume share {}",
                zero / day_volume
            );
        }
    }
}

#[test]
fn the_book_is_the_same_for_a_seed() {
    let a = chain("SPX", date(2026, 12, 4), 3.0, 5);
    let b = chain("SPX", date(2026, 12, 4), 3.0, 5);
    assert_eq!(a.contracts(), b.contracts());
}

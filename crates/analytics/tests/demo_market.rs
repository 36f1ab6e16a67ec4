//! The simulated market the demo runs on, through the models: what a new user sees on
//! the first screen must be believable, on any day the demo is run.

mod common;

use chainboard_analytics::{ExpiryFilter, levels};
use chainboard_model::Underlying;
use chainboard_quant::expiry;
use chainboard_sim::{Market, MarketConfig};
use jiff::civil::{Date, date};

/// Unix ms of `day` at `hour:minute` in New York.
fn ny_ms(day: Date, hour: i8, minute: i8) -> i64 {
    day.at(hour, minute, 0, 0)
        .to_zoned_datetime(expiry::exchange_time_zone())
        .map(|z| z.timestamp().as_millisecond())
        .expect("a New York time")
}

/// The demo's first screen for `symbol` at `now_ms`, as the fake Massive serves it:
/// the market the fake starts (the session date's chain, its clock and listing),
/// photographed now, through the engine and the models, levels settled. Returns
/// (spot, the settled GEX snapshot).
fn first_screen(symbol: &str, now_ms: i64, seed: u64) -> (f64, chainboard_analytics::GexSnapshot) {
    let underlying = Underlying::new(symbol).expect("valid");
    let today = expiry::session_date(now_ms, &expiry::exchange_time_zone());
    let config =
        MarketConfig::for_underlyings(&[underlying], today, seed, now_ms).expect("a shape");
    let market = Market::new(config, now_ms);
    let photo = common::market_photo(&market, now_ms, |_| true);
    let spot = photo.underlying_value.expect("a spot");
    let (_engine, models, tick) = common::models_on(photo, now_ms);
    let gex = levels::settle(&tick.heatmap, &tick.gex, models.config(), None);
    (spot, gex)
}

#[test]
fn the_first_screen_is_believable_whenever_the_demo_starts() {
    // During a session, minutes before the close, after it, on a weekend, on an early
    // close, on a holiday, on a quarterly expiration.
    let starts = [
        (date(2026, 12, 4), 10, 0),
        (date(2026, 12, 4), 15, 50),
        (date(2026, 12, 4), 20, 0),
        (date(2026, 12, 5), 12, 0),
        (date(2026, 12, 24), 11, 0),
        (date(2026, 12, 25), 12, 0),
        (date(2027, 3, 31), 14, 0),
        (date(2027, 6, 18), 9, 45),
    ];
    // (symbol, net GEX bound by open interest, $ per 1% move)
    for (symbol, bound) in [("SPX", 30e9), ("NDX", 10e9)] {
        for (i, &(day, hour, minute)) in starts.iter().enumerate() {
            let now_ms = ny_ms(day, hour, minute);
            let (spot, gex) = first_screen(symbol, now_ms, 7 + i as u64);
            let context = format!("{symbol} {day} {hour}:{minute:02}");
            let all = gex.filter(ExpiryFilter::All);
            let net = all.total.net_gex();
            assert!(net.abs() <= bound, "{context}: net GEX {:.1} bn", net / 1e9);
            // The volume basis is a proxy and not bounded: minutes before the close a
            // day's 0DTE volume within a few points of spot carries tens of billions.
            println!(
                "{context}: net GEX {:+.1} bn by OI, {:+.1} bn by volume",
                net / 1e9,
                all.total.net_gex_volume() / 1e9
            );
            let flip = all
                .levels
                .zero_gamma
                .level()
                .unwrap_or_else(|| panic!("{context}: {:?}", all.levels.zero_gamma));
            assert!(
                (flip / spot - 1.0).abs() <= 0.05,
                "{context}: flip {flip} vs spot {spot}"
            );
            // The session always has a 0DTE expiration, and its levels are near spot
            // or absent with a reason.
            let zero = gex.filter(ExpiryFilter::ZeroDte);
            assert_ne!(zero.total.net_gex(), 0.0, "{context}: a 0DTE book");
            match zero.levels.zero_gamma.level() {
                Some(level) => assert!(
                    (level / spot - 1.0).abs() <= 0.02,
                    "{context}: 0DTE flip {level}"
                ),
                None => assert_ne!(zero.levels.zero_gamma.status(), "pending", "{context}"),
            }
            for f in &gex.filters {
                for wall in [f.levels.call_wall, f.levels.put_wall]
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        (wall.points() / spot - 1.0).abs() <= 0.10,
                        "{context}: {} wall {wall}",
                        f.filter.as_str()
                    );
                }
            }
        }
    }
}

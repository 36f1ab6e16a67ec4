//! The published levels over a simulated session: the live market (index path,
//! quotes, trades) through the engine and the models, levels settled every second
//! against the tick before, as the publisher does. A level that jumps while spot
//! barely moves is what this catches.

mod common;

use chainboard_model::{ChainSnapshot, QuoteUpdate, RejectTally, TradeUpdate, Underlying};
use chainboard_models::observer::feed_status;
use chainboard_models::{ExpiryFilter, GexSnapshot, levels};
use chainboard_quant::expiry;
use chainboard_quant::levels::Transition;
use chainboard_sim::traffic::EventKind;
use chainboard_sim::{Market, MarketConfig};
use jiff::civil::date;

/// A held flip moves by at most this fraction of spot from one tick to the next
/// (0.15%: 10 SPX points; a 0DTE root re-refined after its contracts' implied
/// volatilities were re-solved from new quotes moves most, about 7 points) ...
const HELD_STEP: f64 = 0.0015;
/// ... while spot itself moves by less than this fraction.
const CALM_SPOT: f64 = 0.001;

/// Ticks of one second: three minutes of a session.
const TICKS: i64 = 180;

#[test]
fn levels_hold_still_while_spot_barely_moves() {
    let spx = Underlying::new("SPX").expect("valid");
    let start_ms = date(2026, 11, 24)
        .at(11, 0, 0, 0)
        .to_zoned_datetime(expiry::exchange_time_zone())
        .expect("a New York time")
        .timestamp()
        .as_millisecond();
    let config =
        MarketConfig::for_underlyings(&[spx], date(2026, 11, 24), 3, start_ms).expect("SPX");
    let mut market = Market::new(config, start_ms);
    let photo = market.photo(0, start_ms).expect("a book");
    // The near board (two months of expirations): the same levels logic, a quicker
    // test.
    let snapshot = ChainSnapshot {
        underlying: spx,
        taken_at_ms: start_ms,
        underlying_value: Some(photo.spot()),
        contracts: (0..photo.len())
            .filter_map(|i| photo.contract(i))
            .filter(|c| c.days_to_expiry <= 60)
            .filter_map(|c| chainboard_sim::photo::chain_contract(&c, start_ms))
            .collect(),
        rejected: RejectTally::default(),
    };
    let (mut engine, mut models, first) = common::models_on(snapshot, start_ms);
    let model_config = *models.config();
    let mut published: GexSnapshot =
        levels::settle(&first.heatmap, &first.gex, &model_config, None);

    let mut events = Vec::new();
    let (mut held, mut calm_held, mut changes) = (0, 0, 0);
    let mut worst = 0.0f64;
    for second in 1..=TICKS {
        let now = start_ms + second * 1_000;
        // Ten market steps a second, as the fake Massive runs it.
        for step in 1..=10 {
            let at = now - 1_000 + step * 100;
            events.clear();
            market.step(at, 40, &mut events);
            for e in &events {
                let Some(key) = market.event_key(e) else {
                    continue;
                };
                match e.event.kind {
                    EventKind::Quote {
                        bid_cents,
                        ask_cents,
                        bid_size,
                        ask_size,
                    } => {
                        if let Ok(q) = QuoteUpdate::new(
                            f64::from(bid_cents) / 100.0,
                            f64::from(ask_cents) / 100.0,
                            u64::from(bid_size),
                            u64::from(ask_size),
                            at,
                        ) {
                            engine.apply_quote(&key, &q);
                        }
                    }
                    EventKind::Trade {
                        price_cents, size, ..
                    } => {
                        if let Ok(t) =
                            TradeUpdate::new(f64::from(price_cents) / 100.0, u64::from(size), at)
                        {
                            engine.apply_trade(&key, &t);
                        }
                    }
                }
            }
            engine.set_underlying_value(market.spot(0).expect("a book"), at);
        }
        let feed = feed_status(&engine, now);
        let tick = models
            .tick(engine.epoch_mut().expect("an epoch"), feed, now)
            .expect("same epoch");
        let next = levels::settle(&tick.heatmap, &tick.gex, &model_config, Some(&published));
        let (spot_before, spot_now) = (
            published.anchor.expect("anchor").spot,
            next.anchor.expect("anchor").spot,
        );
        let calm = (spot_now / spot_before - 1.0).abs() < CALM_SPOT;
        for filter in ExpiryFilter::ALL {
            let (before, after) = (
                &published.filter(filter).levels,
                &next.filter(filter).levels,
            );
            match after.transition {
                Some(Transition::Held) => {
                    held += 1;
                    let (a, b) = (
                        before.zero_gamma.level().expect("held a flip"),
                        after.zero_gamma.level().expect("holds a flip"),
                    );
                    let step = (b - a).abs() / spot_now;
                    if calm {
                        calm_held += 1;
                        worst = worst.max(step);
                        assert!(
                            step <= HELD_STEP,
                            "{filter:?} at {second}s: flip {a} → {b} while spot {spot_before} → {spot_now}"
                        );
                    }
                }
                // Any other change of root is announced, and the published level is
                // one of the material roots (or absent with a reason).
                Some(_) => {
                    changes += 1;
                    if let Some(level) = after.zero_gamma.level() {
                        assert!(after.roots.iter().any(|r| r.level == level));
                    }
                }
                None => assert_eq!(before.zero_gamma.level(), None),
            }
            // A flip is published only together with the transition that explains it.
            if after.zero_gamma.level() != before.zero_gamma.level() {
                assert!(after.transition.is_some(), "{filter:?} at {second}s");
            }
        }
        published = next;
    }
    println!(
        "{held} held flips ({calm_held} with spot calm), worst step {:.4}% of spot; {changes} announced changes",
        100.0 * worst
    );
    assert!(
        calm_held > 100,
        "the session kept flips to check: {calm_held}"
    );
}

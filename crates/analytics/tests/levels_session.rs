//! The published levels over a simulated session: the live market (index path,
//! quotes, trades) through the engine and the models, levels settled every second
//! against the tick before, as the publisher does. A level that jumps while spot
//! barely moves is what this catches.

mod common;

use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{ExpiryFilter, GexSnapshot, ModelConfig, levels};
use chainboard_model::{QuoteUpdate, TradeUpdate, Underlying};
use chainboard_quant::expiry;
use chainboard_quant::levels::Transition;
use chainboard_sim::traffic::EventKind;
use chainboard_sim::{Market, MarketConfig};
use jiff::civil::date;
use proptest::prelude::*;

/// A held flip moves by at most this fraction of spot from one tick to the next
/// (0.15%: 10 SPX points) while spot itself moves by less than [`CALM_SPOT`]. A root
/// that moves farther is not the same root: the models track a root within 0.1% of
/// spot and announce anything else.
const HELD_STEP: f64 = 0.0015;
/// See [`HELD_STEP`].
const CALM_SPOT: f64 = 0.001;

/// Ticks of one second: three minutes of a session.
const TICKS: i64 = 180;
/// Announced changes of root allowed in those three minutes for the filters beyond
/// 0DTE.
const MAX_CHANGES: usize = 2;
/// Sessions starting this many minutes after the open (14:50 New York) or later are
/// in the 0DTE-dominated close for the 7-day filter; see the property below.
const WEEK_BOUNDED_UNTIL: i64 = 320;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// Over three minutes of a seeded session started at any time of the trading
    /// day (the last half hour included, when 0DTE gamma is a comb of strike
    /// spikes), for every filter and every tick:
    /// - a flip said to be `held` moved by at most [`HELD_STEP`] while spot was calm;
    /// - any other change is announced, and the announcement is true of the roots:
    ///   `appeared` means no root near last tick's is left, `switched` that the new
    ///   root is nearer spot by the margin while the old one still exists, `vanished`
    ///   that there is no root;
    /// - the published flip is always one of the material roots.
    #[test]
    fn levels_hold_still_unless_a_change_is_announced(seed in 0u64..10_000, minute in 0i64..375) {
        let (_, changes) = session(seed, minute);
        // Longer-dated filters keep one root. 0DTE (and `next`) roots come and go
        // more in the afternoon, when 0DTE gamma narrows to a few strikes: every
        // change there is announced and checked above, but not bounded in number
        // (a survey saw up to 21 in three minutes around 14:50). The 7-day filter
        // holds today's expiration too, and in the last hour its gamma (∝ 1/√T)
        // outweighs the rest of the week's: its one root then sits between two 0DTE
        // strikes' bumps and steps across the gap (seed 9796 at 15:17: 6855 ↔ 6864,
        // six times in three minutes, each announced). A survey of 12 seeds saw at
        // most one change per three minutes for sessions starting up to 14:50, two
        // at 15:00, up to 56 at 15:40; so the 7-day filter is bounded before
        // [`WEEK_BOUNDED_UNTIL`] and checked for truthful announcements after.
        let bounded = if minute < WEEK_BOUNDED_UNTIL {
            &[ExpiryFilter::All, ExpiryFilter::Week, ExpiryFilter::Days45][..]
        } else {
            &[ExpiryFilter::All, ExpiryFilter::Days45][..]
        };
        for &filter in bounded {
            prop_assert!(
                changes[filter.index()] <= MAX_CHANGES,
                "{filter:?}: {} announced changes in {TICKS} s", changes[filter.index()]
            );
        }
    }
}

#[test]
fn a_mid_morning_session_holds_its_levels() {
    let (held, changes) = session(3, 90);
    assert!(held > 800, "{held} held flips");
    assert!(
        changes.iter().all(|&c| c <= 1),
        "announced changes {changes:?}"
    );
}

/// Runs the session of `seed` starting `minute` minutes after 09:30 New York on
/// 2026-11-24; returns the flips held while spot was calm and the announced changes
/// per filter.
fn session(seed: u64, minute: i64) -> (usize, [usize; ExpiryFilter::ALL.len()]) {
    let spx = Underlying::new("SPX").expect("valid");
    let rule = ModelConfig::for_underlying(spx).hysteresis;
    let start_ms = date(2026, 11, 24)
        .at(9, 30, 0, 0)
        .to_zoned_datetime(expiry::exchange_time_zone())
        .expect("a New York time")
        .timestamp()
        .as_millisecond()
        + minute * 60_000;
    let config =
        MarketConfig::for_underlyings(&[spx], date(2026, 11, 24), seed, start_ms).expect("SPX");
    let mut market = Market::new(config, start_ms);
    // The near board (two months of expirations): the same levels logic, a quicker
    // test.
    let snapshot = common::market_photo(&market, start_ms, |c| c.days_to_expiry <= 60);
    let (mut engine, mut models, first) = common::models_on(snapshot, start_ms);
    let model_config = *models.config();
    let mut published: GexSnapshot =
        levels::settle(&first.heatmap, &first.gex, &model_config, None);

    let mut events = Vec::new();
    let mut calm_held = 0;
    let mut changes = [0usize; ExpiryFilter::ALL.len()];
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
            let reach = rule.track_frac * spot_now;
            let near_last = |prev: f64, rising: bool| {
                after
                    .roots
                    .iter()
                    .any(|r| r.rising == rising && (r.level - prev).abs() <= reach)
            };
            if let Some(level) = after.zero_gamma.level() {
                assert!(
                    after.roots.iter().any(|r| r.level == level),
                    "{filter:?} at {second}s: the flip is a root"
                );
            }
            let context = format!("{filter:?} at {second}s (seed {seed}, minute {minute})");
            match after.transition {
                Some(Transition::Held) => {
                    let (a, b) = (
                        before.zero_gamma.level().expect("held a flip"),
                        after.zero_gamma.level().expect("holds a flip"),
                    );
                    if calm {
                        calm_held += 1;
                        assert!(
                            (b - a).abs() / spot_now <= HELD_STEP,
                            "{context}: flip {a} → {b} while spot {spot_before} → {spot_now}"
                        );
                    }
                }
                Some(Transition::Appeared) => {
                    changes[filter.index()] += 1;
                    if let Some(prev) = before.zero_gamma.flip() {
                        assert!(!near_last(prev.level, prev.rising), "{context}: appeared");
                    }
                }
                Some(Transition::Switched) => {
                    changes[filter.index()] += 1;
                    let prev = before.zero_gamma.flip().expect("switched from a flip");
                    assert!(near_last(prev.level, prev.rising), "{context}: switched");
                    let level = after.zero_gamma.level().expect("switched to a flip");
                    let margin = rule.switch_frac * spot_now;
                    assert!(
                        (level - spot_now).abs() + margin < (prev.level - spot_now).abs() + reach,
                        "{context}: switched to a root not nearer spot"
                    );
                }
                Some(Transition::Vanished) => {
                    changes[filter.index()] += 1;
                    assert!(after.roots.is_empty(), "{context}: vanished");
                }
                Some(Transition::First) => panic!("{context}: first after the first tick"),
                None => assert_eq!(before.zero_gamma.level(), None, "{context}"),
            }
        }
        published = next;
    }
    println!(
        "seed {seed} minute {minute}: {calm_held} calm held flips, changes by filter {changes:?}"
    );
    (calm_held, changes)
}

/// The afternoon session that once showed 21 0DTE root changes in three minutes:
/// every one of them must still be announced truthfully, and the longer-dated
/// filters hold.
#[test]
fn an_afternoon_session_announces_every_change() {
    let (_, changes) = session(945, 321);
    for filter in [ExpiryFilter::All, ExpiryFilter::Week, ExpiryFilter::Days45] {
        assert!(changes[filter.index()] <= MAX_CHANGES, "{changes:?}");
    }
}

//! Trade signing scored against the simulator's truth: the simulated tape goes
//! through the real frame parser, feed and engine, and each print's classification
//! is compared with the side the simulator drew for it (never on the wire).
//!
//! The simulator's assumptions (`chainboard_sim::tape`): every print meets the book
//! as last quoted; 72% of single-leg prints trade at the touch, 8% one tick through
//! it, 20% inside the spread on the aggressor's half (mid included); 8% of prints are
//! multi-leg legs near the mid. The score is over prints signed against a live quote,
//! as the quote plan covers the contracts where the volume is.

use std::io::Write as _;

use chainboard_engine::{Engine, EngineConfig, FlowStats};
use chainboard_model::flow::{QuoteSource, Rule, Side};
use chainboard_model::{RootMap, Underlying};
use chainboard_service::Feed;
use chainboard_sim::{ChainConfig, EventKind, QuoteTraffic, SimChain};

/// 11:00 New York on Tuesday 2026-11-24, the chain's trade date.
const T0: i64 = 1_795_536_000_000;

fn stats(feed: &Feed) -> FlowStats {
    *feed.engines()[0].flow_stats()
}

#[test]
fn the_quote_rule_signs_the_simulated_tape() {
    let chain = SimChain::generate(ChainConfig::spx_like(jiff::civil::date(2026, 11, 24), 7));
    let spx = Underlying::new("SPX").expect("a name");
    let tz = chainboard_quant::expiry::exchange_time_zone();
    let mut engine = Engine::new(spx, EngineConfig::default());
    engine.set_session(chainboard_quant::expiry::flow_session(T0, &tz));
    engine.on_photo(chainboard_sim::photo::photo(&chain, T0, |_| true), T0);
    let mut feed = Feed::new(vec![engine], RootMap::default());
    let mut traffic = QuoteTraffic::new(&chain, 11);

    let (mut correct, mut signed, mut live_regular) = (0u64, 0u64, 0u64);
    let mut by_rule = [(0u64, 0u64); Rule::ALL.len()];
    let (mut true_legs, mut events, mut frame) = (0u64, Vec::new(), String::new());
    for i in 0..120_000i64 {
        let now = T0 + i;
        events.clear();
        traffic.next_events(chain.spot(), 1, &mut events);
        let event = events[0];
        frame.clear();
        frame.push('[');
        let ticker = traffic.ticker(event.contract).expect("listed");
        event.write_json(ticker, traffic.exchange(), now, &mut frame);
        frame.push(']');
        let before = stats(&feed);
        feed.apply_frame(&frame, now).expect("a well-formed frame");
        let EventKind::Trade {
            size,
            side: truth,
            condition,
            ..
        } = event.kind
        else {
            continue;
        };
        if (232..=236).contains(&condition) {
            true_legs += u64::from(size);
            continue;
        }
        let after = stats(&feed);
        let grew = |a: &[u64], b: &[u64]| (0..a.len()).find(|&j| b[j] > a[j]);
        let quote = grew(&before.quotes, &after.quotes).expect("a regular trade is counted");
        if QuoteSource::ALL[quote] != QuoteSource::Live {
            continue;
        }
        let size = u64::from(size);
        live_regular += size;
        let side = Side::ALL[grew(&before.volume, &after.volume).expect("a side")];
        let rule = grew(&before.rules, &after.rules).expect("a rule");
        if side != Side::Unknown {
            signed += size;
            by_rule[rule].1 += size;
            if side == truth {
                correct += size;
                by_rule[rule].0 += size;
            }
        }
    }
    let s = stats(&feed);
    let accuracy = correct as f64 / signed as f64;
    let coverage = signed as f64 / live_regular as f64;
    // Written to the process's stderr itself, not through `println!`, which the test
    // harness captures: the figure shows in every test run's log, CI's included.
    let mut report = format!(
        "trade signing on the simulated tape: {correct} of {signed} signed contracts \
         on the right side ({:.1}%); {:.1}% of {live_regular} live-quoted regular \
         contracts signed\n",
        100.0 * accuracy,
        100.0 * coverage
    );
    for (rule, (right, all)) in Rule::ALL.iter().zip(by_rule) {
        if all > 0 {
            report.push_str(&format!(
                "  {:>9}: {right} of {all} ({:.1}%)\n",
                rule.as_str(),
                100.0 * right as f64 / all as f64
            ));
        }
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(signed > 10_000, "enough of a tape to score: {signed}");
    assert!(accuracy >= 0.90, "accuracy {accuracy}");
    assert!(coverage >= 0.90, "coverage {coverage}");
    // Every multi-leg print was excluded by its condition code, and nothing else was.
    assert_eq!(s.excluded_volume, true_legs);
}

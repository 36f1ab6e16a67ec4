//! The session's customer flow in the engine: trades signed on the board, carried
//! across epochs, reset by a new session, refused and excluded by reason.

#![allow(clippy::unwrap_used)] // a fixture that fails to build is a failed test

use std::collections::HashMap;

use chainboard_engine::{Engine, EngineConfig, FlowStats, PhotoOutcome, Refused, Session};
use chainboard_model::flow::{Conditions, Excluded, FlowConfig, Side};
use chainboard_model::{
    ChainContract, ChainPhoto, ContractFlow, ContractKey, ContractState, FieldMask, QuoteUpdate,
    RejectTally, Right, Root, RootMap, Strike, TradeUpdate, Underlying,
};
use jiff::civil::date;
use proptest::prelude::*;

const T0: i64 = 1_795_532_400_000;

fn spx() -> Underlying {
    Underlying::new("SPX").unwrap()
}

fn session(day: i8) -> Session {
    Session {
        date: date(2026, 12, day),
        start_ms: T0 - 3_600_000,
        end_ms: T0 + 3_600_000,
    }
}

fn key(strike: u32, right: Right) -> ContractKey {
    ContractKey {
        root: Root::new("SPXW").unwrap(),
        expiration: date(2026, 12, 7),
        right,
        strike: Strike::from_milli(strike * 1000).unwrap(),
    }
}

/// A photo of `keys`, each quoted `bid`/`ask` as of `quote_ts` when given.
fn photo(keys: &[ContractKey], at: i64, quote: Option<(f64, f64, i64)>) -> ChainPhoto {
    let map = RootMap::default();
    ChainPhoto {
        underlying: spx(),
        taken_at_ms: at,
        underlying_value: None,
        contracts: keys
            .iter()
            .map(|&key| ChainContract {
                geometry: map.geometry(key).unwrap(),
                state: ContractState {
                    bid: quote.map(|q| q.0),
                    ask: quote.map(|q| q.1),
                    quote_ts_ms: quote.map(|q| q.2),
                    ..ContractState::default()
                },
            })
            .collect(),
        rejected: RejectTally::default(),
    }
}

fn flow_of(e: &Engine, k: &ContractKey) -> ContractFlow {
    let epoch = e.epoch().unwrap();
    epoch.state(epoch.board().slot(k).unwrap()).flow
}

fn trade(price: f64, size: u64, ts: i64) -> TradeUpdate {
    TradeUpdate::new(price, size, ts).unwrap()
}

fn quote(bid: f64, ask: f64, ts: i64) -> QuoteUpdate {
    QuoteUpdate::new(bid, ask, 10, 10, ts).unwrap()
}

#[test]
fn flow_is_carried_into_the_next_epoch_for_contracts_both_boards_list() {
    let (a, b, c) = (
        key(6900, Right::Call),
        key(6800, Right::Put),
        key(6850, Right::Call),
    );
    let mut e = Engine::new(spx(), EngineConfig::default());
    e.set_session(session(7));
    e.on_photo(photo(&[a, b], T0, None), T0);
    e.apply_quote(&a, &quote(10.0, 10.5, T0 + 1));
    e.apply_quote(&b, &quote(4.0, 4.2, T0 + 1));
    e.apply_trade(&a, &trade(10.5, 7, T0 + 2));
    e.apply_trade(&b, &trade(4.0, 3, T0 + 3));
    assert_eq!((flow_of(&e, &a).buy, flow_of(&e, &b).sell), (7, 3));
    // A new board lists a and c, not b: a keeps its flow, c starts at zero.
    let started = e.on_photo(photo(&[a, c], T0 + 10, None), T0 + 10);
    assert!(matches!(started, PhotoOutcome::Started(_)));
    assert_eq!(flow_of(&e, &a).buy, 7);
    assert_eq!(flow_of(&e, &a).buy_premium_cents, 7 * 105_000);
    assert_eq!(flow_of(&e, &c), ContractFlow::default());
    // The photo brought no quote: a trade now has none to be signed against.
    e.apply_trade(&a, &trade(10.5, 2, T0 + 11));
    assert_eq!((flow_of(&e, &a).buy, flow_of(&e, &a).unknown), (7, 2));
    assert_eq!(e.flow_stats().volume, [7, 3, 2]);
}

#[test]
fn a_new_session_starts_every_contract_at_zero() {
    let a = key(6900, Right::Call);
    let mut e = Engine::new(spx(), EngineConfig::default());
    let consumer = e.add_dirty_consumer().unwrap();
    e.set_session(session(7));
    e.on_photo(photo(&[a], T0, Some((1.0, 1.2, T0))), T0);
    e.apply_trade(&a, &trade(1.2, 5, T0 + 5));
    assert_eq!(flow_of(&e, &a).buy, 5);
    assert!(
        !e.set_session(session(7)),
        "the same session again changes nothing"
    );
    assert_eq!(flow_of(&e, &a).buy, 5);
    e.epoch_mut()
        .unwrap()
        .drain_dirty_for(consumer, |_, _, _, _| {});
    assert!(e.set_session(session(8)));
    assert_eq!(flow_of(&e, &a), ContractFlow::default());
    assert_eq!(*e.flow_stats(), FlowStats::default());
    let mut marked = Vec::new();
    e.epoch_mut()
        .unwrap()
        .drain_dirty_for(consumer, |_, mask, g, _| marked.push((g.key, mask)));
    assert_eq!(
        marked,
        [(a, FieldMask::FLOW)],
        "the reset is a change to publish"
    );
}

#[test]
fn bad_trades_are_refused_and_complex_ones_excluded_by_reason() {
    let a = key(6900, Right::Call);
    let mut e = Engine::new(spx(), EngineConfig::default());
    e.on_photo(photo(&[a], T0, Some((1.0, 1.2, T0))), T0);
    e.apply_trade(&a, &trade(1.2, 1, T0 + 1));
    e.set_session(session(7));
    e.apply_trade(&a, &trade(0.0, 1, T0 + 2));
    e.apply_trade(&a, &trade(1.2, 0, T0 + 3));
    e.apply_trade(&a, &trade(1.2, 1, T0 + 9_000_000));
    let leg = trade(1.1, 4, T0 + 4).with_conditions(Conditions::from_codes([232]));
    e.apply_trade(&a, &leg);
    let late = trade(1.1, 2, T0 + 5).with_conditions(Conditions::from_codes([204]));
    e.apply_trade(&a, &late);
    // Hostile records: refused, never overflowing a count or flipping a sign.
    e.apply_trade(&a, &trade(1.2, u64::MAX, T0 + 6));
    e.apply_trade(&a, &trade(1e9, 1, T0 + 7));
    let huge_leg = trade(1.1, u64::MAX, T0 + 8).with_conditions(Conditions::from_codes([232]));
    e.apply_trade(&a, &huge_leg);
    e.apply_trade(&a, &huge_leg);
    let s = e.flow_stats();
    let refused = |r: Refused| s.refused[Refused::ALL.iter().position(|&x| x == r).unwrap()];
    assert_eq!(refused(Refused::NoSession), 1);
    assert_eq!(refused(Refused::BadPrice), 2);
    assert_eq!(refused(Refused::BadSize), 2);
    assert_eq!(refused(Refused::OutsideSession), 1);
    assert_eq!(s.excluded[Excluded::MultiLeg.index()], 3);
    assert_eq!(s.excluded[Excluded::Late.index()], 1);
    assert_eq!(s.excluded_volume, u64::MAX, "saturated");
    assert_eq!(
        flow_of(&e, &a),
        ContractFlow::default(),
        "nothing was signed"
    );
    // Day volume still counts every print of the contract.
    let epoch = e.epoch().unwrap();
    assert_eq!(
        epoch.state(epoch.board().slot(&a).unwrap()).volume,
        Some(u64::MAX),
        "saturated"
    );
}

#[test]
fn a_trade_stamped_before_the_current_quote_is_signed_against_the_one_before() {
    let a = key(6900, Right::Call);
    let mut e = Engine::new(spx(), EngineConfig::default());
    e.set_session(session(7));
    e.on_photo(photo(&[a], T0, None), T0);
    e.apply_quote(&a, &quote(10.0, 10.5, T0 + 10));
    // The offer was lifted at 10.5, and the new quote (stamped after) came first.
    e.apply_quote(&a, &quote(10.5, 11.0, T0 + 30));
    e.apply_trade(&a, &trade(10.5, 1, T0 + 20));
    assert_eq!(flow_of(&e, &a).buy, 1);
    // Older than both: no quote was known at its time.
    e.apply_trade(&a, &trade(10.5, 1, T0 + 5));
    assert_eq!(flow_of(&e, &a).unknown, 1);
}

#[test]
fn a_photo_quote_signs_only_while_young() {
    let a = key(6900, Right::Call);
    let config = EngineConfig {
        flow: FlowConfig {
            photo_quote_max_age_ms: 1_000,
            ..FlowConfig::default()
        },
        ..EngineConfig::default()
    };
    let mut e = Engine::new(spx(), config);
    e.set_session(session(7));
    e.on_photo(photo(&[a], T0, Some((2.0, 2.2, T0))), T0);
    e.apply_trade(&a, &trade(2.2, 1, T0 + 900));
    e.apply_trade(&a, &trade(2.2, 1, T0 + 1_100));
    assert_eq!((flow_of(&e, &a).buy, flow_of(&e, &a).unknown), (1, 1));
    let q = e.flow_stats().quotes;
    assert_eq!(q, [0, 1, 1], "one photo quote, one none");
}

// The property: over random quotes, trades (with random conditions, out-of-order
// times, bad sizes) and photos (refreshes and new boards), each contract's flow is
// what signing its own trades, against its own quotes, gives — the engine loses,
// doubles and misplaces nothing across slots, refreshes and epochs — and the counts
// add up to the contracts' totals.

#[derive(Debug, Clone)]
enum Step {
    Quote(usize, u32, u32),
    Trade(usize, u32, u64, i64, u8),
    Refresh(u32, u32),
    NewBoard(Vec<bool>),
}

const KEYS: usize = 12;

fn keys() -> Vec<ContractKey> {
    (0..KEYS as u32)
        .map(|i| {
            let right = if i % 2 == 0 { Right::Call } else { Right::Put };
            key(6800 + 25 * (i / 2), right)
        })
        .collect()
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..KEYS, 0u32..200, 0u32..6).prop_map(|(k, b, w)| Step::Quote(k, b, w)),
        6 => (0..KEYS, 0u32..220, 0u64..20, -30i64..30, 0u8..10)
            .prop_map(|(k, p, s, skew, c)| Step::Trade(k, p, s, skew, c)),
        1 => (0u32..200, 1u32..6).prop_map(|(b, w)| Step::Refresh(b, w)),
        1 => prop::collection::vec(any::<bool>(), KEYS).prop_map(Step::NewBoard),
    ]
}

proptest! {
    #[test]
    fn flow_equals_signing_each_contracts_own_trades(steps in prop::collection::vec(step(), 1..200)) {
        let all = keys();
        let mut listed: Vec<bool> = vec![true; KEYS];
        let mut e = Engine::new(spx(), EngineConfig::default());
        e.set_session(session(7));
        e.on_photo(photo(&all, T0, None), T0);
        // The reference: each listed contract's state, driven by the model's own
        // operations, rebuilt from the photo when a new board lists it.
        let mut reference: HashMap<ContractKey, ContractState> =
            all.iter().map(|&k| (k, ContractState::default())).collect();
        let config = FlowConfig::default();
        let mut now = T0;
        for step in steps {
            now += 50;
            match step {
                Step::Quote(k, b, w) => {
                    let q = quote(f64::from(b) * 0.05, f64::from(b + w) * 0.05, now);
                    e.apply_quote(&all[k], &q);
                    if listed[k] {
                        reference.get_mut(&all[k]).unwrap().apply_quote(&q);
                    }
                }
                Step::Trade(k, p, s, skew, c) => {
                    let codes: &[u32] = match c { 0 => &[232], 1 => &[201], 2 => &[219], _ => &[] };
                    let t = trade(f64::from(p) * 0.05, s, now + skew)
                        .with_conditions(Conditions::from_codes(codes.iter().copied()));
                    e.apply_trade(&all[k], &t);
                    if listed[k] {
                        let r = reference.get_mut(&all[k]).unwrap();
                        r.apply_trade(&t);
                        if t.conditions() == Conditions::Regular && p > 0 && s > 0 {
                            r.apply_flow(&t, &config);
                        }
                    }
                }
                Step::Refresh(b, w) => {
                    let on: Vec<ContractKey> = all.iter().zip(&listed).filter(|(_, l)| **l).map(|(k, _)| *k).collect();
                    let p = photo(&on, now, Some((f64::from(b) * 0.05, f64::from(b + w) * 0.05, now - 5)));
                    for (c, k) in p.contracts.iter().zip(&on) {
                        reference.get_mut(k).unwrap().refresh_from_photo(&c.state, now);
                    }
                    e.on_photo(p, now);
                }
                Step::NewBoard(next) => {
                    let on: Vec<ContractKey> = all.iter().zip(&next).filter(|(_, l)| **l).map(|(k, _)| *k).collect();
                    // The shrink guard holds a board that drops most contracts.
                    if on.len() * 5 < listed.iter().filter(|&&l| l).count() * 4 || on.is_empty() {
                        continue;
                    }
                    let p = photo(&on, now, None);
                    let states: Vec<ContractState> = p.contracts.iter().map(|c| c.state).collect();
                    match e.on_photo(p, now) {
                        PhotoOutcome::Started(_) => {
                            for (i, k) in all.iter().enumerate() {
                                let carried = if listed[i] { reference[k].flow } else { ContractFlow::default() };
                                reference.insert(*k, ContractState { flow: carried, ..ContractState::default() });
                            }
                            listed = next;
                        }
                        PhotoOutcome::Refreshed { .. } => {
                            for (state, k) in states.iter().zip(&on) {
                                reference.get_mut(k).unwrap().refresh_from_photo(state, now);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let epoch = e.epoch().unwrap();
        let mut sides = [0u64; 3];
        for (g, s) in epoch.contracts() {
            prop_assert_eq!(s.flow, reference[&g.key].flow, "{}", g.key);
            sides[Side::Buy.index()] += s.flow.buy;
            sides[Side::Sell.index()] += s.flow.sell;
            sides[Side::Unknown.index()] += s.flow.unknown;
        }
        // Contracts dropped by a new board take their flow with them; the session's
        // counts are at least what the board holds.
        for (counted, held) in e.flow_stats().volume.iter().zip(sides) {
            prop_assert!(*counted >= held);
        }
    }
}

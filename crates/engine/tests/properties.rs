//! The engine's invariants, over random boards and random event sequences.

#![allow(clippy::unwrap_used)] // a fixture that fails to build is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use chainboard_engine::{Engine, EngineConfig, Hydration, PhotoOutcome};
use chainboard_model::{
    ChainContract, ChainPhoto, ContractGeometry, ContractKey, ContractState, QuoteUpdate,
    RejectTally, Right, Root, RootMap, Strike, TradeUpdate, Underlying,
};
use jiff::civil::date;
use proptest::prelude::*;

const T0: i64 = 1_795_532_400_000;

/// A key on a small grid of SPX/SPXW expirations and strikes, so random keys collide
/// with the board often and miss it often.
fn arb_key() -> impl Strategy<Value = ContractKey> {
    (prop::bool::ANY, 0usize..3, prop::bool::ANY, 0u32..40).prop_map(
        |(weekly, exp, call, strike)| {
            let root = Root::new(if weekly { "SPXW" } else { "SPX" }).unwrap();
            let expiration = [date(2026, 11, 24), date(2026, 12, 18), date(2027, 3, 19)][exp];
            let right = if call { Right::Call } else { Right::Put };
            ContractKey {
                root,
                expiration,
                right,
                strike: Strike::from_milli((6500 + 25 * strike) * 1000).unwrap(),
            }
        },
    )
}

fn arb_board() -> impl Strategy<Value = Vec<ContractKey>> {
    prop::collection::btree_set(arb_key(), 1..120).prop_map(|s| s.into_iter().collect())
}

fn photo(keys: &[ContractKey], taken_at_ms: i64) -> ChainPhoto {
    let map = RootMap::default();
    ChainPhoto {
        underlying: Underlying::new("SPX").unwrap(),
        taken_at_ms,
        underlying_value: None,
        contracts: keys
            .iter()
            .map(|&key| ChainContract {
                geometry: map.geometry(key).unwrap(),
                state: ContractState::default(),
            })
            .collect(),
        rejected: RejectTally::default(),
    }
}

#[derive(Debug, Clone)]
enum Event {
    Quote(ContractKey, u32, u32),
    Trade(ContractKey, u32, u64),
}

fn arb_events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        prop_oneof![
            (arb_key(), 0u32..10_000, 0u32..10_000).prop_map(|(k, b, a)| Event::Quote(k, b, a)),
            (arb_key(), 1u32..10_000, 1u64..50).prop_map(|(k, p, s)| Event::Trade(k, p, s)),
        ],
        0..300,
    )
}

proptest! {
    /// Hydration never changes geometry: the board after any stream of live events is
    /// the very same frozen board.
    #[test]
    fn hydration_never_changes_geometry(board in arb_board(), events in arb_events()) {
        let mut e = Engine::new(Underlying::new("SPX").unwrap(), EngineConfig::default());
        e.on_photo(photo(&board, T0), T0);
        let before = Arc::clone(e.epoch().unwrap().board());
        let snapshot: Vec<ContractGeometry> = before.contracts().to_vec();
        for (i, ev) in events.iter().enumerate() {
            let ts = T0 + i as i64 + 1;
            match *ev {
                Event::Quote(k, b, a) => { e.apply_quote(&k, &QuoteUpdate::new(f64::from(b) / 100.0, f64::from(a) / 100.0, 1, 1, ts).unwrap()); }
                Event::Trade(k, p, s) => { e.apply_trade(&k, &TradeUpdate::new(f64::from(p) / 100.0, s, ts).unwrap()); }
            }
        }
        let after = e.epoch().unwrap().board();
        prop_assert!(Arc::ptr_eq(&before, after));
        prop_assert_eq!(after.contracts(), &snapshot[..]);
    }

    /// Every applied quote lands in exactly its contract (last write wins), no other
    /// contract changes, and geometry_miss counts exactly the updates for unknown keys.
    #[test]
    fn quotes_land_exactly_and_misses_are_counted(board in arb_board(), events in arb_events()) {
        let mut e = Engine::new(Underlying::new("SPX").unwrap(), EngineConfig::default());
        e.on_photo(photo(&board, T0), T0);
        let on_board: std::collections::HashSet<ContractKey> = board.iter().copied().collect();
        let mut last_quote: HashMap<ContractKey, (f64, f64, i64)> = HashMap::new();
        let mut volume: HashMap<ContractKey, u64> = HashMap::new();
        let mut misses = 0u64;
        for (i, ev) in events.iter().enumerate() {
            let ts = T0 + i as i64 + 1;
            let (k, outcome) = match *ev {
                Event::Quote(k, b, a) => {
                    let (bid, ask) = (f64::from(b) / 100.0, f64::from(a) / 100.0);
                    let r = e.apply_quote(&k, &QuoteUpdate::new(bid, ask, 1, 1, ts).unwrap());
                    if on_board.contains(&k) { last_quote.insert(k, (bid, ask, ts)); }
                    (k, r)
                }
                Event::Trade(k, p, s) => {
                    let r = e.apply_trade(&k, &TradeUpdate::new(f64::from(p) / 100.0, s, ts).unwrap());
                    if on_board.contains(&k) { *volume.entry(k).or_default() += s; }
                    (k, r)
                }
            };
            let expected = if on_board.contains(&k) { Hydration::Applied } else { misses += 1; Hydration::GeometryMiss };
            prop_assert_eq!(outcome, expected);
        }
        prop_assert_eq!(e.stats().geometry_miss, misses);
        let epoch = e.epoch().unwrap();
        for (g, s) in epoch.contracts() {
            match last_quote.get(&g.key) {
                Some(&(bid, ask, ts)) => prop_assert_eq!((s.bid, s.ask, s.quote_ts_ms), (Some(bid), Some(ask), Some(ts))),
                None => prop_assert_eq!((s.bid, s.ask, s.quote_ts_ms), (None, None, None)),
            }
            prop_assert_eq!(s.volume, volume.get(&g.key).copied());
        }
    }

    /// Epoch ids strictly increase whatever sequence of photos, manual requests and
    /// silences the engine sees.
    #[test]
    fn epoch_ids_strictly_increase(boards in prop::collection::vec((arb_board(), 0u8..5, 0i64..8), 1..25)) {
        let mut e = Engine::new(Underlying::new("SPX").unwrap(), EngineConfig::default());
        let mut now = T0;
        let mut last: Option<(u32, jiff::civil::Date)> = None;
        for (board, action, hours_late) in boards {
            now += 3_600_000 * 5; // crosses dates too
            match action {
                0 => { e.request_manual_epoch(now); }
                1 => { e.poll(now); }
                2 => { e.observe_live(now); }
                3 => { e.set_market_open(now % 2 == 0, now); }
                _ => {}
            }
            // Some photos arrive late, taken before ones already accepted.
            let taken_at = now - hours_late * 3_600_000;
            if let PhotoOutcome::Started(s) = e.on_photo(photo(&board, taken_at), now) {
                if let Some((seq, date)) = last {
                    prop_assert!(s.id.seq > seq);
                    prop_assert!(s.id.date >= date);
                }
                prop_assert_eq!(e.epoch().unwrap().id(), s.id);
                last = Some((s.id.seq, s.id.date));
            }
        }
    }
}

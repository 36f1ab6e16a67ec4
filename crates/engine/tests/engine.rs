//! Behaviour of the epoch engine as its callers see it: photos in, epochs out;
//! quotes in, dirty contracts out; silence in, photo requests out.

#![allow(clippy::unwrap_used)] // a fixture that fails to build is a failed test

use chainboard_engine::{
    DirtyConsumer, Engine, EngineConfig, EpochStarted, Hydration, PhotoOutcome, PhotoReason,
    PhotoRejection, WatchState, WatchdogConfig,
};
use chainboard_model::{
    ChainContract, ChainPhoto, ContractKey, ContractState, EpochId, EpochReason, FieldMask, Greeks,
    QuoteUpdate, RejectTally, RootMap, SlowFields, TradeUpdate, Underlying,
};

const T0: i64 = 1_795_532_400_000; // 2026-11-24 14:20 UTC

fn spx() -> Underlying {
    Underlying::new("SPX").unwrap()
}

fn contract(ticker: &str, oi: u64) -> ChainContract {
    let key = ContractKey::parse(ticker).unwrap();
    ChainContract {
        geometry: RootMap::default().geometry(key).unwrap(),
        state: ContractState {
            slow: SlowFields {
                greeks: Greeks {
                    delta: Some(0.5),
                    gamma: Some(0.01),
                    theta: None,
                    vega: None,
                },
                iv: Some(0.15),
                oi: Some(oi),
            },
            ..Default::default()
        },
    }
}

/// A board of `strikes` strikes × call/put on one SPXW expiration, starting at 6800.
fn tickers(strikes: u32) -> Vec<String> {
    (0..strikes)
        .flat_map(|i| {
            let milli = (6800 + 5 * i) * 1000;
            [
                format!("O:SPXW261124C{milli:08}"),
                format!("O:SPXW261124P{milli:08}"),
            ]
        })
        .collect()
}

fn photo(tickers: &[String], taken_at_ms: i64) -> ChainPhoto {
    ChainPhoto {
        underlying: spx(),
        taken_at_ms,
        underlying_value: Some(6850.0),
        contracts: tickers.iter().map(|t| contract(t, 100)).collect(),
        rejected: RejectTally::default(),
    }
}

fn started(outcome: PhotoOutcome) -> EpochStarted {
    match outcome {
        PhotoOutcome::Started(s) => s,
        other => panic!("expected a new epoch, got {other:?}"),
    }
}

fn key(t: &str) -> ContractKey {
    ContractKey::parse(t).unwrap()
}

fn quote(bid: f64, ask: f64, ts: i64) -> QuoteUpdate {
    QuoteUpdate::new(bid, ask, 1, 2, ts).unwrap()
}

fn engine() -> Engine {
    Engine::new(spx(), EngineConfig::default())
}

#[test]
fn first_photo_starts_a_startup_epoch_with_a_readable_id() {
    let mut e = engine();
    let s = started(e.on_photo(photo(&tickers(10), T0), T0));
    assert_eq!(s.id.to_string(), "SPX-20261124-0001");
    assert_eq!(s.reason, EpochReason::Startup);
    assert_eq!(
        (s.contracts, s.previous, s.diff.added.len()),
        (20, None, 20)
    );
    let epoch = e.epoch().unwrap();
    assert_eq!(epoch.underlying_value(), Some((6850.0, T0)));
    assert_eq!(e.stats().epochs_for(EpochReason::Startup), 1);
}

#[test]
fn a_resumed_engine_continues_the_chain_it_took_over() {
    let last = EpochId::parse("SPX-20261124-0007").unwrap();
    let mut e = engine().resume_after(Some(last), EpochReason::Failover);
    let s = started(e.on_photo(photo(&tickers(10), T0), T0));
    assert_eq!(
        s.id.to_string(),
        "SPX-20261124-0008",
        "ids go on after the last"
    );
    assert_eq!((s.reason, s.previous), (EpochReason::Failover, Some(last)));
    assert_eq!(e.stats().epochs_for(EpochReason::Failover), 1);
    // Only the first epoch: the next change is an ordinary one.
    let wider = tickers(11);
    let s = started(e.on_photo(photo(&wider, T0 + 1_000), T0 + 1_000));
    assert_eq!(s.reason, EpochReason::GeometryChange);
    assert_eq!(s.id.to_string(), "SPX-20261124-0009");
    // A takeover with nothing to continue still says why it began.
    let mut fresh = engine().resume_after(None, EpochReason::Failover);
    let s = started(fresh.on_photo(photo(&tickers(10), T0), T0));
    assert_eq!(
        (s.id.to_string().as_str(), s.reason, s.previous),
        ("SPX-20261124-0001", EpochReason::Failover, None)
    );
}

#[test]
fn same_geometry_refreshes_slow_fields_in_place() {
    let mut e = engine();
    let board = tickers(10);
    e.on_photo(photo(&board, T0), T0);
    let id = e.epoch().unwrap().id();
    e.apply_quote(&key(&board[0]), &quote(1.0, 1.2, T0 + 10));
    let mut next = photo(&board, T0 + 30_000);
    next.contracts[0].state.slow.oi = Some(999);
    assert_eq!(
        e.on_photo(next, T0 + 30_000),
        PhotoOutcome::Refreshed { id, changed: 1 }
    );
    let epoch = e.epoch().unwrap();
    let slot = epoch.board().slot(&key(&board[0])).unwrap();
    assert_eq!(epoch.state(slot).slow.oi, Some(999));
    assert_eq!(
        epoch.state(slot).bid,
        Some(1.0),
        "live price survives a photo without a newer quote"
    );
    assert_eq!(e.stats().refreshes, 1);
}

#[test]
fn changed_geometry_starts_an_isolated_epoch_and_reports_the_diff() {
    let mut e = engine();
    let board = tickers(10);
    e.on_photo(photo(&board, T0), T0);
    e.apply_quote(&key(&board[2]), &quote(3.0, 3.2, T0 + 10));

    let mut next = board.clone();
    next.remove(0); // a call rolls off
    next.push("O:SPXW261124C06900000".into()); // a strike is listed
    let s = started(e.on_photo(photo(&next, T0 + 30_000), T0 + 30_000));
    assert_eq!(s.reason, EpochReason::GeometryChange);
    assert_eq!(s.id.seq, 2);
    assert_eq!(s.previous.unwrap().seq, 1);
    assert_eq!(s.diff.added, [key("O:SPXW261124C06900000")]);
    assert_eq!(s.diff.removed, [key(&board[0])]);

    let epoch = e.epoch().unwrap();
    let slot = epoch.board().slot(&key(&board[2])).unwrap();
    assert_eq!(
        epoch.state(slot).bid,
        None,
        "nothing of epoch N is visible in N+1 but the photo"
    );
    assert_eq!(epoch.dirty_len(), 0);
}

#[test]
fn a_large_shrink_is_held_until_a_second_photo_confirms_it() {
    let mut e = engine();
    let board = tickers(50); // 100 contracts
    e.on_photo(photo(&board, T0), T0);
    let truncated = board[..70].to_vec(); // 30% shrink

    assert_eq!(
        e.on_photo(photo(&truncated, T0 + 1), T0 + 1),
        PhotoOutcome::Held {
            active: 100,
            proposed: 70
        }
    );
    assert_eq!(e.epoch().unwrap().len(), 100, "held photo changes nothing");
    // A normal photo in between drops the held one: it was a bad photo.
    assert!(matches!(
        e.on_photo(photo(&board, T0 + 2), T0 + 2),
        PhotoOutcome::Refreshed { .. }
    ));
    assert!(matches!(
        e.on_photo(photo(&truncated, T0 + 3), T0 + 3),
        PhotoOutcome::Held { .. }
    ));
    // A different shrinking photo replaces the held one and waits again.
    let other = board[30..].to_vec();
    assert!(matches!(
        e.on_photo(photo(&other, T0 + 4), T0 + 4),
        PhotoOutcome::Held { .. }
    ));
    let s = started(e.on_photo(photo(&other, T0 + 5), T0 + 5));
    assert_eq!((s.reason, s.contracts), (EpochReason::GeometryChange, 70));
    // Shrinks within the guard go straight through.
    let s = started(e.on_photo(photo(&other[..60], T0 + 6), T0 + 6));
    assert_eq!(s.contracts, 60);
    assert_eq!(e.stats().held, 3);
}

#[test]
fn shrink_guard_is_configurable() {
    let mut e = Engine::new(
        spx(),
        EngineConfig {
            shrink_guard: 0.5,
            ..Default::default()
        },
    );
    let board = tickers(50);
    e.on_photo(photo(&board, T0), T0);
    assert!(matches!(
        e.on_photo(photo(&board[..60], T0 + 1), T0 + 1),
        PhotoOutcome::Started(_)
    ));
}

#[test]
fn unusable_photos_are_rejected() {
    let mut e = engine();
    let mut ndx = photo(&tickers(2), T0);
    ndx.underlying = Underlying::new("NDX").unwrap();
    assert_eq!(
        e.on_photo(ndx, T0),
        PhotoOutcome::Rejected(PhotoRejection::WrongUnderlying {
            expected: spx(),
            got: Underlying::new("NDX").unwrap()
        })
    );
    assert_eq!(
        e.on_photo(photo(&[], T0), T0),
        PhotoOutcome::Rejected(PhotoRejection::Empty)
    );
    assert!(e.epoch().is_none());
}

#[test]
fn photos_are_canonicalized_duplicates_and_foreign_contracts_counted() {
    let mut e = engine();
    let board = tickers(3);
    let mut p = photo(&board, T0);
    let mut dup = contract(&board[1], 777);
    dup.state.slow.iv = Some(0.5);
    p.contracts.push(dup);
    p.contracts.push(contract("O:NDXP261127C21000000", 1));
    p.contracts.reverse();
    started(e.on_photo(p, T0));
    assert_eq!(e.epoch().unwrap().len(), 6);
    assert_eq!(
        (e.stats().duplicate_contracts, e.stats().foreign_contracts),
        (1, 1)
    );
    let epoch = e.epoch().unwrap();
    let keys: Vec<_> = epoch.board().contracts().iter().map(|g| g.key).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn hydration_paints_known_contracts_and_counts_misses() {
    let mut e = engine();
    let board = tickers(5);
    assert_eq!(
        e.apply_quote(&key(&board[0]), &quote(1.0, 1.1, T0)),
        Hydration::NoEpoch
    );
    e.on_photo(photo(&board, T0), T0);
    assert_eq!(
        e.apply_quote(&key(&board[0]), &quote(1.0, 1.1, T0 + 1)),
        Hydration::Applied
    );
    assert_eq!(
        e.apply_quote(&key("O:SPXW261124C09999000"), &quote(1.0, 1.1, T0 + 1)),
        Hydration::GeometryMiss
    );
    assert_eq!(
        e.apply_trade(&key(&board[3]), &TradeUpdate::new(2.5, 4, T0 + 2).unwrap()),
        Hydration::Applied
    );
    assert_eq!(
        e.apply_trade(
            &key("O:SPX261218C09999000"),
            &TradeUpdate::new(2.5, 4, T0 + 2).unwrap()
        ),
        Hydration::GeometryMiss
    );
    let stats = *e.stats();
    assert_eq!(
        (
            stats.quotes,
            stats.trades,
            stats.geometry_miss,
            stats.no_epoch
        ),
        (1, 1, 2, 1)
    );

    let epoch = e.epoch_mut().unwrap();
    let mut dirty = Vec::new();
    epoch.drain_dirty(|_, mask, g, s| dirty.push((g.key.to_string(), mask, s.bid, s.last_price)));
    assert_eq!(
        dirty,
        [
            (board[0].clone(), FieldMask::QUOTE, Some(1.0), None),
            (board[3].clone(), FieldMask::TRADE, None, Some(2.5)),
        ]
    );
    assert_eq!(epoch.dirty_len(), 0);
}

#[test]
fn each_dirty_consumer_sees_every_change_on_its_own_cadence() {
    let mut e = engine();
    let board = tickers(5);
    // Registered before the first epoch: every epoch carries its set.
    let models = e.add_dirty_consumer().unwrap();
    e.on_photo(photo(&board, T0), T0);
    e.apply_quote(&key(&board[1]), &quote(1.0, 1.1, T0 + 1));
    let drained = |e: &mut Engine, c| {
        let mut seen = Vec::new();
        e.epoch_mut()
            .unwrap()
            .drain_dirty_for(c, |_, mask, g, _| seen.push((g.key.to_string(), mask)));
        seen
    };
    // The default consumer drains first; the models still see the change.
    assert_eq!(drained(&mut e, DirtyConsumer::DEFAULT).len(), 1);
    e.apply_trade(&key(&board[2]), &TradeUpdate::new(2.5, 4, T0 + 2).unwrap());
    assert_eq!(e.epoch().unwrap().dirty_len_for(models), 2);
    assert_eq!(
        drained(&mut e, models),
        [
            (board[1].clone(), FieldMask::QUOTE),
            (board[2].clone(), FieldMask::TRADE),
        ]
    );
    assert_eq!(
        drained(&mut e, DirtyConsumer::DEFAULT).len(),
        1,
        "only the trade"
    );

    // A consumer registered mid-epoch starts empty and sees what follows.
    let late = e.add_dirty_consumer().unwrap();
    assert_eq!(e.epoch().unwrap().dirty_len_for(late), 0);
    e.apply_quote(&key(&board[4]), &quote(2.0, 2.1, T0 + 3));
    assert_eq!(drained(&mut e, late).len(), 1);
    assert_eq!(drained(&mut e, models).len(), 1);
}

#[test]
fn underlying_value_keeps_the_newest() {
    let mut e = engine();
    e.on_photo(photo(&tickers(2), T0), T0);
    e.set_underlying_value(6851.0, T0 + 10);
    e.set_underlying_value(6849.0, T0 + 5);
    assert_eq!(
        e.epoch().unwrap().underlying_value(),
        Some((6851.0, T0 + 10))
    );
}

/// The watchdog rule of `chainboard_engine::watchdog`, step by step.
#[test]
fn silence_forces_one_stale_epoch_then_backs_off() {
    let config = EngineConfig {
        watchdog: WatchdogConfig {
            stale_after_ms: 5_000,
            max_backoff_ms: 40_000,
        },
        ..Default::default()
    };
    let mut e = Engine::new(spx(), config);
    let board = tickers(5);
    e.on_photo(photo(&board, T0), T0);
    e.observe_live(T0 + 1_000);

    assert_eq!(e.poll(T0 + 5_999), None, "silent 4.999 s");
    let req = e.poll(T0 + 6_000).expect("silent 5 s");
    assert_eq!(
        (req.reason, req.requested_at_ms),
        (PhotoReason::StaleFeed, T0 + 6_000)
    );
    assert_eq!(e.poll(T0 + 7_000), None, "one request outstanding");

    // A routine photo taken before the request does not answer it.
    assert!(matches!(
        e.on_photo(photo(&board, T0 + 5_500), T0 + 7_500),
        PhotoOutcome::Refreshed { .. }
    ));
    // The forced photo starts a stale_feed epoch on unchanged geometry.
    let s = started(e.on_photo(photo(&board, T0 + 6_100), T0 + 8_000));
    assert_eq!(s.reason, EpochReason::StaleFeed);
    assert!(s.diff.is_empty());

    // Still silent: the next request waits 10 s, and its photo only refreshes.
    assert_eq!(e.poll(T0 + 17_999), None);
    let req = e.poll(T0 + 18_000).expect("backoff 10 s");
    assert!(matches!(
        e.on_photo(photo(&board, req.requested_at_ms), T0 + 18_500),
        PhotoOutcome::Refreshed { .. }
    ));
    // Then 20 s, then the 40 s cap.
    assert_eq!(e.poll(T0 + 38_499), None);
    let req = e.poll(T0 + 38_500).expect("backoff 20 s");
    e.on_photo(photo(&board, req.requested_at_ms), T0 + 38_500);
    assert_eq!(e.poll(T0 + 78_499), None);
    assert!(e.poll(T0 + 78_500).is_some(), "capped at 40 s");
    // An unanswered request is repeated after the cap.
    assert_eq!(e.poll(T0 + 100_000), None);
    assert!(e.poll(T0 + 118_500).is_some());

    // The feed comes back: the next silence starts over with a new stale epoch.
    e.observe_live(T0 + 120_000);
    assert_eq!(e.poll(T0 + 124_999), None);
    let req = e.poll(T0 + 125_000).expect("fresh silence");
    let s = started(e.on_photo(photo(&board, req.requested_at_ms), T0 + 125_100));
    assert_eq!(s.reason, EpochReason::StaleFeed);
    assert_eq!(e.stats().epochs_for(EpochReason::StaleFeed), 2);
}

/// A full chain load takes seconds; the feed may come back meanwhile. The silence
/// happened, so the photo answering the request still starts the `stale_feed` epoch,
/// and the watchdog goes back to watching rather than backing off.
#[test]
fn a_feed_that_resumes_while_the_forced_photo_loads_still_gets_its_epoch() {
    let mut e = engine();
    let board = tickers(3);
    e.on_photo(photo(&board, T0), T0);
    e.observe_live(T0 + 1_000);
    let req = e.poll(T0 + 6_000).expect("silent 5 s");
    e.observe_live(T0 + 6_500);
    e.observe_live(T0 + 7_000);
    let s = started(e.on_photo(photo(&board, req.requested_at_ms + 10), T0 + 8_000));
    assert_eq!(s.reason, EpochReason::StaleFeed);
    assert_eq!(e.watch_state(), WatchState::Watching);
    // Live again: no further forced photo until a new silence.
    e.observe_live(T0 + 9_000);
    assert_eq!(e.poll(T0 + 13_999), None);
    assert!(e.poll(T0 + 14_000).is_some());
}

#[test]
fn a_closed_market_asks_for_no_photos_and_reopening_restarts_the_clock() {
    let mut e = engine();
    e.on_photo(photo(&tickers(2), T0), T0);
    e.set_market_open(false, T0 + 1_000);
    assert_eq!(e.poll(T0 + 3_600_000), None);
    let open = T0 + 3_600_000;
    e.set_market_open(true, open);
    assert_eq!(e.poll(open), None, "the overnight silence does not count");
    assert_eq!(e.poll(open + 4_999), None);
    assert!(
        e.poll(open + 5_000).is_some(),
        "a feed silent for 5 s after the open does"
    );
}

#[test]
fn a_manual_request_before_the_first_photo_is_answered_by_it() {
    let mut e = engine();
    let board = tickers(3);
    e.request_manual_epoch(T0 - 10);
    let s = started(e.on_photo(photo(&board, T0), T0));
    assert_eq!(s.reason, EpochReason::Startup);
    assert!(
        matches!(
            e.on_photo(photo(&board, T0 + 30_000), T0 + 30_000),
            PhotoOutcome::Refreshed { .. }
        ),
        "no spurious manual epoch later"
    );
}

#[test]
fn an_older_photo_never_rolls_the_board_back() {
    let mut e = engine();
    let board = tickers(3);
    e.on_photo(photo(&board, T0 + 60_000), T0 + 60_000);
    let mut slow = photo(&board[..4], T0);
    slow.contracts[0].state.slow.oi = Some(1);
    assert_eq!(
        e.on_photo(slow.clone(), T0 + 61_000),
        PhotoOutcome::Rejected(PhotoRejection::OutOfOrder {
            taken_at_ms: T0,
            newest_ms: T0 + 60_000
        })
    );
    slow.contracts = photo(&board, T0).contracts;
    assert!(
        matches!(e.on_photo(slow, T0 + 62_000), PhotoOutcome::Rejected(_)),
        "same geometry too"
    );
    let epoch = e.epoch().unwrap();
    assert_eq!((epoch.id().seq, epoch.len()), (1, 6));
    assert!(epoch.states().iter().all(|s| s.slow.oi == Some(100)));
    assert_eq!(e.stats().rejected_photos, 2);
}

#[test]
fn a_held_photo_does_not_answer_a_forced_request() {
    let mut e = engine();
    let board = tickers(50);
    e.on_photo(photo(&board, T0), T0);
    let req = e.poll(T0 + 5_000).expect("silent 5 s");
    assert!(matches!(
        e.on_photo(photo(&board[..50], req.requested_at_ms), T0 + 5_100),
        PhotoOutcome::Held { .. }
    ));
    // The full photo that follows is still the answer: it starts the stale_feed epoch.
    let s = started(e.on_photo(photo(&board, T0 + 5_200), T0 + 5_300));
    assert_eq!(s.reason, EpochReason::StaleFeed);
}

#[test]
fn silence_is_measured_from_the_epoch_start_before_any_live_message() {
    let mut e = engine();
    assert_eq!(e.poll(T0 + 60_000), None, "no epoch, nothing to watch");
    e.on_photo(photo(&tickers(2), T0), T0);
    assert_eq!(e.feed_silence_ms(T0 + 4_000), 4_000);
    assert_eq!(e.poll(T0 + 4_999), None);
    assert!(e.poll(T0 + 5_000).is_some());
}

#[test]
fn manual_epoch_and_feed_gap() {
    let mut e = engine();
    let board = tickers(3);
    e.on_photo(photo(&board, T0), T0);
    let gap = e.on_feed_gap(T0 + 100);
    assert_eq!(gap.reason, PhotoReason::FeedGap);
    assert!(
        matches!(
            e.on_photo(photo(&board, T0 + 200), T0 + 300),
            PhotoOutcome::Refreshed { .. }
        ),
        "a gap photo refreshes"
    );

    let req = e.request_manual_epoch(T0 + 1_000);
    assert_eq!(req.reason, PhotoReason::Manual);
    assert!(
        matches!(
            e.on_photo(photo(&board, T0 + 900), T0 + 1_100),
            PhotoOutcome::Refreshed { .. }
        ),
        "taken before the request"
    );
    let s = started(e.on_photo(photo(&board, T0 + 1_000), T0 + 1_200));
    assert_eq!((s.reason, s.id.seq), (EpochReason::Manual, 2));
    assert!(
        matches!(
            e.on_photo(photo(&board, T0 + 2_000), T0 + 2_100),
            PhotoOutcome::Refreshed { .. }
        ),
        "once only"
    );
}

#[test]
fn ids_continue_from_the_configured_sequence_and_roll_dates() {
    let mut e = Engine::new(
        spx(),
        EngineConfig {
            first_seq: 41,
            ..Default::default()
        },
    );
    let s = started(e.on_photo(photo(&tickers(2), T0), T0));
    assert_eq!(s.id.to_string(), "SPX-20261124-0041");
    let next_day = T0 + 86_400_000;
    let s = started(e.on_photo(photo(&tickers(3), next_day), next_day));
    assert_eq!(s.id.to_string(), "SPX-20261125-0042");
}

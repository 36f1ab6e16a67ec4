//! The live market: its clock, determinism, photos, listings, settlement and the index path.

use super::*;
use crate::chain::ExpirySchedule;
use jiff::civil::date;

/// 2026-11-24 (a Tuesday) 15:00 New York (EST, UTC−5) in Unix milliseconds.
const T0: i64 = 1_795_550_400_000;

/// A short SPX-like calendar, so each test generates in milliseconds.
fn small(underlying: &str, seed: u64) -> ChainConfig {
    let u = Underlying::new(underlying).expect("valid");
    let mut c = chain_config_for(u, date(2026, 11, 24), seed).expect("shape");
    c.hours_to_close = 1.0;
    c.schedule = ExpirySchedule {
        daily_days: 3,
        weekly_days: 10,
        monthly_days: 30,
        quarterly_days: 0,
    };
    c
}

fn market(seed: u64) -> Market {
    let config = MarketConfig {
        time_zone: TimeZone::posix(chainboard_quant::expiry::EXCHANGE_TZ_POSIX).expect("posix"),
        ..MarketConfig::new(vec![small("SPX", 1), small("NDX", 2)], seed)
    };
    Market::new(config, T0)
}

fn run(market: &mut Market, steps: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut frames = Vec::new();
    for i in 1..=steps {
        let now = T0 + i * 100;
        out.clear();
        market.step(now, 50, &mut out);
        let mut frame = String::new();
        for e in &out {
            assert!(market.write_event(e, now, &mut frame));
            frame.push(',');
        }
        frames.push(frame);
    }
    frames
}

#[test]
fn the_clock_is_new_york_time() {
    let m = market(1);
    assert_eq!(m.local_datetime(T0), date(2026, 11, 24).at(15, 0, 0, 0));
    assert_eq!(
        exchange_time_zone().to_datetime(jiff::Timestamp::from_millisecond(T0).expect("ts")),
        date(2026, 11, 24).at(15, 0, 0, 0)
    );
}

#[test]
fn the_same_seed_gives_the_same_events() {
    let (a, b) = (run(&mut market(3), 50), run(&mut market(3), 50));
    assert_eq!(a, b);
    assert_ne!(a, run(&mut market(4), 50));
    // Both underlyings trade on the one stream.
    let all = a.concat();
    assert!(all.contains("O:SPXW") && all.contains("O:NDXP"));
}

#[test]
fn a_photo_after_quotes_shows_them_with_their_timestamps() {
    let mut m = market(5);
    let mut out = Vec::new();
    let now = T0 + 1_000;
    m.step(now, 200, &mut out);
    let photo = m.photo(0, now + 500).expect("book 0");
    let mut checked = 0;
    for e in out.iter().filter(|e| e.book == 0) {
        // The last event of each contract is what the photo must show.
        let last = out
            .iter()
            .rev()
            .find(|o| o.book == 0 && o.event.contract == e.event.contract)
            .expect("itself");
        if last != e {
            continue;
        }
        let c = photo.contract(e.event.contract).expect("listed");
        match e.event.kind {
            EventKind::Quote {
                bid_cents,
                ask_cents,
                bid_size,
                ask_size,
            } => {
                assert_eq!(
                    (c.bid_cents, c.ask_cents, c.bid_size, c.ask_size),
                    (bid_cents, ask_cents, bid_size, ask_size)
                );
                assert_eq!(c.quote_age_ms, 500);
            }
            EventKind::Trade {
                price_cents, size, ..
            } => {
                let t = c.last_trade.expect("traded");
                assert_eq!((t.price_cents, t.size, t.age_ms), (price_cents, size, 500));
                assert_eq!(c.day.map(|d| d.close_cents), Some(price_cents));
            }
        }
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
    // The page renders those numbers with the quote's time in nanoseconds.
    let quoted = out
        .iter()
        .rev()
        .find(|e| e.book == 0 && !e.event.is_trade())
        .expect("a quote");
    let page = photo.render_page(&[quoted.event.contract], "id", None);
    let v: serde_json::Value = serde_json::from_str(&page).expect("json");
    assert_eq!(
        v["results"][0]["last_quote"]["last_updated"],
        now * 1_000_000
    );
}

#[test]
fn listing_strikes_adds_contracts_and_keeps_every_old_one() {
    let mut m = market(6);
    let before = m.chain(0).expect("book").shared_contracts();
    let photo_before = m.photo(0, T0).expect("photo");
    let added = m.list_strikes(0, T0);
    assert!(added > 0);
    let after = m.chain(0).expect("book");
    assert_eq!(after.len(), before.len() + added);
    assert!(before.iter().all(|c| after.get(&c.ticker).is_some()));
    assert!(
        after
            .contracts()
            .iter()
            .any(|c| c.ticker.contains("C06852500"))
    );
    // An old photo is unaffected; a new one has the new geometry.
    assert_eq!(photo_before.len(), before.len());
    assert_eq!(m.photo(0, T0).expect("photo").len(), after.len());
    assert_eq!(m.book_stats(0).map(|s| s.listings), Some(1));

    // The new contracts trade.
    let new: Vec<String> = m
        .chain(0)
        .expect("book")
        .contracts()
        .iter()
        .filter(|c| c.key.strike.milli() % 5_000 != 0)
        .map(|c| c.ticker.clone())
        .collect();
    let traded = run(&mut m, 40).concat();
    assert!(new.iter().any(|t| traded.contains(t.as_str())));

    // A move beyond 1.5% lists strikes around the new level.
    let count = m.chain(0).expect("book").len();
    let highest = |m: &Market| {
        m.chain(0)
            .expect("book")
            .contracts()
            .iter()
            .map(|c| c.key.strike.milli())
            .max()
    };
    let top = highest(&m);
    m.jump_spot(0, 6850.0 * 1.05);
    let mut out = Vec::new();
    let report = m.step(T0 + 10_000, 10, &mut out);
    assert!(report.listed > 0);
    assert_eq!(m.chain(0).expect("book").len(), count + report.listed);
    assert!(highest(&m) > top);
}

#[test]
fn settlement_removes_only_the_expired_expirations() {
    let mut m = market(7);
    let chain = m.chain(0).expect("book");
    let today = date(2026, 11, 24);
    let (expiring, remaining): (Vec<_>, Vec<_>) = chain
        .contracts()
        .iter()
        .map(|c| c.ticker.clone())
        .partition(|t| t.contains("261124"));
    assert!(!expiring.is_empty());
    let mut out = Vec::new();
    // 15:59 New York: nothing settles.
    let r = m.step(T0 + 59 * 60_000, 10, &mut out);
    assert_eq!(r.expired, 0);
    // 16:00: today's PM expiration goes, everything else stays.
    let r = m.step(T0 + 60 * 60_000, 10, &mut out);
    let spx_expired = m.book_stats(0).map(|s| s.expired_contracts);
    assert_eq!(spx_expired, Some(expiring.len() as u64));
    assert!(r.expired > expiring.len(), "NDX settles too");
    let chain = m.chain(0).expect("book");
    assert_eq!(chain.len(), remaining.len());
    assert!(chain.contracts().iter().all(|c| c.key.expiration > today));
    assert!(chain.expirations().iter().all(|e| e.date > today));
    // A market started after the close on a pinned `today` trades that session:
    // its clock is the evening before, and nothing has settled.
    let config = MarketConfig {
        time_zone: TimeZone::posix(chainboard_quant::expiry::EXCHANGE_TZ_POSIX).expect("posix"),
        ..MarketConfig::new(vec![small("SPX", 1)], 7)
    };
    let late = Market::new(config, T0 + 2 * 3_600_000);
    assert_eq!(
        late.local_datetime(T0 + 2 * 3_600_000),
        date(2026, 11, 23).at(17, 0, 0, 0)
    );
    assert_eq!(
        late.chain(0).map(SimChain::len),
        Some(expiring.len() + remaining.len())
    );
    // Events after it name only listed contracts.
    out.clear();
    m.step(T0 + 61 * 60_000, 200, &mut out);
    for e in &out {
        let key = m.event_key(e).expect("listed");
        assert!(key.expiration > today);
    }
}

#[test]
fn the_index_crosses_its_flip_and_spends_time_on_both_sides() {
    // Half an hour of the demo's SPX and NDX, one step a second.
    let underlyings = ["SPX", "NDX"].map(|u| Underlying::new(u).expect("valid"));
    let config =
        MarketConfig::for_underlyings(&underlyings, date(2026, 11, 24), 7, T0).expect("shapes");
    let m = Market::new(config, T0);
    for book in 0..2 {
        let chain = m.chain(book).expect("book");
        let flip = positioning::gamma_profile(chain)
            .zero_gamma(chain.spot(), &FlipSearch::default())
            .expect("a flip")
            .level;
        assert!((flip / chain.spot() - 1.0).abs() < 0.05);
        let mut m = m.clone();
        let (mut crossings, mut above, mut last) = (0, 0, None);
        let mut out = Vec::new();
        let seconds = 1_800;
        for s in 1..=seconds {
            m.step(T0 + s * 1_000, 0, &mut out);
            let side = m.spot(book).expect("book") > flip;
            above += i64::from(side);
            crossings += i64::from(last.is_some_and(|l| l != side));
            last = Some(side);
        }
        println!(
            "book {book}: flip {flip:.2}, {crossings} crossings, {above} s of {seconds} above"
        );
        assert!(crossings >= 4, "book {book}: {crossings} crossings");
        assert!(
            (seconds / 5..=4 * seconds / 5).contains(&above),
            "book {book}: {above} s of {seconds} above the flip"
        );
    }
}

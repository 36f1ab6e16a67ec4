//! Raw WebSocket frames → the engines of the underlyings they concern.
//!
//! One Massive connection carries several underlyings (SPX and NDX at once), so each
//! event is routed by its symbol's root (`SPXW` → the SPX engine) to the engine that
//! owns that board. This is the hot path end to end: parse an event in place, parse
//! its OCC symbol into a key without allocating, find the engine through a small root
//! cache (a handful of roots, compared as inline bytes), and paint the contract.
//!
//! A contract on the board is found from the ticker's bytes directly: the root cache
//! matches the ticker's root as one word, and the engine looks the whole ticker up in
//! its board's ticker index ([`Engine::apply_quote_listed`]). Anything else (a ticker
//! not on the board, a root not yet cached, a rejected price) takes the full path,
//! which parses the symbol and says what is wrong with it; both paths end in the
//! same state and the same counts.
//!
//! Everything that cannot be applied is counted, never silently dropped: malformed
//! frames, invalid events, unparseable symbols, roots no engine owns, and (inside the
//! engines) contracts that are not on the board (`geometry_miss`).

use chainboard_engine::Engine;
use chainboard_model::swar;
use chainboard_model::{
    AggregateUpdate, Conditions, ContractKey, QuoteUpdate, Root, RootMap, TradeUpdate, Underlying,
};

use chainboard_massive::frame::{
    FrameError, FrameParser, FrameSink, FrameStats, MassiveAggregate, MassiveIndexValue,
    MassiveQuote, MassiveStatus, MassiveTrade,
};

/// Roots remembered by the route cache; past this, lookups go to the [`RootMap`]
/// uncached, so garbage symbols cannot grow memory.
const ROUTE_CACHE: usize = 32;

/// What the feed could not apply, and how much it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Frames read.
    pub frames: u64,
    /// Frames that were not valid JSON of the expected shape (events before the damage
    /// were applied; see [`chainboard_massive::frame`]).
    pub malformed_frames: u64,
    /// Events of an unknown `ev`.
    pub unknown_events: u64,
    /// Events missing a required field or carrying a wrongly typed one.
    pub invalid_events: u64,
    /// Events whose symbol is not a valid option ticker.
    pub bad_symbols: u64,
    /// Events for roots no engine here owns.
    pub unrouted: u64,
    /// Quotes or trades with an impossible price or time.
    pub rejected_updates: u64,
    /// Status events seen.
    pub statuses: u64,
    /// Index values applied.
    pub index_values: u64,
    /// Index aggregate bars, which carry no contract state and are skipped.
    pub index_aggregates: u64,
}

/// The engines of one connection, fed from raw frames.
#[derive(Debug)]
pub struct Feed {
    engines: Vec<Engine>,
    roots: RootMap,
    parser: FrameParser,
    routes: Vec<Route>,
    touched: Vec<bool>,
    stats: FeedStats,
}

impl Feed {
    /// A feed over `engines` (one per underlying), routing roots through `roots`.
    pub fn new(engines: Vec<Engine>, roots: RootMap) -> Self {
        let touched = vec![false; engines.len()];
        Self {
            engines,
            roots,
            parser: FrameParser::new(),
            routes: Vec::new(),
            touched,
            stats: FeedStats::default(),
        }
    }

    /// The engines, in the order given.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// The engines, mutably (photos, polls, dirty drains).
    pub fn engines_mut(&mut self) -> &mut [Engine] {
        &mut self.engines
    }

    /// The engine of `underlying`.
    pub fn engine_mut(&mut self, underlying: Underlying) -> Option<&mut Engine> {
        self.engines
            .iter_mut()
            .find(|e| e.underlying() == underlying)
    }

    /// Counters.
    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }

    /// Parses one text frame received at `now_ms` and applies its events. Engines that
    /// received any event have their watchdog fed once with `now_ms`.
    pub fn apply_frame(&mut self, frame: &str, now_ms: i64) -> Result<FrameStats, FrameError> {
        let Self {
            engines,
            roots,
            parser,
            routes,
            touched,
            stats,
        } = self;
        stats.frames += 1;
        let mut router = Router {
            engines,
            roots,
            routes,
            touched,
            stats,
        };
        let result = parser.parse(frame, &mut router);
        let frame_stats = match &result {
            Ok(s) => *s,
            Err(e) => e.stats,
        };
        self.stats.malformed_frames += u64::from(result.is_err());
        self.stats.unknown_events += u64::from(frame_stats.unknown);
        self.stats.invalid_events += u64::from(frame_stats.invalid);
        for (engine, touched) in self.engines.iter_mut().zip(self.touched.iter_mut()) {
            if std::mem::take(touched) {
                engine.observe_live(now_ms);
            }
        }
        result
    }
}

/// A cached route: a root, its text as one little-endian word (so a ticker's root is
/// matched without parsing the ticker), and the engine that owns it, if any.
#[derive(Debug, Clone, Copy)]
struct Route {
    root: Root,
    word: u64,
    engine: Option<usize>,
}

impl Route {
    fn new(root: Root, engine: Option<usize>) -> Self {
        let mut lanes = [0u8; 8];
        for (lane, b) in lanes.iter_mut().zip(root.as_str().bytes()) {
            *lane = b;
        }
        Self {
            root,
            word: u64::from_le_bytes(lanes),
            engine,
        }
    }
}

/// The sink a frame is parsed into; borrows the feed's parts so the parser (also in
/// the feed) can run alongside.
struct Router<'f> {
    engines: &'f mut [Engine],
    roots: &'f RootMap,
    routes: &'f mut Vec<Route>,
    touched: &'f mut [bool],
    stats: &'f mut FeedStats,
}

impl Router<'_> {
    /// The engine a cached route gives the root of `sym`, taken as the bytes between
    /// `O:` and the 15-byte OCC suffix, unparsed. A hint only: the symbol may still be
    /// invalid, which the engine's ticker index settles.
    #[inline]
    fn cached_engine(&self, sym: &str) -> Option<usize> {
        let b = sym.as_bytes();
        let root_len = b.len().checked_sub(17)?;
        if !(1..=Root::MAX_LEN).contains(&root_len) {
            return None;
        }
        let word = swar::load8(b, 2)? & (u64::MAX >> (64 - 8 * root_len));
        self.routes.iter().find(|r| r.word == word)?.engine
    }

    /// The engine for an option symbol, with its parsed key.
    #[inline]
    fn route(&mut self, sym: &str) -> Option<(usize, ContractKey)> {
        let Some(key) = ContractKey::try_parse_bytes(sym.as_bytes()) else {
            self.stats.bad_symbols += 1;
            return None;
        };
        let cached = self
            .routes
            .iter()
            .find(|r| r.root == key.root)
            .map(|r| r.engine);
        let engine = match cached {
            Some(e) => e,
            None => {
                let e = self.roots.lookup(key.root).and_then(|info| {
                    self.engines
                        .iter()
                        .position(|e| e.underlying() == info.underlying)
                });
                if self.routes.len() < ROUTE_CACHE {
                    self.routes.push(Route::new(key.root, e));
                }
                e
            }
        };
        match engine {
            Some(i) => {
                self.touched[i] = true;
                Some((i, key))
            }
            None => {
                self.stats.unrouted += 1;
                None
            }
        }
    }
}

impl FrameSink for Router<'_> {
    #[inline]
    fn quote(&mut self, q: &MassiveQuote<'_>) {
        let update = QuoteUpdate::new(q.bid, q.ask, q.bid_size, q.ask_size, q.ts_ms);
        if let (Ok(update), Some(i)) = (&update, self.cached_engine(q.sym))
            && self.engines[i].apply_quote_listed(q.sym.as_bytes(), update)
        {
            self.touched[i] = true;
            return;
        }
        let Some((i, key)) = self.route(q.sym) else {
            return;
        };
        match update {
            Ok(update) => {
                self.engines[i].apply_quote(&key, &update);
            }
            Err(_) => self.stats.rejected_updates += 1,
        }
    }

    fn trade(&mut self, t: &MassiveTrade<'_>) {
        let conditions = Conditions::from_codes(t.conditions.codes());
        let update =
            TradeUpdate::new(t.price, t.size, t.ts_ms).map(|u| u.with_conditions(conditions));
        if let (Ok(update), Some(i)) = (&update, self.cached_engine(t.sym))
            && self.engines[i].apply_trade_listed(t.sym.as_bytes(), update)
        {
            self.touched[i] = true;
            return;
        }
        let Some((i, key)) = self.route(t.sym) else {
            return;
        };
        match update {
            Ok(update) => {
                self.engines[i].apply_trade(&key, &update);
            }
            Err(_) => self.stats.rejected_updates += 1,
        }
    }

    fn aggregate(&mut self, a: &MassiveAggregate<'_>) {
        // Index bars (`I:SPX`) are not contract state; the index level comes from `V`.
        if !a.sym.starts_with("O:") {
            self.stats.index_aggregates += 1;
            return;
        }
        let Some((i, key)) = self.route(a.sym) else {
            return;
        };
        if let Some(day_volume) = a.day_volume {
            self.engines[i].apply_aggregate(&key, &AggregateUpdate::new(day_volume));
        }
    }

    fn index_value(&mut self, v: &MassiveIndexValue<'_>) {
        let name = v.ticker.strip_prefix("I:").unwrap_or(v.ticker);
        let Ok(underlying) = Underlying::new(name) else {
            self.stats.unrouted += 1;
            return;
        };
        match self
            .engines
            .iter()
            .position(|e| e.underlying() == underlying)
        {
            // Not marked live: the index has its own feed, and a live index must not
            // hide a dead options feed from the watchdog.
            Some(i) if v.value.is_finite() && v.value > 0.0 => {
                self.engines[i].set_underlying_value(v.value, v.ts_ms);
                self.stats.index_values += 1;
            }
            Some(_) => self.stats.rejected_updates += 1,
            None => self.stats.unrouted += 1,
        }
    }

    fn status(&mut self, _status: &MassiveStatus<'_>) {
        self.stats.statuses += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainboard_engine::EngineConfig;
    use chainboard_model::{ChainContract, ChainPhoto, ContractState, RejectTally};

    const T0: i64 = 1_795_532_400_000;

    fn photo(underlying: &str, tickers: &[&str]) -> ChainPhoto {
        let roots = RootMap::default();
        ChainPhoto {
            underlying: Underlying::new(underlying).unwrap(),
            taken_at_ms: T0,
            underlying_value: None,
            contracts: tickers
                .iter()
                .map(|t| {
                    let key = ContractKey::parse(t).unwrap();
                    ChainContract {
                        geometry: roots.geometry(key).unwrap(),
                        state: ContractState::default(),
                    }
                })
                .collect(),
            rejected: RejectTally::default(),
        }
    }

    fn feed() -> Feed {
        let mut spx = Engine::new(Underlying::new("SPX").unwrap(), EngineConfig::default());
        spx.on_photo(
            photo("SPX", &["O:SPXW261124C06850000", "O:SPX261218P05000000"]),
            T0,
        );
        let mut ndx = Engine::new(Underlying::new("NDX").unwrap(), EngineConfig::default());
        ndx.on_photo(photo("NDX", &["O:NDXP261127C21000000"]), T0);
        Feed::new(vec![spx, ndx], RootMap::default())
    }

    fn q(sym: &str, bid: f64) -> String {
        format!(
            r#"{{"ev":"Q","sym":"{sym}","bp":{bid},"ap":{},"bs":1,"as":1,"t":{}}}"#,
            bid + 0.2,
            T0 + 5
        )
    }

    #[test]
    fn two_underlyings_on_one_connection_are_routed_by_root() {
        let mut f = feed();
        let frame = format!(
            "[{},{},{},{},{},{},{}]",
            q("O:SPXW261124C06850000", 12.3),
            q("O:SPX261218P05000000", 40.1),
            q("O:NDXP261127C21000000", 150.0),
            q("O:SPXW261124C09999000", 0.05), // not on the SPX board
            q("O:RUTW261124C02400000", 3.0),  // no RUT engine
            q("SPXW261124C06850000", 1.0),    // not a ticker
            r#"{"ev":"V","val":6851.5,"T":"I:SPX","t":1795532400100}"#,
        );
        let stats = f.apply_frame(&frame, T0 + 10).unwrap();
        assert_eq!(stats.quotes, 6);
        let [spx, ndx] = f.engines() else { panic!() };
        assert_eq!((spx.stats().quotes, spx.stats().geometry_miss), (2, 1));
        assert_eq!((ndx.stats().quotes, ndx.stats().geometry_miss), (1, 0));
        assert_eq!(
            spx.epoch().unwrap().underlying_value(),
            Some((6851.5, 1_795_532_400_100))
        );
        assert_eq!(
            (
                f.stats().unrouted,
                f.stats().bad_symbols,
                f.stats().index_values
            ),
            (1, 1, 1)
        );
        assert_eq!(
            spx.feed_silence_ms(T0 + 10),
            0,
            "watchdog fed by option events"
        );
        let v_only = r#"[{"ev":"V","val":6852.0,"T":"I:SPX","t":1795532409000}]"#;
        f.apply_frame(v_only, T0 + 9_000).unwrap();
        assert_eq!(
            f.engines()[0].feed_silence_ms(T0 + 9_000),
            8_990,
            "index values are not option traffic"
        );
    }

    #[test]
    fn malformed_frames_are_counted_and_the_feed_keeps_going() {
        let mut f = feed();
        let good = q("O:SPXW261124C06850000", 12.3);
        assert!(
            f.apply_frame(&format!("[{good},{{\"ev\":"), T0 + 1)
                .is_err()
        );
        assert!(f.apply_frame("garbage", T0 + 2).is_err());
        f.apply_frame(&format!("[{good}]"), T0 + 3).unwrap();
        let bad_price =
            r#"[{"ev":"T","sym":"O:SPXW261124C06850000","p":-1,"s":1,"t":1795532400000}]"#;
        f.apply_frame(bad_price, T0 + 4).unwrap();
        assert_eq!(
            (
                f.stats().frames,
                f.stats().malformed_frames,
                f.stats().rejected_updates
            ),
            (4, 2, 1)
        );
        assert_eq!(
            f.engines()[0].stats().quotes,
            2,
            "the quote before the damage was applied"
        );
    }

    /// Symbols of every kind the router tells apart: listed on either board, valid but
    /// unlisted, of a root no engine owns, and invalid in each OCC field.
    const SYMBOLS: [&str; 12] = [
        "O:SPXW261124C06850000",
        "O:SPX261218P05000000",
        "O:NDXP261127C21000000",
        "O:SPXW261124C09999000",
        "O:RUTW261124C02400000",
        "SPXW261124C06850000",
        "O:SPXW261324C06850000",
        "O:SPXW261124X06850000",
        "O:SPXW261124C0685000",
        "O:SPXw261124C06850000",
        "O:SPXW261124C00000000",
        "O:SPXWSPXW261124C06850000",
    ];

    proptest::proptest! {
        /// The feed (ticker index for listed contracts) ends in exactly the state and
        /// counts of parsing every symbol and applying it by key.
        #[test]
        fn listed_fast_path_matches_parsing_every_symbol(
            events in proptest::collection::vec(
                (0..SYMBOLS.len(), proptest::bool::weighted(0.2), -1i32..3, proptest::bool::weighted(0.1)),
                1..40,
            ),
        ) {
            let events: Vec<(&str, bool, f64, i64)> = events
                .iter()
                .enumerate()
                .map(|(n, &(sym, trade, price, bad_ts))| {
                    (SYMBOLS[sym], trade, f64::from(price) * 1.25, if bad_ts { 0 } else { T0 + n as i64 })
                })
                .collect();
            let body: Vec<String> = events
                .iter()
                .map(|&(sym, trade, price, ts)| if trade {
                    format!(r#"{{"ev":"T","sym":"{sym}","x":1,"p":{price},"s":2,"c":[1],"t":{ts},"q":1}}"#)
                } else {
                    format!(r#"{{"ev":"Q","sym":"{sym}","bx":1,"ax":1,"bp":{price},"ap":{},"bs":3,"as":4,"t":{ts},"q":1}}"#, price + 0.5)
                })
                .collect();
            let frame = format!("[{}]", body.join(","));

            let (mut fast, mut reference) = (feed(), feed());
            let (mut bad_symbols, mut unrouted, mut rejected, mut invalid) = (0, 0, 0, 0);
            // Twice: the second pass runs with every root already cached.
            for _ in 0..2 {
                fast.apply_frame(&frame, T0).unwrap();
                for &(sym, trade, price, ts) in &events {
                    if ts == 0 {
                        // Not a timestamp: the frame parser drops the event as invalid.
                        invalid += 1;
                        continue;
                    }
                    let Ok(key) = ContractKey::parse(sym) else {
                        bad_symbols += 1;
                        continue;
                    };
                    let Some(engine) = RootMap::default().lookup(key.root).and_then(|info| {
                        reference.engines_mut().iter_mut().find(|e| e.underlying() == info.underlying)
                    }) else {
                        unrouted += 1;
                        continue;
                    };
                    let applied = if trade {
                        TradeUpdate::new(price, 2, ts).map(|u| engine.apply_trade(&key, &u))
                    } else {
                        QuoteUpdate::new(price, price + 0.5, 3, 4, ts).map(|u| engine.apply_quote(&key, &u))
                    };
                    rejected += u64::from(applied.is_err());
                }
            }
            let s = fast.stats();
            proptest::prop_assert_eq!(
                (s.bad_symbols, s.unrouted, s.rejected_updates, s.invalid_events),
                (bad_symbols, unrouted, rejected, invalid)
            );
            for (f, r) in fast.engines().iter().zip(reference.engines()) {
                proptest::prop_assert_eq!(f.stats(), r.stats());
                let (f, r) = (f.epoch().unwrap(), r.epoch().unwrap());
                proptest::prop_assert_eq!(f.states(), r.states());
                proptest::prop_assert_eq!(f.dirty_len(), r.dirty_len());
            }
        }
    }
}

//! Boards for the models' tests, built from the simulator's chain without going
//! through the wire formats (the engine's and the parsers' own tests cover those).

#![allow(dead_code, unreachable_pub)]

use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{ModelConfig, Models, Tick};
use chainboard_engine::{Engine, EngineConfig, PhotoOutcome};
use chainboard_model::{ChainPhoto, Underlying};
use chainboard_sim::chain::SimContract;
use chainboard_sim::{ChainConfig, SimChain};

/// 2026-11-24 14:20 UTC (09:20 New York), a Tuesday with a 0DTE expiration.
pub const NOW_MS: i64 = 1_795_532_400_000;

pub fn spx() -> Underlying {
    Underlying::new("SPX").expect("valid")
}

/// The simulator's SPX chain for the test day.
pub fn sim_chain(seed: u64) -> SimChain {
    SimChain::generate(ChainConfig::spx_like(jiff::civil::date(2026, 11, 24), seed))
}

/// A photo of the contracts of `chain` that `keep` selects.
pub fn photo(chain: &SimChain, now_ms: i64, keep: impl Fn(&SimContract) -> bool) -> ChainPhoto {
    chainboard_sim::photo::photo(chain, now_ms, keep)
}

/// The near part of the board: expirations within `days`, strikes within `reach`
/// (a fraction of spot). A few hundred contracts: fast enough for property tests.
pub fn near(chain: &SimChain, days: i64, reach: f64) -> impl Fn(&SimContract) -> bool {
    let spot = chain.spot();
    move |c| c.days_to_expiry <= days && (c.strike() / spot - 1.0).abs() <= reach
}

/// The trading session `now_ms` is in, for the engines' flow.
pub fn session_at(now_ms: i64) -> chainboard_model::flow::Session {
    let tz = chainboard_quant::expiry::exchange_time_zone();
    chainboard_quant::expiry::flow_session(now_ms, &tz)
}

/// An engine with an epoch started from `photo` at `now_ms`.
pub fn engine_with(photo: ChainPhoto, now_ms: i64) -> Engine {
    let mut engine = Engine::new(spx(), EngineConfig::default());
    engine.set_session(session_at(now_ms));
    match engine.on_photo(photo, now_ms) {
        PhotoOutcome::Started(_) => engine,
        other => panic!("the photo starts an epoch: {other:?}"),
    }
}

/// An engine with an epoch started from `photo` at `now_ms` (for the photo's own
/// underlying), the models on it with their default config, and their first tick.
pub fn models_on(photo: ChainPhoto, now_ms: i64) -> (Engine, Models, Tick) {
    let underlying = photo.underlying;
    let mut engine = Engine::new(underlying, EngineConfig::default());
    engine.set_session(session_at(now_ms));
    match engine.on_photo(photo, now_ms) {
        PhotoOutcome::Started(_) => {}
        other => panic!("the photo starts an epoch: {other:?}"),
    }
    let consumer = engine.add_dirty_consumer().expect("a consumer");
    let mut models = Models::new(
        underlying,
        ModelConfig::for_underlying(underlying),
        consumer,
    );
    let feed = feed_status(&engine, now_ms);
    let tick = models
        .start_epoch(engine.epoch_mut().expect("an epoch"), feed, now_ms)
        .expect("lays out");
    (engine, models, tick)
}

/// A photo of the first book of `market` at `now_ms` (its live quotes and trades), of
/// the contracts `keep` selects, as the engine's chain snapshot.
pub fn market_photo(
    market: &chainboard_sim::Market,
    now_ms: i64,
    keep: impl Fn(&SimContract) -> bool,
) -> ChainPhoto {
    let photo = market.photo(0, now_ms).expect("a book");
    ChainPhoto {
        underlying: photo.underlying(),
        taken_at_ms: now_ms,
        underlying_value: Some(photo.spot()),
        contracts: (0..photo.len())
            .filter_map(|i| photo.contract(i))
            .filter(|c| keep(c))
            .filter_map(|c| chainboard_sim::photo::chain_contract(&c, now_ms))
            .collect(),
        rejected: chainboard_model::RejectTally::default(),
    }
}

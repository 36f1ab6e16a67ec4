//! The models on an SPX-sized board (~24,000 contracts from the simulator).
//!
//! - `models/tick_2pct_dirty`: one 1 Hz tick after 2% of the board was re-quoted
//!   (applying those quotes to the engine is included; it is a few microseconds):
//!   IV solves, greeks, GEX replacement and the snapshots, with the previous snapshot
//!   still held (as the publisher holds it), so changed chunks are copied.
//! - `models/tick_2pct_dirty_flow`: the same tick when each of those contracts also
//!   traded (alternately at the ask and at the bid): flow signed in the engine, and
//!   flow-adjusted GEX, hedge pressure and top flow in the tick.
//! - `models/full_rebuild`: a new epoch: layout, every IV, every contract evaluated.
//! - `models/reanchor`: a tick after the index left the band: every contract
//!   re-evaluated at the new spot with the volatility it has.
//! - `flip/all` and `flip/five_filters`: the zero-gamma flip search of the `all`
//!   filter alone, and of all five filters as the publisher runs it.
//! - `json/heatmap` and `json/gex`: rendering the published documents.
//!
//! Run with `cargo bench -p chainboard-analytics --bench models`.

use std::hint::black_box;

use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{ExpiryFilter, ModelConfig, Models, json, levels};
use chainboard_engine::Engine;
use chainboard_engine::{EngineConfig, PhotoOutcome};
use chainboard_model::{ContractKey, QuoteUpdate, TradeUpdate, Underlying};
use chainboard_quant::levels::GammaProfile;
use chainboard_sim::{ChainConfig, SimChain};
use criterion::{Criterion, criterion_group, criterion_main};

/// 2026-11-24 14:20 UTC (09:20 New York).
const NOW_MS: i64 = 1_795_532_400_000;

struct Setup {
    engine: Engine,
    models: Models,
    /// 2% of the board, near the money first, as the traffic skews.
    hot: Vec<ContractKey>,
    spot: f64,
}

fn setup() -> Setup {
    let spx = Underlying::new("SPX").expect("valid");
    let chain = SimChain::generate(ChainConfig::spx_like(jiff::civil::date(2026, 11, 24), 7));
    let photo = chainboard_sim::photo::photo(&chain, NOW_MS, |_| true);
    let mut engine = Engine::new(spx, EngineConfig::default());
    let tz = chainboard_quant::expiry::exchange_time_zone();
    engine.set_session(chainboard_quant::expiry::flow_session(NOW_MS, &tz));
    let PhotoOutcome::Started(s) = engine.on_photo(photo, NOW_MS) else {
        panic!("the generated chain starts an epoch")
    };
    eprintln!("board: {} contracts", s.contracts);
    let consumer = engine.add_dirty_consumer().expect("a consumer");
    let mut models = Models::new(spx, ModelConfig::for_underlying(spx), consumer);
    let feed = feed_status(&engine, NOW_MS);
    models
        .start_epoch(engine.epoch_mut().expect("epoch"), feed, NOW_MS)
        .expect("lays out");
    let spot = chain.spot();
    let mut by_distance: Vec<(f64, ContractKey)> = chain
        .contracts()
        .iter()
        .map(|c| {
            (
                (c.strike() / spot).ln().abs() + c.days_to_expiry as f64 * 0.002,
                c.key,
            )
        })
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
    let hot = by_distance
        .iter()
        .take(s.contracts / 50)
        .map(|(_, k)| *k)
        .collect();
    Setup {
        engine,
        models,
        hot,
        spot,
    }
}

fn bench(c: &mut Criterion) {
    let mut s = setup();
    let mut g = c.benchmark_group("models");
    let mut now = NOW_MS;
    let mut flip_side = 0u32;
    let mut held = None;
    g.bench_function("tick_2pct_dirty", |b| {
        b.iter(|| {
            // A millisecond per tick keeps the 60 s re-time out of this measurement;
            // `reanchor` measures that case.
            now += 1;
            flip_side ^= 1;
            // Alternate two prices so every quote changes something.
            let step = f64::from(flip_side) * 0.05;
            for key in &s.hot {
                let q = QuoteUpdate::new(4.0 + step, 4.2 + step, 5, 5, now).expect("valid");
                s.engine.apply_quote(key, &q);
            }
            let feed = feed_status(&s.engine, now);
            let epoch = s.engine.epoch_mut().expect("epoch");
            // Hold the previous snapshot, as the publisher does, so the tick pays for
            // copying the chunks it changes.
            held = s.models.tick(epoch, feed, now);
            black_box(&held);
        });
    });
    g.bench_function("tick_2pct_dirty_flow", |b| {
        b.iter(|| {
            now += 1;
            flip_side ^= 1;
            let step = f64::from(flip_side) * 0.05;
            for key in &s.hot {
                let q = QuoteUpdate::new(4.0 + step, 4.2 + step, 5, 5, now).expect("valid");
                s.engine.apply_quote(key, &q);
                let price = if flip_side == 1 {
                    4.2 + step
                } else {
                    4.0 + step
                };
                let t = TradeUpdate::new(price, 3, now).expect("valid");
                s.engine.apply_trade(key, &t);
            }
            let feed = feed_status(&s.engine, now);
            let epoch = s.engine.epoch_mut().expect("epoch");
            held = s.models.tick(epoch, feed, now);
            black_box(&held);
        });
    });
    g.bench_function("full_rebuild", |b| {
        b.iter(|| {
            let feed = feed_status(&s.engine, now);
            let epoch = s.engine.epoch_mut().expect("epoch");
            black_box(s.models.start_epoch(epoch, feed, now).expect("lays out"))
        });
    });
    let mut up = false;
    g.bench_function("reanchor", |b| {
        b.iter(|| {
            now += 1_000;
            up = !up;
            // ±0.3%: beyond the 0.1% band each time.
            let spot = s.spot * if up { 1.003 } else { 0.997 };
            s.engine.set_underlying_value(spot, now);
            let feed = feed_status(&s.engine, now);
            let epoch = s.engine.epoch_mut().expect("epoch");
            let tick = s.models.tick(epoch, feed, now).expect("same epoch");
            assert!(tick.full);
            black_box(tick)
        });
    });
    g.finish();

    let feed = feed_status(&s.engine, now);
    let epoch = s.engine.epoch_mut().expect("epoch");
    let tick = s.models.start_epoch(epoch, feed, now).expect("lays out");
    let config = *s.models.config();
    let mut g = c.benchmark_group("flip");
    g.sample_size(20);
    g.bench_function("all", |b| {
        b.iter(|| {
            let mut census = levels::Census::default();
            let profile = GammaProfile::new(
                levels::legs(
                    &tick.heatmap,
                    &config,
                    ExpiryFilter::All,
                    levels::Basis::OpenInterest,
                    &mut census,
                ),
                config.rate,
                config.div_yield,
            );
            black_box(profile.zero_gamma(s.spot, &config.flip))
        });
    });
    // Every filter's levels as the publisher settles them each tick: the flip search
    // with every material root, the gamma curve, hysteresis against the previous
    // tick, and the walls on both bases.
    let previous = levels::settle(&tick.heatmap, &tick.gex, &config, None);
    g.bench_function("five_filters", |b| {
        b.iter(|| {
            black_box(levels::settle(
                &tick.heatmap,
                &tick.gex,
                &config,
                Some(&previous),
            ))
        });
    });
    g.finish();
    let gex = previous;

    let mut g = c.benchmark_group("json");
    g.sample_size(20);
    g.bench_function("heatmap", |b| {
        b.iter(|| black_box(json::heatmap(&tick.heatmap)))
    });
    g.bench_function("gex", |b| b.iter(|| black_box(json::gex(&gex))));
    g.finish();
    eprintln!(
        "heatmap JSON: {} bytes, GEX JSON: {} bytes",
        json::heatmap(&tick.heatmap).len(),
        json::gex(&gex).len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The models on realistic boards: live greeks, GEX, levels, snapshots, diffs, JSON.

mod common;

use chainboard_analytics::gex::Metric;
use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{
    DiffError, ExpiryFilter, GreeksSource, ModelConfig, Models, Tick, ZeroGamma, history, json,
    levels,
};
use chainboard_engine::{DirtyConsumer, Engine};
use chainboard_model::{QuoteUpdate, Right, TradeUpdate};
use chainboard_quant::bsm::Inputs;
use chainboard_quant::exposure::MULTIPLIER;
use chainboard_quant::iv::IvInputs;
use chainboard_quant::levels::GammaProfile;
use chainboard_sim::SimChain;
use common::{NOW_MS, engine_with, near, photo, sim_chain, spx};

/// A simulated chain, an engine with its startup epoch, and models started on it.
struct Fixture {
    chain: SimChain,
    engine: Engine,
    models: Models,
    first: Tick,
}

/// The fixture for `seed`: the near board (`Some((days, reach))`, see
/// [`common::near`]) or the whole chain (`None`).
fn fixture(seed: u64, near_board: Option<(i64, f64)>) -> Fixture {
    let chain = sim_chain(seed);
    let board = match near_board {
        Some((days, reach)) => photo(&chain, NOW_MS, near(&chain, days, reach)),
        None => photo(&chain, NOW_MS, |_| true),
    };
    let mut engine = engine_with(board, NOW_MS);
    let mut models = models_for(&mut engine);
    let first = start(&mut engine, &mut models, NOW_MS);
    Fixture {
        chain,
        engine,
        models,
        first,
    }
}

fn models_for(engine: &mut Engine) -> Models {
    let consumer = engine.add_dirty_consumer().expect("a consumer");
    Models::new(spx(), ModelConfig::for_underlying(spx()), consumer)
}

fn start(engine: &mut Engine, models: &mut Models, now_ms: i64) -> Tick {
    let feed = feed_status(engine, now_ms);
    let epoch = engine.epoch_mut().expect("an epoch");
    models.start_epoch(epoch, feed, now_ms).expect("lays out")
}

fn tick(engine: &mut Engine, models: &mut Models, now_ms: i64) -> Tick {
    let feed = feed_status(engine, now_ms);
    let epoch = engine.epoch_mut().expect("an epoch");
    models.tick(epoch, feed, now_ms).expect("same epoch")
}

#[test]
fn a_live_quote_gives_live_greeks_and_its_exact_gex() {
    let Fixture {
        chain,
        mut engine,
        mut models,
        first,
    } = fixture(3, Some((3, 0.02)));
    let spot = chain.spot();
    let config = *models.config();

    // The at-the-money call of the first expiration gets a fresh two-sided quote.
    let epoch = engine.epoch().expect("epoch");
    let (slot, g) = epoch
        .board()
        .contracts()
        .iter()
        .enumerate()
        .filter(|(_, g)| g.key.right == Right::Call)
        .min_by(|(_, a), (_, b)| {
            let d = |g: &chainboard_model::ContractGeometry| {
                (
                    g.key.expiration,
                    ((g.key.strike.points() - spot).abs() * 100.0) as i64,
                )
            };
            d(a).cmp(&d(b))
        })
        .map(|(i, g)| (i, *g))
        .expect("a call");
    let before = *first.heatmap.cells.get(slot).expect("cell");
    let quote = QuoteUpdate::new(12.1, 12.5, 10, 12, NOW_MS + 500).expect("valid");
    engine.apply_quote(&g.key, &quote);
    let t = tick(&mut engine, &mut models, NOW_MS + 1_000);
    assert!(!t.full, "no re-anchor within a second at the same spot");
    assert_eq!(t.evaluated, 1);
    let cell = *t.heatmap.cells.get(slot).expect("cell");
    assert_eq!(cell.source, GreeksSource::Live);
    assert_ne!(cell, before);

    // The volatility is the one that reproduces the mid at the tick's spot and time.
    let layout = &t.heatmap.layout;
    let expiry = layout.expirations[usize::from(layout.positions[slot].expiry)];
    let t_tick = chainboard_quant::expiry::years_between(NOW_MS + 1_000, expiry.settles_ms);
    let iv = IvInputs {
        right: Right::Call,
        spot,
        strike: g.key.strike.points(),
        t_years: t_tick,
        rate: config.rate,
        div_yield: config.div_yield,
    }
    .implied_vol(12.3)
    .expect("solvable");
    assert_eq!(cell.iv, Some(iv));
    // Greeks and GEX at the anchor (the epoch start), by hand.
    let anchor = t.heatmap.meta.anchor.expect("anchor");
    assert_eq!((anchor.spot, anchor.at_ms), (spot, NOW_MS));
    let column = t.heatmap.columns[usize::from(layout.positions[slot].expiry)];
    let greeks = Inputs {
        right: Right::Call,
        spot,
        strike: g.key.strike.points(),
        t_years: column.t_years,
        vol: iv,
        rate: config.rate,
        div_yield: config.div_yield,
    }
    .greeks();
    let oi = cell.oi.expect("oi") as f64;
    let want = greeks.gamma * oi * MULTIPLIER * spot * spot * 0.01;
    assert!((cell.gex - want).abs() <= 0.001, "{} vs {want}", cell.gex);
    assert_eq!(cell.gamma, Some(greeks.gamma));
    assert!(cell.gex > 0.0, "dealers long calls: positive");
}

#[test]
fn unusable_quotes_fall_back_to_vendor_and_say_why() {
    let Fixture {
        chain,
        mut engine,
        mut models,
        first: _,
    } = fixture(4, Some((3, 0.02)));
    let spot = chain.spot();
    let board: Vec<_> = engine.epoch().expect("epoch").board().contracts().to_vec();
    // The first contracts are the deepest in-the-money calls of the first expiration;
    // the last of that expiration's calls is far out of the money.
    let deep_itm = board[0].key;
    assert!(deep_itm.strike.points() < spot * 0.99);
    let atm = board
        .iter()
        .filter(|g| g.key.expiration == deep_itm.expiration && g.key.right == Right::Call)
        .min_by_key(|g| ((g.key.strike.points() - spot).abs() * 100.0) as i64)
        .expect("an at-the-money call")
        .key;
    let cases = [
        (board[1].key, 0.0, 0.05), // zero bid
        (board[2].key, 3.2, 3.0),  // crossed
        (deep_itm, 0.05, 0.10),    // below intrinsic
        (atm, 9.0, 9.0),           // locked: usable
    ];
    for (key, bid, ask) in cases {
        engine.apply_quote(
            &key,
            &QuoteUpdate::new(bid, ask, 1, 1, NOW_MS + 10).expect("ok"),
        );
    }
    let t = tick(&mut engine, &mut models, NOW_MS + 1_000);
    let unusable = t.heatmap.meta.unusable;
    use chainboard_analytics::Unusable;
    assert!(unusable.get(Unusable::ZeroBid) >= 1);
    assert!(unusable.get(Unusable::Crossed) >= 1);
    assert!(unusable.get(Unusable::NoSolution) >= 1);
    let slot = |key: chainboard_model::ContractKey| {
        board
            .iter()
            .position(|g| g.key == key)
            .expect("on the board")
    };
    for key in [board[1].key, board[2].key, deep_itm] {
        let cell = t.heatmap.cells.get(slot(key)).expect("cell");
        assert_eq!(cell.source, GreeksSource::Vendor, "{key}: {cell:?}");
        assert!(cell.iv.is_some(), "the vendor's IV: {cell:?}");
    }
    let locked = t.heatmap.cells.get(slot(atm)).expect("cell");
    assert_eq!(
        locked.source,
        GreeksSource::Live,
        "a locked quote has a mid: {locked:?}"
    );
    assert_eq!(locked.mid, Some(9.0));
    let counted: u64 = t.heatmap.meta.sources.iter().sum();
    assert_eq!(counted as usize, t.heatmap.cells.len());
}

/// Incremental ticks equal a full recompute: the property the design asks of the
/// models, over random quotes, trades, photos and index moves.
mod incremental {
    use super::*;
    use chainboard_model::ChainPhoto;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Quote {
            pick: usize,
            bid_ticks: u32,
            spread_ticks: u32,
        },
        Trade {
            pick: usize,
            size: u64,
            price_ticks: u32,
        },
        Spot {
            bps: i32,
        },
        Photo {
            oi_bump: u64,
            every: usize,
        },
        Tick {
            ms: i64,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (any::<usize>(), 0u32..2_000, 0u32..40)
                .prop_map(|(pick, bid_ticks, spread_ticks)| Step::Quote { pick, bid_ticks, spread_ticks }),
            2 => (any::<usize>(), 1u64..50, 1u32..2_000)
                .prop_map(|(pick, size, price_ticks)| Step::Trade { pick, size, price_ticks }),
            2 => (-40i32..40).prop_map(|bps| Step::Spot { bps }),
            1 => (0u64..500, 1usize..7).prop_map(|(oi_bump, every)| Step::Photo { oi_bump, every }),
            3 => (200i64..90_000).prop_map(|ms| Step::Tick { ms }),
        ]
    }

    fn refreshed(base: &ChainPhoto, oi_bump: u64, every: usize, at_ms: i64) -> ChainPhoto {
        let mut next = base.clone();
        next.taken_at_ms = at_ms;
        for c in next.contracts.iter_mut().step_by(every) {
            c.state.slow.oi = c.state.slow.oi.map(|oi| oi + oi_bump);
            c.state.slow.iv = c.state.slow.iv.map(|v| v * 1.01);
        }
        next
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn ticks_equal_a_full_recompute(seed in 0u64..1_000, steps in prop::collection::vec(step(), 1..60)) {
            let chain = sim_chain(seed);
            let base = photo(&chain, NOW_MS, near(&chain, 10, 0.03));
            let mut engine = engine_with(base.clone(), NOW_MS);
            let mut models = models_for(&mut engine);
            start(&mut engine, &mut models, NOW_MS);
            let keys: Vec<_> = engine.epoch().expect("epoch").board().contracts().iter().map(|g| g.key).collect();
            let mut now = NOW_MS;
            let mut spot = chain.spot();
            let mut previous = None;
            let mut quoted = Vec::new();
            for step in steps {
                now += 10;
                match step {
                    Step::Quote { pick, bid_ticks, spread_ticks } => {
                        let bid = f64::from(bid_ticks) * 0.05;
                        let ask = bid + f64::from(spread_ticks) * 0.05;
                        let q = QuoteUpdate::new(bid, ask, 1, 1, now).expect("valid");
                        engine.apply_quote(&keys[pick % keys.len()], &q);
                        quoted.push(pick % keys.len());
                    }
                    Step::Trade { pick, size, price_ticks } => {
                        let t = TradeUpdate::new(f64::from(price_ticks) * 0.05, size, now).expect("valid");
                        engine.apply_trade(&keys[pick % keys.len()], &t);
                    }
                    Step::Spot { bps } => {
                        spot *= 1.0 + f64::from(bps) / 10_000.0;
                        engine.set_underlying_value(spot, now);
                    }
                    Step::Photo { oi_bump, every } => {
                        engine.on_photo(refreshed(&base, oi_bump, every, now), now);
                    }
                    Step::Tick { ms } => {
                        now += ms;
                        let t = tick(&mut engine, &mut models, now);
                        let epoch = engine.epoch().expect("epoch");
                        let full = models.recompute(epoch).expect("same epoch");
                        prop_assert_eq!(models.book().expect("book"), &full.book);
                        let cells: Vec<_> = t.heatmap.cells.iter().copied().collect();
                        prop_assert_eq!(&cells, &full.cells);
                        let mut sources = [0u64; 3];
                        for c in &cells {
                            sources[c.source.index()] += 1;
                        }
                        prop_assert_eq!(sources, t.heatmap.meta.sources);
                        // Every re-quoted contract was solved at this tick's spot and time.
                        let config = *models.config();
                        for &slot in &quoted {
                            let (g, st) = (&epoch.board().contracts()[slot], &epoch.states()[slot]);
                            let layout = &t.heatmap.layout;
                            let settles = layout.expirations[usize::from(layout.positions[slot].expiry)].settles_ms;
                            let years = chainboard_quant::expiry::years_between(now, settles);
                            let live = epoch.underlying_value().map(|(v, _)| v);
                            let (vol, _) = chainboard_analytics::valuation::solve(g, st, live, years, &config);
                            prop_assert_eq!(cells[slot].iv, vol.iv, "slot {}", slot);
                            prop_assert_eq!(cells[slot].source, vol.source, "slot {}", slot);
                        }
                        quoted.clear();
                        // And diffs rebuild each snapshot from the one before.
                        if let Some(prev) = previous.replace(t.clone()) {
                            let prev: Tick = prev;
                            let d = prev.heatmap.diff(&t.heatmap).expect("same epoch");
                            prop_assert_eq!(prev.heatmap.apply(&d).expect("applies"), (*t.heatmap).clone());
                            let g = prev.gex.diff(&t.gex).expect("same epoch");
                            prop_assert_eq!(prev.gex.apply(&g).expect("applies"), (*t.gex).clone());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn diffs_refuse_gaps_and_other_epochs() {
    let Fixture {
        chain,
        mut engine,
        mut models,
        first: a,
    } = fixture(5, Some((3, 0.02)));
    let key = engine.epoch().expect("e").board().contracts()[0].key;
    engine.apply_quote(
        &key,
        &QuoteUpdate::new(1.0, 1.2, 1, 1, NOW_MS + 1).expect("ok"),
    );
    let b = tick(&mut engine, &mut models, NOW_MS + 1_000);
    engine.apply_quote(
        &key,
        &QuoteUpdate::new(1.1, 1.3, 1, 1, NOW_MS + 1_001).expect("ok"),
    );
    let c = tick(&mut engine, &mut models, NOW_MS + 2_000);
    let bc = b.heatmap.diff(&c.heatmap).expect("same epoch");
    assert_eq!((bc.base_seq, bc.meta.seq), (2, 3));
    assert_eq!(bc.cells.len(), 1, "only the quoted contract");
    assert_eq!(
        a.heatmap.apply(&bc),
        Err(DiffError::Gap {
            base_seq: 2,
            have_seq: 1
        })
    );
    // A new epoch cannot be reached by a diff, even on the same grid.
    engine.request_manual_epoch(NOW_MS + 2_001);
    engine.on_photo(
        photo(&chain, NOW_MS + 2_002, near(&chain, 3, 0.02)),
        NOW_MS + 2_002,
    );
    let n = start(&mut engine, &mut models, NOW_MS + 2_002);
    assert_ne!(n.heatmap.epoch.id, c.heatmap.epoch.id);
    assert_eq!(n.heatmap.layout, c.heatmap.layout, "same grid");
    assert_eq!(n.heatmap.seq(), 4, "seq runs on across epochs");
    assert!(c.heatmap.diff(&n.heatmap).is_none(), "epochs differ");
    assert!(c.gex.diff(&n.gex).is_none());
}

#[test]
fn gex_sums_walls_and_filters_match_the_cells() {
    let Fixture {
        chain: _,
        engine: _,
        models,
        first: t,
    } = fixture(6, None);
    let settled = levels::settle(&t.heatmap, &t.gex, models.config(), None);
    let (heatmap, gex) = (&t.heatmap, &settled);
    let layout = &heatmap.layout;
    assert!(
        layout.len() > 20_000,
        "an SPX-sized board: {}",
        layout.len()
    );
    for filter in ExpiryFilter::ALL {
        let f = gex.filter(filter);
        let mut by_strike = vec![(0.0f64, 0.0f64); layout.strikes.len()];
        // The heatmap's DEX, vanna and charm per contract add up to the profile's.
        let mut others = vec![[0.0f64; 3]; layout.strikes.len()];
        for (cell, pos) in heatmap.cells.iter().zip(&layout.positions) {
            if heatmap.columns[usize::from(pos.expiry)].filters & filter.bit() == 0 {
                continue;
            }
            let row = &mut by_strike[usize::from(pos.strike)];
            match pos.right {
                Right::Call => row.0 += cell.gex,
                Right::Put => row.1 += cell.gex,
            }
            let other = &mut others[usize::from(pos.strike)];
            other[0] += cell.dex;
            other[1] += cell.vanna;
            other[2] += cell.charm;
        }
        for (i, sums) in others.iter().enumerate() {
            let row = f.per_strike[i];
            for (metric, sum) in [Metric::Dex, Metric::Vanna, Metric::Charm]
                .into_iter()
                .zip(sums)
            {
                let want = row.get(metric);
                assert!(
                    (want - sum).abs() < 1e-3 * (1.0 + sum.abs()),
                    "{filter:?} {i} {metric:?}: {want} vs {sum}"
                );
            }
        }
        assert!(
            others.iter().any(|o| o[0] != 0.0)
                && others.iter().any(|o| o[1] != 0.0)
                && others.iter().any(|o| o[2] != 0.0),
            "{filter:?}: DEX, vanna and charm are published per contract"
        );
        for (i, (call, put)) in by_strike.iter().enumerate() {
            let row = f.per_strike[i];
            assert!(
                (row.get(Metric::CallGex) - call).abs() < 1e-3 * (1.0 + call.abs()),
                "{filter:?} {i}"
            );
            assert!(
                (row.get(Metric::PutGex) - put).abs() < 1e-3 * (1.0 + put.abs()),
                "{filter:?} {i}"
            );
            assert!(row.get(Metric::CallGex) >= 0.0 && row.get(Metric::PutGex) <= 0.0);
        }
        // Every filter of this board has calls and puts: walls exist, and without a
        // previous tick to hold they are the largest rows.
        assert!(f.levels.call_wall.is_some() && f.levels.put_wall.is_some());
        if let Some(wall) = f.levels.call_wall {
            let i = layout.strikes.binary_search(&wall).expect("a board strike");
            let max = f
                .per_strike
                .iter()
                .map(|r| r.get(Metric::CallGex))
                .fold(0.0, f64::max);
            assert_eq!(f.per_strike[i].get(Metric::CallGex), max, "{filter:?}");
        }
        if let Some(wall) = f.levels.put_wall {
            let i = layout.strikes.binary_search(&wall).expect("a board strike");
            let min = f
                .per_strike
                .iter()
                .map(|r| r.get(Metric::PutGex))
                .fold(0.0, f64::min);
            assert_eq!(f.per_strike[i].get(Metric::PutGex), min, "{filter:?}");
        }
    }
    // Filters nest: 0DTE ⊆ next ⊆ 7d ⊆ 45d ⊆ all, by contract count with GEX.
    let count = |filter: ExpiryFilter| {
        heatmap
            .columns
            .iter()
            .filter(|c| c.filters & filter.bit() != 0)
            .count()
    };
    assert_eq!(
        count(ExpiryFilter::ZeroDte),
        1,
        "one 0DTE expiration on a Tuesday"
    );
    assert!(count(ExpiryFilter::ZeroDte) <= count(ExpiryFilter::Next));
    assert!(count(ExpiryFilter::Week) <= count(ExpiryFilter::Days45));
    assert!(count(ExpiryFilter::Days45) < count(ExpiryFilter::All));
}

#[test]
fn the_zero_gamma_flip_matches_an_independent_dense_grid() {
    let Fixture {
        chain: _,
        engine: _,
        models,
        first: t,
    } = fixture(7, None);
    let config = *models.config();
    let settled = levels::settle(&t.heatmap, &t.gex, &config, None);
    let anchor = t.heatmap.meta.anchor.expect("anchor");

    // Independently: gamma of every contract with a vol and OI, by BSM directly.
    let layout = &t.heatmap.layout;
    let legs: Vec<(u8, Right, f64, f64, f64, f64)> = t
        .heatmap
        .cells
        .iter()
        .zip(&layout.positions)
        .filter_map(|(c, p)| {
            let oi = c.oi.filter(|&oi| oi > 0)? as f64;
            let column = t.heatmap.columns[usize::from(p.expiry)];
            let strike = layout.strikes[usize::from(p.strike)].points();
            Some((column.filters, p.right, strike, column.t_years, c.iv?, oi))
        })
        .collect();
    let gex_at = |filter: ExpiryFilter, s: f64| -> f64 {
        legs.iter()
            .filter(|leg| leg.0 & filter.bit() != 0)
            .map(|&(_, right, k, t, v, oi)| {
                let sign = if right == Right::Call { 1.0 } else { -1.0 };
                let inputs = Inputs {
                    right,
                    spot: s,
                    strike: k,
                    t_years: t,
                    vol: v,
                    rate: config.rate,
                    div_yield: config.div_yield,
                };
                sign * oi * MULTIPLIER * inputs.greeks().gamma * s * s * 0.01
            })
            .sum()
    };
    let n = 1_200;
    let mut found = 0;
    for filter in ExpiryFilter::ALL {
        let mut census = levels::Census::default();
        let profile = GammaProfile::new(
            levels::legs(
                &t.heatmap,
                &config,
                filter,
                levels::Basis::OpenInterest,
                &mut census,
            ),
            config.rate,
            config.div_yield,
        );
        let (lo, hi) = profile.search_range(anchor.spot, &config.flip);
        let step = (hi - lo) / n as f64;
        // At the anchor the profile is the published total.
        let total = t.gex.filter(filter).total.net_gex();
        let direct = gex_at(filter, anchor.spot);
        assert!(
            (total - direct).abs() <= 1e-6 * direct.abs() + 50.0,
            "{filter:?}: {total} vs {direct}"
        );
        let grid: Vec<(f64, f64)> = (0..=n)
            .map(|i| lo + i as f64 * step)
            .map(|s| (s, gex_at(filter, s)))
            .collect();
        let crossings: Vec<f64> = grid
            .windows(2)
            .filter(|w| (w[0].1 <= 0.0) != (w[1].1 <= 0.0))
            .map(|w| w[0].0 - w[0].1 * (w[1].0 - w[0].0) / (w[1].1 - w[0].1))
            .collect();
        let published = &settled.filter(filter).levels;
        // Every published root is a crossing of the dense grid, and the curve is the
        // profile on the scan grid.
        for root in &published.roots {
            assert!(
                crossings.iter().any(|c| (c - root.level).abs() <= step),
                "{filter:?}: root {root:?} not in {crossings:?}"
            );
        }
        let curve = settled.filter(filter).curve.as_ref().expect("a curve");
        for (&s, &g) in curve.spots.iter().zip(&curve.values).step_by(10) {
            assert!((g - gex_at(filter, s)).abs() <= 1e-6 * curve.peak, "{s}");
        }
        match published.zero_gamma {
            ZeroGamma::At { level, .. } => {
                found += 1;
                // The published flip is the material root nearest spot (nothing to
                // hold on the first tick).
                let nearest_root = published
                    .roots
                    .iter()
                    .map(|r| r.level)
                    .min_by(|a, b| (a - anchor.spot).abs().total_cmp(&(b - anchor.spot).abs()));
                assert_eq!(Some(level), nearest_root, "{filter:?}");
                let nearest = crossings
                    .iter()
                    .copied()
                    .min_by(|a, b| (a - anchor.spot).abs().total_cmp(&(b - anchor.spot).abs()))
                    .expect("the dense grid sees the crossing too");
                assert!(
                    (level - nearest).abs() <= step,
                    "{filter:?}: {level} vs dense {nearest}"
                );
            }
            ZeroGamma::NoneInRange => {
                // Only crossings in the noise, if any: by the direct sum, `|G|` stays
                // under the floor on the scan grid points within `side_cells` of
                // each dense crossing, on both sides.
                let cell = (hi / lo).ln() / (config.flip.grid - 1) as f64;
                let reach = config.flip.side_cells as f64 * cell + cell;
                let floor = config.flip.noise_floor * curve.peak;
                for c in &crossings {
                    let near = curve
                        .spots
                        .iter()
                        .filter(|&&s| (s / c).ln().abs() <= reach)
                        .map(|&s| gex_at(filter, s).abs())
                        .fold(0.0f64, f64::max);
                    assert!(
                        near <= floor * (1.0 + 1e-6),
                        "{filter:?}: a material crossing at {c}: {near} vs floor {floor}"
                    );
                }
            }
            other => panic!("{filter:?}: {other:?}"),
        }
        // The fast profile agrees with the direct sum away from spot too.
        for s in [lo, anchor.spot * 0.97, hi] {
            let (fast, slow) = (profile.gex_at(s), gex_at(filter, s));
            assert!(
                (fast - slow).abs() <= 1e-9 * slow.abs().max(1.0),
                "{s}: {fast} vs {slow}"
            );
        }
    }
    assert!(
        found >= 2,
        "the simulated board has flips in the near filters"
    );
}

#[test]
fn published_json_matches_its_schemas() {
    let Fixture {
        chain,
        mut engine,
        mut models,
        first: a,
    } = fixture(8, None);
    let keys: Vec<_> = engine
        .epoch()
        .expect("e")
        .board()
        .contracts()
        .iter()
        .step_by(97)
        .map(|g| g.key)
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let q = QuoteUpdate::new(
            1.0 + i as f64 * 0.05,
            1.2 + i as f64 * 0.05,
            1,
            1,
            NOW_MS + 5,
        )
        .expect("ok");
        engine.apply_quote(key, &q);
    }
    engine.set_underlying_value(chain.spot() * 1.002, NOW_MS + 6);
    let b = tick(&mut engine, &mut models, NOW_MS + 1_000);
    assert!(b.full, "a 0.2% move re-anchors");
    let gex_b = levels::settle(&b.heatmap, &b.gex, models.config(), None);

    let check = |schema: &str, doc: &str| {
        let schema: serde_json::Value = serde_json::from_str(schema).expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let value: serde_json::Value = serde_json::from_str(doc).expect("document is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .take(5)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        value
    };
    let full = check(json::HEATMAP_SCHEMA, &json::heatmap(&a.heatmap));
    let n = a.heatmap.cells.len();
    for column in ["expiry", "strike", "bid", "iv", "gex", "oi"] {
        assert_eq!(
            full["contracts"][column].as_array().map(Vec::len),
            Some(n),
            "{column}"
        );
    }
    assert_eq!(full["contracts"]["right"].as_str().map(str::len), Some(n));
    assert_eq!(full["seq"], 1);
    let diff = a.heatmap.diff(&b.heatmap).expect("same epoch");
    let d = check(json::HEATMAP_DIFF_SCHEMA, &json::heatmap_diff(&diff));
    assert_eq!(
        (d["base_seq"].as_u64(), d["seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(
        d.get("expirations").is_some(),
        "a re-anchor moves the columns"
    );
    let g = check(json::GEX_SCHEMA, &json::gex(&gex_b));
    assert_eq!(
        g["filters"]["all"]["call_gex"].as_array().map(Vec::len),
        Some(a.heatmap.layout.strikes.len())
    );
    assert_ne!(
        g["filters"]["all"]["levels"]["zero_gamma_status"],
        "pending"
    );
    let notice = check(
        json::HEATMAP_RESYNC_SCHEMA,
        &json::heatmap_resync(&a.heatmap),
    );
    assert_eq!(notice["seq"], 1);
    let notice = check(json::GEX_RESYNC_SCHEMA, &json::gex_resync(&a.gex));
    assert_eq!(notice["seq"], 1);
    check(
        json::GEX_DIFF_SCHEMA,
        &json::gex_diff(&a.gex.diff(&gex_b).expect("same epoch")),
    );

    // The tick's history entry reads back as it was published, and its history
    // document matches its schema.
    let entry: Vec<(String, String)> = history::entry_fields(&gex_b)
        .into_iter()
        .map(|(f, v)| (f.to_owned(), v))
        .collect();
    for filter in ExpiryFilter::ALL {
        let sample = history::EntryReader::new(filter)
            .read(&entry)
            .expect("reads back");
        let levels = &gex_b.filter(filter).levels;
        assert_eq!(sample.seq, gex_b.seq);
        assert_eq!(sample.ts_ms, gex_b.ts_ms);
        assert_eq!(sample.call_wall, levels.call_wall.map(|k| k.points()));
        assert_eq!(sample.put_wall, levels.put_wall.map(|k| k.points()));
        assert_eq!(sample.zero_gamma_status, levels.zero_gamma.status());
        let at = u64::try_from(gex_b.ts_ms).expect("after 1970");
        let plan = history::HistoryPlan::new(at, at, None).expect("one column");
        let doc = check(
            history::HISTORY_SCHEMA,
            &history::document(gex_b.symbol, filter, &plan, &[Some(sample)], 0),
        );
        let strikes = doc["strikes"].as_array().map_or(0, Vec::len);
        if history::PROFILE_FILTERS.contains(&filter) {
            assert!(strikes > 10, "{filter:?}: {strikes} strikes near spot");
        } else {
            assert_eq!(strikes, 0, "{filter:?} keeps no profile");
        }
    }
}

#[test]
fn an_observer_ticks_once_a_second_on_its_own_dirty_set() {
    use chainboard_analytics::ModelObserver;
    use chainboard_engine::BoardObserver;
    use std::sync::{Arc, Mutex};

    let chain = sim_chain(9);
    let mut engine = engine_with(photo(&chain, NOW_MS, near(&chain, 3, 0.02)), NOW_MS);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = seen.clone();
        move |t: Tick| {
            seen.lock()
                .expect("lock")
                .push((t.heatmap.meta.seq, t.evaluated))
        }
    };
    let mut observer = ModelObserver::new(1_000, sink);
    observer.epoch_started(&mut engine, NOW_MS);
    let key = engine.epoch().expect("e").board().contracts()[0].key;
    engine.apply_quote(
        &key,
        &QuoteUpdate::new(1.0, 1.2, 1, 1, NOW_MS + 1).expect("ok"),
    );
    // The store's default set drains without taking the models' changes.
    engine
        .epoch_mut()
        .expect("e")
        .drain_dirty_for(DirtyConsumer::DEFAULT, |_, _, _, _| {});
    observer.tick(&mut engine, NOW_MS + 400);
    observer.tick(&mut engine, NOW_MS + 1_000);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Seqs start from the clock (a restart never repeats one) and count up.
    assert_eq!(seen[0].0, NOW_MS as u64);
    assert_eq!(
        seen[1],
        (NOW_MS as u64 + 1, 1),
        "the second tick evaluates the one quoted contract"
    );
}

#[test]
fn settlement_takes_an_expiration_out_of_every_filter() {
    let Fixture {
        chain: _,
        mut engine,
        mut models,
        first,
    } = fixture(10, Some((3, 0.02)));
    let today = first.heatmap.meta.today;
    let zero_dte = first.gex.filter(ExpiryFilter::ZeroDte).total.net_gex();
    assert_ne!(
        zero_dte, 0.0,
        "the 0DTE expiration carries gamma in the morning"
    );
    let layout = first.heatmap.layout.clone();
    let todays = layout
        .expirations
        .iter()
        .position(|e| e.date == today)
        .expect("a 0DTE column");
    // One second after the 16:00 close (a re-anchor: more than 60 s passed).
    let after_close = layout.expirations[todays].settles_ms + 1_000;
    let t = tick(&mut engine, &mut models, after_close);
    assert!(t.full);
    let columns = &t.heatmap.columns;
    assert_eq!(columns[todays].filters, 0, "settled: in no filter");
    assert!(columns[todays].t_years < 0.0);
    for (cell, pos) in t.heatmap.cells.iter().zip(&layout.positions) {
        if usize::from(pos.expiry) == todays {
            assert_eq!(
                (cell.gex, cell.delta, cell.source),
                (0.0, None, GreeksSource::Missing)
            );
        }
    }
    assert_eq!(t.gex.per_expiry[todays], Default::default());
    // After the close the session is the next trading day's: its expiration is the
    // 0DTE one now, the same as `next`.
    assert!(t.heatmap.meta.today > today);
    assert_eq!(
        t.gex.filter(ExpiryFilter::ZeroDte).per_strike,
        t.gex.filter(ExpiryFilter::Next).per_strike
    );
    assert_ne!(
        t.gex.filter(ExpiryFilter::ZeroDte).total,
        Default::default()
    );
    // `next` moved to the next date.
    let next: Vec<_> = columns
        .iter()
        .zip(&layout.expirations)
        .filter(|(c, _)| c.filters & ExpiryFilter::Next.bit() != 0)
        .map(|(_, e)| e.date)
        .collect();
    assert!(
        !next.is_empty() && next.iter().all(|d| *d > today),
        "{next:?}"
    );
}

#[test]
fn a_published_diff_applied_to_published_json_gives_the_next_json() {
    use serde_json::Value;
    let Fixture {
        chain,
        mut engine,
        mut models,
        first: mut previous,
    } = fixture(11, Some((10, 0.03)));
    let keys: Vec<_> = engine
        .epoch()
        .expect("e")
        .board()
        .contracts()
        .iter()
        .map(|g| g.key)
        .collect();
    for round in 0..3u32 {
        for (i, key) in keys.iter().enumerate().skip(round as usize).step_by(7) {
            let bid = 1.0 + f64::from(round) * 0.1 + i as f64 * 0.05;
            engine.apply_quote(
                key,
                &QuoteUpdate::new(bid, bid + 0.2, 1, 1, NOW_MS + 1).expect("ok"),
            );
        }
        // The last round moves the index past the band: the columns change too.
        if round == 2 {
            engine.set_underlying_value(chain.spot() * 1.003, NOW_MS + 2);
        }
        let next = tick(
            &mut engine,
            &mut models,
            NOW_MS + 1_000 * (i64::from(round) + 1),
        );
        let diff = previous.heatmap.diff(&next.heatmap).expect("same epoch");
        // A client's view: the previous snapshot's JSON, patched with the diff's JSON.
        let mut doc: Value = serde_json::from_str(&json::heatmap(&previous.heatmap)).expect("JSON");
        let patch: Value = serde_json::from_str(&json::heatmap_diff(&diff)).expect("JSON");
        assert_eq!(patch["base_seq"], doc["seq"], "the diff names its base");
        for (k, v) in patch.as_object().expect("object") {
            match k.as_str() {
                "schema" | "base_seq" | "epoch" | "symbol" => {}
                "expirations" => {
                    for (field, values) in v.as_object().expect("object") {
                        doc["expirations"][field] = values.clone();
                    }
                }
                "contracts" => {
                    let slots = v["slot"].as_array().expect("slots");
                    for (field, values) in v.as_object().expect("object") {
                        if field == "slot" {
                            continue;
                        }
                        if let Some(letters) = values.as_str() {
                            let mut all: Vec<char> = doc["contracts"][field]
                                .as_str()
                                .expect("letters")
                                .chars()
                                .collect();
                            for (slot, c) in slots.iter().zip(letters.chars()) {
                                all[slot.as_u64().expect("slot") as usize] = c;
                            }
                            doc["contracts"][field] = Value::String(all.into_iter().collect());
                        } else {
                            for (slot, value) in slots.iter().zip(values.as_array().expect("array"))
                            {
                                doc["contracts"][field][slot.as_u64().expect("slot") as usize] =
                                    value.clone();
                            }
                        }
                    }
                }
                _ => doc[k] = v.clone(),
            }
        }
        let want: Value = serde_json::from_str(&json::heatmap(&next.heatmap)).expect("JSON");
        assert_eq!(doc, want, "round {round}");
        previous = next;
    }
}

#[test]
fn the_dealer_sign_switches_every_exposure() {
    let chain = sim_chain(12);
    let board = photo(&chain, NOW_MS, near(&chain, 3, 0.02));
    let mut calls_long = engine_with(board.clone(), NOW_MS);
    let mut puts_long = engine_with(board, NOW_MS);
    let mut a = models_for(&mut calls_long);
    let consumer = puts_long.add_dirty_consumer().expect("consumer");
    let config = ModelConfig {
        dealer_sign: chainboard_quant::exposure::DealerSign::PutsLong,
        ..ModelConfig::for_underlying(spx())
    };
    let mut b = Models::new(spx(), config, consumer);
    let (ta, tb) = (
        start(&mut calls_long, &mut a, NOW_MS),
        start(&mut puts_long, &mut b, NOW_MS),
    );
    for (x, y) in ta.heatmap.cells.iter().zip(tb.heatmap.cells.iter()) {
        assert_eq!(x.gex, -y.gex);
        assert_eq!(x.gex_volume, -y.gex_volume);
    }
    let (fa, fb) = (
        ta.gex.filter(ExpiryFilter::All),
        tb.gex.filter(ExpiryFilter::All),
    );
    for metric in Metric::ALL {
        assert_eq!(fa.total.get(metric), -fb.total.get(metric), "{metric:?}");
    }
    assert_eq!(
        (fa.levels.call_wall, fa.levels.put_wall),
        (fb.levels.call_wall, fb.levels.put_wall)
    );
}

#[test]
fn one_observer_keeps_each_underlying_apart() {
    use chainboard_analytics::ModelObserver;
    use chainboard_engine::{BoardObserver, EngineConfig, PhotoOutcome};
    use chainboard_sim::{ChainConfig, SimChain};
    use std::sync::{Arc, Mutex};

    let today = jiff::civil::date(2026, 11, 24);
    let ndx = chainboard_model::Underlying::new("NDX").expect("valid");
    let ndx_chain = SimChain::generate(ChainConfig::ndx_like(today, 13));
    let mut ndx_engine = Engine::new(ndx, EngineConfig::default());
    let ndx_photo = chainboard_sim::photo::photo(&ndx_chain, NOW_MS, near(&ndx_chain, 3, 0.02));
    assert!(matches!(
        ndx_engine.on_photo(ndx_photo, NOW_MS),
        PhotoOutcome::Started(_)
    ));
    let spx_chain = sim_chain(13);
    let mut spx_engine = engine_with(photo(&spx_chain, NOW_MS, near(&spx_chain, 3, 0.02)), NOW_MS);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = seen.clone();
        move |t: Tick| {
            let h = &t.heatmap;
            seen.lock().expect("lock").push((
                h.symbol,
                h.meta.seq,
                h.meta.spot,
                t.config.div_yield,
            ));
        }
    };
    let mut observer = ModelObserver::new(1_000, sink);
    observer.epoch_started(&mut spx_engine, NOW_MS);
    observer.epoch_started(&mut ndx_engine, NOW_MS + 10);
    observer.tick(&mut spx_engine, NOW_MS + 1_000);
    observer.tick(&mut ndx_engine, NOW_MS + 1_000); // not due yet for NDX
    observer.tick(&mut ndx_engine, NOW_MS + 1_010);
    let seen = seen.lock().expect("lock").clone();
    let of = |u: &str| -> Vec<_> { seen.iter().filter(|s| s.0.as_str() == u).cloned().collect() };
    let (spx_ticks, ndx_ticks) = (of("SPX"), of("NDX"));
    assert_eq!(spx_ticks.len(), 2);
    assert_eq!(ndx_ticks.len(), 2);
    assert_eq!(spx_ticks[1].1, spx_ticks[0].1 + 1, "seqs per underlying");
    assert_eq!(ndx_ticks[1].1, ndx_ticks[0].1 + 1);
    assert_eq!(spx_ticks[0].2, Some(spx_chain.spot()));
    assert_eq!(ndx_ticks[0].2, Some(ndx_chain.spot()));
    assert_eq!(
        (spx_ticks[0].3, ndx_ticks[0].3),
        (0.013, 0.007),
        "each index's dividend yield"
    );
}

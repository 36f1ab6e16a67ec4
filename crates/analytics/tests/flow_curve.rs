//! The flow-adjusted basis's gamma curve and roots: what the flow flip is found on.

mod common;

use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{ExpiryFilter, ModelConfig, Models, ZeroGamma, levels};
use chainboard_model::{QuoteUpdate, Right, TradeUpdate};
use chainboard_quant::bsm::Inputs;
use chainboard_quant::exposure::MULTIPLIER;
use common::{NOW_MS, engine_with, near, photo, sim_chain, spx};

/// Customers buying near-money calls move the flow-adjusted book away from the
/// open-interest one: its curve is the independent sum on `sign × OI − customer net`
/// and its flip a root of that curve, while the open-interest curve is unchanged.
#[test]
fn the_flow_adjusted_curve_prices_the_flow_adjusted_book() {
    let chain = sim_chain(7);
    let mut engine = engine_with(photo(&chain, NOW_MS, near(&chain, 10, 0.03)), NOW_MS);
    let consumer = engine.add_dirty_consumer().expect("a consumer");
    let mut models = Models::new(spx(), ModelConfig::for_underlying(spx()), consumer);
    let feed = feed_status(&engine, NOW_MS);
    let epoch = engine.epoch_mut().expect("an epoch");
    let first = models.start_epoch(epoch, feed, NOW_MS).expect("lays out");
    let config = *models.config();
    let before = levels::settle(&first.heatmap, &first.gex, &config, None);
    let spot = first.heatmap.meta.anchor.expect("anchor").spot;
    let layout = first.heatmap.layout.clone();
    let near_calls: Vec<usize> = (0..layout.positions.len())
        .filter(|&i| {
            let p = layout.positions[i];
            let k = layout.strikes[usize::from(p.strike)].points();
            p.right == Right::Call && (k - spot).abs() <= 0.01 * spot
        })
        .collect();
    assert!(near_calls.len() >= 4, "near-money calls on the board");
    let keys: Vec<_> = engine
        .epoch()
        .expect("epoch")
        .board()
        .contracts()
        .iter()
        .map(|g| g.key)
        .collect();
    let now = NOW_MS + 1_000;
    for &slot in &near_calls {
        let q = QuoteUpdate::new(5.0, 5.5, 10, 10, now).expect("valid");
        engine.apply_quote(&keys[slot], &q);
        // At the ask: a customer buy of 500 contracts.
        let t = TradeUpdate::new(5.5, 500, now + 1).expect("valid");
        engine.apply_trade(&keys[slot], &t);
    }
    let feed = feed_status(&engine, now + 1_000);
    let epoch = engine.epoch_mut().expect("an epoch");
    let t = models.tick(epoch, feed, now + 1_000).expect("same epoch");
    let settled = levels::settle(&t.heatmap, &t.gex, &config, Some(&before));
    let cells: Vec<_> = t.heatmap.cells.iter().copied().collect();
    for &slot in &near_calls {
        assert_eq!(cells[slot].flow_net, 500, "slot {slot} signed as bought");
    }

    let gex_at = |filter: ExpiryFilter, s: f64, flow: bool| -> f64 {
        cells
            .iter()
            .zip(&layout.positions)
            .filter_map(|(c, p)| {
                let column = t.heatmap.columns[usize::from(p.expiry)];
                if column.filters & filter.bit() == 0 {
                    return None;
                }
                let sign = if p.right == Right::Call { 1.0 } else { -1.0 };
                let net = if flow { c.flow_net as f64 } else { 0.0 };
                let position = sign * c.oi.unwrap_or(0) as f64 - net;
                let inputs = Inputs {
                    right: p.right,
                    spot: s,
                    strike: layout.strikes[usize::from(p.strike)].points(),
                    t_years: column.t_years,
                    vol: c.iv?,
                    rate: config.rate,
                    div_yield: config.div_yield,
                };
                Some(position * MULTIPLIER * inputs.greeks().gamma * s * s * 0.01)
            })
            .sum()
    };
    let front = settled.filter(ExpiryFilter::Front);
    let (curve, curve_flow) = (
        front.curve.as_ref().expect("a curve"),
        front.curve_flow.as_ref().expect("a flow curve"),
    );
    assert_ne!(curve, curve_flow, "the flow moved the book");
    for (c, flow) in [(curve, false), (curve_flow, true)] {
        for (&s, &g) in c.spots.iter().zip(&c.values).step_by(10) {
            let direct = gex_at(ExpiryFilter::Front, s, flow);
            assert!(
                (g - direct).abs() <= 1e-6 * c.peak,
                "flow {flow} at {s}: {g} vs {direct}"
            );
        }
    }
    // Dealers sold the calls: less long gamma near spot than by open interest.
    assert!(gex_at(ExpiryFilter::Front, spot, true) < gex_at(ExpiryFilter::Front, spot, false));
    let levels = &front.levels;
    let ZeroGamma::At { level, .. } = levels.zero_gamma_flow else {
        panic!("a flow flip: {:?}", levels.zero_gamma_flow);
    };
    assert!(
        levels.roots_flow.iter().any(|r| r.level == level),
        "the flow flip {level} is a root of its curve: {:?}",
        levels.roots_flow
    );
    // Before any trade, every filter's flow-adjusted curve and roots are the
    // open-interest ones.
    let with_curves = before.filters.iter().filter(|f| f.curve.is_some()).count();
    assert!(with_curves >= 2, "filters with a curve before the flow");
    for f in &before.filters {
        assert_eq!(f.curve, f.curve_flow, "{:?}", f.filter);
        assert_eq!(f.levels.roots, f.levels.roots_flow, "{:?}", f.filter);
        assert_eq!(
            f.levels.zero_gamma, f.levels.zero_gamma_flow,
            "{:?}",
            f.filter
        );
    }
}

//! The zero-gamma flip on a full SPX-sized board.
//!
//! The bar: building the profile and finding the flip for a 25,000-contract board
//! takes at most 25 ms on one core, so it fits in the once-a-second model rebuild with
//! room to spare. The board is deterministic (no randomness): 50 expiries from 0DTE to
//! two years, 250 strikes each, calls and puts, a skewed smile and open interest
//! peaking near the money, puts heavier below spot and calls above, so the flip sits
//! near spot as it usually does.
//!
//! Run with `cargo bench -p chainboard-quant --bench levels`.

use std::hint::black_box;

use chainboard_quant::levels::{FlipSearch, GammaLeg, GammaProfile};
use criterion::{Criterion, criterion_group, criterion_main};

const SPOT: f64 = 6800.0;
const RATE: f64 = 0.043;
const DIV_YIELD: f64 = 0.013;
const EXPIRIES: usize = 50;
const STRIKES: usize = 250;

/// 50 expiries × 250 strikes × call/put = 25,000 legs.
fn spx_board() -> Vec<GammaLeg> {
    let mut legs = Vec::with_capacity(EXPIRIES * STRIKES * 2);
    for e in 0..EXPIRIES {
        // Geometric from 0DTE with six hours left to two years.
        let t_years = (6.0 / 8760.0) * (2.0f64 / (6.0 / 8760.0)).powf(e as f64 / 49.0);
        // Listed strikes spread out with expiry, as on the real chain.
        let step = match t_years {
            t if t < 0.05 => 5.0,
            t if t < 0.3 => 10.0,
            _ => 25.0,
        };
        let atm_vol = 0.13 + 0.03 * t_years.sqrt();
        for k in 0..STRIKES {
            let strike = SPOT + step * (k as f64 - (STRIKES / 2) as f64);
            // Moneyness in standard deviations, which sets smile and open interest.
            let z = (strike / SPOT).ln() / (atm_vol * t_years.sqrt());
            let vol =
                (atm_vol * (1.0 - 0.08 * z + 0.015 * z * z)).clamp(0.6 * atm_vol, 4.0 * atm_vol);
            let round = if strike % 100.0 == 0.0 { 2.0 } else { 1.0 };
            let near = 20.0 + 4000.0 * round * (-z * z / 8.0).exp();
            let call_oi = near * if z > 0.0 { 1.5 } else { 0.7 };
            let put_oi = near * if z < 0.0 { 1.8 } else { 0.6 };
            for weight in [call_oi * 100.0, -put_oi * 100.0] {
                legs.push(GammaLeg {
                    strike,
                    t_years,
                    vol,
                    weight,
                });
            }
        }
    }
    legs
}

fn flip(c: &mut Criterion) {
    let legs = spx_board();
    let search = FlipSearch::default();
    let profile = GammaProfile::new(legs.iter().copied(), RATE, DIV_YIELD);
    assert_eq!(profile.len(), 25_000);
    assert!(
        profile.zero_gamma(SPOT, &search).is_some(),
        "the board has a flip"
    );

    c.bench_function("levels/new+zero_gamma 25k legs", |b| {
        b.iter(|| {
            let profile = GammaProfile::new(black_box(&legs).iter().copied(), RATE, DIV_YIELD);
            profile.zero_gamma(black_box(SPOT), &search)
        })
    });
    c.bench_function("levels/new 25k legs", |b| {
        b.iter(|| GammaProfile::new(black_box(&legs).iter().copied(), RATE, DIV_YIELD))
    });
    c.bench_function("levels/gex_at 25k legs", |b| {
        b.iter(|| profile.gex_at(black_box(SPOT)))
    });
}

criterion_group!(benches, flip);
criterion_main!(benches);

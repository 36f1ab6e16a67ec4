//! GEX on a chain small enough to compute by hand.
//!
//! No contract has a quote or an implied volatility, only the vendor's greeks, so
//! every number below is `gamma × OI × 100 × spot² × 0.01` with round inputs: spot
//! 5,000, so `100 × spot² × 0.01` is 25,000,000 per unit of gamma per contract.

mod common;

use chainboard_analytics::gex::Metric;
use chainboard_analytics::{ExpiryFilter, GreeksSource, ZeroGamma, levels};
use chainboard_model::{
    ChainContract, ChainPhoto, ContractKey, ContractState, Greeks, RejectTally, RootMap,
    SlowFields, Strike, Underlying,
};
use chainboard_quant::levels::Transition;

/// 2026-11-24 14:20 UTC.
const NOW_MS: i64 = 1_795_532_400_000;

fn contract(ticker: &str, gamma: f64, delta: f64, oi: u64, volume: u64) -> ChainContract {
    let key = ContractKey::parse(ticker).expect("valid ticker");
    ChainContract {
        geometry: RootMap::default().geometry(key).expect("index root"),
        state: ContractState {
            volume: Some(volume),
            slow: SlowFields {
                greeks: Greeks {
                    delta: Some(delta),
                    gamma: Some(gamma),
                    theta: None,
                    vega: None,
                },
                iv: None,
                oi: Some(oi),
            },
            ..ContractState::default()
        },
    }
}

#[test]
fn gex_by_hand() {
    let spx = Underlying::new("SPX").expect("valid");
    let photo = ChainPhoto {
        underlying: spx,
        taken_at_ms: NOW_MS,
        underlying_value: Some(5_000.0),
        contracts: vec![
            // Today (0DTE): a call at 5000 and a put at 4950.
            contract("O:SPXW261124C05000000", 0.002, 0.5, 1_000, 200),
            contract("O:SPXW261124P04950000", 0.001, -0.3, 3_000, 0),
            // Three weeks out: a call at 5000 and a put at 5000.
            contract("O:SPXW261215C05000000", 0.0004, 0.52, 5_000, 10),
            contract("O:SPXW261215P05000000", 0.0004, -0.48, 2_000, 0),
        ],
        rejected: RejectTally::default(),
    };
    let (_engine, models, tick) = common::models_on(photo, NOW_MS);
    let settled = levels::settle(&tick.heatmap, &tick.gex, models.config(), None);
    let (heatmap, gex) = (&tick.heatmap, &settled);
    assert_eq!(heatmap.meta.sources, [0, 4, 0], "all vendor greeks");
    assert!(
        heatmap
            .cells
            .iter()
            .all(|c| c.source == GreeksSource::Vendor)
    );

    // Per contract (board order: expiration, then calls before puts, then strike).
    let per_contract: Vec<f64> = heatmap.cells.iter().map(|c| c.gex).collect();
    assert_eq!(
        per_contract,
        [
            50_000_000.0,  // 0.002 × 1,000 × 25M
            -75_000_000.0, // 0.001 × 3,000 × 25M, a put: negative
            50_000_000.0,  // 0.0004 × 5,000 × 25M
            -20_000_000.0, // 0.0004 × 2,000 × 25M
        ]
    );
    // By today's volume: 0.002 × 200 × 25M, and 0.0004 × 10 × 25M.
    let by_volume: Vec<f64> = heatmap.cells.iter().map(|c| c.gex_volume).collect();
    assert_eq!(by_volume, [10_000_000.0, 0.0, 100_000.0, 0.0]);

    // Per strike and filter. Strikes: 4950, 5000.
    let strikes: Vec<f64> = gex.layout.strikes.iter().map(|k| k.points()).collect();
    assert_eq!(strikes, [4_950.0, 5_000.0]);
    let all = gex.filter(ExpiryFilter::All);
    let net: Vec<f64> = all.per_strike.iter().map(|r| r.net_gex()).collect();
    assert_eq!(net, [-75_000_000.0, 80_000_000.0]);
    assert_eq!(all.total.net_gex(), 5_000_000.0);
    assert_eq!(all.total.get(Metric::CallGexVolume), 10_100_000.0);
    // DEX: 0.5×1000 + (−0.3)×3000×(−1) … signed: calls long, puts short.
    // 0.5×1,000×100×5,000 = 250M; put: −0.3×3,000×100×5,000×(−1) = +450M;
    // 0.52×5,000×100×5,000 = 1,300M; −0.48×2,000×100×5,000×(−1) = +480M.
    assert_eq!(all.total.get(Metric::Dex), 2_480_000_000.0);
    let zero = gex.filter(ExpiryFilter::ZeroDte);
    let net0: Vec<f64> = zero.per_strike.iter().map(|r| r.net_gex()).collect();
    assert_eq!(net0, [-75_000_000.0, 50_000_000.0]);
    assert_eq!(gex.filter(ExpiryFilter::Next).per_strike, zero.per_strike);
    assert_eq!(gex.filter(ExpiryFilter::Week).per_strike, zero.per_strike);
    assert_eq!(gex.filter(ExpiryFilter::Days45).per_strike, all.per_strike);
    // Walls: the largest call GEX is 100M at 5000 (both expirations), the largest put
    // GEX 75M at 4950.
    let k = |p: f64| Strike::from_points(p).expect("strike");
    assert_eq!(all.levels.call_wall, Some(k(5_000.0)));
    assert_eq!(all.levels.put_wall, Some(k(4_950.0)));
    // The volume basis has its own walls: call volume GEX is 10M at 5000 today and
    // 100K three weeks out; no put traded.
    assert_eq!(all.levels.call_wall_volume, Some(k(5_000.0)));
    assert_eq!(all.levels.put_wall_volume, None);
    // Vendor greeks without a volatility cannot be re-priced at other spots: no flip,
    // and the document says why.
    for f in &gex.filters {
        assert_eq!(
            f.levels.zero_gamma.status(),
            "no_usable_contracts",
            "{:?}",
            f.filter
        );
        assert!(f.levels.roots.is_empty() && f.curve.is_none());
    }
    // Per expiration: today −25M, three weeks +30M.
    let per_expiry: Vec<f64> = gex.per_expiry.iter().map(|e| e.net_gex()).collect();
    assert_eq!(per_expiry, [-25_000_000.0, 30_000_000.0]);
}

/// A contract of a small board: ticker, implied volatility, open interest.
type Row<'a> = (&'a str, Option<f64>, u64);

/// The settled levels of a board of `contracts`.
fn settled_board(contracts: &[Row<'_>]) -> chainboard_analytics::GexSnapshot {
    settled_after(contracts, None)
}

/// The levels of a board of `contracts`, settled against `previous`.
fn settled_after(
    contracts: &[Row<'_>],
    previous: Option<&chainboard_analytics::GexSnapshot>,
) -> chainboard_analytics::GexSnapshot {
    let spx = Underlying::new("SPX").expect("valid");
    let photo = ChainPhoto {
        underlying: spx,
        taken_at_ms: NOW_MS,
        underlying_value: Some(5_000.0),
        contracts: contracts
            .iter()
            .map(|&(ticker, iv, oi)| {
                let mut c = contract(ticker, 0.001, 0.5, oi, 0);
                c.state.slow.iv = iv;
                c
            })
            .collect(),
        rejected: RejectTally::default(),
    };
    let (_engine, models, tick) = common::models_on(photo, NOW_MS);
    levels::settle(&tick.heatmap, &tick.gex, models.config(), previous)
}

#[test]
fn boards_that_cannot_have_a_flip_say_why() {
    // (contracts, the `all` filter's status)
    let cases: [(&[Row<'_>], &str); 4] = [
        (
            &[
                ("O:SPXW261215C05000000", Some(0.2), 0),
                ("O:SPXW261215P04900000", Some(0.2), 0),
            ],
            "no_open_interest",
        ),
        (
            &[
                ("O:SPXW261215C05000000", Some(0.2), 1_000),
                ("O:SPXW261215C05100000", Some(0.2), 2_000),
            ],
            "one_sided",
        ),
        (
            &[
                ("O:SPXW261215C05000000", None, 1_000),
                ("O:SPXW261215P04900000", None, 2_000),
            ],
            "no_usable_contracts",
        ),
        // Both sides hold open interest, but the puts cannot be re-priced: not
        // `one_sided`, which would say nobody holds puts.
        (
            &[
                ("O:SPXW261215C05000000", Some(0.2), 1_000),
                ("O:SPXW261215P04900000", None, 2_000),
            ],
            "no_usable_contracts",
        ),
    ];
    for (contracts, status) in cases {
        let gex = settled_board(contracts);
        let all = gex.filter(ExpiryFilter::All);
        assert_eq!(all.levels.zero_gamma.status(), status);
        assert_eq!(all.levels.zero_gamma.level(), None);
        assert!(all.levels.roots.is_empty());
        // The JSON publishes `null` with the reason.
        let doc: serde_json::Value =
            serde_json::from_str(&chainboard_analytics::json::gex(&gex)).expect("JSON");
        let levels = &doc["filters"]["all"]["levels"];
        assert_eq!(levels["zero_gamma"], serde_json::Value::Null);
        assert_eq!(levels["zero_gamma_status"], status);
        assert_eq!(levels["distance"]["zero_gamma"], serde_json::Value::Null);
        // No 0DTE expiration on this board: nothing to compute, said so.
        assert_eq!(
            gex.filter(ExpiryFilter::ZeroDte).levels.zero_gamma.status(),
            "no_expiration"
        );
    }
}

#[test]
fn a_flip_after_a_tick_without_one_is_announced_as_appeared() {
    let board: &[Row<'_>] = &[
        ("O:SPXW261215C05000000", Some(0.2), 1_000),
        ("O:SPXW261215P04800000", Some(0.2), 2_000),
    ];
    let first = settled_board(board);
    let all = first.filter(ExpiryFilter::All);
    assert!(all.levels.zero_gamma.level().is_some(), "{:?}", all.levels);
    assert_eq!(all.levels.transition, Some(Transition::First));
    // The tick before had no flip: the flip now is news, not the first ever.
    let mut without = first.clone();
    for f in &mut without.filters {
        f.levels.zero_gamma = ZeroGamma::NoneInRange;
    }
    let next = settled_after(board, Some(&without));
    let all = next.filter(ExpiryFilter::All);
    assert_eq!(all.levels.transition, Some(Transition::Appeared));
    // And one with a flip before holds it.
    let held = settled_after(board, Some(&first));
    assert_eq!(
        held.filter(ExpiryFilter::All).levels.transition,
        Some(Transition::Held)
    );
}

//! The planner against hand-built chains: which contracts get the quote budget, how the
//! plan follows spot and the calendar, and property tests of its bounds.

use chainboard_model::Right;
use jiff::ToSpan;
use jiff::civil::date;
use proptest::prelude::*;

use super::*;

/// Tuesday; SPX at 6,850 and NDX at 21,000 in the synthetic boards.
const TODAY: Date = date(2026, 11, 24);

fn key(root: &str, expiration: Date, right: Right, strike: f64) -> ContractKey {
    ContractKey {
        root: Root::new(root).unwrap(),
        expiration,
        right,
        strike: Strike::from_points(strike).unwrap(),
    }
}

fn underlying(s: &str) -> Underlying {
    Underlying::new(s).unwrap()
}

fn epoch(s: &str, seq: u32) -> EpochId {
    EpochId {
        underlying: underlying(s),
        date: TODAY,
        seq,
    }
}

/// Every call and put of `root` for each expiration `today + days` and each
/// strike `lo, lo + step, ..., hi`, sorted like an epoch's board.
fn board(root: &str, days: &[i64], lo: u32, hi: u32, step: u32) -> Vec<ContractKey> {
    let mut keys = Vec::new();
    for &d in days {
        for right in [Right::Call, Right::Put] {
            for strike in (lo..=hi).step_by(step as usize) {
                keys.push(key(root, TODAY + d.days(), right, f64::from(strike)));
            }
        }
    }
    keys.sort();
    keys
}

/// SPX like a real epoch: SPXW dailies and weeklies plus the SPX monthlies, 5-point
/// strikes from 4,000 to 8,000 (~24k contracts). Yesterday's expiry is still listed,
/// as is today's AM-settled monthly.
fn spx_board() -> Vec<ContractKey> {
    let daily: Vec<i64> = vec![-1, 0, 1, 2, 3, 6, 7, 8, 9, 10, 13, 16, 23];
    let mut keys = board("SPXW", &daily, 4000, 8000, 5);
    keys.extend(board("SPX", &[0, 24], 4000, 8000, 5));
    keys.sort();
    keys
}

/// NDX: NDXP dailies with 25-point strikes from 15,000 to 30,000 (~31k contracts).
fn ndx_board() -> Vec<ContractKey> {
    let days: Vec<i64> = (0..26).collect();
    board("NDXP", &days, 15000, 30000, 25)
}

fn view<'a>(
    name: &str,
    epoch: &'a EpochId,
    contracts: &'a [ContractKey],
    spot: Option<f64>,
) -> BoardView<'a> {
    BoardView {
        underlying: underlying(name),
        epoch,
        contracts,
        spot,
    }
}

fn quoted_set(plan: &Plan) -> BTreeSet<ContractKey> {
    plan.quoted().iter().copied().collect()
}

#[test]
fn budget_is_respected_for_boards_far_larger_than_it() {
    let (spx, ndx) = (spx_board(), ndx_board());
    assert!(spx.len() > 20_000 && ndx.len() > 30_000);
    let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
    let boards = [
        view("SPX", &e_spx, &spx, Some(6850.0)),
        view("NDX", &e_ndx, &ndx, Some(21000.0)),
    ];
    for budget in [0, 1, 7, 1_000, 3_000] {
        let mut planner = Planner::new(PlannerConfig {
            quote_budget: budget,
            ..PlannerConfig::default()
        });
        let change = planner.update(&boards, TODAY).unwrap();
        let plan = planner.current();
        assert_eq!(plan.quoted().len(), budget, "budget {budget}");
        assert_eq!(plan.traded().len(), spx.len() + ndx.len());
        let quotes = change
            .subscribe
            .iter()
            .filter(|p| p.starts_with("Q."))
            .count();
        assert_eq!(quotes, budget);
        assert_eq!(change.summary.quoted, budget);
        let per_board: usize = change.summary.boards.iter().map(|b| b.quoted).sum();
        assert_eq!(per_board, budget);
    }
}

#[test]
fn the_budget_is_shared_across_underlyings() {
    let (spx, ndx) = (spx_board(), ndx_board());
    let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
    let mut planner = Planner::new(PlannerConfig::default());
    let change = planner
        .update(
            &[
                view("SPX", &e_spx, &spx, Some(6850.0)),
                view("NDX", &e_ndx, &ndx, Some(21000.0)),
            ],
            TODAY,
        )
        .unwrap();
    // Both boards get a share; SPX's denser strikes (5 vs 25 points, i.e. 0.07%
    // vs 0.12% apart) give it more contracts inside the same relative band.
    let [ndx_summary, spx_summary] = change.summary.boards.as_slice() else {
        panic!("two boards expected, got {:?}", change.summary.boards);
    };
    assert_eq!(ndx_summary.underlying, underlying("NDX"));
    assert!(ndx_summary.quoted > 100, "{}", change.summary);
    assert!(
        spx_summary.quoted > ndx_summary.quoted,
        "{}",
        change.summary
    );
    // The SPX region sits around the money on both sides.
    let (lo, hi) = spx_summary.strikes.unwrap();
    assert!(lo.points() < 6850.0 && hi.points() > 6850.0);
    let (below, above) = ((6850.0 / lo.points()).ln(), (hi.points() / 6850.0).ln());
    assert!(below < 0.035 && above < 0.035, "{}", change.summary);
    assert!((below - above).abs() < 0.005, "{}", change.summary);
}

#[test]
fn same_input_gives_the_same_plan() {
    let (spx, ndx) = (spx_board(), ndx_board());
    let mut shuffled = spx.clone();
    shuffled.reverse();
    let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
    let run = |spx: &[ContractKey], reversed: bool| {
        let mut boards = vec![
            view("SPX", &e_spx, spx, Some(6851.3)),
            view("NDX", &e_ndx, &ndx, Some(21012.0)),
        ];
        if reversed {
            boards.reverse();
        }
        let mut planner = Planner::new(PlannerConfig::default());
        let change = planner.update(&boards, TODAY).unwrap();
        (change, planner.current().clone())
    };
    let first = run(&spx, false);
    assert_eq!(first, run(&spx, false));
    // Neither the order of the boards nor the order of a board's keys matters.
    assert_eq!(first, run(&spx, true));
    assert_eq!(first, run(&shuffled, false));
}

#[test]
fn near_the_money_and_near_expiry_win() {
    let spx = spx_board();
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig {
        quote_budget: 200,
        ..PlannerConfig::default()
    });
    planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
    let quoted = quoted_set(planner.current());
    let yesterday = TODAY - 1.days();
    let cases = [
        (
            "ATM 0DTE call",
            key("SPXW", TODAY, Right::Call, 6850.0),
            true,
        ),
        ("ATM 0DTE put", key("SPXW", TODAY, Right::Put, 6850.0), true),
        (
            "near 1DTE",
            key("SPXW", TODAY + 1.days(), Right::Put, 6845.0),
            true,
        ),
        (
            "deep OTM far",
            key("SPXW", TODAY + 23.days(), Right::Put, 4500.0),
            false,
        ),
        (
            "ATM far",
            key("SPXW", TODAY + 23.days(), Right::Call, 6850.0),
            false,
        ),
        (
            "deep OTM 0DTE",
            key("SPXW", TODAY, Right::Put, 6000.0),
            false,
        ),
        (
            "expired yesterday",
            key("SPXW", yesterday, Right::Call, 6850.0),
            false,
        ),
        (
            "AM-settled today",
            key("SPX", TODAY, Right::Call, 6850.0),
            false,
        ),
    ];
    for (what, k, expected) in cases {
        assert!(spx.contains(&k), "{what} is on the board");
        assert_eq!(quoted.contains(&k), expected, "{what}: {k}");
    }
    // Nothing expired is quoted at all, even with budget to spare.
    let mut generous = Planner::new(PlannerConfig {
        quote_budget: 100_000,
        ..PlannerConfig::default()
    });
    generous.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
    let config = generous.config().clone();
    assert!(
        generous
            .current()
            .quoted()
            .iter()
            .all(|k| !config.is_expired(k, TODAY))
    );
    let live = spx.iter().filter(|k| !config.is_expired(k, TODAY)).count();
    assert_eq!(generous.current().quoted().len(), live);
}

#[test]
fn scores_follow_the_documented_rule() {
    let config = PlannerConfig::default();
    let atm = key("SPXW", TODAY, Right::Call, 6850.0);
    assert_eq!(config.score(&atm, 6850.0, TODAY), Some(0.0));
    // A call and its put score equally.
    let put = ContractKey {
        right: Right::Put,
        ..atm
    };
    assert_eq!(
        config.score(&put, 6850.0, TODAY),
        config.score(&atm, 6850.0, TODAY)
    );
    // 1% of moneyness weighs like 2 days.
    let one_pct = config.score(&atm, 6850.0 * 0.01f64.exp(), TODAY).unwrap();
    let two_days = key("SPXW", TODAY + 2.days(), Right::Call, 6850.0);
    let two_days = config.score(&two_days, 6850.0, TODAY).unwrap();
    assert!((one_pct - 1.0).abs() < 1e-9 && (two_days - 1.0).abs() < 1e-9);
    // Relative: the same moneyness scores the same on SPX and NDX.
    let spx_otm = key("SPXW", TODAY, Right::Call, 6850.0 * 1.02);
    let ndx_otm = key("NDXP", TODAY, Right::Call, 21000.0 * 1.02);
    let (a, b) = (
        config.score(&spx_otm, 6850.0, TODAY).unwrap(),
        config.score(&ndx_otm, 21000.0, TODAY).unwrap(),
    );
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    // Expired contracts and unusable spots have no score.
    let expired = key("SPXW", TODAY - 1.days(), Right::Call, 6850.0);
    assert_eq!(config.score(&expired, 6850.0, TODAY), None);
    assert_eq!(config.score(&atm, f64::NAN, TODAY), None);
    assert_eq!(config.score(&atm, 0.0, TODAY), None);
}

#[test]
fn calls_and_puts_are_quoted_in_pairs() {
    // One root, distinct scores per (strike, expiry): every tie is a call and its
    // put, so an even budget quotes whole pairs.
    let keys = board("SPXW", &[0, 1, 2, 5], 6000, 7500, 5);
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig {
        quote_budget: 300,
        ..PlannerConfig::default()
    });
    planner.update(&[view("SPX", &e, &keys, Some(6852.5))], TODAY);
    let quoted = quoted_set(planner.current());
    assert_eq!(quoted.len(), 300);
    for k in &quoted {
        let right = match k.right {
            Right::Call => Right::Put,
            Right::Put => Right::Call,
        };
        assert!(
            quoted.contains(&ContractKey { right, ..*k }),
            "{k} without its pair"
        );
    }
}

#[test]
fn a_spot_move_inside_the_band_keeps_the_plan() {
    let spx = spx_board();
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig::default());
    assert!(
        planner
            .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
            .is_some()
    );
    let before = planner.current().clone();
    for spot in [6851.0, 6850.0 * 1.0024, 6850.0 * 0.9976, 6849.0] {
        assert_eq!(
            planner.update(&[view("SPX", &e, &spx, Some(spot))], TODAY),
            None
        );
    }
    // A missing spot keeps the plan too.
    assert_eq!(planner.update(&[view("SPX", &e, &spx, None)], TODAY), None);
    assert_eq!(planner.current(), &before);
}

#[test]
fn a_spot_move_outside_the_band_replans_only_what_changed() {
    let spx = spx_board();
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig::default());
    planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
    let old: BTreeSet<String> = planner.current().params().into_iter().collect();
    // The band is measured from the anchor: a drift of 0.1% a step re-plans on
    // the third step, not never.
    let mut change = None;
    for (step, expect_replan) in [(1, false), (2, false), (3, true)] {
        let spot = 6850.0 * (1.0 + 0.001 * f64::from(step));
        change = planner.update(&[view("SPX", &e, &spx, Some(spot))], TODAY);
        assert_eq!(change.is_some(), expect_replan, "step {step}");
    }
    let change = change.unwrap();
    assert!(!change.is_empty());
    assert!(change.unsubscribe.iter().all(|p| old.contains(p)));
    assert!(change.subscribe.iter().all(|p| !old.contains(p)));
    // Same board, same trades: only quotes move, and only at the region's edges.
    assert!(
        change
            .unsubscribe
            .iter()
            .chain(&change.subscribe)
            .all(|p| p.starts_with("Q."))
    );
    assert!(
        change.subscribe.len() < 250,
        "{} new quotes",
        change.subscribe.len()
    );
    assert_eq!(change.unsubscribe.len(), change.subscribe.len());
    let anchor = planner.current().anchor(underlying("SPX")).unwrap();
    assert_eq!(anchor.source, AnchorSource::Spot);
    assert!((anchor.spot - 6850.0 * 1.003).abs() < 1e-9);
}

#[test]
fn new_epochs_boards_and_days_replan() {
    let (spx, ndx) = (spx_board(), ndx_board());
    let (e1, e2, n1) = (epoch("SPX", 1), epoch("SPX", 2), epoch("NDX", 1));
    let mut planner = Planner::new(PlannerConfig::default());
    assert_eq!(planner.update(&[], TODAY), None, "nothing to plan");
    assert!(
        planner
            .update(&[view("SPX", &e1, &spx, Some(6850.0))], TODAY)
            .is_some()
    );

    // A new epoch re-plans even with nothing else changed.
    let fewer: Vec<ContractKey> = spx
        .iter()
        .copied()
        .filter(|k| k.strike.milli() != 6_850_000)
        .collect();
    let change = planner
        .update(&[view("SPX", &e2, &fewer, Some(6850.0))], TODAY)
        .unwrap();
    assert!(change.subscribe.is_empty() || change.subscribe.iter().all(|p| p.starts_with("Q.")));
    assert!(
        change
            .unsubscribe
            .iter()
            .any(|p| p == "T.O:SPXW261124C06850000")
    );
    assert!(
        change
            .unsubscribe
            .iter()
            .any(|p| p == "Q.O:SPXW261124C06850000")
    );
    assert_eq!(planner.current().summary().boards[0].epoch, e2);

    // Adding a board re-plans and shares the budget.
    let boards = [
        view("SPX", &e2, &fewer, Some(6850.0)),
        view("NDX", &n1, &ndx, Some(21000.0)),
    ];
    let change = planner.update(&boards, TODAY).unwrap();
    assert!(change.unsubscribe.iter().all(|p| p.starts_with("Q.O:SPX")));
    assert_eq!(planner.current().quoted().len(), 1_000);
    assert_eq!(planner.update(&boards, TODAY), None);

    // A new day re-plans: today's 0DTE has expired.
    let tomorrow = TODAY + 1.days();
    let change = planner.update(&boards, tomorrow).unwrap();
    assert!(
        change
            .unsubscribe
            .iter()
            .any(|p| p == "Q.O:SPXW261124C06855000")
    );
    assert!(
        planner
            .current()
            .quoted()
            .iter()
            .all(|k| k.expiration >= tomorrow)
    );

    // Removing a board unsubscribes all of it.
    let change = planner.update(&boards[1..], tomorrow).unwrap();
    assert!(change.subscribe.iter().all(|p| p.starts_with("Q.O:NDXP")));
    let spx_trades = change
        .unsubscribe
        .iter()
        .filter(|p| p.starts_with("T.O:SPX"))
        .count();
    assert_eq!(spx_trades, fewer.len());
    assert!(
        planner
            .current()
            .traded()
            .iter()
            .all(|k| k.root.as_str() == "NDXP")
    );

    // And removing the last one empties the plan.
    let change = planner.update(&[], tomorrow).unwrap();
    assert!(change.subscribe.is_empty());
    assert!(planner.current().is_empty());
}

#[test]
fn a_board_without_spot_is_anchored_at_its_median_strike_until_one_arrives() {
    let keys = board("SPXW", &[0, 1], 6000, 7000, 5);
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig {
        quote_budget: 40,
        ..PlannerConfig::default()
    });
    let change = planner
        .update(&[view("SPX", &e, &keys, None)], TODAY)
        .unwrap();
    let anchor = change.summary.boards[0].anchor.unwrap();
    assert_eq!(anchor.source, AnchorSource::MedianStrike);
    assert_eq!(anchor.spot, 6500.0);
    assert!(
        planner
            .current()
            .quoted()
            .contains(&key("SPXW", TODAY, Right::Put, 6500.0))
    );
    assert_eq!(planner.update(&[view("SPX", &e, &keys, None)], TODAY), None);

    // The first real spot re-plans even inside the band of the median.
    let change = planner
        .update(&[view("SPX", &e, &keys, Some(6501.0))], TODAY)
        .unwrap();
    assert_eq!(
        change.summary.boards[0].anchor.unwrap().source,
        AnchorSource::Spot
    );

    // Losing the spot afterwards keeps the last one as the centre of new plans.
    let e2 = epoch("SPX", 2);
    let change = planner
        .update(&[view("SPX", &e2, &keys, None)], TODAY)
        .unwrap();
    let anchor = change.summary.boards[0].anchor.unwrap();
    assert_eq!(
        (anchor.source, anchor.spot),
        (AnchorSource::LastSpot, 6501.0)
    );
    assert!(change.is_empty(), "same centre, same contracts: {change:?}");
}

#[test]
fn reset_resubscribes_everything_and_unsubscribes_nothing() {
    let (spx, ndx) = (spx_board(), ndx_board());
    let (e_spx, e_ndx) = (epoch("SPX", 1), epoch("NDX", 1));
    let mut planner = Planner::new(PlannerConfig::default());
    assert!(planner.reset().subscribe.is_empty());
    let boards = [
        view("SPX", &e_spx, &spx, Some(6850.0)),
        view("NDX", &e_ndx, &ndx, Some(21000.0)),
    ];
    let first = planner.update(&boards, TODAY).unwrap();
    let reset = planner.reset();
    assert!(reset.unsubscribe.is_empty());
    assert_eq!(reset.subscribe, first.subscribe);
    assert_eq!(reset.subscribe, planner.current().params());
    assert_eq!(reset.subscribe.len(), 1_000 + spx.len() + ndx.len());
    // Quotes first, then trades, each sorted.
    let split = reset
        .subscribe
        .iter()
        .position(|p| p.starts_with("T."))
        .unwrap();
    assert_eq!(split, 1_000);
    assert!(
        reset.subscribe[..split]
            .iter()
            .all(|p| p.starts_with("Q.O:"))
    );
    assert!(
        reset.subscribe[split..]
            .iter()
            .all(|p| p.starts_with("T.O:"))
    );
    assert!(planner.current().quoted().is_sorted());
    // The plan is unchanged: the next update with the same input does nothing.
    assert_eq!(planner.update(&boards, TODAY), None);
}

#[test]
fn trades_can_be_turned_off() {
    let spx = spx_board();
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig {
        trades: false,
        ..PlannerConfig::default()
    });
    let change = planner
        .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
        .unwrap();
    assert!(change.subscribe.iter().all(|p| p.starts_with("Q.")));
    assert!(planner.current().traded().is_empty());
}

#[test]
fn bad_config_numbers_fall_back_to_defaults() {
    let planner = Planner::new(PlannerConfig {
        hysteresis: f64::NAN,
        moneyness_unit: 0.0,
        days_unit: -1.0,
        ..PlannerConfig::default()
    });
    let (config, default) = (planner.config(), PlannerConfig::default());
    assert_eq!(config.hysteresis, default.hysteresis);
    assert_eq!(config.moneyness_unit, default.moneyness_unit);
    assert_eq!(config.days_unit, default.days_unit);
}

#[test]
fn the_summary_is_one_readable_line() {
    let spx = spx_board();
    let e = epoch("SPX", 3);
    let mut planner = Planner::new(PlannerConfig::default());
    let change = planner
        .update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY)
        .unwrap();
    let line = change.summary.to_string();
    assert!(!line.contains('\n'));
    assert!(line.starts_with(&format!("1000/1000 quotes, {} trades; SPX SPX-20261124-0003 spot 6850.00: 1000/{} quoted, strikes ", spx.len(), spx.len())), "{line}");
    assert!(line.contains("expirations 2026-11-24"), "{line}");
}

/// Checks a batch of control messages against the params they were made from.
fn check_messages(action: Action, params: &[String], max_bytes: usize) {
    let messages = control_messages(action, params, max_bytes);
    let mut seen = Vec::new();
    for m in &messages {
        assert!(m.len() < max_bytes, "{} bytes >= {max_bytes}: {m}", m.len());
        let json: serde_json::Value = serde_json::from_str(m).unwrap();
        assert_eq!(json["action"], action.as_str());
        let joined = json["params"].as_str().unwrap();
        assert!(!joined.is_empty());
        seen.extend(joined.split(',').map(str::to_owned));
    }
    assert_eq!(seen, params, "every param exactly once, in order");
}

#[test]
fn control_messages_fit_and_carry_every_param_once() {
    let keys = board("SPXW", &[0, 1], 6000, 7000, 5);
    let params: Vec<String> = keys.iter().map(|k| param("Q.", k)).collect();
    let head = r#"{"action":"unsubscribe","params":""}"#.len();
    let one = params[0].len();
    // Room for exactly one param, two, a handful, and Massive's own limit.
    for max_bytes in [
        head + one + 1,
        head + 2 * one + 2,
        300,
        MAX_CONTROL_MESSAGE_BYTES,
    ] {
        for action in [Action::Subscribe, Action::Unsubscribe] {
            check_messages(action, &params, max_bytes);
        }
    }
    assert_eq!(
        control_messages(Action::Subscribe, &params, MAX_CONTROL_MESSAGE_BYTES).len(),
        1
    );
    assert_eq!(
        control_messages(Action::Subscribe, &params, head + one + 1).len(),
        params.len()
    );
    assert!(control_messages(Action::Subscribe, &[], 100).is_empty());
    // Odd params still make valid JSON.
    check_messages(
        Action::Subscribe,
        &["Q.\"x\\y\u{1}".to_owned(), "T.ü".to_owned()],
        200,
    );
}

#[test]
fn change_messages_unsubscribe_before_they_subscribe() {
    let spx = spx_board();
    let e = epoch("SPX", 1);
    let mut planner = Planner::new(PlannerConfig::default());
    planner.update(&[view("SPX", &e, &spx, Some(6850.0))], TODAY);
    let change = planner
        .update(&[view("SPX", &e, &spx, Some(6900.0))], TODAY)
        .unwrap();
    let messages = change.messages(500);
    let first_subscribe = messages
        .iter()
        .position(|m| m.contains(r#""action":"subscribe""#))
        .unwrap();
    assert!(first_subscribe > 0);
    assert!(
        messages[..first_subscribe]
            .iter()
            .all(|m| m.contains(r#""action":"unsubscribe""#))
    );
    assert!(
        messages[first_subscribe..]
            .iter()
            .all(|m| m.contains(r#""action":"subscribe""#))
    );
}

/// One step of the property test: which boards exist, their epochs and spots, and
/// the day.
#[derive(Debug, Clone)]
struct Step {
    spx: Option<(u32, Option<f64>)>,
    ndx: Option<(u32, Option<f64>)>,
    day: i64,
}

fn step() -> impl Strategy<Value = Step> {
    let spx = proptest::option::weighted(
        0.9,
        (1u32..4, proptest::option::weighted(0.8, 90.0f64..110.0)),
    );
    let ndx = proptest::option::weighted(
        0.6,
        (1u32..4, proptest::option::weighted(0.8, 180.0f64..240.0)),
    );
    (spx, ndx, 0i64..3).prop_map(|(spx, ndx, day)| Step { spx, ndx, day })
}

/// A small board whose contracts depend on the epoch, so new epochs move trades.
fn small_board(root: &str, seq: u32, lo: u32, hi: u32, step: u32) -> Vec<ContractKey> {
    let days: Vec<i64> = (-1..5).collect();
    board(root, &days, lo + seq * step, hi - (seq % 2) * step, step)
}

proptest! {
    /// Applying each change (unsubscribes, then subscribes) to what was subscribed
    /// gives exactly the new plan, never holds more quotes than the budget, and
    /// never names a param on both sides.
    #[test]
    fn applying_each_change_gives_exactly_the_new_plan(
        budget in 0usize..80,
        hysteresis in 0.0f64..0.03,
        steps in proptest::collection::vec(step(), 1..10),
    ) {
        let mut planner = Planner::new(PlannerConfig { quote_budget: budget, hysteresis, ..PlannerConfig::default() });
        let mut live: BTreeSet<String> = BTreeSet::new();
        let quotes = |set: &BTreeSet<String>| set.iter().filter(|p| p.starts_with("Q.")).count();
        for s in &steps {
            let today = TODAY + s.day.days();
            let spx_epoch = s.spx.map(|(seq, _)| epoch("SPX", seq));
            let ndx_epoch = s.ndx.map(|(seq, _)| epoch("NDX", seq));
            let spx_keys = s.spx.map(|(seq, _)| small_board("SPXW", seq, 80, 120, 1)).unwrap_or_default();
            let ndx_keys = s.ndx.map(|(seq, _)| small_board("NDXP", seq, 160, 260, 2)).unwrap_or_default();
            let mut boards = Vec::new();
            if let (Some(e), Some((_, spot))) = (&spx_epoch, s.spx) {
                boards.push(view("SPX", e, &spx_keys, spot));
            }
            if let (Some(e), Some((_, spot))) = (&ndx_epoch, s.ndx) {
                boards.push(view("NDX", e, &ndx_keys, spot));
            }
            let Some(change) = planner.update(&boards, today) else {
                prop_assert_eq!(&live, &planner.current().params().into_iter().collect());
                continue;
            };
            let unsub: BTreeSet<&String> = change.unsubscribe.iter().collect();
            prop_assert!(change.subscribe.iter().all(|p| !unsub.contains(p)), "a param on both sides");
            for p in &change.unsubscribe {
                prop_assert!(live.remove(p), "unsubscribing {} which is not subscribed", p);
            }
            prop_assert!(quotes(&live) <= budget);
            for p in &change.subscribe {
                prop_assert!(live.insert(p.clone()), "subscribing {} twice", p);
            }
            prop_assert!(quotes(&live) <= budget);
            let plan = planner.current();
            prop_assert_eq!(&live, &plan.params().into_iter().collect());
            prop_assert!(plan.quoted().iter().all(|k| !planner.config().is_expired(k, today)));
            let mut fresh = Planner::new(planner.config().clone());
            if !boards.is_empty() && boards.iter().all(|b| b.spot.is_some()) {
                // With every spot present a plan depends on its inputs alone.
                fresh.update(&boards, today);
                prop_assert_eq!(fresh.current(), plan);
            }
        }
    }

    /// Control messages stay under the limit, parse, and carry each param once.
    #[test]
    fn control_messages_cover_params_under_any_limit(
        params in proptest::collection::vec("[QT]\\.O:[A-Z]{3,4}[0-9]{6}[CP][0-9]{8}", 0..60),
        extra in 0usize..400,
    ) {
        let max_bytes = r#"{"action":"unsubscribe","params":""}"#.len() + 24 + extra;
        for action in [Action::Subscribe, Action::Unsubscribe] {
            check_messages(action, &params, max_bytes);
        }
    }
}

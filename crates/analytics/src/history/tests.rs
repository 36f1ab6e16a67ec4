//! The history entry format and document, read back and rendered.

use super::*;

#[test]
fn profile_field_names_follow_the_filters() {
    for (filter, name) in PROFILE_FILTERS.into_iter().zip(PROFILE_FIELDS) {
        assert_eq!(name, format!("{}.profile", filter.as_str()));
    }
}

#[test]
fn strikes_are_written_as_runs_and_read_back() {
    let cases: [&[f64]; 6] = [
        &[],
        &[6000.0],
        &[6000.0, 6005.0],
        &[
            5990.0, 5995.0, 6000.0, 6005.0, 6025.0, 6050.0, 6075.0, 6100.0, 6110.0,
        ],
        &[22_012.5, 22_025.0, 22_037.5, 22_050.0, 22_100.0],
        &[1.1, 1.2, 1.3, 1.4],
    ];
    for strikes in cases {
        let text = strike_runs(strikes);
        assert_eq!(expand_strikes(&text).as_deref(), Some(strikes), "{text}");
    }
    assert_eq!(
        strike_runs(&[
            5990.0, 5995.0, 6000.0, 6005.0, 6025.0, 6050.0, 6075.0, 6100.0, 6110.0
        ]),
        "5990:6005:5,6025:6100:25,6110"
    );
    for bad in [
        "1:0:1",
        "0:10:0",
        "0:10:-1",
        "0:1e9:0.001",
        "0:10:3",
        "1:2",
        "x",
        "1,,2",
    ] {
        assert_eq!(expand_strikes(bad), None, "{bad}");
    }
}

#[test]
fn a_plan_cuts_the_range_into_columns() {
    let plan = HistoryPlan::new(10_000, 14_999, Some(2_000)).expect("valid");
    assert_eq!(
        plan.ranges(),
        [(10_000, 11_999), (12_000, 13_999), (14_000, 14_999)]
    );
    // A session by default: 1,500 columns at most, whole seconds.
    let session = 23_400_000;
    let plan = HistoryPlan::new(0, session - 1, None).expect("valid");
    assert_eq!(plan.step_ms, 16_000);
    assert!(plan.columns() <= HistoryPlan::DEFAULT_COLUMNS);
    let short = HistoryPlan::new(0, 59_999, None).expect("valid");
    assert_eq!((short.step_ms, short.columns()), (1_000, 60));
    let one = HistoryPlan::new(5, 5, None).expect("valid");
    assert_eq!(one.ranges(), [(5, 5)]);
}

#[test]
fn a_plan_names_the_parameter_it_cannot_serve() {
    let name = |r: Result<HistoryPlan, BadParameter>| r.map_err(|e| e.name);
    assert_eq!(name(HistoryPlan::new(2, 1, None)), Err("from"));
    assert_eq!(name(HistoryPlan::new(0, 10_000, Some(999))), Err("step"));
    assert_eq!(
        name(HistoryPlan::new(0, 23_400_000, Some(1_000))),
        Err("step"),
        "23,400 columns"
    );
    // Beyond the year 9999 (a damaged stream id): clamped, never overflowing.
    let far = HistoryPlan::new(0, u64::MAX - 1, None).expect("clamped");
    assert_eq!(far.to_ms, HistoryPlan::LAST_MS);
    assert!(
        far.ranges()
            .last()
            .is_some_and(|r| r.1 == HistoryPlan::LAST_MS)
    );
    let late = HistoryPlan::new(u64::MAX - 5, u64::MAX, Some(u64::MAX)).expect("clamped");
    assert_eq!(
        late.ranges(),
        [(HistoryPlan::LAST_MS, HistoryPlan::LAST_MS)]
    );
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn an_entry_reads_back_and_bad_ones_say_why() {
    let entry = vec![
        ("tick", "1,7,1765000000.25,SPX-20261204-0001,6000.5"),
        (
            "levels",
            "-1e9,2e8,,none_in_range,6100,5900;1,2,6001.5,found,6050,5950;,,,pending,,;,,,pending,,;,,,pending,,",
        ),
        ("strikes", "5995,6000,6005"),
        ("all.profile", "1.5,-2,0"),
        ("0dte.profile", "0,0.1,0"),
    ];
    let mut reader = EntryReader::new(ExpiryFilter::All);
    let sample = reader.read(&fields(&entry)).expect("reads");
    assert_eq!(sample.seq, 7);
    assert_eq!(sample.ts_ms, 1_765_000_000_250);
    assert_eq!((sample.net_gex, sample.zero_gamma), (Some(-1e9), None));
    assert_eq!(sample.zero_gamma_status, "none_in_range");
    assert_eq!(sample.call_wall, Some(6100.0));
    let profile = sample.profile.expect("a profile");
    assert_eq!(*profile.strikes, [5995.0, 6000.0, 6005.0]);
    assert_eq!(profile.numbers().collect::<Vec<_>>(), [1.5, -2.0, 0.0]);
    // The next entry with the same strikes shares them.
    let again = reader.read(&fields(&entry)).expect("reads");
    assert!(Arc::ptr_eq(
        &again.profile.expect("a profile").strikes,
        &profile.strikes
    ));
    let week = EntryReader::new(ExpiryFilter::Week)
        .read(&fields(&entry))
        .expect("reads");
    assert_eq!(week.profile, None, "no profile kept for 7d");

    let broken = |name: &str, value: &str| {
        let mut e = fields(&entry);
        e.iter_mut().find(|(f, _)| f == name).expect("field").1 = value.to_owned();
        EntryReader::new(ExpiryFilter::All)
            .read(&e)
            .expect_err("broken")
            .0
    };
    assert_eq!(
        broken("tick", "2,7,1765000000.25,SPX-20261204-0001,6000.5"),
        "entry format \"2\""
    );
    assert!(broken("all.profile", "1,2").contains("2 values for 3 strikes"));
    for not_json in [
        "1,2,]", "1,,2", "1,2,3e", "1,02,3", "1,.5,3", "1,2,x", "1,2,3]",
    ] {
        assert!(
            broken("all.profile", not_json).contains("all.profile"),
            "{not_json}"
        );
    }
    for out_of_range in [
        "1e999,2,3",
        "1,11111111111111111,3",
        "1,0.0000000000000001,3",
        "nul,2,3",
        "null2,2,3",
    ] {
        assert!(
            broken("all.profile", out_of_range).contains("all.profile"),
            "{out_of_range}"
        );
    }
    assert!(broken("tick", "1,7,1765000000.25,E,1e300").contains("not an index level"));
    assert!(broken("tick", "1,7,1e300,E,6000").contains("time out of range"));
    assert!(
        broken(
            "levels",
            ",,1e9,found,,;,,,pending,,;,,,pending,,;,,,pending,,;,,,pending,,"
        )
        .contains("index level")
    );
    assert!(
        broken(
            "levels",
            ",,,\"}]x,,;,,,pending,,;,,,pending,,;,,,pending,,;,,,pending,,"
        )
        .contains("status")
    );
    assert!(
        broken("strikes", "0,1,2").contains("strikes"),
        "a strike of 0"
    );
    let fine = ["1,-0,3", "1.5,-2e5,3E+2", "0,0.25,-12.5", "1,null,3"];
    for json in fine {
        let mut e = fields(&entry);
        e.iter_mut()
            .find(|(f, _)| f == "all.profile")
            .expect("field")
            .1 = json.to_owned();
        assert!(
            EntryReader::new(ExpiryFilter::All).read(&e).is_ok(),
            "{json}"
        );
    }
    assert!(broken("strikes", "1,x,3").contains("strikes"));
    assert!(broken("strikes", "3,2,1").contains("strikes"), "unsorted");
    assert!(broken("tick", "1,7,1765000000.25,E,NaN").contains("tick"));
    assert!(broken("tick", "1,7,1765000000.25,E").contains("4 values"));
    assert!(broken("levels", "1,2;;;;").contains("2 values for all"));
    assert!(broken("levels", ",,,x,,;,,,x,,").contains("2 filters"));
    assert!(broken("levels", "x,,,found,,;;;;").contains("levels"));
    let mut reader = EntryReader::new(ExpiryFilter::All);
    assert!(reader.read(&fields(&entry[1..])).is_err(), "no version");
}

#[test]
fn flow_levels_and_hedge_pressure_read_back_for_the_readers_filter() {
    let entry = fields(&[
        ("tick", "1,7,1765000000.25,SPX-20261204-0001,6000.5"),
        (
            "levels",
            ",,,pending,,;,,,pending,,;,,,pending,,;,,,pending,,;,,,pending,,;,,,pending,,",
        ),
        (
            "flow",
            "-5e8,5990.25,found,6050,5900;1,,one_sided,,;,,pending,,;,,pending,,;,,pending,,;,,pending,,",
        ),
        ("hedge", "-2500000000,400000000,-1e7,2e6,0.9125"),
        ("strikes", "5995,6000,6005"),
        ("all.profile", "1,2,3"),
        ("0dte.profile", "0,0,0"),
    ]);
    let all = EntryReader::new(ExpiryFilter::All)
        .read(&entry)
        .expect("reads");
    let flow = all.flow.expect("flow");
    assert_eq!(
        (flow.net_gex, flow.zero_gamma, flow.call_wall, flow.put_wall),
        (Some(-5e8), Some(5990.25), Some(6050.0), Some(5900.0))
    );
    let hedge = all.hedge.expect("hedge");
    assert_eq!(hedge.delta_0dte, Some(-2.5e9));
    assert_eq!(hedge.signed_share, Some(0.9125));
    let zero = EntryReader::new(ExpiryFilter::ZeroDte)
        .read(&entry)
        .expect("reads");
    assert_eq!(zero.flow.expect("flow").net_gex, Some(1.0));
    // Entries written before flow have neither; damaged ones say which field.
    let older: Vec<_> = entry
        .iter()
        .filter(|(f, _)| f != "flow" && f != "hedge")
        .cloned()
        .collect();
    let old = EntryReader::new(ExpiryFilter::All)
        .read(&older)
        .expect("reads");
    assert_eq!((old.flow, old.hedge), (None, None));
    let mut bad = entry.clone();
    bad[2].1 = "1,2,3".to_owned();
    let err = EntryReader::new(ExpiryFilter::All).read(&bad).unwrap_err();
    assert!(err.0.contains("flow"), "{err:?}");
}

#[test]
fn the_document_places_profiles_on_one_strike_axis() {
    let sample = |seq: u64, strikes: &[f64], values: &str| Sample {
        seq,
        ts_ms: 1_000 * seq as i64,
        epoch: "E\"1".to_owned(),
        spot: Some(100.0),
        net_gex: Some(1.0),
        net_gex_volume: None,
        zero_gamma: None,
        zero_gamma_status: "none_in_range".to_owned(),
        call_wall: Some(105.0),
        put_wall: None,
        profile: Some(Profile {
            strikes: strikes.into(),
            values: values.to_owned(),
        }),
        flow: (seq == 2).then_some(FlowLevels {
            net_gex: Some(-2.0),
            zero_gamma: Some(101.5),
            call_wall: None,
            put_wall: Some(95.0),
        }),
        hedge: (seq == 2).then_some(HedgeSample {
            delta_0dte: Some(-3e6),
            delta_rest: Some(1e6),
            gamma_0dte: None,
            gamma_rest: Some(0.0),
            signed_share: Some(0.875),
        }),
    };
    let plan = HistoryPlan::new(0, 3_999, Some(1_000)).expect("valid");
    let samples = [
        Some(sample(0, &[95.0, 100.0], "1,2.5")),
        None,
        Some(sample(2, &[100.0, 105.0], "3,-4")),
        Some(sample(3, &[95.0, 100.0, 105.0], "0.1,0.2,0.3")),
    ];
    let doc = document(
        Underlying::new("SPX").expect("valid"),
        ExpiryFilter::All,
        &plan,
        &samples,
        1,
    );
    let value: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert_eq!(value["strikes"], serde_json::json!([95, 100, 105]));
    let columns = value["columns"].as_array().expect("columns");
    assert_eq!(columns.len(), 3, "the empty column is left out");
    assert_eq!(columns[0]["profile"], serde_json::json!([1, 2.5, null]));
    assert_eq!(columns[1]["profile"], serde_json::json!([null, 3, -4]));
    assert_eq!(columns[2]["profile"], serde_json::json!([0.1, 0.2, 0.3]));
    assert_eq!(columns[1]["t"], 2);
    assert_eq!(columns[0]["epoch"], "E\"1");
    assert_eq!(value["skipped"], 1);
}

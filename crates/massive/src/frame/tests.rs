//! The frame parser against hand-written frames (every event kind, every kind of
//! damage) and against serde_json as the reference, including after the shape cache
//! has learned a layout.

use super::*;
use proptest::prelude::*;

/// Records everything a frame delivered, in order, as owned values.
#[derive(Debug, Default)]
struct Recorder {
    events: Vec<String>,
    quotes: Vec<(String, f64, f64, u64, u64, i64)>,
}

impl FrameSink for Recorder {
    fn quote(&mut self, q: &MassiveQuote<'_>) {
        self.events.push(format!("Q {}", q.sym));
        self.quotes.push((
            q.sym.to_owned(),
            q.bid,
            q.ask,
            q.bid_size,
            q.ask_size,
            q.ts_ms,
        ));
    }
    fn trade(&mut self, t: &MassiveTrade<'_>) {
        self.events
            .push(format!("T {} {}x{} @{}", t.sym, t.size, t.price, t.ts_ms));
    }
    fn aggregate(&mut self, a: &MassiveAggregate<'_>) {
        self.events.push(format!(
            "{:?} {} av={:?} c={:?}",
            a.span, a.sym, a.day_volume, a.close
        ));
    }
    fn index_value(&mut self, v: &MassiveIndexValue<'_>) {
        self.events
            .push(format!("V {} {} @{}", v.ticker, v.value, v.ts_ms));
    }
    fn status(&mut self, s: &MassiveStatus<'_>) {
        self.events
            .push(format!("status {} {:?}", s.status, s.message));
    }
}

fn parse(frame: &str) -> (Result<FrameStats, FrameError>, Recorder) {
    let mut rec = Recorder::default();
    let result = FrameParser::new().parse(frame, &mut rec);
    (result, rec)
}

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn parses_the_documented_quote() {
    let (r, rec) = parse(
        r#"[{"ev":"Q","sym":"O:SPY241220P00720000","bx":302,"ax":302,"bp":9.71,"ap":9.81,"bs":17,"as":24,"t":1644506128351,"q":844090872}]"#,
    );
    assert_eq!(r.unwrap().quotes, 1);
    assert_eq!(
        rec.quotes,
        [(
            "O:SPY241220P00720000".into(),
            9.71,
            9.81,
            17,
            24,
            1_644_506_128_351
        )]
    );
}

#[test]
fn exchange_ids_and_sequence_numbers_read_on_demand() {
    #[derive(Default)]
    struct Raw(Vec<(Option<i64>, Option<i64>, Option<i64>)>);
    impl FrameSink for Raw {
        fn quote(&mut self, q: &MassiveQuote<'_>) {
            self.0
                .push((q.bid_exchange.get(), q.ask_exchange.get(), q.seq.get()));
        }
        fn trade(&mut self, t: &MassiveTrade<'_>) {
            self.0.push((t.exchange.get(), None, t.seq.get()));
        }
    }
    let mut raw = Raw::default();
    let frame = data("frame_mixed.json");
    FrameParser::new().parse(&frame, &mut raw).unwrap();
    assert_eq!(raw.0[0], (Some(302), Some(302), Some(844_090_872)));
    assert_eq!(raw.0[1], (Some(65), None, Some(844_090_873)));
    let mut raw = Raw::default();
    let bare = r#"[{"ev":"Q","sym":"O:SPX261218P05000000","bp":1,"ap":2,"bs":1,"as":1,"t":1795532400000,"q":1e3}]"#;
    FrameParser::new().parse(bare, &mut raw).unwrap();
    assert_eq!(
        raw.0[0],
        (None, None, None),
        "absent ids, non-integer sequence"
    );
}

#[test]
fn trade_conditions_read_on_demand_on_both_paths() {
    #[derive(Default)]
    struct Codes(Vec<Vec<u32>>);
    impl FrameSink for Codes {
        fn trade(&mut self, t: &MassiveTrade<'_>) {
            self.0.push(t.conditions.codes().collect());
        }
    }
    let frame = concat!(
        r#"[{"ev":"T","sym":"O:SPXW261130C06965000","x":302,"p":10,"s":7,"c":[232,219],"t":1795536000000,"q":1},"#,
        r#"{"ev":"T","sym":"O:SPXW261130C06965000","x":302,"p":10,"s":7,"t":1795536000000,"q":2},"#,
        r#"{"c": [ 227 , "x" ],"ev":"T","sym":"O:SPXW261130C06965000","p":10,"s":7,"t":1795536000000}]"#,
    );
    for mut parser in [FrameParser::new(), FrameParser::general_only()] {
        let mut codes = Codes::default();
        parser.parse(frame, &mut codes).unwrap();
        assert_eq!(codes.0, [vec![232, 219], vec![], vec![227, u32::MAX]]);
    }
}

#[test]
fn status_only_frames_from_the_handshake() {
    for (frame, expected) in [
        (
            r#"[{"ev":"status","status":"connected","message":"Connected Successfully"}]"#,
            "status connected \"Connected Successfully\"",
        ),
        (
            r#"[{"ev":"status","status":"success","message":"Connected Successfully"}]"#,
            "status success \"Connected Successfully\"",
        ),
        (
            r#"[{"ev":"status","status":"auth_success","message":"authenticated"}]"#,
            "status auth_success \"authenticated\"",
        ),
        (
            r#"[{"ev":"status","status":"auth_failed","message":"authentication failed"}]"#,
            "status auth_failed \"authentication failed\"",
        ),
        (
            r#"[{"ev":"status","status":"max_connections"}]"#,
            "status max_connections \"\"",
        ),
    ] {
        let (r, rec) = parse(frame);
        assert_eq!(r.unwrap().statuses, 1, "{frame}");
        assert_eq!(rec.events, [expected]);
    }
}

#[test]
fn mixed_frame_delivers_every_kind_in_order() {
    let (r, rec) = parse(&data("frame_mixed.json"));
    let stats = r.unwrap();
    assert_eq!(
        (
            stats.quotes,
            stats.trades,
            stats.aggregates,
            stats.index_values,
            stats.statuses,
            stats.unknown,
            stats.invalid
        ),
        (2, 1, 2, 1, 1, 1, 0)
    );
    assert_eq!(
        rec.events,
        [
            "status success \"subscribed to: Q.O:SPXW261124C06850000\"",
            "Q O:SPXW261124C06850000",
            "T O:SPXW261124C06850000 3x12.4 @1795532400100",
            "Second O:SPXW261124C06850000 av=Some(1520) c=Some(12.4)",
            "Minute I:SPX av=None c=Some(6851.25)",
            "V I:SPX 6850.12 @1795532400150",
            "Q O:SPXW261124P06800000",
        ]
    );
}

#[test]
fn field_order_does_not_matter() {
    let (r, rec) = parse(
        r#"[{"t":1795532400000,"as":2,"bs":1,"ap":1.1,"bp":1.0,"sym":"O:SPX261218P05000000","ev":"Q"}]"#,
    );
    assert_eq!(r.unwrap().quotes, 1);
    assert_eq!(rec.quotes[0].0, "O:SPX261218P05000000");
}

#[test]
fn timestamps_of_any_unit_become_milliseconds() {
    for t in [
        "1795532400",
        "1795532400000",
        "1795532400000000",
        "1795532400000000000",
        "1.7955324e12",
    ] {
        let frame = format!(
            r#"[{{"ev":"Q","sym":"O:SPX261218P05000000","bp":1,"ap":2,"bs":1,"as":1,"t":{t}}}]"#
        );
        let (r, rec) = parse(&frame);
        assert_eq!(r.unwrap().quotes, 1, "{t}");
        assert_eq!(rec.quotes[0].5, 1_795_532_400_000, "{t}");
    }
}

#[test]
fn escaped_strings_are_decoded() {
    let (r, rec) = parse(
        r#"[{"ev":"\u0051","sym":"\u004F:SPX261218P05000000","bp":1,"ap":2,"bs":1,"as":1,"t":1795532400000},
            {"ev":"status","status":"info","message":"tab\there \"quoted\" \ud83d\ude00"}]"#,
    );
    assert_eq!(r.unwrap().delivered(), 2);
    assert_eq!(
        rec.events,
        [
            "Q O:SPX261218P05000000",
            "status info \"tab\\there \\\"quoted\\\" 😀\""
        ]
    );
}

#[test]
fn unknown_and_invalid_events_are_counted_and_skipped() {
    let frame = r#"[
        {"ev":"LULD","sym":"O:X"},
        {"ev":"Q","sym":"O:SPX261218P05000000","ap":2,"bs":1,"as":1,"t":1795532400000},
        {"ev":"Q","sym":"O:SPX261218P05000000","bp":"1.0","ap":2,"bs":1,"as":1,"t":1795532400000},
        {"ev":"Q","sym":"O:SPX261218P05000000","bp":1,"ap":2,"bs":-1,"as":1,"t":1795532400000},
        {"ev":"T","sym":"O:SPX261218P05000000","p":1.5,"s":2.5,"t":1795532400000},
        {"sym":"O:SPX261218P05000000"},
        {"ev":"status","status":"auth_timeout","message":null},
        {"ev":"Q","sym":"O:SPX261218P05000000","bp":1,"ap":2,"bs":1,"as":1,"t":1795532400000}
    ]"#;
    let (r, rec) = parse(frame);
    let stats = r.unwrap();
    assert_eq!((stats.unknown, stats.invalid, stats.quotes), (1, 5, 1));
    assert_eq!(
        rec.events,
        ["status auth_timeout \"\"", "Q O:SPX261218P05000000"]
    );
}

#[test]
fn damage_keeps_what_came_before_and_says_where() {
    let good =
        r#"{"ev":"Q","sym":"O:SPX261218P05000000","bp":1,"ap":2,"bs":1,"as":1,"t":1795532400000}"#;
    let cases = [
        (
            format!("[{good},{good},{{\"ev\":\"Q\",\"sym\":"),
            2,
            FrameErrorKind::UnexpectedEnd,
        ),
        (format!("[{good},{good}"), 2, FrameErrorKind::UnexpectedEnd),
        (
            format!("[{good},{{\"ev\":\"Q\",\"bp\":1.2.3}}]"),
            1,
            FrameErrorKind::UnexpectedByte(b'.'),
        ),
        (
            format!("[{good} {good}]"),
            1,
            FrameErrorKind::UnexpectedByte(b'{'),
        ),
        (format!("[{good},42]"), 1, FrameErrorKind::EventNotAnObject),
        (format!("[{good}] x"), 1, FrameErrorKind::TrailingBytes),
        (
            format!("[{good},{{\"ev\":\"Q\",\"bp\":01}}]"),
            1,
            FrameErrorKind::BadNumber,
        ),
        (
            format!("[{good},{{\"ev\":\"Q\",\"sym\":\"a\u{1}b\"}}]"),
            1,
            FrameErrorKind::BadString,
        ),
        (
            format!("[{good},{{\"ev\":\"Q\",\"sym\":\"\\x\"}}]"),
            1,
            FrameErrorKind::BadString,
        ),
        (
            format!(
                "[{good},{{\"ev\":\"Q\",\"c\":{}}}]",
                "[".repeat(40) + &"]".repeat(40)
            ),
            1,
            FrameErrorKind::TooDeep,
        ),
        (
            format!("[{good},{{\"ev\":\"Q\",\"c\":tru}}]"),
            1,
            FrameErrorKind::UnexpectedByte(b't'),
        ),
        (good.to_string(), 0, FrameErrorKind::NotAnArray),
        (String::new(), 0, FrameErrorKind::UnexpectedEnd),
    ];
    for (frame, delivered, kind) in cases {
        let (r, rec) = parse(&frame);
        let err = r.unwrap_err();
        assert_eq!(err.kind, kind, "{frame}");
        assert_eq!(err.stats.delivered(), delivered, "{frame}");
        assert_eq!(rec.quotes.len(), delivered as usize, "{frame}");
        assert!(err.offset <= frame.len());
        assert!(err.to_string().contains("malformed frame at byte"));
    }
}

#[test]
fn empty_array_is_a_valid_frame() {
    assert_eq!(parse(" [ ] ").0.unwrap(), FrameStats::default());
}

#[test]
fn reuses_scratch_without_leaking_between_events() {
    let mut parser = FrameParser::new();
    let mut rec = Recorder::default();
    let frame = r#"[{"ev":"status","status":"a\"b","message":"m\"1"},{"ev":"status","status":"plain","message":"m\"2"}]"#;
    parser.parse(frame, &mut rec).unwrap();
    parser.parse(frame, &mut rec).unwrap();
    assert_eq!(rec.events[1], "status plain \"m\\\"2\"");
    assert_eq!(rec.events[2], rec.events[0]);
}

fn arb_quote() -> impl Strategy<Value = (u32, u32, u32, u64, u64, i64)> {
    (
        1u32..99_999_999,
        0u32..1_000_000,
        0u32..1_000_000,
        0u64..100_000,
        0u64..100_000,
        1_600_000_000_000i64..1_900_000_000_000,
    )
}

proptest! {
    /// The fast number path agrees with serde_json (the reference parser) on every
    /// quote it reads, and every quote lands with its own symbol.
    #[test]
    fn agrees_with_serde_json(quotes in proptest::collection::vec(arb_quote(), 0..20), pretty in any::<bool>()) {
        let events: Vec<serde_json::Value> = quotes.iter().map(|&(k, b, a, bs, as_, t)| serde_json::json!({
            "ev": "Q", "sym": format!("O:SPXW261124C{k:08}"),
            "bp": f64::from(b) / 100.0, "ap": f64::from(a) / 1000.0, "bs": bs, "as": as_, "t": t, "q": 7,
        })).collect();
        let frame = if pretty { serde_json::to_string_pretty(&events) } else { serde_json::to_string(&events) }.unwrap();
        let (r, rec) = parse(&frame);
        prop_assert_eq!(r.unwrap().quotes as usize, quotes.len());
        for (got, want) in rec.quotes.iter().zip(&events) {
            prop_assert_eq!(got.0.as_str(), want["sym"].as_str().unwrap());
            prop_assert_eq!(got.1.to_bits(), want["bp"].as_f64().unwrap().to_bits());
            prop_assert_eq!(got.2.to_bits(), want["ap"].as_f64().unwrap().to_bits());
            prop_assert_eq!((got.3, got.4, got.5), (want["bs"].as_u64().unwrap(), want["as"].as_u64().unwrap(), want["t"].as_i64().unwrap()));
        }
    }

    /// A frame cut anywhere is an error, and exactly the whole events before the cut
    /// were delivered.
    #[test]
    fn truncation_delivers_a_prefix(quotes in proptest::collection::vec(arb_quote(), 1..8), cut in any::<proptest::sample::Index>()) {
        let events: Vec<String> = quotes.iter().map(|&(k, b, a, bs, as_, t)| format!(
            r#"{{"ev":"Q","sym":"O:SPX261124P{k:08}","bp":{b}.5,"ap":{a},"bs":{bs},"as":{as_},"t":{t}}}"#)).collect();
        let frame = format!("[{}]", events.join(","));
        let at = cut.index(frame.len());
        let (r, rec) = parse(&frame[..at]);
        prop_assert!(r.is_err());
        let complete = events.iter().scan(1usize, |end, e| { *end += e.len() + 1; Some(*end - 1) }).filter(|&end| end <= at).count();
        prop_assert_eq!(rec.quotes.len(), complete);
    }

    #[test]
    fn never_panics(frame in "[\\[\\]{}\":,0-9a-zA-Z.\\-\\\\ ]{0,120}") {
        let _ = parse(&frame);
    }

    #[test]
    fn never_panics_on_any_utf8(frame in any::<String>()) {
        let _ = parse(&frame);
    }
}

/// A number of arbitrary digits and decimal position, written as JSON.
fn arb_number() -> impl Strategy<Value = String> {
    (
        "-?",
        "[1-9][0-9]{0,21}|0",
        proptest::option::of("[0-9]{1,12}"),
        proptest::option::of(-30i32..30),
    )
        .prop_map(|(sign, int, frac, exp)| {
            let mut s = format!("{sign}{int}");
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{e}"));
            }
            s
        })
}

proptest! {
    /// Every number, through either number path and the shape cache, reads exactly
    /// as the standard library's correctly rounded parser reads it.
    #[test]
    fn numbers_match_the_standard_parser(prices in proptest::collection::vec(arb_number(), 1..12)) {
        let mut parser = FrameParser::new();
        let events: Vec<String> = prices.iter().map(|p| format!(
            r#"{{"ev":"Q","sym":"O:SPX261218P05000000","bx":1,"ax":1,"bp":{p},"ap":1,"bs":1,"as":1,"t":1795532400000,"q":1}}"#)).collect();
        let frame = format!("[{}]", events.join(","));
        // Twice through one parser: the second pass runs on the learned shape.
        for _ in 0..2 {
            let mut rec = Recorder::default();
            parser.parse(&frame, &mut rec).unwrap();
            let expected: Vec<f64> = prices.iter().map(|p| p.parse::<f64>().unwrap()).filter(|v| v.is_finite()).collect();
            let got: Vec<f64> = rec.quotes.iter().map(|q| q.1).collect();
            prop_assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                prop_assert_eq!(g.to_bits(), e.to_bits());
            }
        }
    }

    /// A parser that has learned shapes reads any frame exactly as a fresh one does.
    #[test]
    fn learned_shapes_never_change_results(frames in proptest::collection::vec(proptest::sample::select(vec![
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000}]"#,
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":"12.3","ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":null,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
        r#"[{"ev":"Q", "sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
        r#"[{"ev":"Q","sym":"O:SPX\u0057261124C06850000","bx":302,"ax":302,"bp":1e2,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
        r#"[{"ev":"T","sym":"O:SPXW261124C06850000","x":65,"p":12.4,"s":3,"c":[227],"t":1795532400100,"q":2}]"#,
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1,"z":9}]"#,
        r#"[{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1]"#,
        r#"[{"sym":"O:SPXW261124C06850000","ev":"Q","bx":302,"ax":302,"bp":12.3,"ap":12.5,"bs":17,"as":24,"t":1795532400000,"q":1}]"#,
    ]), 1..40)) {
        let mut warm = FrameParser::new();
        for frame in &frames {
            let (mut a, mut b) = (Recorder::default(), Recorder::default());
            let fresh = FrameParser::new().parse(frame, &mut a);
            let learned = warm.parse(frame, &mut b);
            prop_assert_eq!(fresh, learned);
            prop_assert_eq!(a.events, b.events);
            prop_assert_eq!(a.quotes, b.quotes);
        }
    }
}

#[test]
fn long_numbers_neither_panic_nor_wrap() {
    let frame = r#"[{"ev":"Q","sym":"O:SPX261218P05000000","bp":1844674407370.9551616,"ap":1844674407370.9551617,"bs":1,"as":1,"t":1795532400000}]"#;
    let (r, rec) = parse(frame);
    r.unwrap();
    let exact = |text: &str| text.parse::<f64>().unwrap();
    assert_eq!(rec.quotes[0].1, exact("1844674407370.9551616"));
    assert_eq!(rec.quotes[0].2, exact("1844674407370.9551617"));
    assert!(rec.quotes[0].1 > 1.8e12, "no wrap-around to a small number");
}

/// Records every event in full (exchange ids and sequence numbers included), for
/// comparing the fast readers with the general parser.
#[derive(Debug, Default, PartialEq)]
struct Everything(Vec<String>);

impl FrameSink for Everything {
    fn quote(&mut self, q: &MassiveQuote<'_>) {
        self.0.push(format!(
            "{q:?} {:?} {:?} {:?}",
            q.bid_exchange.get(),
            q.ask_exchange.get(),
            q.seq.get()
        ));
    }
    fn trade(&mut self, t: &MassiveTrade<'_>) {
        self.0
            .push(format!("{t:?} {:?} {:?}", t.exchange.get(), t.seq.get()));
    }
    fn aggregate(&mut self, a: &MassiveAggregate<'_>) {
        self.0.push(format!("{a:?}"));
    }
    fn index_value(&mut self, v: &MassiveIndexValue<'_>) {
        self.0.push(format!("{v:?}"));
    }
    fn status(&mut self, s: &MassiveStatus<'_>) {
        self.0.push(format!("{s:?}"));
    }
}

/// `frame` read by `parser` and by a parser that has only the general path: the same
/// result (stats or error, offset included) and the same events.
fn assert_paths_agree(parser: &mut FrameParser, frame: &str) -> Result<(), TestCaseError> {
    let (mut fast, mut general) = (Everything::default(), Everything::default());
    let got = parser.parse(frame, &mut fast);
    let want = FrameParser::general_only().parse(frame, &mut general);
    prop_assert_eq!(got, want, "{}", frame);
    prop_assert_eq!(fast, general, "{}", frame);
    Ok(())
}

/// Number text as it may appear on the wire: mostly the common shapes, plus every kind
/// the fast readers refuse (signs, exponents, leading zeros, too many digits) and
/// malformed ones.
fn wire_number() -> BoxedStrategy<String> {
    prop_oneof![
        30 => clean_number(),
        3 => arb_number(),
        1 => "0[0-9]{1,3}(\\.[0-9])?",
        1 => "[0-9]{1,8}\\.[0-9]{6,9}",
        3 => proptest::sample::select(vec![
            "-0", "-1.5", "01", "00", "1.", ".5", "-", "1e", "1E+5", "1.5e-3", "2e0",
            "123456789012345678901234", "1e400", "99999999.5", "1234567.12345678",
            "9007199254740993", "18446744073709551616", "\"7\"", "null", "true", "[1]",
        ])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

/// Number text in the shapes the fast readers take.
fn clean_number() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[1-9][0-9]{0,6}\\.[0-9]{1,7}",
        2 => "0\\.[0-9]{1,7}",
        2 => "[1-9][0-9]{0,15}",
        1 => Just("0".to_owned()),
    ]
    .boxed()
}

/// A timestamp of any unit, or something that is not one.
fn wire_time() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (1_600_000_000_000i64..1_900_000_000_000).prop_map(|t| t.to_string()),
        1 => (1_600_000_000i64..1_900_000_000).prop_map(|t| t.to_string()),
        1 => (1_600_000_000_000_000i64..1_900_000_000_000_000).prop_map(|t| t.to_string()),
        1 => (1_600_000_000_000_000_000i64..1_900_000_000_000_000_000).prop_map(|t| t.to_string()),
        1 => wire_number(),
    ]
    .boxed()
}

/// A valid option symbol.
fn clean_symbol() -> BoxedStrategy<String> {
    (
        "SPXW?|NDXP|AAPL1",
        24u32..30,
        1u32..13,
        1u32..29,
        "[CP]",
        1u32..99_999_999,
    )
        .prop_map(|(root, y, m, d, r, k)| format!("O:{root}{y:02}{m:02}{d:02}{r}{k:08}"))
        .boxed()
}

/// A symbol string body (between the quotes).
fn wire_symbol() -> BoxedStrategy<String> {
    prop_oneof![
        20 => clean_symbol(),
        1 => Just("O:SPX\\u0057261124C06850000".to_owned()),
        1 => Just(String::new()),
        1 => Just("a\\\"b".to_owned()),
        1 => Just("O:SPXW261124C0685\u{1}000".to_owned()),
        1 => Just("é€😀O:SPXW261124C06850000".to_owned()),
        1 => "[A-Z]{200,300}",
    ]
    .boxed()
}

fn wire_quote() -> BoxedStrategy<String> {
    (
        wire_symbol(),
        wire_number(),
        wire_number(),
        wire_number(),
        wire_number(),
        wire_number(),
        wire_number(),
        wire_time(),
        wire_number(),
    )
        .prop_map(|(sym, bx, ax, bp, ap, bs, as_, t, q)| {
            format!(
                r#"{{"ev":"Q","sym":"{sym}","bx":{bx},"ax":{ax},"bp":{bp},"ap":{ap},"bs":{bs},"as":{as_},"t":{t},"q":{q}}}"#
            )
        })
    .boxed()
}

/// A quote or a trade in the common layout with values the fast readers take.
fn clean_event() -> BoxedStrategy<String> {
    let n = clean_number;
    let t = || (1_600_000_000_000i64..1_900_000_000_000).prop_map(|t| t.to_string());
    let quote = (clean_symbol(), n(), n(), n(), n(), n(), n(), t(), n()).prop_map(
        |(sym, bx, ax, bp, ap, bs, as_, t, q)| {
            format!(
                r#"{{"ev":"Q","sym":"{sym}","bx":{bx},"ax":{ax},"bp":{bp},"ap":{ap},"bs":{bs},"as":{as_},"t":{t},"q":{q}}}"#
            )
        },
    );
    let trade = (
        clean_symbol(),
        n(),
        n(),
        n(),
        proptest::collection::vec(n(), 1..4),
        t(),
        n(),
    )
        .prop_map(|(sym, x, p, s, c, t, q)| {
            format!(
                r#"{{"ev":"T","sym":"{sym}","x":{x},"p":{p},"s":{s},"c":[{}],"t":{t},"q":{q}}}"#,
                c.join(",")
            )
        });
    prop_oneof![4 => quote, 1 => trade].boxed()
}

fn wire_trade() -> BoxedStrategy<String> {
    (
        wire_symbol(),
        wire_number(),
        wire_number(),
        wire_number(),
        proptest::collection::vec(wire_number(), 0..4),
        wire_time(),
        wire_number(),
    )
        .prop_map(|(sym, x, p, s, c, t, q)| {
            format!(
                r#"{{"ev":"T","sym":"{sym}","x":{x},"p":{p},"s":{s},"c":[{}],"t":{t},"q":{q}}}"#,
                c.join(",")
            )
        })
        .boxed()
}

/// Events in the common layout with random values, and the same events reordered,
/// cut short, padded with whitespace or carrying an extra key.
fn wire_event() -> BoxedStrategy<String> {
    let common = prop_oneof![4 => wire_quote(), 1 => wire_trade()];
    (common, 0u8..8, any::<proptest::sample::Index>())
        .prop_map(|(event, how, at)| {
            let body = &event[1..event.len() - 1];
            let mut keys: Vec<&str> = body.split(",\"").collect();
            match how {
                0 => {
                    let i = at.index(keys.len());
                    keys.swap(0, i);
                }
                1 => {
                    keys.remove(at.index(keys.len()));
                }
                2 => keys.push("z\":9"),
                3 => {
                    let mut cut = at.index(event.len() + 1);
                    while !event.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    return event[..cut].to_owned();
                }
                4 => return event.replacen(':', ": ", 1 + at.index(9)),
                _ => return event,
            }
            let body = keys.join(",\"");
            let body = body.strip_prefix('"').unwrap_or(&body);
            format!("{{\"{body}}}")
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The fast readers deliver exactly what the general parser delivers, with the same
    /// counts and the same errors, on random values of every kind in the common layout
    /// and on layouts that differ from it.
    #[test]
    fn fast_readers_agree_with_the_general_parser(events in proptest::collection::vec(wire_event(), 0..12), spaced in any::<bool>()) {
        let sep = if spaced { ", " } else { "," };
        let frame = format!("[{}]", events.join(sep));
        let mut warm = FrameParser::new();
        assert_paths_agree(&mut warm, &frame)?;
        assert_paths_agree(&mut warm, &frame)?;
    }

    /// One byte of a frame of common events replaced by another: both paths agree.
    #[test]
    fn fast_readers_agree_on_damaged_frames(
        events in proptest::collection::vec(clean_event(), 1..6),
        at in any::<proptest::sample::Index>(),
        byte in proptest::sample::select(b"\"\\,:{}[] -.eE0179xQT\x01".to_vec()),
    ) {
        let frame = format!("[{}]", events.join(","));
        let mut bytes = frame.into_bytes();
        let i = at.index(bytes.len());
        if bytes[i].is_ascii() {
            bytes[i] = byte;
        }
        let frame = String::from_utf8(bytes).expect("ASCII replaced by ASCII");
        assert_paths_agree(&mut FrameParser::new(), &frame)?;
    }
}

/// A frame of common events cut at every byte: both paths agree and neither panics.
#[test]
fn fast_readers_agree_when_cut_at_every_byte() {
    let frame = format!(
        "[{},{},{}]",
        r#"{"ev":"Q","sym":"O:SPXW261124C06850000","bx":302,"ax":302,"bp":29.4,"ap":1234567.1234567,"bs":74,"as":148,"t":1795536000000,"q":157796097}"#,
        r#"{"ev":"T","sym":"O:SPXW261130C06965000","x":302,"p":10,"s":7,"c":[227,12],"t":1795536000000,"q":157796100}"#,
        r#"{"ev":"Q","sym":"O:SPX261218P05000000","bx":1,"ax":1,"bp":0,"ap":0.05,"bs":1,"as":1,"t":1795536000,"q":0}"#,
    );
    let mut warm = FrameParser::new();
    for cut in 0..=frame.len() {
        assert_paths_agree(&mut warm, &frame[..cut]).unwrap();
        assert_paths_agree(&mut FrameParser::new(), &frame[..cut]).unwrap();
    }
    let (mut rec, mut parser) = (Everything::default(), FrameParser::new());
    assert_eq!(parser.parse(&frame, &mut rec).unwrap().delivered(), 3);
}
/// Every tricky number in every numeric position of a quote and a trade: both paths
/// agree (deterministic, so a fast-reader bug at a digit-count boundary cannot hide
/// behind the odds of a random test).
#[test]
fn fast_readers_agree_on_every_number_in_every_position() {
    let quote = [
        r#"{"ev":"Q","sym":"O:SPXW261124C06850000","bx":"#,
        r#","ax":"#,
        r#","bp":"#,
        r#","ap":"#,
        r#","bs":"#,
        r#","as":"#,
        r#","t":"#,
        r#","q":"#,
        "}",
    ];
    let trade = [
        r#"{"ev":"T","sym":"O:SPXW261124C06850000","x":"#,
        r#","p":"#,
        r#","s":"#,
        r#","c":["#,
        r#"],"t":"#,
        r#","q":"#,
        "}",
    ];
    let quote_values = [
        "302",
        "302",
        "29.4",
        "1.5",
        "74",
        "148",
        "1795536000000",
        "15",
    ];
    let trade_values = ["302", "10", "7", "227", "1795536000000", "5"];
    let tricky = [
        "0",
        "7",
        "10",
        "01",
        "00",
        "-1",
        "-0",
        "0.0",
        "1.5",
        "0.05",
        "1.",
        ".5",
        "1e5",
        "1E5",
        "1.5e-3",
        "1234567",
        "12345678",
        "123456789",
        "123456789012345",
        "1234567812345678",
        "12345678123456789",
        "1234567.1234567",
        "1234567.12345678",
        "12345678.5",
        "123456.7",
        "1234.567",
        "9007199254740993",
        "99999999999999999999",
        "1795536000",
        "1795536000000000",
        "1795536000000000000",
        "1e400",
        "\"1\"",
        "null",
        "true",
        "[]",
        "{}",
    ];
    let mut parser = FrameParser::new();
    for (parts, values) in [
        (&quote[..], &quote_values[..]),
        (&trade[..], &trade_values[..]),
    ] {
        for at in 0..values.len() {
            for t in tricky {
                let mut event = parts[0].to_owned();
                for (i, part) in parts[1..].iter().enumerate() {
                    event.push_str(if i == at { t } else { values[i] });
                    event.push_str(part);
                }
                for frame in [format!("[{event}]"), format!("[{event},{event}]")] {
                    assert_paths_agree(&mut parser, &frame).unwrap();
                }
            }
        }
    }
}

//! The normalizer on fixture pages written from Massive's documented responses: an index chain
//! with every tolerated quirk, an equity page, vendor error bodies, broken pages, and a
//! page of contracts each wrong in one way.

use super::*;
use chainboard_model::{ContractRecord, Settlement};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn spx() -> Option<Underlying> {
    Some(Underlying::new("SPX").unwrap())
}

fn find<'p>(page: &'p ChainPage, ticker: &str) -> &'p ChainContract {
    page.contracts
        .iter()
        .find(|c| c.geometry.key.to_string() == ticker)
        .unwrap()
}

#[test]
fn index_page_with_every_tolerated_quirk() {
    let roots = RootMap::default();
    let page = Normalizer::new(&roots, spx())
        .page(&data("chain_spx_page1.json"))
        .unwrap();
    assert_eq!(page.contracts.len(), 5);
    assert!(page.rejections.is_empty());
    assert_eq!(
        page.underlying_value,
        Some(6850.12),
        "indices carry `value`"
    );
    assert_eq!(
        page.request_id.as_deref(),
        Some("6a7e466379af0a71039d60cc78e72282")
    );
    assert!(page.next_url.as_deref().unwrap().contains("cursor="));

    let atm = find(&page, "O:SPXW261124C06850000");
    assert_eq!(atm.geometry.settlement, Settlement::PmClose);
    let s = &atm.state;
    assert_eq!(
        (s.bid, s.ask, s.bid_size, s.ask_size),
        (Some(12.3), Some(12.5), Some(17), Some(24))
    );
    assert_eq!(s.quote_ts_ms, Some(1_795_532_399_812), "nanoseconds");
    assert_eq!(
        (s.last_price, s.last_size, s.trade_ts_ms),
        (Some(12.45), Some(3), Some(1_795_532_398_123))
    );
    assert_eq!(
        (s.volume, s.slow.oi, s.slow.iv),
        (Some(15_230), Some(8812), Some(0.1432))
    );
    assert_eq!(s.slow.greeks.gamma, Some(0.0081));

    let put = find(&page, "O:SPXW261124P06800000");
    assert_eq!(
        put.state.quote_ts_ms,
        Some(1_795_532_399_000),
        "milliseconds"
    );
    assert_eq!(put.state.last_price, None, "no last_trade");

    let deep = find(&page, "O:SPXW261124C05000000");
    assert_eq!(deep.state.slow.greeks, Greeks::default(), "greeks: {{}}");
    assert_eq!(deep.state.slow.iv, None);

    let bare = find(&page, "O:SPX271217P02000000");
    assert_eq!(bare.geometry.settlement, Settlement::AmOpen);
    assert_eq!(
        (
            bare.state.bid,
            bare.state.slow.greeks.delta,
            bare.state.slow.oi
        ),
        (None, None, Some(310))
    );
}

#[test]
fn equity_page_reads_price_for_the_underlying() {
    let roots = RootMap::default();
    let page = Normalizer::new(&roots, None)
        .page(&data("chain_spy_page.json"))
        .unwrap();
    assert_eq!(page.contracts.len(), 1);
    assert_eq!(page.underlying_value, Some(590.3));
    assert_eq!(page.contracts[0].geometry.underlying.as_str(), "SPY");
    assert_eq!(page.next_url, None, "last page");
}

#[test]
fn vendor_error_bodies_carry_their_text() {
    let roots = RootMap::default();
    let n = Normalizer::new(&roots, spx());
    let err = n.page(&data("chain_not_authorized.json")).unwrap_err();
    assert!(err.is_fatal());
    assert!(
        matches!(&err, PageError::NotAuthorized { message, request_id } if message.starts_with("You are not entitled") && request_id == "a1b2c3")
    );

    let err = n.page(&data("chain_rate_limited.json")).unwrap_err();
    assert!(!err.is_fatal());
    assert!(
        matches!(&err, PageError::Vendor { status, error, .. } if status == "ERROR" && error.contains("maximum requests"))
    );
    assert!(err.to_string().contains("d4e5f6"));
}

#[test]
fn broken_pages_are_errors() {
    let roots = RootMap::default();
    let n = Normalizer::new(&roots, spx());
    let page = data("chain_spx_page1.json");
    for body in [
        &page[..page.len() / 2],
        "[]",
        "",
        "{\"results\":[]}",
        "{\"status\":\"OK\",\"results\":{}}",
    ] {
        assert!(
            matches!(n.page(body), Err(PageError::Malformed(_))),
            "{body:.40}"
        );
    }
    let empty = n
        .page(r#"{"status":"OK","request_id":"x","results":[]}"#)
        .unwrap();
    assert!(
        empty.contracts.is_empty() && empty.rejections.is_empty(),
        "an empty array is an empty chain"
    );
    for body in [
        r#"{"status":"OK","request_id":"x"}"#,
        r#"{"status":"OK","request_id":"x","results":null}"#,
    ] {
        assert!(
            matches!(n.page(body), Err(PageError::Malformed(ref m)) if m.contains("without `results`")),
            "{body}"
        );
    }
    let delayed = n.page(r#"{"status":"DELAYED","results":[]}"#);
    assert!(delayed.is_ok(), "delayed entitlements answer DELAYED");
}

#[test]
fn each_bad_contract_is_rejected_alone_with_its_reason() {
    let roots = RootMap::default();
    let page = Normalizer::new(&roots, spx())
        .page(&data("chain_bad_contracts.json"))
        .unwrap();
    assert_eq!(page.contracts.len(), 1, "the one good contract survives");
    assert_eq!(page.contracts[0].state.slow.oi, Some(5));
    let reasons: Vec<RejectReason> = page.rejections.iter().map(|r| r.reason).collect();
    use RejectReason::*;
    assert_eq!(
        reasons,
        [
            BadTicker,
            MissingTicker,
            MissingTicker,
            DetailsMismatch,
            DetailsMismatch,
            DetailsMismatch,
            UnsupportedType,
            NonStandardDeliverable,
            UnmappedRoot,
            ForeignUnderlying,
            InvalidValue,
            InvalidValue,
            Malformed,
            Malformed,
        ]
    );
    let tally = page.tally();
    assert_eq!((tally.total(), tally.get(DetailsMismatch)), (14, 3));
    let oi_string = &page.rejections[12];
    assert_eq!(
        oi_string.ticker.as_deref(),
        Some("O:SPXW261124C06850000"),
        "named even when malformed"
    );
    assert!(page.rejections[10].detail.contains("last_quote.bid"));
}

#[test]
fn assembler_joins_pages_once_per_contract() {
    let roots = RootMap::default();
    let n = Normalizer::new(&roots, spx());
    let mut asm = ChainAssembler::new(Underlying::new("SPX").unwrap(), 1_795_532_400_500);
    asm.add(n.page(&data("chain_spx_page1.json")).unwrap());
    asm.add(n.page(&data("chain_bad_contracts.json")).unwrap());
    asm.add(n.page(&data("chain_spx_page1.json")).unwrap()); // a looping cursor
    assert_eq!((asm.pages(), asm.len()), (3, 5));
    let snap = asm.finish();
    assert_eq!(snap.rejected.get(RejectReason::Duplicate), 6);
    assert_eq!(snap.rejected.total(), 14 + 6);
    assert_eq!(snap.underlying_value, Some(6850.12));
    assert!(
        snap.contracts
            .iter()
            .all(|c| c.state.slow_ts_ms == Some(1_795_532_400_500))
    );
}

#[test]
fn records_use_the_design_field_names() {
    let roots = RootMap::default();
    let page = Normalizer::new(&roots, spx())
        .page(&data("chain_spx_page1.json"))
        .unwrap();
    let c = find(&page, "O:SPXW261124C06850000");
    let json = serde_json::to_value(ContractRecord::new(&c.geometry, &c.state)).unwrap();
    assert_eq!(json["id"], "O:SPXW261124C06850000");
    assert_eq!(json["underlying"], "SPX");
    assert_eq!(json["expiration"], "2026-11-24");
    assert_eq!(json["strike"], 6850.0);
    assert_eq!(json["type"], "call");
    assert_eq!(json["mid"], 12.4);
    assert_eq!(json["oi"], 8812);
    assert_eq!(json["ts"], 1_795_532_399.812, "newest update, Unix seconds");
    let names: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "id",
        "underlying",
        "expiration",
        "strike",
        "type",
        "bid",
        "ask",
        "mid",
        "delta",
        "gamma",
        "theta",
        "vega",
        "oi",
        "ts",
        "iv",
        "bid_size",
        "ask_size",
        "last_price",
        "last_size",
        "volume",
    ] {
        assert!(names.contains(&field), "{field}");
    }
}

mod fuzz {
    //! Fuzz suites on stable Rust (property tests): any input gets a page or a typed
    //! error, never a panic. `PROPTEST_CASES` sets their length (see the README).

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    /// Any JSON value, a few levels deep, with the numbers and strings that break
    /// parsers (huge, negative, fractional, empty, non-ASCII).
    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![Just(1e308), Just(-0.0), Just(5e-324), Just(0.0)].prop_map(Value::from),
            "\\PC{0,24}".prop_map(Value::from),
            "O:SPX[W]?[0-9]{6}[CP][0-9]{8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Every leaf's path in `v`.
    fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| {
                path.push(i.to_string());
                leaves(v, path, out);
                path.pop();
            }),
            _ => out.push(path.clone()),
        }
    }

    fn at<'v>(v: &'v mut Value, path: &[String]) -> &'v mut Value {
        path.iter().fold(v, |v, k| match v {
            Value::Array(a) => &mut a[k.parse::<usize>().expect("an index")],
            other => &mut other[k.as_str()],
        })
    }

    fn check(body: &str) -> Result<(), TestCaseError> {
        let roots = RootMap::default();
        for expected in [spx(), None] {
            if let Ok(page) = Normalizer::new(&roots, expected).page(body) {
                let listed = serde_json::from_str::<Value>(body)
                    .ok()
                    .and_then(|v| v["results"].as_array().map(Vec::len));
                // Every result is a contract or a rejection, never lost.
                prop_assert_eq!(Some(page.contracts.len() + page.rejections.len()), listed);
                for c in &page.contracts {
                    prop_assert!(c.geometry.key.strike.points() > 0.0);
                }
            }
        }
        Ok(())
    }

    proptest! {
        /// Any text at all.
        #[test]
        fn fuzz_chain_page_text(text in "\\PC{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            check(&text)?;
            check(&String::from_utf8_lossy(&bytes))?;
        }

        /// The documented page with one field (any depth) replaced by any JSON value,
        /// or removed.
        #[test]
        fn fuzz_chain_page_fields(which in any::<prop::sample::Index>(), value in arb_json(), remove in any::<bool>()) {
            let mut page: Value = serde_json::from_str(&data("chain_spx_page1.json")).expect("fixture");
            let mut paths = Vec::new();
            leaves(&page, &mut Vec::new(), &mut paths);
            let path = which.get(&paths).clone();
            if remove {
                let (last, parent) = path.split_last().expect("a leaf has a path");
                match at(&mut page, parent) {
                    Value::Object(m) => { m.remove(last); }
                    Value::Array(a) => { a.remove(last.parse::<usize>().expect("an index")); }
                    _ => {}
                }
            } else {
                *at(&mut page, &path) = value;
            }
            check(&page.to_string())?;
        }
    }
}

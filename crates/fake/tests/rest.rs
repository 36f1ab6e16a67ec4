//! The fake's REST side over a real socket: paged chain loads, keys, filters, the
//! indices snapshot, market status, and the page and listing faults.

mod common;

use std::collections::BTreeSet;

use chainboard_model::{ContractKey, Underlying};
use common::{KEY, control, get, http, load, start};
use serde_json::Value;

fn tickers(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["details"]["ticker"].as_str().expect("ticker").to_owned())
        .collect()
}

/// The parts of a chain page the paging test reads; the rest is skipped unparsed,
/// which keeps a hundred-page load quick in a debug build.
#[derive(serde::Deserialize)]
struct PageHead {
    status: String,
    request_id: String,
    results: Vec<ResultHead>,
    next_url: Option<String>,
}

#[derive(serde::Deserialize)]
struct ResultHead {
    details: DetailsHead,
}

#[derive(serde::Deserialize)]
struct DetailsHead {
    ticker: String,
}

#[tokio::test]
async fn a_paged_load_follows_next_url_to_the_end() {
    let fake = start(|_| {}).await;
    let client = http();
    let mut url = format!("{}/v3/snapshot/options/I:SPX?limit=250", fake.rest_url());
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let response = client
            .get(&url)
            .bearer_auth(KEY)
            .send()
            .await
            .expect("page");
        assert_eq!(response.status().as_u16(), 200);
        let page: PageHead = response.json().await.expect("page JSON");
        assert_eq!(page.status, "OK");
        assert_eq!(page.request_id.len(), 32);
        assert!(page.results.len() <= 250);
        names.extend(page.results.into_iter().map(|r| r.details.ticker));
        pages += 1;
        let Some(next) = page.next_url else {
            break;
        };
        assert!(next.starts_with(&format!(
            "{}/v3/snapshot/options/I:SPX?cursor=",
            fake.rest_url()
        )));
        assert!(!next.contains(KEY) && !next.contains("apiKey"), "{next}");
        url = next;
    }
    assert!(names.len() > 20_000, "{} contracts", names.len());
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    assert!(names.iter().all(|t| ContractKey::parse(t).is_ok()));
    let stats = fake.stats();
    assert_eq!(stats.pages_served, pages);
    assert_eq!(stats.photos_taken, 1);
    assert!(pages > 80);
    // Default limit is 10; above 250 is clamped.
    let (_, page) = get(
        &client,
        &format!("{}/v3/snapshot/options/I:SPX", fake.rest_url()),
    )
    .await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(10));
    // Index underlyings carry `value`.
    assert!(
        page["results"][0]["underlying_asset"]["value"]
            .as_f64()
            .is_some()
    );
    assert_eq!(page["results"][0]["underlying_asset"]["ticker"], "I:SPX");
    let (_, page) = get(
        &client,
        &format!("{}/v3/snapshot/options/I:SPX?limit=5000", fake.rest_url()),
    )
    .await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(250));
    fake.shutdown().await;
}

#[tokio::test]
async fn keys_are_checked_with_massives_error_bodies() {
    let fake = start(|_| {}).await;
    let client = http();
    let url = format!("{}/v3/snapshot/options/I:SPX?limit=1", fake.rest_url());
    let response = client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ERROR");
    assert_eq!(body["error"], "Unknown API Key");
    assert!(body["request_id"].is_string());
    let response = client.get(&url).send().await.expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "API Key was not provided");
    // `apiKey` works too.
    let response = client
        .get(format!("{url}&apiKey={KEY}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    // reject-auth refuses the right key until turned off.
    assert_eq!(control(&fake, "/_fake/reject-auth?on=true").await.0, 200);
    let (status, body) = get(&client, &url).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("Unknown API Key"))
    );
    control(&fake, "/_fake/reject-auth?on=false").await;
    assert_eq!(get(&client, &url).await.0, 200);
    assert_eq!(fake.stats().rest_unauthorized, 3);
    fake.shutdown().await;
}

#[tokio::test]
async fn filters_select_contracts_and_bad_ones_are_400() {
    let fake = start(|_| {}).await;
    let client = http();
    let base = format!("{}/v3/snapshot/options/I:SPX", fake.rest_url());
    let results = load(
        &client,
        &format!(
            "{base}?limit=250&strike_price.gte=6800&strike_price.lt=6900&contract_type=put&expiration_date.lte=2099-01-01&expiration_date.gt=2000-01-01"
        ),
    )
    .await;
    assert!(results.len() > 100, "{}", results.len());
    for r in &results {
        let d = &r["details"];
        let k = d["strike_price"].as_f64().expect("strike");
        assert!((6800.0..6900.0).contains(&k), "{k}");
        assert_eq!(d["contract_type"], "put");
    }
    let first_expiry = results[0]["details"]["expiration_date"]
        .as_str()
        .expect("date")
        .to_owned();
    let same_day = load(
        &client,
        &format!("{base}?limit=250&expiration_date={first_expiry}&strike_price=6850"),
    )
    .await;
    // A call and a put per root listing that date.
    assert!(
        !same_day.is_empty() && same_day.len() <= 4,
        "{}",
        same_day.len()
    );
    for query in [
        "limit=ten",
        "strike_price.gte=abc",
        "expiration_date=2026-13-40",
        "contract_type=straddle",
        "cursor=nothex",
    ] {
        let (status, body) = get(&client, &format!("{base}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["status"], "ERROR");
        assert!(body["error"].is_string());
    }
    // An underlying the fake does not list: OK and empty.
    let (status, body) = get(
        &client,
        &format!("{}/v3/snapshot/options/I:RUT", fake.rest_url()),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("OK")));
    assert_eq!(body["results"], serde_json::json!([]));
    fake.shutdown().await;
}

#[tokio::test]
async fn indices_and_market_status_look_like_massives() {
    let fake = start(|c| c.market_open = false).await;
    let client = http();
    let (status, body) = get(
        &client,
        &format!(
            "{}/v3/snapshot/indices?ticker.any_of=I:SPX,I:XYZ",
            fake.rest_url()
        ),
    )
    .await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().expect("results");
    assert_eq!(results[0]["ticker"], "I:SPX");
    assert!(results[0]["value"].as_f64().is_some_and(|v| v > 1000.0));
    assert!(
        results[0]["last_updated"]
            .as_i64()
            .is_some_and(|t| t > 1_000_000_000_000_000_000)
    );
    assert!(results[0]["session"]["previous_close"].as_f64().is_some());
    assert_eq!(results[0]["market_status"], "closed");
    assert_eq!(results[1]["error"], "NOT_FOUND");
    assert!(results[1]["message"].is_string());
    let (status, body) = get(&client, &format!("{}/v1/marketstatus/now", fake.rest_url())).await;
    assert_eq!(status, 200);
    assert_eq!(body["market"], "closed");
    assert!(
        body["serverTime"].as_str().is_some_and(|t| t.len() == 25),
        "{body}"
    );
    assert!(body["exchanges"].is_object() && body["indicesGroups"].is_object());
    let (status, body) = get(&client, &format!("{}/v2/nothing", fake.rest_url())).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("NOT_FOUND")));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_failed_page_fails_then_succeeds_on_retry() {
    let fake = start(|_| {}).await;
    let client = http();
    let (status, _) = control(&fake, "/_fake/fail-page?page=2&status=429&times=1").await;
    assert_eq!(status, 200);
    let (_, first) = get(
        &client,
        &format!("{}/v3/snapshot/options/I:SPX?limit=250", fake.rest_url()),
    )
    .await;
    let next = first["next_url"].as_str().expect("next_url").to_owned();
    let (status, body) = get(&client, &next).await;
    assert_eq!(status, 429);
    assert_eq!(body["status"], "ERROR");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("You've exceeded the maximum requests per minute"))
    );
    let (status, body) = get(&client, &next).await;
    assert_eq!(status, 200, "{body}");
    // 5xx through the library API.
    fake.control().fail_pages(1, 503, 2);
    for _ in 0..2 {
        let (status, body) = get(
            &client,
            &format!("{}/v3/snapshot/options/I:SPX", fake.rest_url()),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("Internal server error"))
        );
    }
    assert_eq!(
        get(
            &client,
            &format!("{}/v3/snapshot/options/I:SPX", fake.rest_url())
        )
        .await
        .0,
        200
    );
    assert_eq!(fake.stats().pages_failed, 3);
    // Bad control parameters are a 400 with a reason, never a crash.
    for bad in [
        "/_fake/fail-page?page=0&status=429",
        "/_fake/fail-page?page=1&status=200",
        "/_fake/fail-page?page=x&status=429",
        "/_fake/stall?seconds=-1",
        "/_fake/stall",
        "/_fake/malformed?frames=many",
        "/_fake/reject-auth?on=maybe",
        "/_fake/list-strikes?symbol=RUT",
    ] {
        let (status, body) = control(&fake, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string(), "{bad}");
    }
    fake.shutdown().await;
}

#[tokio::test]
async fn listing_strikes_grows_the_next_photo_and_keeps_the_old_contracts() {
    let fake = start(|c| c.tick = std::time::Duration::from_secs(3600)).await;
    let client = http();
    let url = format!(
        "{}/v3/snapshot/options/I:SPX?limit=250&strike_price.gte=6700&strike_price.lte=7000",
        fake.rest_url()
    );
    let before: BTreeSet<String> = tickers(&load(&client, &url).await).into_iter().collect();
    let (status, body) = control(&fake, "/_fake/list-strikes?symbol=SPX").await;
    assert_eq!(status, 200);
    let added = body["listed_contracts"].as_u64().expect("count");
    assert!(added > 0);
    let after: BTreeSet<String> = tickers(&load(&client, &url).await).into_iter().collect();
    assert!(before.is_subset(&after));
    assert_eq!(after.len() as u64, before.len() as u64 + added);
    assert!(
        fake.control()
            .list_strikes(Underlying::new("SPX").expect("SPX"))
            > 0
    );
    assert_eq!(
        fake.control()
            .list_strikes(Underlying::new("RUT").expect("RUT")),
        0
    );
    let stats = fake.stats();
    assert_eq!(stats.list_events, 2);
    assert_eq!(stats.underlyings[0].listings, 2);
    fake.shutdown().await;
}

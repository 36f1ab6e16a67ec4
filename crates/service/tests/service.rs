//! The whole service started in-process with [`Service::start`], against the fake
//! Massive over loopback: what a browser and a scraper read over HTTP is what the
//! pipeline published, and stopping flushes the store.

mod common;

use chainboard_server::Doc;
use chainboard_store::{EmbeddedStore, KeySchema, Store};
use common::{address, fake, get_ok, service, spx};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_in_process_serves_what_it_publishes() {
    let fake = fake().await;
    let embedded = EmbeddedStore::new();
    let service = service(&fake, Store::from(embedded.clone())).await;

    // The API serves the publisher's bytes: the document it returns is one the
    // publisher published (it may have moved on by a tick since).
    let gex: Value =
        serde_json::from_str(&get_ok(address(&service), "/api/v1/gex/SPX").await).expect("JSON");
    assert_eq!(gex["schema"], "chainboard/gex/v1");
    let seq = gex["seq"].as_u64().expect("a seq");
    let latest = service
        .publisher()
        .documents(spx())
        .borrow()
        .clone()
        .expect("published");
    assert!(
        latest.seq >= seq,
        "served seq {seq}, published {}",
        latest.seq
    );
    assert!(latest.json(Doc::Gex).is_some());

    // The same snapshot is in the store, under the design's key.
    let key = KeySchema::default().gex_snapshot(spx());
    let stored = Store::from(embedded.clone())
        .get(&key)
        .await
        .expect("read")
        .expect("the GEX snapshot is stored");
    assert_eq!(
        serde_json::from_str::<Value>(&stored).expect("JSON")["schema"],
        "chainboard/gex/v1"
    );

    // The status reaches the HTTP side as plain data.
    let epochs: Value =
        serde_json::from_str(&get_ok(address(&service), "/api/v1/epochs/SPX").await).expect("JSON");
    let active = service.status().boards[0]
        .epoch
        .expect("an epoch")
        .to_string();
    assert_eq!(epochs["active"]["id"], active.as_str());
    let metrics = get_ok(address(&service), "/metrics").await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("chainboard_board_contracts{symbol=\"SPX\"}") && !l.ends_with(" 0")
        ),
        "metrics show the board: {metrics}"
    );
    get_ok(address(&service), "/readyz").await;

    let stopped = service.stop().await;
    assert!(
        stopped.flushed,
        "the writer's last writes reached the store"
    );
    assert!(
        stopped.status.boards[0].stats.quotes > 0,
        "quotes were applied"
    );
    fake.shutdown().await;
}

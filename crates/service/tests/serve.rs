//! `serve` over a real redis-server: a process that runs no ingestion serves the
//! documents, seqs and diffs the service published, byte for byte, and its status.

mod common;

use std::time::{Duration, Instant};

use chainboard_server::ServerConfig;
use chainboard_service::{ServeConfig, Serving};
use chainboard_store::{KeySchema, Store};
use chainboard_testkit::redis::RedisServer;
use common::{PATIENCE, address, fake, get, get_ok, listen, service, spx};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

async fn serving(redis: &str) -> Serving {
    Serving::start(ServeConfig {
        store: Store::connect(Some(redis)).await.expect("redis"),
        symbols: vec![spx()],
        schema: KeySchema::default(),
        listen: listen(),
        http: ServerConfig::for_listen(listen()),
        leases: None,
    })
    .await
    .expect("serve starts")
}

async fn redis_store(url: &str) -> Store {
    Store::connect(Some(url)).await.expect("redis")
}

fn seq(doc: &str) -> u64 {
    serde_json::from_str::<Value>(doc).expect("JSON")["seq"]
        .as_u64()
        .expect("a seq")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_the_published_documents_and_diffs_byte_for_byte() {
    let redis = RedisServer::start();
    let fake = fake().await;
    let service = service(&fake, redis_store(&redis.url()).await).await;
    let serving = serving(&redis.url()).await;

    // The same tick from both: identical bytes. Both move on every second, so read
    // until they are caught at the same seq.
    for path in ["/api/v1/heatmap/SPX", "/api/v1/gex/SPX"] {
        get_ok(serving.address(), path).await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (from_serve, from_service) = (
                get_ok(serving.address(), path).await,
                get_ok(address(&service), path).await,
            );
            if seq(&from_serve) == seq(&from_service) {
                assert!(
                    from_serve == from_service,
                    "{path}: the same tick, other bytes"
                );
                break;
            }
            assert!(Instant::now() < deadline, "{path}: never at the same seq");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // The stream from serve: full documents, then diffs that chain by seq.
    let ws = format!("ws://{}/api/v1/stream/SPX", serving.address());
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.expect("stream");
    let (mut held, mut held_gex) = (None, None);
    let (mut diffs, mut statuses) = (0, 0);
    let deadline = Instant::now() + PATIENCE;
    while (diffs < 3 || statuses < 1) && Instant::now() < deadline {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message")
            .expect("open")
            .expect("a frame");
        let Message::Text(text) = message else {
            continue;
        };
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        match doc["schema"].as_str().expect("a schema") {
            "chainboard/heatmap/v1" => held = doc["seq"].as_u64(),
            "chainboard/gex/v1" => held_gex = doc["seq"].as_u64(),
            "chainboard/heatmap-diff/v1" => {
                assert_eq!(
                    doc["base_seq"].as_u64(),
                    held,
                    "a diff only for the seq held"
                );
                held = doc["seq"].as_u64();
                diffs += 1;
            }
            "chainboard/gex-diff/v1" => {
                assert_eq!(doc["base_seq"].as_u64(), held_gex, "likewise for GEX");
                held_gex = doc["seq"].as_u64();
            }
            // Ingestion's status reaches serve through the store, a second or two
            // behind: the first ones may predate the epoch.
            "chainboard/status/v1" => {
                if doc["epoch"]["id"].is_string() {
                    statuses += 1;
                }
            }
            other => panic!("unexpected document {other}"),
        }
    }
    assert!(diffs >= 3, "diffs from serve: {diffs}");
    assert!(statuses >= 1, "a status naming the epoch from serve");

    // Ingestion's status, through the store.
    let epochs: Value =
        serde_json::from_str(&get_ok(serving.address(), "/api/v1/epochs/SPX").await).expect("JSON");
    let active = service.status().boards[0]
        .epoch
        .expect("an epoch")
        .to_string();
    assert_eq!(epochs["active"]["id"], active.as_str());
    get_ok(serving.address(), "/readyz").await;
    let metrics = get_ok(serving.address(), "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("chainboard_quotes_total{symbol=\"SPX\"}") && !l.ends_with(" 0")),
        "serve's metrics show ingestion's counters"
    );

    // The service stops: its last status says so, and serve is not ready at once
    // (within its half-second status read), not when the status key expires.
    service.stop().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, body) = get(serving.address(), "/readyz").await;
        if status == 503 && body.contains("the service stopped") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve stayed ready without a service: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serving.stop().await;
    fake.shutdown().await;
}

/// Redis restarts under a running service and a serve process: both reconnect, and
/// serve's documents move on again (its subscriptions are made anew).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_follows_again_after_redis_restarts() {
    let mut redis = RedisServer::start();
    if redis.is_external() {
        // A shared REDIS_URL cannot be restarted.
        return;
    }
    let fake = fake().await;
    let service = service(&fake, redis_store(&redis.url()).await).await;
    let serving = serving(&redis.url()).await;
    let before = seq(&get_ok(serving.address(), "/api/v1/gex/SPX").await);

    redis.restart();
    // The restarted Redis is empty: the documents come back as the publisher writes
    // them again, and serve's seq moves past what it had.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(serving.address(), "/api/v1/gex/SPX").await;
        if status == 200 && seq(&body) > before + 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve never moved past seq {before} after the restart: {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // And diffs flow again: a stream from serve gets one.
    let ws = format!("ws://{}/api/v1/stream/SPX", serving.address());
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.expect("stream");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = message
            && text.contains("\"chainboard/heatmap-diff/v1\"")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no diff from serve after the restart"
        );
    }
    service.stop().await;
    serving.stop().await;
    fake.shutdown().await;
}

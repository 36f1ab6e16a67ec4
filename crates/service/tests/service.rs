//! The whole service started in-process with [`Service::start`], against the fake
//! Massive over loopback: what a browser and a scraper read over HTTP is what the
//! pipeline published, and stopping flushes the store.

use std::time::Duration;

use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_massive::backoff::BackoffConfig;
use chainboard_massive::rest::ApiKey;
use chainboard_model::Underlying;
use chainboard_server::{Doc, ServerConfig};
use chainboard_service::{IngestConfig, ModelSettings, Service, ServiceConfig};
use chainboard_store::writer::WriterConfig;
use chainboard_store::{EmbeddedStore, KeySchema, Store};
use serde_json::Value;
use url::Url;

const KEY: &str = "test-key";
/// Generous: CI machines are shared and the fake builds a full SPX chain.
const PATIENCE: Duration = Duration::from_secs(60);

fn spx() -> Underlying {
    Underlying::new("SPX").expect("SPX")
}

async fn start(fake: &FakeMassive, store: Store) -> Service {
    let mut ingest = IngestConfig::new(
        Url::parse(&fake.rest_url()).expect("url"),
        Url::parse(&fake.ws_url()).expect("url"),
        ApiKey::new(KEY).expect("key"),
        vec![spx()],
    );
    ingest.poll_every = Duration::from_millis(50);
    ingest.load_backoff = BackoffConfig::from_millis(50, 500);
    let listen = "127.0.0.1:0".parse().expect("addr");
    let config = ServiceConfig {
        ingest,
        store,
        writer: WriterConfig::default(),
        models: ModelSettings::default(),
        listen,
        http: ServerConfig::for_listen(listen),
    };
    Service::start(config).await.expect("the service starts")
}

/// GETs `path` until it answers 200, returning the body.
async fn get_ok(service: &Service, path: &str) -> String {
    let url = format!("http://{}{path}", service.address());
    let client = reqwest::Client::new();
    let wait = async {
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return r.text().await.expect("a body");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("{path} never answered 200"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_in_process_serves_what_it_publishes() {
    let fake = FakeMassive::start(
        FakeConfig {
            api_key: KEY.to_owned(),
            underlyings: vec![spx()],
            ..FakeConfig::default()
        },
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("fake Massive starts");
    let embedded = EmbeddedStore::new();
    let service = start(&fake, Store::from(embedded.clone())).await;

    // The API serves the publisher's bytes: the document it returns is one the
    // publisher published (it may have moved on by a tick since).
    let gex: Value =
        serde_json::from_str(&get_ok(&service, "/api/v1/gex/SPX").await).expect("JSON");
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
        serde_json::from_str(&get_ok(&service, "/api/v1/epochs/SPX").await).expect("JSON");
    let active = service.status().boards[0]
        .epoch
        .expect("an epoch")
        .to_string();
    assert_eq!(epochs["active"]["id"], active.as_str());
    let metrics = get_ok(&service, "/metrics").await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("chainboard_board_contracts{symbol=\"SPX\"}") && !l.ends_with(" 0")
        ),
        "metrics show the board: {metrics}"
    );
    get_ok(&service, "/readyz").await;

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

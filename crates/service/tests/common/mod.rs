//! What the whole-service tests share: the fake Massive, a service started
//! in-process on a loopback port, and HTTP reads that wait for an answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_massive::backoff::BackoffConfig;
use chainboard_massive::rest::ApiKey;
use chainboard_model::Underlying;
use chainboard_server::ServerConfig;
use chainboard_service::{IngestConfig, Inputs, ModelSettings, Service, ServiceConfig};
use chainboard_store::writer::WriterConfig;
use chainboard_store::{Fences, Store};
use url::Url;

const KEY: &str = "test-key";
/// Generous: CI machines are shared and the fake builds a full SPX chain.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

pub(crate) fn spx() -> Underlying {
    Underlying::new("SPX").expect("SPX")
}

/// Any free loopback port.
pub(crate) fn listen() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

/// The fake Massive over a simulated SPX market.
pub(crate) async fn fake() -> FakeMassive {
    let config = FakeConfig {
        api_key: KEY.to_owned(),
        underlyings: vec![spx()],
        ..FakeConfig::default()
    };
    FakeMassive::start(config, listen())
        .await
        .expect("fake Massive starts")
}

/// The whole service on `fake`, writing to `store`.
pub(crate) async fn service(fake: &FakeMassive, store: Store) -> Service {
    let mut ingest = IngestConfig::new(
        Url::parse(&fake.rest_url()).expect("url"),
        Url::parse(&fake.ws_url()).expect("url"),
        ApiKey::new(KEY).expect("key"),
        vec![spx()],
    );
    ingest.poll_every = Duration::from_millis(50);
    ingest.load_backoff = BackoffConfig::from_millis(50, 500);
    let config = ServiceConfig {
        inputs: Inputs::Massive(Box::new(ingest)),
        record: None,
        store,
        writer: WriterConfig::default(),
        models: ModelSettings::default(),
        listen: Some(listen()),
        http: ServerConfig::for_listen(listen()),
        fences: Fences::none(),
        tap: None,
    };
    Service::start(config).await.expect("the service starts")
}

/// Where `service` serves HTTP (these tests always give it an address).
pub(crate) fn address(service: &Service) -> SocketAddr {
    service.address().expect("the service listens")
}

/// A GET's status and body (status 0 and the error when it did not answer).
pub(crate) async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    match reqwest::get(format!("http://{address}{path}")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Waits until `path` answers 200, within [`PATIENCE`], and returns the body.
pub(crate) async fn get_ok(address: SocketAddr, path: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(address, path).await;
        if status == 200 {
            return body;
        }
        assert!(Instant::now() < deadline, "{path}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

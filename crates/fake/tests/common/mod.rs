//! Helpers shared by the fake's integration tests: a started fake, an HTTP client
//! with the key, and a small WebSocket client that reads frames as JSON.

// Each test file uses a different subset of the helpers.
#![allow(dead_code)]

use std::time::Duration;

use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_model::Underlying;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) const KEY: &str = "test-key";

/// A fake serving SPX only (quicker to generate), with `tweak` applied.
pub(crate) async fn start(tweak: impl FnOnce(&mut FakeConfig)) -> FakeMassive {
    let mut config = FakeConfig {
        api_key: KEY.to_owned(),
        underlyings: vec![Underlying::new("SPX").expect("SPX")],
        ..FakeConfig::default()
    };
    tweak(&mut config);
    let listen = "127.0.0.1:0".parse().expect("address");
    FakeMassive::start(config, listen)
        .await
        .expect("fake starts")
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// GETs `url` with the key in the header; returns the status and the JSON body.
pub(crate) async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client
        .get(url)
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

/// POSTs a control request; returns the status and the JSON body.
pub(crate) async fn control(fake: &FakeMassive, path_and_query: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path_and_query}", fake.rest_url()))
        .send()
        .await
        .expect("control request");
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.expect("JSON body"))
}

/// Every contract of a chain load, following `next_url` to the end.
pub(crate) async fn load(client: &reqwest::Client, first_url: &str) -> Vec<Value> {
    let mut url = first_url.to_owned();
    let mut results = Vec::new();
    for _ in 0..1_000 {
        let (status, page) = get(client, &url).await;
        assert_eq!(status, 200, "{page}");
        results.extend(page["results"].as_array().cloned().unwrap_or_default());
        match page["next_url"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return results,
        }
    }
    panic!("next_url did not end");
}

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `{ws_url}/{cluster}` and checks the `connected` status.
pub(crate) async fn connect(fake: &FakeMassive, cluster: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{}/{cluster}", fake.ws_url()))
        .await
        .expect("connect");
    let first = next_json(&mut socket).await.expect("connected status");
    assert_eq!(first[0]["ev"], "status");
    assert_eq!(first[0]["status"], "connected");
    assert_eq!(first[0]["message"], "Connected Successfully");
    socket
}

/// Connects and authenticates.
pub(crate) async fn connect_authed(fake: &FakeMassive, cluster: &str) -> Socket {
    let mut socket = connect(fake, cluster).await;
    send(
        &mut socket,
        &format!(r#"{{"action":"auth","params":"{KEY}"}}"#),
    )
    .await;
    let reply = next_json(&mut socket).await.expect("auth reply");
    assert_eq!(reply[0]["status"], "auth_success", "{reply}");
    assert_eq!(reply[0]["message"], "authenticated");
    socket
}

pub(crate) async fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.expect("send");
}

/// What the next read gave.
#[derive(Debug)]
pub(crate) enum Read {
    /// A text frame.
    Text(String),
    /// A close frame.
    Close,
    /// The connection ended without a close frame (or errored).
    Gone,
    /// Nothing within the time.
    Timeout,
}

/// The next text or close, skipping pings and pongs.
pub(crate) async fn read(socket: &mut Socket, within: Duration) -> Read {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Read::Timeout,
            Ok(None | Some(Err(_))) => return Read::Gone,
            Ok(Some(Ok(Message::Text(t)))) => return Read::Text(t.to_string()),
            Ok(Some(Ok(Message::Close(_)))) => return Read::Close,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The next text frame as JSON (`None` on close, end or 5 s of silence).
pub(crate) async fn next_json(socket: &mut Socket) -> Option<Value> {
    match read(socket, Duration::from_secs(5)).await {
        Read::Text(t) => Some(serde_json::from_str(&t).expect("valid JSON frame")),
        _ => None,
    }
}

/// Whether a frame is a data frame (events other than status).
pub(crate) fn is_data(frame: &Value) -> bool {
    frame
        .as_array()
        .is_some_and(|events| events.iter().any(|e| e["ev"] != "status"))
}

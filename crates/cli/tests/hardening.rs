//! The service as an attacker and an unlucky operator meet it, over real sockets:
//! foreign origins and hosts, the token, the stream's client cap, clients that never
//! read and spam resync, and a Redis outage.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::time::{Duration, Instant};

use common::{Demo, Redis};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const TOKEN: &str = "test-token-0123456789abcdef";

async fn status_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Waits until `/readyz` gives `want`; returns its body.
async fn readyz_until(base: &str, want: u16, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) =
            status_json(reqwest::Client::new().get(format!("{base}/readyz"))).await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz never {want}: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens the stream with `headers` added to the upgrade request.
async fn open(url: &str, headers: &[(&str, &str)]) -> Result<Socket, String> {
    let mut request = url.into_client_request().unwrap();
    for (k, v) in headers {
        let name =
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        request.headers_mut().insert(name, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16().to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The next document, or the close code.
async fn next(socket: &mut Socket) -> Result<Value, Option<(u16, String)>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("stream ended without a close: {other:?}"),
        }
    }
}

fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

async fn metrics(base: &str, token: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_or_host_is_refused() {
    let demo = Demo::start();
    let base = demo.url.clone();
    readyz_until(&base, 200, Duration::from_secs(60)).await;
    let stream = format!("{}/api/v1/stream/SPX", base.replace("http://", "ws://"));
    let client = reqwest::Client::new();

    // A page on another site: no stream, no API.
    let refused = open(&stream, &[("Origin", "http://evil.example")]).await;
    assert_eq!(refused.err().as_deref(), Some("403"));
    let (status, body) = status_json(
        client
            .get(format!("{base}/api/v1/gex/SPX"))
            .header("Origin", "http://evil.example"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden_origin"))
    );
    // DNS rebinding: the attacker's name, resolved to 127.0.0.1.
    let rebound = open(
        &stream,
        &[("Host", "evil.example"), ("Origin", "http://evil.example")],
    )
    .await;
    assert_eq!(rebound.err().as_deref(), Some("403"));
    let (status, body) = status_json(
        client
            .get(format!("{base}/api/v1/symbols"))
            .header("Host", "evil.example"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden_host"))
    );

    // The bundled UI's own origin is served.
    let own = base.clone();
    let mut socket = open(&stream, &[("Origin", &own)]).await.unwrap();
    assert_eq!(
        next(&mut socket).await.unwrap()["schema"],
        "chainboard/heatmap/v1"
    );
    let text = metrics(&base, None).await;
    assert!(metric(&text, "chainboard_http_denied_total{reason=\"origin\"}").unwrap() >= 2.0);
    assert!(metric(&text, "chainboard_http_denied_total{reason=\"host\"}").unwrap() >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_one_is_set() {
    let file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("token-{}", std::process::id()));
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let demo = Demo::start_with(&["--auth-token-file", file.to_str().unwrap()]);
    let base = demo.url.clone();
    // Probes and the UI's files need no token.
    readyz_until(&base, 200, Duration::from_secs(60)).await;
    let client = reqwest::Client::new();
    for open_path in ["/", "/app.js", "/healthz"] {
        let status = client
            .get(format!("{base}{open_path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200, "{open_path}");
    }
    // Market data does.
    for guarded in ["/api/v1/symbols", "/api/v1/gex/SPX", "/metrics"] {
        let (status, body) = status_json(client.get(format!("{base}{guarded}"))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("unauthorized")),
            "{guarded}"
        );
        let (status, _) = status_json(
            client
                .get(format!("{base}{guarded}"))
                .bearer_auth("test-token-0123456789abcdeX"),
        )
        .await;
        assert_eq!(status, 401, "{guarded} with a wrong token");
        let response = client
            .get(format!("{base}{guarded}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{guarded} with the token");
    }
    let stream = format!("{}/api/v1/stream/SPX", base.replace("http://", "ws://"));
    assert_eq!(open(&stream, &[]).await.err().as_deref(), Some("401"));
    let mut socket = open(&format!("{stream}?token={TOKEN}"), &[]).await.unwrap();
    assert_eq!(
        next(&mut socket).await.unwrap()["schema"],
        "chainboard/heatmap/v1"
    );
    let bearer = format!("Bearer {TOKEN}");
    let mut socket = open(&stream, &[("Authorization", &bearer)]).await.unwrap();
    assert_eq!(
        next(&mut socket).await.unwrap()["schema"],
        "chainboard/heatmap/v1"
    );
    let text = metrics(&base, Some(TOKEN)).await;
    assert!(metric(&text, "chainboard_http_denied_total{reason=\"token\"}").unwrap() >= 7.0);
    let _ = std::fs::remove_file(file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_clients_beyond_the_cap_are_closed_with_1013() {
    let demo = Demo::start_with(&["--max-stream-clients", "2"]);
    let base = demo.url.clone();
    readyz_until(&base, 200, Duration::from_secs(60)).await;
    let stream = format!("{}/api/v1/stream/SPX", base.replace("http://", "ws://"));
    let mut first = open(&stream, &[]).await.unwrap();
    let mut second = open(&stream, &[]).await.unwrap();
    assert!(next(&mut first).await.is_ok() && next(&mut second).await.is_ok());
    let mut third = open(&stream, &[]).await.unwrap();
    let (code, reason) = next(&mut third).await.unwrap_err().unwrap();
    assert_eq!(code, 1013);
    assert!(reason.contains("server full"), "{reason}");
    // A place frees when a client leaves.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = open(&stream, &[]).await.unwrap();
        if next(&mut again).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = metrics(&base, None).await;
    assert!(metric(&text, "chainboard_stream_clients_refused_total").unwrap() >= 1.0);
}

/// The attack the stream's bounds exist for: clients that never read and ask for a
/// resync every 50 ms. Before the bounds, 200 of them took the demo from 0.5 to
/// 3.9 GB in two seconds (a private copy of the 2 MB heatmap per client per send).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_stream_clients_cannot_run_up_memory() {
    const CLIENTS: usize = 100;
    let demo = Demo::start();
    let base = demo.url.clone();
    readyz_until(&base, 200, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = demo.rss_bytes();
    let stream = format!("{}/api/v1/stream/SPX", base.replace("http://", "ws://"));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut socket = open(&stream, &[]).await.unwrap();
        clients.push(tokio::spawn(async move {
            loop {
                let resync = Message::Text(r#"{"type":"resync"}"#.into());
                if socket.send(resync).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let mut peak = before;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        peak = peak.max(demo.rss_bytes());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for client in clients {
        client.abort();
    }
    let grown = peak.saturating_sub(before);
    // Unbounded, this is about 17 MB a client (1.7 GB); bounded, it is their
    // sockets' small buffers.
    assert!(
        grown < 150 << 20,
        "{CLIENTS} hostile clients grew RSS by {} MiB",
        grown >> 20
    );
    let text = metrics(&base, None).await;
    assert!(metric(&text, "chainboard_stream_clients_dropped_total").unwrap() >= 1.0);
    // And the memory is back once they are gone.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = demo.rss_bytes();
    eprintln!(
        "{CLIENTS} hostile clients: RSS {} MiB before, {} MiB peak, {} MiB 5 s after they left",
        before >> 20,
        peak >> 20,
        after >> 20
    );
    assert!(
        after < before + (100 << 20),
        "RSS {} MiB before, {} MiB after the clients left",
        before >> 20,
        after >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_a_redis_outage() {
    let mut redis = Redis::start();
    let demo = Demo::start_with(&["--redis", &redis.url]);
    let base = demo.url.clone();
    readyz_until(&base, 200, Duration::from_secs(60)).await;
    redis.stop();
    let body = readyz_until(&base, 503, Duration::from_secs(30)).await;
    assert_eq!(body["store"]["degraded"], true, "{body}");
    assert!(
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("degraded")),
        "{body}"
    );
    redis.restart();
    let body = readyz_until(&base, 200, Duration::from_secs(60)).await;
    assert_eq!(body["ready"], true);
}

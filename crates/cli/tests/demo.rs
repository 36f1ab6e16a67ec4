//! `chainboard demo` as a user starts it: the whole service on the simulated market,
//! checked through its HTTP API and browser stream over real sockets.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::time::{Duration, Instant};

use common::Demo;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON document on the stream (20 s at most).
async fn next_doc(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("stream ended: {other:?}"),
        }
    }
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

async fn get_json(url: &str) -> (u16, Value) {
    let (status, _, body) = get(url).await;
    (status, serde_json::from_str(&body).unwrap())
}

/// Waits until `/readyz` says ready.
async fn ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        if status == 200 {
            assert_eq!(body["ready"], true);
            return;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_the_api_metrics_ui_and_stream() {
    let demo = Demo::start();
    let base = demo.url.clone();
    ready(&base).await;

    let (status, symbols) = get_json(&format!("{base}/api/v1/symbols")).await;
    assert_eq!(
        (status, symbols["symbols"].clone()),
        (200, serde_json::json!(["SPX", "NDX"]))
    );
    let (status, heatmap) = get_json(&format!("{base}/api/v1/heatmap/SPX")).await;
    assert_eq!(status, 200);
    assert_eq!(heatmap["schema"], "chainboard/heatmap/v1");
    assert!(heatmap["contracts"]["gex"].as_array().unwrap().len() > 20_000);
    let (status, gex) = get_json(&format!("{base}/api/v1/gex/ndx")).await;
    assert_eq!((status, gex["symbol"].as_str()), (200, Some("NDX")));
    let (status, epochs) = get_json(&format!("{base}/api/v1/epochs/I:SPX")).await;
    assert_eq!(status, 200);
    assert_eq!(epochs["active"]["reason"], "startup");
    // Unknown or hostile symbols: a JSON 404, never a store lookup.
    for bad in [
        "FOO",
        "SPX%00",
        "..%2F..%2Fetc",
        "massive:epoch:current:SPX",
    ] {
        let (status, body) = get_json(&format!("{base}/api/v1/heatmap/{bad}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("unknown_symbol")),
            "{bad}"
        );
    }
    let (status, content_type, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for family in [
        "chainboard_quotes_total{symbol=\"SPX\"}",
        "chainboard_geometry_miss_total{symbol=\"NDX\"}",
        "chainboard_epochs_total{symbol=\"SPX\",reason=\"startup\"} 1",
        "chainboard_feed_silence_seconds{symbol=\"SPX\"}",
        "chainboard_model_tick_seconds_count",
        "chainboard_snapshot_build_seconds",
        "chainboard_store_flush_lag_seconds",
        "chainboard_store_errors_total 0",
        "chainboard_stream_clients",
        "chainboard_feed_frames_total",
        "chainboard_feed_errors_total{kind=\"bad_symbol\"}",
        "chainboard_socket_connects_total{cluster=\"options\"} 1",
    ] {
        assert!(
            metrics.contains(family),
            "{family} missing from:\n{metrics}"
        );
    }
    let (status, _, openapi) = get(&format!("{base}/api/v1/openapi.json")).await;
    let openapi: Value = serde_json::from_str(&openapi).unwrap();
    assert_eq!((status, openapi["openapi"].as_str()), (200, Some("3.1.0")));
    assert!(openapi["paths"]["/api/v1/gex/{symbol}/history"]["get"].is_object());

    // The session's history: every tick so far, one column a second; each column is
    // a published tick (its seq no later than the latest snapshot's).
    let (status, history) = get_json(&format!("{base}/api/v1/gex/SPX/history")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["schema"], "chainboard/gex-history/v1");
    let columns = history["columns"].as_array().unwrap();
    assert!(!columns.is_empty(), "{history}");
    let (_, latest) = get_json(&format!("{base}/api/v1/gex/SPX")).await;
    let last = columns.last().unwrap();
    assert!(
        last["seq"].as_u64() <= latest["seq"].as_u64(),
        "{last} after {}",
        latest["seq"]
    );
    assert_eq!(
        last["profile"].as_array().map(Vec::len),
        history["strikes"].as_array().map(Vec::len)
    );
    let (status, zero_dte) = get_json(&format!(
        "{base}/api/v1/gex/spx/history?filter=0dte&step=60"
    ))
    .await;
    assert_eq!((status, zero_dte["filter"].as_str()), (200, Some("0dte")));
    // Bad parameters: a JSON 400 naming the one at fault.
    for (query, parameter) in [
        ("step=0", "step"),
        ("step=abc", "step"),
        ("from=yesterday", "from"),
        ("from=2000000000&to=1000000000", "from"),
        ("to=1e300", "to"),
        ("filter=1dte", "filter"),
        ("from=0&to=9999999999&step=1", "step"),
        ("stpe=1", "query"),
        ("step=1&step=2", "step"),
    ] {
        let (status, body) = get_json(&format!("{base}/api/v1/gex/SPX/history?{query}")).await;
        assert_eq!(
            (status, body["code"].as_str(), body["parameter"].as_str()),
            (400, Some("bad_parameter"), Some(parameter)),
            "{query}: {body}"
        );
    }
    let (status, body) = get_json(&format!("{base}/api/v1/gex/FOO/history")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_symbol"))
    );
    let (status, content_type, page) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        page.contains("<script") && page.contains("app.js"),
        "{page}"
    );
    assert_eq!(get_json(&format!("{base}/healthz")).await.0, 200);

    // The stream: full documents, then diffs that chain by seq, then status.
    let ws = base.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}/api/v1/stream/SPX"))
        .await
        .unwrap();
    let mut held = None;
    let (mut diffs, mut statuses) = (0, 0);
    let mut epochs_seen = std::collections::BTreeSet::new();
    let listed = reqwest::Client::new()
        .post(format!("{}/_fake/list-strikes?symbol=SPX", demo.fake))
        .send()
        .await
        .unwrap();
    assert!(listed.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(45);
    while (diffs < 3 || epochs_seen.len() < 2) && Instant::now() < deadline {
        let doc = next_doc(&mut socket).await;
        match doc["schema"].as_str().unwrap() {
            "chainboard/heatmap/v1" => {
                held = doc["seq"].as_u64();
                epochs_seen.insert(doc["epoch"]["id"].as_str().unwrap().to_owned());
            }
            "chainboard/heatmap-diff/v1" => {
                assert_eq!(
                    doc["base_seq"].as_u64(),
                    held,
                    "a diff only for the seq held"
                );
                held = doc["seq"].as_u64();
                diffs += 1;
            }
            "chainboard/status/v1" => {
                statuses += 1;
                // A number once two statuses have been taken; null before.
                let rate = &doc["quotes_per_s"];
                assert!(rate.is_number() || rate.is_null(), "{doc}");
            }
            "chainboard/gex/v1" | "chainboard/gex-diff/v1" => {}
            other => panic!("unexpected document {other}"),
        }
    }
    assert!(diffs >= 3, "diffs: {diffs}");
    assert!(statuses >= 1);
    assert!(
        epochs_seen.len() >= 2,
        "listing strikes starts a geometry_change epoch, sent as full documents: {epochs_seen:?}"
    );
    let (_, epochs) = get_json(&format!("{base}/api/v1/epochs/SPX")).await;
    assert_eq!(epochs["active"]["reason"], "geometry_change", "{epochs}");

    // Asking for a resync gets full documents, within the 5 s a client waits between
    // two sets (the epoch change above just sent one).
    socket
        .send(Message::Text(r#"{"type":"resync"}"#.into()))
        .await
        .unwrap();
    let mut full = false;
    for _ in 0..40 {
        if next_doc(&mut socket).await["schema"] == "chainboard/heatmap/v1" {
            full = true;
            break;
        }
    }
    assert!(full, "resync answered with a full heatmap");

    // `?encoding=deflate`: the same documents as binary zlib messages, the status as
    // text; anything else is refused before the upgrade.
    let (mut compressed, _) =
        tokio_tungstenite::connect_async(format!("{ws}/api/v1/stream/SPX?encoding=deflate"))
            .await
            .unwrap();
    let mut schemas = Vec::new();
    let mut held = None;
    while schemas.len() < 8 {
        let message = tokio::time::timeout(Duration::from_secs(20), compressed.next())
            .await
            .expect("a message")
            .expect("open")
            .expect("valid");
        let doc: Value = match message {
            Message::Binary(bytes) => {
                let mut json = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::ZlibDecoder::new(&bytes[..]),
                    &mut json,
                )
                .expect("zlib");
                serde_json::from_slice(&json).expect("JSON")
            }
            Message::Text(text) => {
                let doc: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    doc["schema"], "chainboard/status/v1",
                    "only the status is text"
                );
                doc
            }
            _ => continue,
        };
        match doc["schema"].as_str().unwrap() {
            "chainboard/heatmap/v1" => held = doc["seq"].as_u64(),
            "chainboard/heatmap-diff/v1" => {
                assert_eq!(doc["base_seq"].as_u64(), held, "diffs chain");
                held = doc["seq"].as_u64();
            }
            _ => {}
        }
        schemas.push(doc["schema"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        schemas[..2],
        ["chainboard/heatmap/v1", "chainboard/gex/v1"],
        "{schemas:?}"
    );
    assert!(
        schemas.iter().any(|s| s == "chainboard/gex-diff/v1"),
        "{schemas:?}"
    );
    let refused = reqwest::Client::new()
        .get(format!("{base}/api/v1/stream/SPX?encoding=br"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("encoding must be json or deflate")
    );
}

#[test]
fn sigterm_stops_the_service_gracefully() {
    let demo = Demo::start();
    demo.wait_ready(Duration::from_secs(60));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ws = demo.url.replace("http://", "ws://");
    let mut socket = runtime.block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}/api/v1/stream/SPX"))
            .await
            .unwrap();
        next_doc(&mut socket).await;
        socket
    });
    let closed = runtime.spawn(async move {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    });
    let (status, stdout) = demo.terminate(Duration::from_secs(20));
    // As on Ctrl-C: ingestion stopped, the writer flushed, the summary printed, exit
    // 0 (not 143); the browser stream told it is going away.
    assert!(status.success(), "{status:?}\n{stdout}");
    for line in [
        "SPX epoch=",
        "NDX epoch=",
        "store degraded=",
        "models published=",
        "store flushed=true",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let code = runtime.block_on(closed).unwrap();
    assert_eq!(code, Some(1001), "the stream's close code");
}

/// The value of the metric sample `sample` (name and labels, as printed) in `text`.
fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_errors_show_in_the_metrics() {
    let demo = Demo::start();
    let base = demo.url.clone();
    ready(&base).await;
    let sample = "chainboard_feed_errors_total{kind=\"malformed_frame\"}";
    let (_, _, before) = get(&format!("{base}/metrics")).await;
    let before = metric(&before, sample).unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/_fake/malformed?frames=5", demo.fake))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, text) = get(&format!("{base}/metrics")).await;
        let now = metric(&text, sample).unwrap();
        if now >= before + 5.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{sample} {before} → {now}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_tells_the_truth_about_a_silent_feed() {
    let demo = Demo::start();
    let base = demo.url.clone();
    ready(&base).await;
    // The feed goes silent for 15 s while the market is open: not ready, saying why,
    // then ready again once it speaks.
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/_fake/stall?seconds=15", demo.fake))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        if status == 503 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "still ready while silent: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(body["ready"], false);
    let problems = body["problems"].to_string();
    assert!(problems.contains("feed silent"), "{body}");
    ready(&base).await;
}

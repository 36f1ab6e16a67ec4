//! The fake's WebSocket side over real sockets: the handshake, authentication,
//! subscriptions and their limit, the data that arrives, and the socket faults.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{
    KEY, Read, Socket, connect, connect_authed, control, http, is_data, load, next_json, read,
    send, start,
};
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// Near-the-money contracts of the first expiration: where the traffic is.
async fn busy_tickers(fake: &chainboard_fake::FakeMassive, n: usize) -> Vec<String> {
    let results = load(
        &http(),
        &format!(
            "{}/v3/snapshot/options/I:SPX?limit=250&strike_price.gte=6800&strike_price.lte=6900",
            fake.rest_url()
        ),
    )
    .await;
    let date = |r: &Value| {
        r["details"]["expiration_date"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let first = results.iter().map(date).min().expect("contracts");
    let mut near: Vec<(f64, String)> = results
        .iter()
        .filter(|r| date(r) == first)
        .map(|r| {
            let k = r["details"]["strike_price"].as_f64().unwrap_or(0.0);
            let t = r["details"]["ticker"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ((k - 6850.0).abs(), t)
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    near.into_iter().take(n).map(|(_, t)| t).collect()
}

/// Data events received within `window`.
async fn collect(socket: &mut Socket, window: Duration) -> Vec<Value> {
    let deadline = Instant::now() + window;
    let mut events = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match read(socket, left).await {
            Read::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("valid JSON");
                events.extend(v.as_array().cloned().unwrap_or_default());
            }
            _ => break,
        }
    }
    events
}

#[tokio::test]
async fn a_wrong_key_gets_auth_failed_and_a_close() {
    let fake = start(|_| {}).await;
    let mut socket = connect(&fake, "options").await;
    // Subscribing before auth is an error, not a crash.
    send(&mut socket, r#"{"action":"subscribe","params":"T.*"}"#).await;
    let reply = next_json(&mut socket).await.expect("reply");
    assert_eq!(reply[0]["status"], "error");
    send(&mut socket, "this is not json").await;
    assert_eq!(
        next_json(&mut socket).await.expect("reply")[0]["status"],
        "error"
    );
    send(&mut socket, r#"{"action":"auth","params":"nope"}"#).await;
    let reply = next_json(&mut socket).await.expect("reply");
    assert_eq!(reply[0]["status"], "auth_failed");
    assert_eq!(reply[0]["message"], "authentication failed");
    assert!(matches!(
        read(&mut socket, Duration::from_secs(3)).await,
        Read::Close | Read::Gone
    ));
    assert_eq!(fake.stats().auth_failed, 1);
    fake.shutdown().await;
}

#[tokio::test]
async fn no_auth_in_time_gets_auth_timeout() {
    let fake = start(|c| c.auth_timeout = Duration::from_millis(300)).await;
    let mut socket = connect(&fake, "indices").await;
    let started = Instant::now();
    let reply = next_json(&mut socket).await.expect("reply");
    assert_eq!(reply[0]["status"], "auth_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        read(&mut socket, Duration::from_secs(3)).await,
        Read::Close | Read::Gone
    ));
    assert_eq!(fake.stats().auth_timeouts, 1);
    fake.shutdown().await;
}

#[tokio::test]
async fn only_subscribed_contracts_arrive_with_acks_per_param() {
    let fake = start(|_| {}).await;
    let tickers = busy_tickers(&fake, 6).await;
    let mut socket = connect_authed(&fake, "options").await;
    let params: Vec<String> = tickers
        .iter()
        .flat_map(|t| [format!("Q.{t}"), format!("T.{t}")])
        .collect();
    send(
        &mut socket,
        &format!(
            r#"{{"action":"subscribe","params":"{}"}}"#,
            params.join(",")
        ),
    )
    .await;
    let acks = next_json(&mut socket).await.expect("acks");
    let acks = acks.as_array().expect("array");
    assert_eq!(acks.len(), params.len(), "one ack per param, in one frame");
    for (ack, param) in acks.iter().zip(&params) {
        assert_eq!(ack["status"], "success");
        assert_eq!(ack["message"], format!("subscribed to: {param}"));
    }
    let events = collect(&mut socket, Duration::from_millis(1500)).await;
    assert!(events.len() > 10, "{} events for {tickers:?}", events.len());
    let wanted: BTreeSet<&str> = tickers.iter().map(String::as_str).collect();
    for e in &events {
        let sym = e["sym"].as_str().expect("sym");
        assert!(wanted.contains(sym), "{sym} was not subscribed");
        match e["ev"].as_str() {
            Some("Q") => {
                for f in ["bx", "ax", "bp", "ap", "bs", "as", "t", "q"] {
                    assert!(e.get(f).is_some(), "{f} in {e}");
                }
                assert!(e["bp"].as_f64() < e["ap"].as_f64());
            }
            Some("T") => {
                for f in ["x", "p", "s", "c", "t", "q"] {
                    assert!(e.get(f).is_some(), "{f} in {e}");
                }
            }
            other => panic!("unexpected event {other:?}"),
        }
        // Milliseconds.
        assert!(
            e["t"]
                .as_i64()
                .is_some_and(|t| (1_000_000_000_000..10_000_000_000_000).contains(&t))
        );
    }
    // A chain photo taken now shows quotes at least as new as the ones received.
    let photo = load(
        &http(),
        &format!(
            "{}/v3/snapshot/options/I:SPX?limit=250&strike_price.gte=6840&strike_price.lte=6860",
            fake.rest_url()
        ),
    )
    .await;
    for e in events.iter().filter(|e| e["ev"] == "Q") {
        let result = photo
            .iter()
            .find(|r| r["details"]["ticker"] == e["sym"])
            .expect("subscribed contract in the photo");
        let photo_ns = result["last_quote"]["last_updated"].as_i64().expect("ns");
        let event_ms = e["t"].as_i64().expect("ms");
        assert!(photo_ns >= event_ms * 1_000_000, "{result} vs {e}");
    }
    // Unsubscribing everything stops the data.
    send(
        &mut socket,
        &format!(
            r#"{{"action":"unsubscribe","params":"{}"}}"#,
            params.join(",")
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let frame = next_json(&mut socket).await.expect("frame");
        if !is_data(&frame) {
            assert!(
                frame[0]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("unsubscribed to: "))
            );
            break;
        }
        assert!(Instant::now() < deadline);
    }
    assert!(matches!(
        read(&mut socket, Duration::from_millis(400)).await,
        Read::Timeout
    ));
    let stats = fake.stats();
    assert_eq!(stats.subscribe_messages, 1);
    assert!(stats.frames_sent > 0 && stats.events_sent >= events.len() as u64);
    fake.shutdown().await;
}

#[tokio::test]
async fn quotes_beyond_the_limit_are_refused_per_param() {
    let fake = start(|_| {}).await;
    let mut socket = connect_authed(&fake, "options").await;
    let params: Vec<String> = (0..1_001)
        .map(|i| format!("Q.O:SPXW261124C0{:07}", 5_000_000 + i * 1_000))
        .collect();
    send(
        &mut socket,
        &format!(
            r#"{{"action":"subscribe","params":"{},Q.*,T.*"}}"#,
            params.join(",")
        ),
    )
    .await;
    let acks = next_json(&mut socket).await.expect("acks");
    let acks = acks.as_array().expect("array");
    assert_eq!(acks.len(), 1_003);
    assert!(acks[..1_000].iter().all(|a| a["status"] == "success"));
    assert_eq!(acks[1_000]["status"], "error");
    let message = acks[1_000]["message"].as_str().expect("message");
    assert!(
        message.contains("at most 1000 option contracts"),
        "{message}"
    );
    assert!(message.ends_with(&params[1_000]), "{message}");
    assert_eq!(acks[1_001]["status"], "error", "no quote wildcard");
    assert_eq!(acks[1_002]["message"], "subscribed to: T.*");
    let stats = fake.stats();
    assert_eq!(
        (stats.quote_limit_rejections, stats.quoted_contracts_max),
        (1, 1_000)
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn index_values_arrive_on_indices_and_both_chains_share_the_options_socket() {
    let fake = start(|c| {
        c.underlyings = ["SPX", "NDX"]
            .into_iter()
            .map(|u| chainboard_model::Underlying::new(u).expect("valid"))
            .collect();
    })
    .await;
    let mut indices = connect_authed(&fake, "indices").await;
    send(&mut indices, r#"{"action":"subscribe","params":"V.I:SPX"}"#).await;
    assert_eq!(
        next_json(&mut indices).await.expect("ack")[0]["message"],
        "subscribed to: V.I:SPX"
    );
    let values = collect(&mut indices, Duration::from_millis(600)).await;
    assert!(values.len() >= 2, "{values:?}");
    for v in &values {
        assert_eq!(
            (v["ev"].as_str(), v["T"].as_str()),
            (Some("V"), Some("I:SPX"))
        );
        assert!(v["val"].as_f64().is_some_and(|x| x > 1000.0) && v["t"].is_i64());
    }
    let mut options = connect_authed(&fake, "options").await;
    send(&mut options, r#"{"action":"subscribe","params":"T.*"}"#).await;
    next_json(&mut options).await.expect("ack");
    let trades = collect(&mut options, Duration::from_millis(800)).await;
    let has = |root: &str| {
        trades
            .iter()
            .any(|t| t["sym"].as_str().is_some_and(|s| s.starts_with(root)))
    };
    assert!(has("O:SPX") && has("O:NDX"), "{} trades", trades.len());
    assert!(trades.iter().all(|t| t["ev"] == "T"));
    fake.shutdown().await;
}

#[tokio::test]
async fn stall_withholds_data_but_answers_pings() {
    let fake = start(|_| {}).await;
    let mut socket = connect_authed(&fake, "options").await;
    send(&mut socket, r#"{"action":"subscribe","params":"T.*"}"#).await;
    next_json(&mut socket).await.expect("ack");
    assert!(
        !collect(&mut socket, Duration::from_millis(400))
            .await
            .is_empty()
    );
    assert_eq!(control(&fake, "/_fake/stall?seconds=1.5").await.0, 200);
    // What was already in flight drains; then silence.
    collect(&mut socket, Duration::from_millis(250)).await;
    socket
        .send(Message::Ping(b"hi".to_vec().into()))
        .await
        .expect("ping");
    let quiet_until = Instant::now() + Duration::from_millis(800);
    let mut pong = false;
    while let Some(left) = quiet_until.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, futures_util::StreamExt::next(&mut socket)).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Pong(p)))) => pong = p.as_ref() == b"hi",
            Ok(other) => panic!("data during a stall: {other:?}"),
        }
    }
    assert!(pong, "pings are answered during a stall");
    assert!(
        !collect(&mut socket, Duration::from_millis(1500))
            .await
            .is_empty(),
        "data resumes"
    );
    assert!(fake.stats().stalled_ticks > 0);
    fake.shutdown().await;
}

#[tokio::test]
async fn drop_closes_every_socket_without_a_close_frame() {
    let fake = start(|_| {}).await;
    let mut options = connect_authed(&fake, "options").await;
    let mut indices = connect_authed(&fake, "indices").await;
    fake.control().drop_connections();
    for socket in [&mut options, &mut indices] {
        let mut ended = false;
        for _ in 0..100 {
            match read(socket, Duration::from_secs(3)).await {
                Read::Text(_) => continue,
                Read::Gone => {
                    ended = true;
                    break;
                }
                other => panic!("expected an abrupt end, got {other:?}"),
            }
        }
        assert!(ended);
    }
    assert_eq!(fake.stats().connections_dropped, 2);
    fake.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_are_not_json_then_the_feed_recovers() {
    let fake = start(|_| {}).await;
    let mut socket = connect_authed(&fake, "options").await;
    send(&mut socket, r#"{"action":"subscribe","params":"T.*"}"#).await;
    next_json(&mut socket).await.expect("ack");
    assert_eq!(control(&fake, "/_fake/malformed?frames=3").await.0, 200);
    let mut kinds = Vec::new();
    while kinds.len() < 40 {
        match read(&mut socket, Duration::from_secs(3)).await {
            Read::Text(t) => kinds.push(serde_json::from_str::<Value>(&t).is_ok()),
            other => panic!("{other:?}"),
        }
        if kinds.iter().filter(|ok| !**ok).count() == 3 && kinds.last() == Some(&true) {
            break;
        }
    }
    // Valid frames in flight, then exactly three broken ones, then valid again.
    let first_bad = kinds.iter().position(|ok| !ok).expect("a malformed frame");
    assert_eq!(
        &kinds[first_bad..first_bad + 4],
        &[false, false, false, true],
        "{kinds:?}"
    );
    assert_eq!(fake.stats().malformed_sent, 3);
    fake.shutdown().await;
}

#[tokio::test]
async fn a_newer_connection_closes_the_older_with_max_connections() {
    let fake = start(|_| {}).await;
    let mut old = connect_authed(&fake, "options").await;
    let _new = connect_authed(&fake, "options").await;
    let reply = next_json(&mut old).await.expect("status");
    assert_eq!(reply[0]["status"], "max_connections");
    assert_eq!(
        reply[0]["message"],
        "Maximum number of connections exceeded."
    );
    assert!(matches!(
        read(&mut old, Duration::from_secs(3)).await,
        Read::Close | Read::Gone
    ));
    // The other cluster has its own limit.
    let _indices = connect_authed(&fake, "indices").await;
    // reject_auth refuses even the right key.
    fake.control().reject_auth(true);
    let mut refused = connect(&fake, "options").await;
    send(
        &mut refused,
        &format!(r#"{{"action":"auth","params":"{KEY}"}}"#),
    )
    .await;
    assert_eq!(
        next_json(&mut refused).await.expect("reply")[0]["status"],
        "auth_failed"
    );
    let stats = fake.stats();
    assert_eq!(stats.max_connections_closed, 1);
    fake.shutdown().await;
}

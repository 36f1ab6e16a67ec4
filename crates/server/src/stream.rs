//! The browser stream: `GET /api/v1/stream/{symbol}` upgraded to a WebSocket.
//!
//! Protocol (text frames, one JSON document each, named by its `schema`):
//!
//! - on connect, and whenever the client cannot be sent a diff: the full
//!   `chainboard/heatmap/v1` and `chainboard/gex/v1` documents;
//! - every tick after that: `chainboard/heatmap-diff/v1` and `chainboard/gex-diff/v1`,
//!   but only when the diff's `base_seq` is the seq this client was last sent (the
//!   publisher may have skipped ticks; then full documents go instead);
//! - once a second: `chainboard/status/v1`, the feed's health (quotes per second,
//!   silence, `geometry_miss`) and the epoch with its recent transitions;
//! - the client may send `{"type":"resync"}` at any time to get full documents.
//!
//! Each client has a bounded queue of frames. A client that lets it fill up is
//! dropped and counted, rather than allowed to grow the server's memory: the close
//! (1013, "try again later") goes out of band, ahead of the queued frames, with a
//! second's grace; its reconnect starts from full documents. A client message larger
//! than 4 KiB is refused.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use chainboard_model::Underlying;
use chainboard_store::publisher::Published;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::api::{AppError, epochs_doc};
use crate::state::AppState;

/// `GET /api/v1/stream/{symbol}`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let symbol = state.symbol(&raw).ok_or(AppError::UnknownSymbol(raw))?;
    // A client only ever sends `{"type":"resync"}`: refuse anything large.
    let upgrade = upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| serve(state, symbol, socket)))
}

/// The largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// How long a dropped client's close frame may take to go out.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a client may send.
#[derive(serde::Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
}

async fn serve(state: AppState, symbol: Underlying, socket: WebSocket) {
    let inner = &state.inner;
    inner.stream_clients.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(inner.stream_queue);
    let (resync_tx, resync_rx) = mpsc::channel::<()>(1);
    // Out of band, so it reaches the writer even when the queue is full.
    let (close_tx, mut close_rx) = oneshot::channel::<()>();

    let writer = async move {
        loop {
            tokio::select! {
                biased;
                _ = &mut close_rx => {
                    let frame = CloseFrame {
                        code: 1013,
                        reason: "slow consumer".into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                text = rx.recv() => {
                    let Some(text) = text else { return };
                    if sink.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let reader = async move {
        while let Some(Ok(message)) = incoming.next().await {
            match message {
                Message::Text(text) => {
                    let asked = serde_json::from_str::<ClientMessage>(&text)
                        .is_ok_and(|m| m.kind == "resync");
                    if asked {
                        let _ = resync_tx.try_send(());
                    }
                }
                Message::Close(_) => return,
                _ => {}
            }
        }
    };
    let feeder = feed(state.clone(), symbol, tx, resync_rx);
    tokio::pin!(writer);
    tokio::select! {
        () = &mut writer => {}
        () = reader => {}
        dropped = feeder => {
            if dropped {
                inner.stream_dropped.fetch_add(1, Ordering::Relaxed);
                debug!(%symbol, "stream client dropped: too slow");
                let _ = close_tx.send(());
                let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
            }
        }
    }
    inner.stream_clients.fetch_sub(1, Ordering::Relaxed);
}

/// Sends snapshots, diffs and status to one client until it goes; returns whether it
/// was dropped for being slow.
async fn feed(
    state: AppState,
    symbol: Underlying,
    tx: mpsc::Sender<Utf8Bytes>,
    mut resync: mpsc::Receiver<()>,
) -> bool {
    let mut published = state.inner.publisher.watch(symbol);
    let mut status_every = tokio::time::interval(Duration::from_secs(1));
    status_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The seq and epoch this client holds; None until it has full documents.
    let mut held: Option<(u64, String)> = None;
    let mut quotes_then: Option<(u64, tokio::time::Instant)> = None;
    let mut first = true;
    loop {
        let send_full = tokio::select! {
            changed = published.changed(), if !first => {
                if changed.is_err() {
                    return false;
                }
                false
            }
            () = std::future::ready(()), if first => {
                first = false;
                true
            }
            Some(()) = resync.recv() => true,
            _ = status_every.tick() => {
                let doc = status_doc(&state, symbol, &mut quotes_then);
                if !queue(&tx, doc.into()) {
                    return !tx.is_closed();
                }
                continue;
            }
        };
        let Some(latest) = published.borrow_and_update().clone() else {
            continue;
        };
        let frames = frames_for(&latest, send_full, &held);
        held = Some((latest.heatmap.seq(), latest.heatmap.epoch.id.to_string()));
        for frame in frames {
            if !queue(&tx, frame) {
                return !tx.is_closed();
            }
        }
    }
}

/// The frames that bring a client holding `held` to `latest`.
fn frames_for(latest: &Published, full: bool, held: &Option<(u64, String)>) -> Vec<Utf8Bytes> {
    let epoch = latest.heatmap.epoch.id.to_string();
    let diff_applies = !full
        && latest.heatmap_diff_json.is_some()
        && latest.gex_diff_json.is_some()
        && held
            .as_ref()
            .is_some_and(|(seq, e)| *e == epoch && latest.diff_base_seq == Some(*seq));
    match (
        diff_applies,
        &latest.heatmap_diff_json,
        &latest.gex_diff_json,
    ) {
        (true, Some(h), Some(g)) => vec![text(h), text(g)],
        _ => vec![text(&latest.heatmap_json), text(&latest.gex_json)],
    }
}

fn text(s: &Arc<str>) -> Utf8Bytes {
    Utf8Bytes::from(s.to_string())
}

/// Queues a frame. Returns whether the client is still served: `false` when the
/// queue is full (the caller drops the client) or the writer is gone.
fn queue(tx: &mpsc::Sender<Utf8Bytes>, frame: Utf8Bytes) -> bool {
    tx.try_send(frame).is_ok()
}

/// `chainboard/status/v1`.
fn status_doc(
    state: &AppState,
    symbol: Underlying,
    quotes_then: &mut Option<(u64, tokio::time::Instant)>,
) -> String {
    let (quotes, silence_ms, geometry_miss) = {
        let status = state.inner.ingest.borrow();
        status.board(symbol).map_or((0, 0, 0), |b| {
            (b.stats.quotes, b.silence_ms, b.stats.geometry_miss)
        })
    };
    let now = tokio::time::Instant::now();
    let quotes_per_s = match quotes_then.replace((quotes, now)) {
        Some((then, at)) if now > at => {
            quotes.saturating_sub(then) as f64 / (now - at).as_secs_f64()
        }
        _ => 0.0,
    };
    let epochs = epochs_doc(state, symbol);
    json!({
        "schema": "chainboard/status/v1",
        "symbol": symbol.as_str(),
        "quotes_per_s": (quotes_per_s * 10.0).round() / 10.0,
        "feed_silence_ms": silence_ms,
        "geometry_miss": geometry_miss,
        "epoch": epochs["active"],
        "transitions": epochs["transitions"],
    })
    .to_string()
}

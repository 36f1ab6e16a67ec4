//! The browser stream: `GET /api/v1/stream/{symbol}` upgraded to a WebSocket.
//!
//! Protocol (text messages, one JSON document each, named by its `schema`):
//!
//! - on connect, and whenever the client cannot be sent a diff: the full
//!   `chainboard/heatmap/v1` and `chainboard/gex/v1` documents;
//! - every tick after that: `chainboard/heatmap-diff/v1` and `chainboard/gex-diff/v1`,
//!   but only when the diff's `base_seq` is the seq this client was last sent (the
//!   publisher may have skipped ticks; then full documents go instead);
//! - once a second: `chainboard/status/v1`, the feed's health (quotes per second,
//!   silence, `geometry_miss`) and the epoch with its recent transitions;
//! - the client may send `{"type":"resync"}` to get full documents: at most one set
//!   per [`StreamLimits::resync_every`] (5 s); a request within that is answered when
//!   it ends.
//!
//! With `?encoding=deflate` the four model documents come as **binary** messages,
//! each one document's JSON compressed with zlib (RFC 1950; a browser reads it with
//! `DecompressionStream("deflate")`); the status stays a text message. A tick's
//! documents are compressed once, by the first client that needs them, and every
//! client shares the compressed bytes ([`Documents::deflated`]): about 2.3× fewer
//! bytes to send to every client, which is what a tick's fan-out costs. Compression
//! is per message rather than the WebSocket's permessage-deflate extension because
//! a browser compresses its own messages under that extension, which the WebSocket
//! library here refuses, and because a message compressed by the extension's rules
//! cannot be shared by connections that keep a compression context.
//!
//! # Memory and cost
//!
//! Nothing sent is copied per client. Each tick's documents and diffs are rendered
//! once by the publisher as shared bytes, and the status once a second per symbol
//! ([`StatusCache`]); a client's queue holds references, and its connection writes
//! what is queued straight from them: one vectored write per client per tick, a
//! frame header and the shared bytes of each message ([`socket`]). There is no
//! per-client write buffer to grow, and a message of any size is one frame. A tick's
//! documents are queued together, with the status when it falls due within half a
//! second, so that they leave in the same write. The read buffer is small, as a
//! client only ever sends a few bytes.
//!
//! Each client's queue is bounded in documents and in bytes ([`StreamLimits`]),
//! counting what is being written as well as what waits: the bytes are shared, but a
//! slow client holding old documents keeps them alive. A
//! client that lets its queue fill up is dropped and counted rather than allowed to
//! grow the server's memory: the close (1013, "slow consumer") goes out of band,
//! ahead of the queued documents, with a second's grace; its reconnect starts from
//! full documents. A client beyond [`StreamLimits::max_clients`] is closed at once
//! with 1013 and a reason saying so, and counted. On shutdown every stream is closed
//! with 1001 ("going away"). A client message larger than 4 KiB is refused (1009), as
//! is a frame that breaks the protocol (1002).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::source::{Doc, Documents};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chainboard_model::Underlying;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::debug;

mod socket;

use socket::{BATCH, Inbox, Incoming, Outbox, Outgoing, ReadError};

use crate::api::{AppError, epochs_doc};
use crate::config::StreamLimits;
use crate::state::AppState;

/// How often a client is sent the feed's status.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// How long a dropped client's close frame may take to go out.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// `GET /api/v1/stream/{symbol}`: checks the upgrade request, answers 101 and serves
/// the socket on its own task.
pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    mut request: Request,
) -> Result<Response, AppError> {
    let symbol = state.symbol(&raw).ok_or(AppError::UnknownSymbol(raw))?;
    let encoding = Encoding::of(request.uri()).map_err(AppError::BadUpgrade)?;
    let key = handshake_key(request.method(), request.headers()).map_err(AppError::BadUpgrade)?;
    let on_upgrade = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or(AppError::BadUpgrade("the connection cannot be upgraded"))?;
    // The slot is taken before the 101 goes out, so a burst of upgrades cannot
    // overshoot the cap.
    let slot = Slot::take(&state);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (read, write) = tokio::io::split(TokioIo::new(upgraded));
        let (inbox, outbox) = (Inbox::new(read), Outbox::new(write));
        match slot {
            Some(slot) => serve(state, symbol, encoding, inbox, outbox, slot).await,
            None => refuse(outbox, state.inner.config.stream.max_clients).await,
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| AppError::BadUpgrade("Sec-WebSocket-Key"))?;
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Ok(response)
}

/// How the model documents are sent to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Text messages of JSON (the default).
    Json,
    /// Binary messages of zlib-compressed JSON (`?encoding=deflate`).
    Deflate,
}

impl Encoding {
    /// The request's `encoding` query parameter, or what is wrong with it.
    pub(crate) fn of(uri: &axum::http::Uri) -> Result<Encoding, &'static str> {
        let query = uri.query().unwrap_or_default().as_bytes();
        let mut encoding = Encoding::Json;
        for (name, value) in url::form_urlencoded::parse(query) {
            if name == "encoding" {
                encoding = match value.as_ref() {
                    "json" => Encoding::Json,
                    "deflate" => Encoding::Deflate,
                    _ => return Err("encoding must be json or deflate"),
                };
            }
        }
        Ok(encoding)
    }
}

/// The `Sec-WebSocket-Key` of a valid RFC 6455 upgrade request, or what is wrong.
fn handshake_key(method: &Method, headers: &HeaderMap) -> Result<String, &'static str> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if method != Method::GET {
        return Err("a WebSocket upgrade is a GET");
    }
    if !has(header::CONNECTION, "upgrade") || !has(header::UPGRADE, "websocket") {
        return Err("expected a WebSocket upgrade (Connection: upgrade, Upgrade: websocket)");
    }
    if !has(header::SEC_WEBSOCKET_VERSION, "13") {
        return Err("expected Sec-WebSocket-Version: 13");
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| k.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .map(str::to_owned)
        .ok_or("expected a Sec-WebSocket-Key")
}

/// One of the [`StreamLimits::max_clients`] places; given back on drop.
struct Slot(AppState);

impl Slot {
    fn take(state: &AppState) -> Option<Slot> {
        let inner = &state.inner;
        let max = inner.config.stream.max_clients as u64;
        let taken = inner
            .stream_clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Some(Slot(state.clone())),
            Err(_) => {
                inner.stream_refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.inner.stream_clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Closes a client beyond the cap.
async fn refuse<W: AsyncWrite + Unpin>(mut outbox: Outbox<W>, max: usize) {
    let reason = format!("server full: {max} stream clients");
    let _ = tokio::time::timeout(CLOSE_GRACE, outbox.close(CloseCode::Again, &reason)).await;
}

/// What the reading side asks the writing side to send.
#[derive(Debug)]
enum Control {
    /// Answer a ping.
    Pong(Bytes),
    /// Close with this code (the client closed, or broke the protocol).
    Close(CloseCode),
}

async fn serve<R, W>(
    state: AppState,
    symbol: Underlying,
    encoding: Encoding,
    mut inbox: Inbox<R>,
    mut outbox: Outbox<W>,
    _slot: Slot,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let inner = &state.inner;
    let limits = inner.config.stream;
    let (tx, mut rx) = mpsc::channel::<Outgoing>(limits.queue_frames.max(1));
    let held = Arc::new(Held::default());
    let (resync_tx, resync_rx) = mpsc::channel::<()>(1);
    let (control_tx, mut control_rx) = mpsc::channel::<Control>(1);
    // Out of band, so it reaches the writer even when the queue is full.
    let (close_tx, mut close_rx) = oneshot::channel::<()>();
    let mut shutdown = inner.shutdown.subscribe();

    let writer_held = held.clone();
    let writer = async move {
        // Reused for every write: no allocation per tick.
        let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
        loop {
            let (code, reason) = tokio::select! {
                biased;
                _ = &mut close_rx => (CloseCode::Again, "slow consumer"),
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => (CloseCode::Away, "server shutting down"),
                Some(control) = control_rx.recv() => match control {
                    Control::Pong(payload) => {
                        if outbox.pong(&payload).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Control::Close(code) => (code, ""),
                },
                out = rx.recv() => {
                    let Some(first) = out else { return };
                    batch.push(first);
                    while batch.len() < BATCH
                        && let Ok(next) = rx.try_recv()
                    {
                        batch.push(next);
                    }
                    let sent = outbox.send(&batch).await;
                    // Counted until written: a client stuck in a write still holds them.
                    let bytes: usize = batch.iter().map(|m| m.bytes.len()).sum();
                    writer_held.bytes.fetch_sub(bytes, Ordering::AcqRel);
                    writer_held.messages.fetch_sub(batch.len(), Ordering::AcqRel);
                    batch.clear();
                    if sent.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let _ = outbox.close(code, reason).await;
            return;
        }
    };
    let reader = async move {
        loop {
            let control = match inbox.next().await {
                Ok(Incoming::Text(text)) => {
                    if client_asks_resync(text) {
                        let _ = resync_tx.try_send(());
                    }
                    continue;
                }
                Ok(Incoming::Binary) => continue,
                // A ping while a pong is still pending needs no second answer.
                Ok(Incoming::Ping(payload)) => {
                    let _ = control_tx.try_send(Control::Pong(payload));
                    continue;
                }
                Ok(Incoming::Close) => Control::Close(CloseCode::Normal),
                Err(ReadError::Refused(refusal)) => {
                    debug!(%symbol, %refusal, "stream client refused");
                    Control::Close(refusal.code())
                }
                Err(ReadError::Io(_)) => return,
            };
            // The writer sends the close and ends the connection; should it be stuck
            // on a client that does not read, the grace ends it.
            let _ = control_tx.send(control).await;
            tokio::time::sleep(CLOSE_GRACE).await;
            return;
        }
    };
    let queue = Queue { tx, held, limits };
    let feeder = feed(state.clone(), symbol, encoding, queue, resync_rx);
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
}

/// Whether a client's message is a resync request. Anything else (not JSON, another
/// type, too deep) is ignored.
pub(crate) fn client_asks_resync(text: &str) -> bool {
    /// What a client may send.
    #[derive(serde::Deserialize)]
    struct ClientMessage<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<ClientMessage<'_>>(text).is_ok_and(|m| m.kind == "resync")
}

impl Outgoing {
    fn text(bytes: Bytes) -> Outgoing {
        Outgoing {
            bytes,
            binary: false,
        }
    }

    /// A model document of `latest` in the client's encoding, if the tick has it
    /// (as JSON text should it not compress).
    async fn doc(latest: &Documents, doc: Doc, encoding: Encoding) -> Option<Outgoing> {
        if encoding == Encoding::Deflate
            && let Some(bytes) = latest.deflated(doc).await
        {
            return Some(Outgoing {
                bytes,
                binary: true,
            });
        }
        Some(Outgoing::text(latest.json(doc)?.clone()))
    }
}

/// What a client holds, from the moment a message is queued until it is written.
#[derive(Debug, Default)]
struct Held {
    bytes: AtomicUsize,
    messages: AtomicUsize,
}

/// One client's queue, bounded in documents and bytes, those being written included.
struct Queue {
    tx: mpsc::Sender<Outgoing>,
    held: Arc<Held>,
    limits: StreamLimits,
}

impl Queue {
    /// Queues a document. Returns whether the client is still served: `false` when
    /// the queue is full in documents or bytes (the caller drops the client) or the
    /// writer is gone. A document always fits an empty queue.
    fn push(&self, doc: Outgoing) -> bool {
        let len = doc.bytes.len();
        let messages = self.held.messages.fetch_add(1, Ordering::AcqRel);
        let bytes = self.held.bytes.fetch_add(len, Ordering::AcqRel);
        let full = messages >= self.limits.queue_frames.max(1)
            || (bytes > 0 && bytes + len > self.limits.queue_bytes);
        if full || self.tx.try_send(doc).is_err() {
            self.held.messages.fetch_sub(1, Ordering::AcqRel);
            self.held.bytes.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// Sends snapshots, diffs and status to one client until it goes; returns whether it
/// was dropped for being slow.
async fn feed(
    state: AppState,
    symbol: Underlying,
    encoding: Encoding,
    queue: Queue,
    mut resync: mpsc::Receiver<()>,
) -> bool {
    let mut published = state.inner.source.documents(symbol);
    // When the next status is due: once a second, riding with a tick's documents when
    // it falls due within half a second of one, so both leave in one write. One timer
    // for the connection's life, moved rather than made anew on every pass.
    let status_timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(status_timer);
    // The seq and epoch this client holds; None until it has full documents.
    let mut held: Option<(u64, Arc<str>)> = None;
    let resync_every = queue.limits.resync_every;
    // When the client last got full documents, and a request waiting for the window.
    let mut last_full: Option<Instant> = None;
    let mut deferred: Option<Instant> = None;
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
            Some(()) = resync.recv() => {
                match last_full {
                    Some(at) if at.elapsed() < resync_every => {
                        if deferred.is_none() {
                            state.inner.stream_resyncs_deferred.fetch_add(1, Ordering::Relaxed);
                            deferred = Some(at + resync_every);
                        }
                        continue;
                    }
                    _ => true,
                }
            }
            () = tokio::time::sleep_until(deferred.unwrap_or_else(Instant::now)), if deferred.is_some() => {
                deferred = None;
                true
            }
            () = &mut status_timer => {
                status_timer.as_mut().reset(Instant::now() + STATUS_EVERY);
                if !queue.push(Outgoing::text(state.inner.status.get(&state, symbol))) {
                    return !queue.tx.is_closed();
                }
                continue;
            }
        };
        let Some(latest) = published.borrow_and_update().clone() else {
            continue;
        };
        // The same tick again (a source may publish it twice, the second time with
        // its diffs): the client holds it already.
        if !send_full
            && held
                .as_ref()
                .is_some_and(|(seq, epoch)| *seq == latest.seq && *epoch == latest.epoch)
        {
            continue;
        }
        let (docs, full) = docs_for(&latest, send_full, held.as_ref());
        if full {
            last_full = Some(Instant::now());
        }
        held = Some((latest.seq, latest.epoch.clone()));
        // Both documents before either is queued, so that they leave in one write.
        let [first, second] = docs;
        let tick = [
            Outgoing::doc(&latest, first, encoding).await,
            Outgoing::doc(&latest, second, encoding).await,
        ];
        let now = Instant::now();
        let status = (status_timer.deadline() <= now + STATUS_EVERY / 2).then(|| {
            status_timer.as_mut().reset(now + STATUS_EVERY);
            Outgoing::text(state.inner.status.get(&state, symbol))
        });
        for out in tick.into_iter().chain([status]).flatten() {
            if !queue.push(out) {
                return !queue.tx.is_closed();
            }
        }
    }
}

/// The documents that bring a client holding `held` to `latest`, and whether they
/// are the full ones.
fn docs_for(latest: &Documents, full: bool, held: Option<&(u64, Arc<str>)>) -> ([Doc; 2], bool) {
    let diff_applies = !full && held.is_some_and(|(seq, epoch)| latest.diffs_from(*seq, epoch));
    if diff_applies {
        ([Doc::HeatmapDiff, Doc::GexDiff], false)
    } else {
        ([Doc::Heatmap, Doc::Gex], true)
    }
}

/// `chainboard/status/v1` per symbol, rendered at most once a second whatever the
/// number of clients.
#[derive(Debug, Default)]
pub(crate) struct StatusCache {
    latest: std::sync::Mutex<Vec<(Underlying, CachedStatus)>>,
}

#[derive(Debug, Clone)]
struct CachedStatus {
    /// When it was rendered.
    at: Instant,
    /// The sample it was rendered from: the board's quote count, when the status
    /// was taken, and the rate computed then.
    sample: QuoteSample,
    doc: Bytes,
}

/// A board's quote count as of a status, and the rate derived from the one before
/// (`None` until there is one before: a rate of zero would claim a silent feed).
#[derive(Debug, Clone, Copy, Default)]
struct QuoteSample {
    quotes: u64,
    at_ms: i64,
    per_s: Option<f64>,
}

impl StatusCache {
    /// Older than this, the status is rendered again.
    const MAX_AGE: Duration = Duration::from_millis(900);

    fn get(&self, state: &AppState, symbol: Underlying) -> Bytes {
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let cached = latest.iter_mut().find(|(u, _)| *u == symbol);
        if let Some((_, c)) = &cached
            && now.duration_since(c.at) < Self::MAX_AGE
        {
            return c.doc.clone();
        }
        let previous = cached.as_ref().map(|(_, c)| c.sample);
        let (sample, doc) = status_doc(state, symbol, previous);
        let fresh = CachedStatus {
            at: now,
            sample,
            doc: doc.clone(),
        };
        match cached {
            Some((_, c)) => *c = fresh,
            None => latest.push((symbol, fresh)),
        }
        doc
    }
}

/// `chainboard/status/v1`, with the quote sample it was computed from.
///
/// The rate is taken between two statuses by the times they were taken
/// ([`ServiceStatus::at_ms`]), not by when they were read: a status read from the
/// store arrives late and at its own cadence, and two reads of one status would
/// otherwise show a rate of zero. A status not newer than the last keeps its rate;
/// the first status of a symbol has none (`null`), not zero.
///
/// [`ServiceStatus::at_ms`]: crate::source::ServiceStatus::at_ms
fn status_doc(
    state: &AppState,
    symbol: Underlying,
    previous: Option<QuoteSample>,
) -> (QuoteSample, Bytes) {
    let status = state.inner.source.status();
    let (quotes, silence_ms, geometry_miss) = status
        .board(symbol)
        .map_or((0, 0, 0), |b| (b.quotes, b.silence_ms, b.geometry_miss));
    let per_s = match previous {
        Some(p) if status.at_ms > p.at_ms => {
            Some(quotes.saturating_sub(p.quotes) as f64 * 1000.0 / (status.at_ms - p.at_ms) as f64)
        }
        Some(p) => p.per_s,
        None => None,
    };
    let sample = QuoteSample {
        quotes,
        at_ms: status.at_ms,
        per_s,
    };
    let epochs = epochs_doc(&status, symbol);
    let doc = json!({
        "schema": "chainboard/status/v1",
        "symbol": symbol.as_str(),
        "quotes_per_s": per_s.map(|r| (r * 10.0).round() / 10.0),
        "clock": status.at_ms as f64 / 1000.0,
        "replay": status.replay,
        "feed_silence_ms": silence_ms,
        "geometry_miss": geometry_miss,
        "epoch": epochs["active"],
        "transitions": epochs["transitions"],
    })
    .to_string();
    (sample, Bytes::from(doc))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_queue_counts_what_is_being_written_against_its_bounds() {
        let limits = StreamLimits {
            queue_frames: 3,
            queue_bytes: 100,
            ..StreamLimits::default()
        };
        let (tx, mut rx) = mpsc::channel(limits.queue_frames);
        let queue = Queue {
            tx,
            held: Arc::new(Held::default()),
            limits,
        };
        let doc = |len: usize| Outgoing::text(Bytes::from(vec![b' '; len]));
        // A document larger than the byte bound fits an empty queue.
        assert!(queue.push(doc(150)));
        assert!(!queue.push(doc(1)), "the bytes are full");
        // Taken by the writer, but not yet written: still held.
        let taken = rx.try_recv().expect("queued");
        assert!(!queue.push(doc(1)), "what is being written still counts");
        queue
            .held
            .bytes
            .fetch_sub(taken.bytes.len(), Ordering::AcqRel);
        queue.held.messages.fetch_sub(1, Ordering::AcqRel);
        assert!(queue.push(doc(10)) && queue.push(doc(10)) && queue.push(doc(10)));
        assert!(!queue.push(doc(10)), "three documents are the bound");
        assert_eq!(queue.held.messages.load(Ordering::Acquire), 3);
        assert_eq!(queue.held.bytes.load(Ordering::Acquire), 30);
    }

    #[test]
    fn only_a_resync_message_asks_for_one() {
        assert!(client_asks_resync(r#"{"type":"resync"}"#));
        assert!(client_asks_resync(r#"{"type":"resync","extra":[1,2]}"#));
        assert!(client_asks_resync(r#"{"type":"re\u0073ync"}"#));
        for other in [
            r#"{"type":"Resync"}"#,
            r#"{"type":1}"#,
            "resync",
            "",
            "[]",
            "{}",
            "null",
        ] {
            assert!(!client_asks_resync(other), "{other}");
        }
        let deep = "[".repeat(10_000);
        assert!(!client_asks_resync(&deep));
    }

    proptest! {
        /// Whatever a client sends (up to the 4 KiB limit): an answer, never a panic.
        /// (A fuzz suite: `PROPTEST_CASES` sets its length, see the README.)
        #[test]
        fn fuzz_client_messages(text in "\\PC{0,256}", bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = client_asks_resync(&text);
            let _ = client_asks_resync(&String::from_utf8_lossy(&bytes));
            let wrapped = format!(r#"{{"type":{}}}"#, serde_json::to_string(&text).expect("a string"));
            prop_assert_eq!(client_asks_resync(&wrapped), text == "resync");
        }
    }
}

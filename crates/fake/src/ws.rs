//! The WebSocket endpoints `/options` and `/indices`: one task per socket that moves
//! bytes between the client, the protocol [`Session`] and the market's ticks.
//!
//! Each socket has a reader loop (this task) and a writer task joined by a bounded
//! queue. The reader never waits on the client: if the queue is full, or the socket
//! has fallen a whole broadcast channel behind, the client is a slow consumer and is
//! told so and closed — memory stays bounded whatever the client does. Pings are
//! answered by the WebSocket layer while the reader reads, also during a stall.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::session::{
    self, AUTH_TIMEOUT, AuthCheck, MAX_CLIENT_MESSAGE, MAX_CONNECTIONS, SLOW_CONSUMER, Session,
    Verdict, status_frame,
};
use crate::state::{Cluster, Shared, lock};
use crate::stats::{add, bump};

/// Frames a socket's writer may have queued before its client is a slow consumer.
const OUT_QUEUE: usize = 64;
/// Longest a single write may take before the client is given up on.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the goodbye (final status and close frame) may take.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);
/// Close code sent after a status that ends the session (policy violation).
const CLOSE_POLICY: u16 = 1008;
/// The largest message the WebSocket layer reads: above Massive's 1 MB so that an
/// oversized subscribe gets an error status rather than a dropped socket, but bounded.
const MAX_READ: usize = 4 * MAX_CLIENT_MESSAGE;

/// `GET /options`.
pub(crate) async fn options(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    upgrade(shared, Cluster::Options, ws)
}

/// `GET /indices`.
pub(crate) async fn indices(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    upgrade(shared, Cluster::Indices, ws)
}

fn upgrade(shared: Arc<Shared>, cluster: Cluster, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_READ)
        .max_frame_size(MAX_READ)
        .on_upgrade(move |socket| run(shared, cluster, socket))
}

/// How a socket ends.
#[derive(Debug)]
enum Ending {
    /// Send this status, then a close frame.
    Status((&'static str, &'static str)),
    /// Close politely with no status (client closed, server shutting down).
    Close,
    /// Drop the TCP connection with no close frame (`drop_connections`), or the
    /// client is already gone.
    Abrupt,
}

/// What the reader tells the writer at the end.
#[derive(Debug)]
enum Goodbye {
    /// Flush what is queued (unless the client is too slow for it), send `status` if
    /// any, then a close frame.
    Close { status: Option<String>, flush: bool },
}

/// Decrements `connections_open` however the task ends.
struct OpenGuard<'a>(&'a Shared);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0
            .counters
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run(shared: Arc<Shared>, cluster: Cluster, socket: WebSocket) {
    bump(&shared.counters.connections_accepted);
    bump(&shared.counters.connections_open);
    let _open = OpenGuard(&shared);
    let id = shared.next_id();
    let (sink, mut stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Message>(OUT_QUEUE);
    let (bye_tx, bye_rx) = oneshot::channel::<Goodbye>();
    let mut writer = tokio::spawn(write_loop(sink, out_rx, bye_rx));
    let (evict_tx, mut evict_rx) = mpsc::channel::<()>(1);
    let mut ticks = shared.ticks.subscribe();
    let mut drops = shared.drops.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    let auth_deadline = tokio::time::sleep(shared.config.auth_timeout);
    tokio::pin!(auth_deadline);
    let mut session = Session::new(cluster, shared.config.max_quoted_contracts);
    // Malformed-frame requests made before this socket existed are not for it.
    let mut malformed_seen = shared.faults.malformed_generation.load(Ordering::Relaxed);
    let mut malformed_left = 0u64;

    let queue = |message: String| {
        out_tx
            .try_send(Message::Text(message.into()))
            .map_err(|_| Ending::Status(SLOW_CONSUMER))
    };
    let ending = 'session: {
        if let Err(end) = queue(status_frame([session::CONNECTED])) {
            break 'session end;
        }
        loop {
            tokio::select! {
                biased;
                _ = drops.changed() => break 'session Ending::Abrupt,
                _ = shutdown.changed() => break 'session Ending::Close,
                Some(()) = evict_rx.recv() => break 'session Ending::Status(MAX_CONNECTIONS),
                () = &mut auth_deadline, if !session.is_authenticated() => {
                    break 'session Ending::Status(AUTH_TIMEOUT);
                }
                incoming = stream.next() => {
                    let text = match incoming {
                        None | Some(Err(_)) => break 'session Ending::Abrupt,
                        Some(Ok(Message::Close(_))) => break 'session Ending::Close,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            let frame = status_frame([("error", "binary messages are not supported")]);
                            if let Err(end) = queue(frame) {
                                break 'session end;
                            }
                            continue;
                        }
                    };
                    let check = AuthCheck {
                        key: &shared.config.api_key,
                        reject: shared.faults.reject_auth.load(Ordering::Relaxed),
                    };
                    let reply = session.on_text(text.as_str(), check);
                    let counters = &shared.counters;
                    if reply.subscribe {
                        bump(&counters.subscribe_messages);
                    }
                    add(&counters.quote_limit_rejections, reply.quote_rejections);
                    counters
                        .quoted_contracts_max
                        .fetch_max(session.quoted() as u64, Ordering::Relaxed);
                    if let Some(frame) = reply.frame
                        && let Err(end) = queue(frame)
                    {
                        break 'session end;
                    }
                    match reply.verdict {
                        Verdict::Continue => {}
                        Verdict::Authenticated => {
                            bump(&counters.auth_success);
                            let evicted = lock(&shared.registry).admit(
                                cluster,
                                id,
                                evict_tx.clone(),
                                shared.config.max_connections,
                            );
                            add(&counters.max_connections_closed, evicted as u64);
                        }
                        Verdict::Close(status) => {
                            bump(&counters.auth_failed);
                            break 'session Ending::Status(status);
                        }
                    }
                }
                tick = ticks.recv() => {
                    let tick = match tick {
                        Ok(tick) => tick,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            break 'session Ending::Status(SLOW_CONSUMER);
                        }
                        Err(broadcast::error::RecvError::Closed) => break 'session Ending::Close,
                    };
                    let Some((mut frame, events)) = session.data_frame(&tick) else {
                        continue;
                    };
                    if cluster == Cluster::Options {
                        let generation = shared.faults.malformed_generation.load(Ordering::Relaxed);
                        if generation != malformed_seen {
                            malformed_seen = generation;
                            malformed_left = shared.faults.malformed_frames.load(Ordering::Relaxed);
                        }
                        if malformed_left > 0 {
                            malformed_left -= 1;
                            corrupt(&mut frame, malformed_left);
                            bump(&shared.counters.malformed_sent);
                        }
                    }
                    if let Err(end) = queue(frame) {
                        break 'session end;
                    }
                    bump(&shared.counters.frames_sent);
                    add(&shared.counters.events_sent, events as u64);
                }
            }
        }
    };
    lock(&shared.registry).remove(id);
    let goodbye = match ending {
        Ending::Abrupt => {
            writer.abort();
            // Dropping both halves of the socket closes the TCP connection without a
            // close frame: what a client sees when a server or a network dies.
            let _ = writer.await;
            drop(stream);
            bump(&shared.counters.connections_dropped);
            return;
        }
        Ending::Close => Goodbye::Close {
            status: None,
            flush: true,
        },
        Ending::Status(status) => {
            let slow = status == SLOW_CONSUMER;
            if slow {
                bump(&shared.counters.slow_consumers);
            } else if status == AUTH_TIMEOUT {
                bump(&shared.counters.auth_timeouts);
            }
            Goodbye::Close {
                status: Some(status_frame([status])),
                flush: !slow,
            }
        }
    };
    // The goodbye goes first, so the writer sees it before it sees the queue close.
    let _ = bye_tx.send(goodbye);
    drop(out_tx);
    if tokio::time::timeout(GOODBYE_TIMEOUT * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    drop(stream);
}

/// Writes queued frames until the goodbye, then the goodbye.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Message>,
    mut goodbye: oneshot::Receiver<Goodbye>,
) {
    loop {
        tokio::select! {
            biased;
            bye = &mut goodbye => {
                let Ok(Goodbye::Close { status, flush }) = bye else {
                    return;
                };
                let _ = tokio::time::timeout(GOODBYE_TIMEOUT, async {
                    if flush {
                        while let Ok(message) = queue.try_recv() {
                            sink.send(message).await?;
                        }
                    }
                    let reason = match &status {
                        Some(frame) => {
                            sink.send(Message::Text(frame.clone().into())).await?;
                            CloseFrame { code: CLOSE_POLICY, reason: "".into() }
                        }
                        None => CloseFrame { code: 1000, reason: "".into() },
                    };
                    sink.send(Message::Close(Some(reason))).await
                })
                .await;
                return;
            }
            message = queue.recv() => {
                let Some(message) = message else {
                    // The reader is done; wait for its goodbye.
                    let bye = (&mut goodbye).await;
                    if let Ok(Goodbye::Close { status, .. }) = bye {
                        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, async {
                            if let Some(frame) = status {
                                sink.send(Message::Text(frame.into())).await?;
                            }
                            sink.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await
                        })
                        .await;
                    }
                    return;
                };
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
        }
    }
}

/// Breaks a data frame's JSON, in one of two ways a wire can: cut short, or with a
/// stray byte after the array.
fn corrupt(frame: &mut String, variant: u64) {
    if variant.is_multiple_of(2) {
        let mut cut = frame.len() / 2;
        while !frame.is_char_boundary(cut) {
            cut -= 1;
        }
        frame.truncate(cut.max(1));
    } else {
        frame.push('\u{1}');
    }
}

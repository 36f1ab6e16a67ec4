//! The HTTP side's [`Source`] over the store: what `chainboard serve` reads, in a
//! process that runs no ingestion.
//!
//! Per symbol, a task follows the two update channels the publisher writes every tick
//! (`massive:heatmap:updates:<symbol>`, then `massive:gex:updates:<symbol>`). When it
//! has both messages of one tick it reads the two snapshot keys and, if they hold
//! that tick, publishes its [`Documents`]: the snapshots' bytes as stored and the two
//! diffs as published, so a browser gets from a `serve` process exactly the
//! documents, seqs and diffs the single binary would send it. A tick announced by a
//! resync notice, a tick whose messages were lost, or keys that moved on by a tick
//! meanwhile give full documents without diffs, which a browser stream answers with
//! full documents: never a diff that does not apply. Without messages (none
//! published yet, or a subscription being re-made after Redis went away) the keys
//! are read once a second; a tick such a read finds before its messages arrive
//! (the publisher writes the keys, then publishes) waits one more read for them, so
//! a read racing the publisher does not send every browser full documents.
//!
//! The service's status is read twice a second from the `massive:service:status:<symbol>`
//! keys, which the process running each underlying's ingestion writes every second
//! with a 5 s TTL. Each board comes from its own underlying's key; the counters from
//! the freshest key (one process writes them all, except while several ingestion
//! workers split the underlyings). A key absent or unreadable is said in `fatal`,
//! and `/readyz` fails with it; a store this process cannot reach marks the store
//! degraded, whatever the last status read says. In an ingestion worker's own HTTP side its leases
//! ([`LeaseBoard`]) are shown over what was read.
//!
//! Reading costs one `GET` of each snapshot per tick per `serve` process, whatever
//! the number of browsers: the fan-out stays in the process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chainboard_model::Underlying;
use chainboard_server::source::FeedNote;
use chainboard_server::{Documents, HistoryQuery, HistoryResult, ServiceStatus, Source};
use chainboard_store::{KeySchema, Store, Subscription};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::history::HistoryReader;
use crate::running::{STATUS_TTL, STATUS_WRITE_EVERY};
use crate::worker::LeaseBoard;

/// How often the keys are read when no message says a tick was published.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often the status key is read: twice per write, so a status is at most one
/// and a half write intervals old when served.
const STATUS_READ_EVERY: Duration =
    Duration::from_millis(STATUS_WRITE_EVERY.as_millis() as u64 / 2);
/// How long to wait before subscribing again after the store refused.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Documents and status read from the store.
#[derive(Debug)]
pub struct RedisSource {
    documents: BTreeMap<Underlying, watch::Sender<Option<Arc<Documents>>>>,
    status: Arc<Mutex<ServiceStatus>>,
    leases: Option<Arc<LeaseBoard>>,
    history: HistoryReader,
    tasks: Vec<AbortHandle>,
}

impl RedisSource {
    /// Starts following `symbols` and their status in `store`, on the current Tokio
    /// runtime, showing `leases` (an ingestion worker's own) in the status. The tasks
    /// end when the source is dropped.
    pub fn start(
        store: Store,
        symbols: &[Underlying],
        schema: KeySchema,
        leases: Option<Arc<LeaseBoard>>,
    ) -> Self {
        let status = Arc::new(Mutex::new(missing_status("not read yet")));
        let keys = symbols
            .iter()
            .map(|&u| (u, schema.service_status(u)))
            .collect();
        let mut tasks =
            vec![tokio::spawn(follow_status(store.clone(), keys, status.clone())).abort_handle()];
        let mut documents = BTreeMap::new();
        for &symbol in symbols {
            let (tx, _) = watch::channel(None);
            let follower = Follower {
                store: store.clone(),
                schema,
                symbol,
                keys: [schema.heatmap_snapshot(symbol), schema.gex_snapshot(symbol)],
                out: tx.clone(),
                unannounced: Mutex::new(None),
            };
            tasks.push(tokio::spawn(follower.run()).abort_handle());
            documents.insert(symbol, tx);
        }
        Self {
            documents,
            status,
            leases,
            history: HistoryReader::new(store, schema),
            tasks,
        }
    }
}

impl Drop for RedisSource {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Source for RedisSource {
    fn history(
        &self,
        symbol: Underlying,
        query: HistoryQuery,
    ) -> BoxFuture<'static, HistoryResult> {
        self.history.answer(symbol, query)
    }

    fn documents(&self, symbol: Underlying) -> watch::Receiver<Option<Arc<Documents>>> {
        match self.documents.get(&symbol) {
            Some(tx) => tx.subscribe(),
            // A symbol not followed never gets documents.
            None => watch::channel(None).1,
        }
    }

    fn status(&self) -> ServiceStatus {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(leases) = &self.leases {
            status.leases = Some(leases.status());
        }
        status
    }
}

/// A status that says why there is none.
fn missing_status(why: &str) -> ServiceStatus {
    ServiceStatus {
        fatal: Some(format!("no status from ingestion: {why}")),
        ..ServiceStatus::default()
    }
}

async fn follow_status(
    store: Store,
    keys: Vec<(Underlying, String)>,
    out: Arc<Mutex<ServiceStatus>>,
) {
    let mut every = tokio::time::interval(STATUS_READ_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let mut read = Vec::with_capacity(keys.len());
        for (symbol, key) in &keys {
            read.push((*symbol, read_status(&store, key).await));
        }
        let mut merged = merge_statuses(read);
        // The store as this process sees it: a reader cut off from Redis is degraded
        // whatever the last status it read says of ingestion's view.
        if let Err(e) = store.ping().await {
            merged.store.degraded = true;
            merged.store.last_error = Some(format!("this process cannot reach the store: {e}"));
        }
        *out.lock().unwrap_or_else(PoisonError::into_inner) = merged;
    }
}

/// The status under `key`, or why there is none.
async fn read_status(store: &Store, key: &str) -> Result<ServiceStatus, String> {
    match store.get(key).await {
        Ok(Some(text)) => {
            serde_json::from_str(&text).map_err(|e| format!("{key} is not a status document: {e}"))
        }
        Ok(None) => Err(format!(
            "{key} is absent (no `chainboard run` or `demo` writing to this store for {} s)",
            STATUS_TTL.as_secs()
        )),
        Err(e) => Err(format!("cannot read {key}: {e}")),
    }
}

/// One status from each underlying's: the freshest for the counters, each board from
/// its own underlying's, and in `fatal` every underlying whose status is missing or
/// says its ingestion stopped.
fn merge_statuses(read: Vec<(Underlying, Result<ServiceStatus, String>)>) -> ServiceStatus {
    let mut merged = read
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .max_by_key(|s| s.at_ms)
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    merged.boards = Vec::with_capacity(read.len());
    for (symbol, status) in read {
        match status {
            Ok(status) => {
                if let Some(fatal) = &status.fatal {
                    problems.push(format!("{symbol}: {fatal}"));
                }
                if let Some(board) = status.board(symbol) {
                    merged.boards.push(board.clone());
                }
            }
            Err(why) => problems.push(format!("no status from ingestion: {why}")),
        }
    }
    merged.fatal = (!problems.is_empty()).then(|| problems.join("; "));
    merged
}

/// What a reader needs of a published message: which tick it belongs to.
#[derive(Debug, Deserialize)]
struct Message {
    schema: String,
    epoch: String,
    seq: u64,
    /// Diffs only.
    base_seq: Option<u64>,
}

impl Message {
    fn is_diff(&self) -> bool {
        self.schema.ends_with("-diff/v1")
    }
}

/// What a reader needs of a stored snapshot, read without building the rest.
#[derive(Debug, Deserialize)]
struct Head {
    seq: u64,
    epoch: EpochHead,
    /// Seconds (the heatmap's `ts`).
    ts: Option<f64>,
    feed: Option<FeedNote>,
}

#[derive(Debug, Deserialize)]
struct EpochHead {
    id: String,
}

/// A tick announced on both channels.
#[derive(Debug, PartialEq)]
struct Announced {
    seq: u64,
    epoch: String,
    /// The diff pair (heatmap, GEX) and their base, when both are diffs of one base.
    diffs: Option<(u64, [Bytes; 2])>,
}

/// Pairs a tick's heatmap and GEX messages, which arrive on two connections in
/// either order: each channel's latest message is kept, and when both are of one
/// tick (seq and epoch) the tick is announced, with the diff pair when both are
/// diffs from one base. A message superseded before its partner arrived (lost on
/// the other channel) is forgotten; that tick is then read from the keys alone.
#[derive(Debug, Default)]
struct Pairer {
    heatmap: Option<(Message, Bytes)>,
    gex: Option<(Message, Bytes)>,
}

impl Pairer {
    /// A message from the heatmap channel; the tick, when this completes one.
    fn heatmap(&mut self, text: String) -> Option<Announced> {
        self.heatmap = parse_message(text);
        self.pair()
    }

    /// A message from the GEX channel; the tick, when this completes one.
    fn gex(&mut self, text: String) -> Option<Announced> {
        self.gex = parse_message(text);
        self.pair()
    }

    fn pair(&mut self) -> Option<Announced> {
        let same_tick = matches!(
            (&self.heatmap, &self.gex),
            (Some((h, _)), Some((g, _))) if h.seq == g.seq && h.epoch == g.epoch
        );
        if !same_tick {
            return None;
        }
        let ((h, h_text), (g, g_text)) = (self.heatmap.take()?, self.gex.take()?);
        let diffs = match (h.base_seq, g.base_seq) {
            (Some(a), Some(b)) if a == b && h.is_diff() && g.is_diff() => {
                Some((a, [h_text, g_text]))
            }
            _ => None,
        };
        Some(Announced {
            seq: h.seq,
            epoch: h.epoch,
            diffs,
        })
    }
}

/// Follows one symbol.
struct Follower {
    store: Store,
    schema: KeySchema,
    symbol: Underlying,
    /// The snapshot keys, spelled once.
    keys: [String; 2],
    out: watch::Sender<Option<Arc<Documents>>>,
    /// A tick a poll found in the keys before its messages came (the publisher
    /// writes the keys, then publishes): published without diffs only if the next
    /// poll still finds it unannounced (its messages were lost).
    unannounced: Mutex<Option<u64>>,
}

/// How a read treats a tick it finds in the keys with no diffs for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Publish it: nothing better is coming (no subscription, or just subscribed).
    Publish,
    /// Wait a poll for its messages, which bring the diffs: publishing it bare
    /// would send every client full documents.
    AwaitMessages,
}

impl Follower {
    async fn run(self) {
        loop {
            let subscribed = async {
                let heatmap = self
                    .store
                    .subscribe(&self.schema.heatmap_updates(self.symbol))
                    .await?;
                let gex = self
                    .store
                    .subscribe(&self.schema.gex_updates(self.symbol))
                    .await?;
                Ok::<_, chainboard_store::StoreError>((heatmap, gex))
            };
            match subscribed.await {
                Ok((heatmap, gex)) => self.follow(heatmap, gex).await,
                Err(e) => {
                    tracing::warn!(symbol = %self.symbol, error = %e, "cannot subscribe to the update channels; retrying");
                    self.read(None, Found::Publish).await;
                }
            }
            // A subscription ended (Redis went away) or could not be made: not at
            // once again, so a store that accepts and drops connections is not
            // hammered.
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    }

    /// Reads ticks as the channels announce them, until a subscription ends.
    async fn follow(&self, mut heatmap: Subscription, mut gex: Subscription) {
        // Messages published before the subscriptions were missed: read the keys.
        self.read(None, Found::Publish).await;
        let mut poll = tokio::time::interval(POLL_EVERY);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pairer = Pairer::default();
        let mut announced_since_poll = false;
        loop {
            let announced = tokio::select! {
                message = heatmap.next() => match message {
                    Some(text) => pairer.heatmap(text),
                    None => return,
                },
                message = gex.next() => match message {
                    Some(text) => pairer.gex(text),
                    None => return,
                },
                _ = poll.tick() => {
                    if !announced_since_poll {
                        self.read(None, Found::AwaitMessages).await;
                    }
                    announced_since_poll = false;
                    continue;
                }
            };
            if let Some(announced) = announced {
                announced_since_poll = true;
                self.read(Some(announced), Found::Publish).await;
            }
        }
    }

    /// Reads both snapshot keys and publishes their tick if it is new: with the
    /// announced diffs when the keys hold the announced tick; without, as `found`
    /// says.
    async fn read(&self, announced: Option<Announced>, found: Found) {
        let (heatmap, gex) =
            match tokio::try_join!(self.store.get(&self.keys[0]), self.store.get(&self.keys[1]),) {
                Ok((Some(h), Some(g))) => (h, g),
                // Expired (nothing published for the TTL) or not yet written: keep what
                // was read last; its age shows in /readyz.
                Ok(_) => return,
                Err(e) => {
                    tracing::debug!(symbol = %self.symbol, error = %e, "cannot read the snapshots");
                    return;
                }
            };
        let (Ok(head), Ok(gex_head)) = (
            serde_json::from_str::<Head>(&heatmap),
            serde_json::from_str::<Head>(&gex),
        ) else {
            tracing::warn!(symbol = %self.symbol, "a stored snapshot is not a chainboard document; skipped");
            return;
        };
        // The two keys are written together; read between two ticks' writes, they
        // can differ by one: the next tick's read puts them back in step.
        if head.seq != gex_head.seq || head.epoch.id != gex_head.epoch.id {
            return;
        }
        let diffs = announced
            .filter(|a| a.seq == head.seq && a.epoch == head.epoch.id)
            .and_then(|a| a.diffs);
        // Already published, unless this read brings the diffs an earlier read of
        // the same tick (a poll between the publisher's writes and its messages)
        // did not have.
        if self.out.borrow().as_ref().is_some_and(|d| {
            d.seq == head.seq
                && *d.epoch == *head.epoch.id
                && (d.base_seq.is_some() || diffs.is_none())
        }) {
            return;
        }
        if diffs.is_none() && found == Found::AwaitMessages {
            // Seen by the poll before too: its messages were lost; publish it.
            let mut unannounced = self
                .unannounced
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *unannounced != Some(head.seq) {
                *unannounced = Some(head.seq);
                return;
            }
        }
        *self
            .unannounced
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let feed = head.feed.unwrap_or_default();
        let docs = Documents::new(
            head.seq,
            Arc::from(head.epoch.id),
            head.ts.map_or(0, |s| (s * 1000.0).round() as i64),
            feed,
            [Bytes::from(heatmap), Bytes::from(gex)],
            diffs,
        );
        self.out.send_replace(Some(Arc::new(docs)));
    }
}

/// A message's tick and its bytes; `None` (logged) for one that is not a chainboard
/// update.
fn parse_message(text: String) -> Option<(Message, Bytes)> {
    match serde_json::from_str::<Message>(&text) {
        Ok(m) => Some((m, Bytes::from(text))),
        Err(e) => {
            tracing::warn!(error = %e, "an update message is not a chainboard document; skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(kind: &str, epoch: &str, base: u64, seq: u64) -> String {
        format!(
            r#"{{"schema":"chainboard/{kind}-diff/v1","symbol":"SPX","epoch":"{epoch}","base_seq":{base},"seq":{seq},"cells":[]}}"#
        )
    }

    fn resync(kind: &str, epoch: &str, seq: u64) -> String {
        format!(
            r#"{{"schema":"chainboard/{kind}-resync/v1","symbol":"SPX","epoch":"{epoch}","seq":{seq}}}"#
        )
    }

    #[test]
    fn a_tick_is_announced_once_both_messages_are_in_either_order() {
        let mut p = Pairer::default();
        assert_eq!(p.heatmap(diff("heatmap", "E1", 1, 2)), None);
        let a = p.gex(diff("gex", "E1", 1, 2)).expect("paired");
        assert_eq!((a.seq, a.epoch.as_str()), (2, "E1"));
        let (base, [h, g]) = a.diffs.expect("both diffs");
        assert_eq!(base, 1);
        assert!(h.starts_with(br#"{"schema":"chainboard/heatmap-diff/v1""#));
        assert!(g.starts_with(br#"{"schema":"chainboard/gex-diff/v1""#));
        // GEX first this time.
        assert_eq!(p.gex(diff("gex", "E1", 2, 3)), None);
        assert!(
            p.heatmap(diff("heatmap", "E1", 2, 3))
                .is_some_and(|a| a.seq == 3)
        );
    }

    #[test]
    fn a_lost_partner_is_forgotten_and_the_next_tick_pairs() {
        let mut p = Pairer::default();
        assert_eq!(p.heatmap(diff("heatmap", "E1", 1, 2)), None);
        // The GEX message of seq 2 was lost: seq 3's heatmap replaces seq 2's.
        assert_eq!(p.heatmap(diff("heatmap", "E1", 2, 3)), None);
        let a = p.gex(diff("gex", "E1", 2, 3)).expect("seq 3 pairs");
        assert_eq!(a.seq, 3);
        assert!(a.diffs.is_some());
    }

    #[test]
    fn resyncs_other_epochs_and_garbage_give_no_diffs() {
        let mut p = Pairer::default();
        // A new epoch: notices on both channels announce the tick without diffs.
        assert_eq!(p.heatmap(resync("heatmap", "E2", 9)), None);
        let a = p.gex(resync("gex", "E2", 9)).expect("paired");
        assert_eq!((a.seq, a.diffs), (9, None));
        // Same seq, another epoch: not one tick.
        assert_eq!(p.heatmap(diff("heatmap", "E2", 9, 10)), None);
        assert_eq!(p.gex(diff("gex", "E3", 9, 10)), None);
        // Diffs from different bases are not a pair of diffs.
        let mut p = Pairer::default();
        assert_eq!(p.heatmap(diff("heatmap", "E1", 4, 5)), None);
        assert_eq!(p.gex(diff("gex", "E1", 3, 5)).and_then(|a| a.diffs), None);
        // A message that is not a chainboard update is skipped, not fatal.
        assert_eq!(p.heatmap("not json".to_owned()), None);
        assert_eq!(p.gex(r#"{"schema":1}"#.to_owned()), None);
    }
}

//! What the HTTP side reads, and the one interface it reads it through.
//!
//! The server is a reader: it never computes a model or touches an engine. It
//! serves
//! - per symbol, the latest tick's published [`Documents`]: the JSON bytes of the
//!   four model documents, with the seq, epoch and diff base a stream needs to
//!   choose between diffs and full documents;
//! - the service's [`ServiceStatus`]: ingestion's boards, epochs and counters, the
//!   store's and the publisher's health, for `/readyz`, `/metrics`, the epochs
//!   endpoint and the stream's status messages.
//!
//! A [`Source`] provides both. The single binary's source reads them from the
//! pipeline in the same process (`chainboard-service`); a source over Redis reads
//! the same documents from the snapshot keys and update channels the publisher
//! writes. The status is plain data (serializable), so it can cross a process
//! boundary the same way.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chainboard_model::Underlying;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, watch};

/// Where the server's documents and status come from.
pub trait Source: fmt::Debug + Send + Sync + 'static {
    /// The latest published documents of `symbol`, as they change (`None` until its
    /// first tick is published).
    fn documents(&self, symbol: Underlying) -> watch::Receiver<Option<Arc<Documents>>>;

    /// The service's status now.
    fn status(&self) -> ServiceStatus;

    /// `symbol`'s GEX history as `query` asks for it: a `chainboard/gex-history/v1`
    /// document, read from the store's history stream.
    fn history(&self, symbol: Underlying, query: HistoryQuery)
    -> BoxFuture<'static, HistoryResult>;
}

/// A history request's parameters as the client gave them (times Unix ms), each
/// `None` when not given; what a missing one means is the [`Source`]'s to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// First instant.
    pub from_ms: Option<u64>,
    /// Last instant, included.
    pub to_ms: Option<u64>,
    /// Column width.
    pub step_ms: Option<u64>,
    /// The expiry filter, as named in the API (`all` when not given).
    pub filter: String,
}

/// A history document, or why there is none.
pub type HistoryResult = Result<Bytes, HistoryError>;

/// Why a history request got no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A parameter cannot be served (malformed, out of range): the client's to fix.
    #[error("{name}: {why}")]
    BadParameter {
        /// `from`, `to`, `step` or `filter`.
        name: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The store did not answer.
    #[error("history unavailable: {0}")]
    Unavailable(String),
}

/// One of a tick's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    /// `chainboard/heatmap/v1`.
    Heatmap,
    /// `chainboard/gex/v1`.
    Gex,
    /// `chainboard/heatmap-diff/v1`.
    HeatmapDiff,
    /// `chainboard/gex-diff/v1`.
    GexDiff,
}

impl Doc {
    /// Every document, in index order.
    pub const ALL: [Doc; 4] = [Doc::Heatmap, Doc::Gex, Doc::HeatmapDiff, Doc::GexDiff];
}

/// The feed's state when a tick was taken, as its heatmap document says
/// (`meta.feed`; other fields of it are not read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FeedNote {
    /// The document's `meta.feed.state`: `live`, `awaiting_photo` or `quiet`
    /// (`docs/schema/heatmap.schema.json`).
    pub state: String,
    /// Milliseconds since the last live event.
    pub silence_ms: i64,
}

impl FeedNote {
    /// Whether the feed was live when the tick was taken.
    pub fn is_live(&self) -> bool {
        self.state == "live"
    }
}

/// One published tick of one symbol: its documents as shared bytes, and what a
/// reader needs to know about them without parsing them.
#[derive(Debug)]
pub struct Documents {
    /// The tick's seq (both documents carry it).
    pub seq: u64,
    /// Its epoch, as the documents spell it (shared: every stream client holds it).
    pub epoch: Arc<str>,
    /// When the tick was taken, Unix ms (`meta.ts`).
    pub ts_ms: i64,
    /// The seq both diffs start from, when the tick has diffs.
    pub base_seq: Option<u64>,
    /// The feed when the tick was taken.
    pub feed: FeedNote,
    json: [Option<Bytes>; Doc::ALL.len()],
    /// The documents zlib-compressed, each made on first use ([`Documents::deflated`]).
    deflated: [OnceCell<Bytes>; Doc::ALL.len()],
}

impl Documents {
    /// A tick's documents: the full heatmap and GEX, and the diff pair when the tick
    /// has one.
    pub fn new(
        seq: u64,
        epoch: Arc<str>,
        ts_ms: i64,
        feed: FeedNote,
        full: [Bytes; 2],
        diffs: Option<(u64, [Bytes; 2])>,
    ) -> Self {
        let [heatmap, gex] = full;
        let (base_seq, heatmap_diff, gex_diff) = match diffs {
            Some((base, [h, g])) => (Some(base), Some(h), Some(g)),
            None => (None, None, None),
        };
        Self {
            seq,
            epoch,
            ts_ms,
            base_seq,
            feed,
            json: [Some(heatmap), Some(gex), heatmap_diff, gex_diff],
            deflated: Default::default(),
        }
    }

    /// A document's JSON; `None` for a diff the tick does not have.
    pub fn json(&self, doc: Doc) -> Option<&Bytes> {
        self.json[doc as usize].as_ref()
    }

    /// Whether the tick has both diffs, from `seq` of `epoch`.
    pub fn diffs_from(&self, seq: u64, epoch: &str) -> bool {
        self.base_seq == Some(seq)
            && *self.epoch == *epoch
            && self.json(Doc::HeatmapDiff).is_some()
            && self.json(Doc::GexDiff).is_some()
    }

    /// A document's JSON compressed with zlib (RFC 1950, what a browser's
    /// `DecompressionStream("deflate")` reads), at the fastest level: JSON of numbers
    /// compresses about 2.3× there and little better at higher levels, while a full
    /// SPX heatmap takes several times longer. Compressed by the first reader that
    /// asks, once per tick, on the blocking pool (a full heatmap takes milliseconds),
    /// while other readers wait without holding a thread; every later reader shares
    /// the bytes, like the JSON. `None` for a diff the tick does not have, or if the
    /// compression task could not run (the caller sends the JSON instead).
    pub async fn deflated(&self, doc: Doc) -> Option<Bytes> {
        let json = self.json(doc)?.clone();
        let cell = &self.deflated[doc as usize];
        cell.get_or_try_init(
            || async move { tokio::task::spawn_blocking(move || zlib(&json)).await },
        )
        .await
        .ok()
        .cloned()
    }
}

/// zlib of `data` at the fastest level.
fn zlib(data: &[u8]) -> Bytes {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::fast(),
    );
    // Writing into a `Vec` cannot fail, so neither can the encoder.
    let _ = std::io::Write::write_all(&mut encoder, data);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// The service's state as the HTTP side shows it: plain data, the same whether read
/// in the process that runs ingestion or from elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// When this status was taken, Unix ms (rates are taken between two statuses).
    pub at_ms: i64,
    /// Set when ingestion stopped for good.
    pub fatal: Option<String>,
    /// Whether the market is open, as the vendor last said; `None` before it
    /// answered. A silent feed is a problem only while it is open.
    pub market_open: Option<bool>,
    /// One per underlying.
    pub boards: Vec<BoardStatus>,
    /// Recent epoch transitions, oldest first.
    pub transitions: Vec<EpochTransition>,
    /// Complete chain photos applied.
    pub loads_ok: u64,
    /// Chain loads that failed after their retries.
    pub loads_failed: u64,
    /// Disconnects and overflows of the options feed.
    pub gaps: u64,
    /// Contracts with a quote subscription.
    pub quoted: u64,
    /// Frame-level counters of the feeds.
    pub feed: FeedCounters,
    /// The vendor connections (`options`, `indices`).
    pub sockets: Vec<SocketCounters>,
    /// The models' tick timings on the ingestion task.
    pub ticks: TickCounters,
    /// The snapshot publisher.
    pub publisher: PublisherCounters,
    /// The epoch substrate.
    pub store: StoreStatus,
    /// How long a published snapshot stays valid (its keys' TTL), ms.
    pub snapshot_ttl_ms: u64,
    /// The ingestion leases of the process serving this status, when it is an
    /// ingestion worker (`chainboard run --redis`); `None` elsewhere.
    #[serde(default)]
    pub leases: Option<LeaseStatus>,
    /// The recorder, when the service records its inputs (`--record`).
    #[serde(default)]
    pub recorder: Option<RecorderCounters>,
    /// Whether the inputs come from a recording (`chainboard replay`): `at_ms` is
    /// then the recording's clock, and the UI says "replay".
    #[serde(default)]
    pub replay: bool,
}

/// What the recorder did: records written and dropped (it drops rather than hold
/// ingestion up when the disk falls behind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderCounters {
    /// Records written.
    pub records: u64,
    /// Bytes written to segment files (compressed).
    pub written_bytes: u64,
    /// Their size before compression.
    pub raw_bytes: u64,
    /// Records dropped (queue full, or the recording stopped on a write error).
    pub dropped: u64,
    /// Bytes waiting for the disk.
    pub queued_bytes: u64,
    /// Old segments deleted to stay within `--record-max-bytes`.
    pub segments_deleted: u64,
    /// Write errors (the first stops the recording).
    pub errors: u64,
    /// The error that stopped it, if any.
    pub last_error: Option<String>,
}

/// What an ingestion worker is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseRole {
    /// Waiting for its underlyings' leases.
    #[default]
    Standby,
    /// Holding them and running ingestion.
    Leader,
}

impl LeaseRole {
    /// `leader` or `standby`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseRole::Standby => "standby",
            LeaseRole::Leader => "leader",
        }
    }
}

/// An ingestion worker's leases: whether it leads, what it holds, how often it lost
/// a lease and how many of its writes the store refused for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// This worker's name (`host:pid`); its leases name its terms `host:pid#term`.
    pub holder: String,
    /// Whether it leads or stands by.
    pub role: LeaseRole,
    /// The underlyings whose leases it holds.
    pub held: Vec<String>,
    /// On standby, why it does not lead: whose lease it waits for (`SPX is held by
    /// <token> <holder>`) or why it could not ask.
    pub waiting_for: Option<String>,
    /// Times it became leader.
    pub terms: u64,
    /// Of those, times it took over from a holder whose lease lapsed.
    pub takeovers: u64,
    /// Times it lost its leases while leading (renewal refused or impossible, or a
    /// write refused).
    pub lost: u64,
    /// Writes the store refused because their lease was no longer held.
    pub fenced_writes: u64,
}

impl ServiceStatus {
    /// The board of `underlying`.
    pub fn board(&self, underlying: Underlying) -> Option<&BoardStatus> {
        self.boards
            .iter()
            .find(|b| b.underlying == underlying.as_str())
    }
}

/// One underlying's board.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardStatus {
    /// The underlying's symbol.
    pub underlying: String,
    /// The active epoch.
    pub epoch: Option<String>,
    /// Why it began (`EpochReason::as_str`).
    pub reason: Option<String>,
    /// Contracts on the board.
    pub contracts: u64,
    /// The underlying's latest value.
    pub spot: Option<f64>,
    /// Milliseconds since the last live event.
    pub silence_ms: i64,
    /// Quotes applied.
    pub quotes: u64,
    /// Trades applied.
    pub trades: u64,
    /// Live events for contracts not on the board (ignored).
    pub geometry_miss: u64,
    /// Epochs started, by reason, every reason listed.
    pub epochs: Vec<(String, u64)>,
    /// The session's customer flow: contracts signed buy, sell or unknown, and
    /// trades excluded and refused, by reason (every one listed).
    #[serde(default)]
    pub flow: FlowCounts,
}

/// One board's customer-flow counters, named as they are published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowCounts {
    /// Contracts of regular trades by customer side (`buy`, `sell`, `unknown`).
    pub volume: Vec<(String, u64)>,
    /// Trades excluded by their conditions, by reason.
    pub excluded: Vec<(String, u64)>,
    /// Trades refused (bad price or size, outside the session), by reason.
    pub refused: Vec<(String, u64)>,
}

/// An epoch transition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochTransition {
    /// The underlying's symbol.
    pub underlying: String,
    /// The new epoch.
    pub id: String,
    /// Why (`EpochReason::as_str`).
    pub reason: String,
    /// The one it replaced.
    pub previous: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Contracts on the new board.
    pub contracts: u64,
    /// Contracts added against the previous board.
    pub added: u64,
    /// Contracts removed against the previous board.
    pub removed: u64,
}

/// What the feeds read and could not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCounters {
    /// Data frames read.
    pub frames: u64,
    /// Frames that were not valid JSON of the expected shape.
    pub malformed_frames: u64,
    /// Events of an unknown type.
    pub unknown_events: u64,
    /// Events missing a required field or carrying a wrongly typed one.
    pub invalid_events: u64,
    /// Symbols that are not option tickers.
    pub bad_symbols: u64,
    /// Events for roots no board here owns.
    pub unrouted: u64,
    /// Impossible prices or times.
    pub rejected_updates: u64,
    /// Status messages.
    pub statuses: u64,
}

/// One vendor connection's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketCounters {
    /// `options` or `indices`.
    pub cluster: String,
    /// Connections authenticated.
    pub connects: u64,
    /// Connections lost or replaced.
    pub disconnects: u64,
    /// Frames dropped because the queue to the core was full.
    pub dropped_frames: u64,
    /// `slow_consumer` notices.
    pub slow_consumer: u64,
    /// Error status messages.
    pub status_errors: u64,
}

/// How long the models' ticks take on the ingestion task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickCounters {
    /// Ticks timed.
    pub count: u64,
    /// Their total, microseconds.
    pub total_us: u64,
    /// The last one, microseconds.
    pub last_us: u64,
}

/// What the snapshot publisher has done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherCounters {
    /// Ticks written.
    pub published: u64,
    /// Ticks superseded before the publisher got to them.
    pub skipped: u64,
    /// Failed writes.
    pub errors: u64,
    /// Milliseconds the last finish took.
    pub last_finish_ms: u64,
    /// History entries waiting for the store to answer.
    pub history_buffered: u64,
    /// History entries dropped because the buffer was full.
    pub history_dropped: u64,
}

/// The epoch substrate's write-behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    /// What the store is (`embedded` or the Redis URL without its password).
    pub name: String,
    /// Whether it is failing (writes are held in memory).
    pub degraded: bool,
    /// The last failure.
    pub last_error: Option<String>,
    /// Milliseconds from the oldest change in the last flush to its write.
    pub flush_lag_ms: u64,
    /// Failed pipelines.
    pub errors: u64,
    /// Contract fields written by hydration flushes.
    pub fields_written: u64,
    /// Epochs written in full.
    pub epochs_written: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(base: Option<u64>) -> Documents {
        let feed = FeedNote {
            state: "live".to_owned(),
            silence_ms: 0,
        };
        let full = [Bytes::from_static(b"{}"), Bytes::from_static(b"{}")];
        let diffs = base.map(|b| (b, full.clone()));
        Documents::new(8, Arc::from("SPX-1"), 0, feed, full, diffs)
    }

    #[test]
    fn diffs_apply_only_from_their_base_in_their_epoch() {
        let d = docs(Some(7));
        assert!(d.diffs_from(7, "SPX-1"));
        assert!(!d.diffs_from(6, "SPX-1"), "another seq");
        assert!(!d.diffs_from(7, "SPX-2"), "another epoch");
        let full_only = docs(None);
        assert!(!full_only.diffs_from(7, "SPX-1"));
        assert_eq!(full_only.json(Doc::HeatmapDiff), None);
        assert!(full_only.json(Doc::Gex).is_some());
    }

    /// The status crosses process boundaries (a `serve` process reads it from
    /// Redis): it must come back as it went.
    #[test]
    fn the_status_survives_json() {
        let status = ServiceStatus {
            fatal: Some("refused key".into()),
            market_open: Some(true),
            boards: vec![BoardStatus {
                underlying: "SPX".into(),
                epoch: Some("SPX-1".into()),
                reason: Some("startup".into()),
                contracts: 12,
                spot: Some(6850.25),
                silence_ms: 40,
                quotes: 5,
                trades: 2,
                geometry_miss: 1,
                epochs: vec![("startup".into(), 1), ("stale_feed".into(), 0)],
                flow: FlowCounts {
                    volume: vec![("buy".into(), 40), ("sell".into(), 12)],
                    excluded: vec![("multi_leg".into(), 3)],
                    refused: vec![("outside_session".into(), 1)],
                },
            }],
            transitions: vec![EpochTransition {
                underlying: "SPX".into(),
                id: "SPX-1".into(),
                reason: "startup".into(),
                previous: None,
                at_ms: 1_795_532_400_000,
                contracts: 12,
                added: 12,
                removed: 0,
            }],
            sockets: vec![SocketCounters {
                cluster: "options".into(),
                connects: 1,
                ..SocketCounters::default()
            }],
            snapshot_ttl_ms: 5_000,
            ..ServiceStatus::default()
        };
        let text = serde_json::to_string(&status).expect("serializes");
        let back: ServiceStatus = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, status);
        assert_eq!(
            back.board("SPX".parse().expect("SPX")).map(|b| b.quotes),
            Some(5)
        );
    }
}

//! The GEX history as the API reads it: the store's history stream, sampled one
//! entry per column and rendered as `chainboard/gex-history/v1`.
//!
//! The publisher places each entry at its tick's millisecond
//! ([`chainboard_analytics::history`]), so a request for a session in 1,500 columns
//! costs 1,500 one-entry range reads (one pipeline on Redis, binary searches on the
//! embedded store), not a read of the 23,400 entries between. Parsing and rendering
//! run on the blocking pool: a few milliseconds of CPU for a full session.
//! The same reader serves the process that runs ingestion (over whichever store it
//! writes) and `chainboard serve` (over Redis).

use bytes::Bytes;
use chainboard_analytics::ExpiryFilter;
use chainboard_analytics::history::{self, EntryReader, HistoryPlan, Sample};
use chainboard_model::Underlying;
use chainboard_server::{HistoryError, HistoryQuery, HistoryResult};
use chainboard_store::{KeySchema, Store, StoreError, StreamEntry};
use futures_util::future::BoxFuture;

/// Reads `massive:gex:history:<symbol>` from a store.
#[derive(Debug, Clone)]
pub struct HistoryReader {
    store: Store,
    schema: KeySchema,
}

impl HistoryReader {
    /// A reader of `store`'s history streams, keys spelled by `schema`.
    pub fn new(store: Store, schema: KeySchema) -> Self {
        Self { store, schema }
    }

    /// [`HistoryReader::read`] as a [`Source`](chainboard_server::Source) answers it:
    /// a future that owns what it needs.
    pub fn answer(
        &self,
        symbol: Underlying,
        query: HistoryQuery,
    ) -> BoxFuture<'static, HistoryResult> {
        let reader = self.clone();
        Box::pin(async move { reader.read(symbol, query).await })
    }

    /// The document `query` asks for. Without `from` (`to`), the range starts
    /// (ends) at the oldest (newest) entry kept, or now when there is none; without
    /// `step`, it is cut into at most [`HistoryPlan::DEFAULT_COLUMNS`] columns.
    pub async fn read(&self, symbol: Underlying, query: HistoryQuery) -> HistoryResult {
        let filter = ExpiryFilter::parse(&query.filter).ok_or_else(|| {
            let names: Vec<&str> = ExpiryFilter::ALL.iter().map(|f| f.as_str()).collect();
            HistoryError::BadParameter {
                name: "filter",
                why: format!("no such filter; one of {}", names.join(", ")),
            }
        })?;
        let key = self.schema.gex_history(symbol);
        let from_ms = match query.from_ms {
            Some(ms) => ms,
            None => self
                .store
                .xfirst(&key)
                .await
                .map_err(unavailable)?
                .map_or_else(now, |e| id_ms(&e)),
        };
        let to_ms = match query.to_ms {
            Some(ms) => ms,
            None => self
                .store
                .xrevrange(&key, 1)
                .await
                .map_err(unavailable)?
                .first()
                .map_or_else(now, id_ms),
        };
        // One end given past the kept entries: an empty range there, not a refusal
        // naming a parameter the client did not send.
        let (from_ms, to_ms) = match (query.from_ms, query.to_ms) {
            (Some(_), None) if from_ms > to_ms => (from_ms, from_ms),
            (None, Some(_)) if from_ms > to_ms => (to_ms, to_ms),
            _ => (from_ms, to_ms),
        };
        let plan = HistoryPlan::new(from_ms, to_ms, query.step_ms).map_err(|e| {
            HistoryError::BadParameter {
                name: e.name,
                why: e.why,
            }
        })?;
        let entries = self
            .store
            .xlast_in(&key, &plan.ranges())
            .await
            .map_err(unavailable)?;
        let render = move || {
            let mut reader = EntryReader::new(filter);
            let mut skipped = 0;
            let samples: Vec<Option<Sample>> = entries
                .iter()
                .map(|entry| {
                    let entry = entry.as_ref()?;
                    reader
                        .read(&entry.fields)
                        .inspect_err(|_| skipped += 1)
                        .ok()
                })
                .collect();
            history::document(symbol, filter, &plan, &samples, skipped)
        };
        let doc = tokio::task::spawn_blocking(render)
            .await
            .map_err(|e| HistoryError::Unavailable(format!("rendering failed: {e}")))?;
        Ok(Bytes::from(doc))
    }
}

/// Now, Unix ms: the default end of a range when nothing is kept yet.
fn now() -> u64 {
    u64::try_from(crate::ingest::now_ms()).unwrap_or(0)
}

fn unavailable(e: StoreError) -> HistoryError {
    HistoryError::Unavailable(e.to_string())
}

/// The millisecond of an entry's id (`<ms>-<seq>`).
fn id_ms(entry: &StreamEntry) -> u64 {
    entry
        .id
        .split_once('-')
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or(0)
}

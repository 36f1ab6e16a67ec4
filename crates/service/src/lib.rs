//! The running service: what joins Massive's two data shapes in the epoch engines
//! and keeps them joined.
//!
//! - [`ingest`]: the ingestion loop. One core task owns the engines; chain loaders
//!   (REST photos), the options and indices sockets (WebSocket paint) and the
//!   market-status poller feed it through channels. It re-plans the quote
//!   subscriptions, runs the watchdogs, hands every board change to the observers
//!   (the store's write-behind, the models) and publishes an [`IngestStatus`].
//! - [`feed`]: raw frames routed by root to the engine of each underlying (one
//!   connection carries SPX and NDX at once): the hot path from bytes to a painted
//!   contract.
//! - [`publisher`]: the models' ticks finished
//!   ([`chainboard_analytics::publish::finish`]) and written to the store every
//!   second: snapshots, the two update channels, the GEX history; the latest per
//!   underlying for the HTTP side.
//! - [`running`]: [`Service::start`], everything above with the store's
//!   write-behind and the HTTP server, started and stopped as one: what the binary
//!   runs and what tests start in-process.
//! - [`remote`]: the HTTP side's source over the store, for processes that serve
//!   the board without running ingestion ([`Serving`], `chainboard serve`).
//! - [`worker`]: an ingestion worker, one of several over one Redis: leads (runs
//!   the service, fenced) while it holds its underlyings' leases, stands by
//!   otherwise, takes over when a leader's lease lapses.
//! - [`replay`]: a recording (`chainboard-recording`, written by ingestion with
//!   `--record`) driven through the same core with the recorded clock, so the same
//!   documents are published again.
//! - [`history`]: the GEX history read back for the API, from either store.
//! - [`local`]: the HTTP side's source in this process (the publisher's documents,
//!   the status assembled from ingestion, the store and the publisher), and the
//!   timing of the models' ticks.
//!
//! The vendor's protocol (wire formats, REST and WebSocket clients, the subscription
//! planner) is `chainboard-massive`'s; what is done with the board lives in the
//! engines, the models and the store.

pub mod feed;
pub mod history;
pub mod ingest;
pub mod local;
pub mod publisher;
pub mod remote;
pub mod replay;
pub mod running;
pub mod worker;

pub use feed::{Feed, FeedStats};
pub use history::HistoryReader;
pub use ingest::{IngestConfig, IngestError, IngestHandle, IngestStatus};
pub use local::{LocalSource, TickTimes, TimedModels};
pub use remote::RedisSource;
pub use replay::{ReplayConfig, ReplayProgress, Speed};
pub use running::{
    Inputs, ModelSettings, ServeConfig, Service, ServiceConfig, Serving, StartError, Stopped,
};
pub use worker::{LeaseBoard, Worker, WorkerConfig, WorkerStopped};

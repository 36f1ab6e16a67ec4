//! Massive (formerly Polygon.io) as chainboard speaks it.
//!
//! The vendor's two data shapes enter here and leave as domain types:
//! - [`chain`]: REST chain snapshot pages → a normalized [`ChainPhoto`](chainboard_model::ChainPhoto),
//!   tolerant of the vendor's quirks, strict about contract identity and numbers;
//! - [`frame`]: WebSocket text frames → typed events handed to a sink, without
//!   allocating per event (the hot path);
//! - [`feed`]: frames routed by root to each underlying's epoch engine (one
//!   connection carries SPX and NDX at once);
//! - [`plan`]: which contracts get the connection's 1,000 quote subscriptions, and
//!   the subscribe/unsubscribe messages that move from one plan to the next.
//!
//! Wire types carry the `Massive` prefix; everything past this crate uses the domain
//! types of `chainboard-model`.

pub mod backoff;
pub mod chain;
pub mod feed;
pub mod frame;
pub mod ingest;
pub mod plan;
pub mod rest;
pub mod socket;
mod wire;

pub use chain::{ChainAssembler, ChainPage, Normalizer, PageError, Rejection, assemble};
pub use feed::{Feed, FeedStats};
pub use frame::{FrameError, FrameParser, FrameSink, FrameStats};

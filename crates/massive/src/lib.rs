//! Massive (formerly Polygon.io) as chainboard speaks it.
//!
//! The vendor's two data shapes enter here and leave as domain types:
//! - [`chain`]: REST chain snapshot pages → a normalized [`ChainPhoto`](chainboard_model::ChainPhoto),
//!   tolerant of the vendor's quirks, strict about contract identity and numbers;
//! - [`frame`]: WebSocket text frames → typed events handed to a sink, without
//!   allocating per event (the hot path);
//! - [`plan`]: which contracts get the connection's 1,000 quote subscriptions, and
//!   the subscribe/unsubscribe messages that move from one plan to the next;
//! - [`rest`] and [`socket`]: the clients, with their limits, retries ([`backoff`])
//!   and the vendor's refusals told apart from outages.
//!
//! The loop that joins photos and paint in the epoch engines is
//! `chainboard-service`'s; this crate knows the vendor, not the board.
//!
//! Wire types carry the `Massive` prefix; everything past this crate uses the domain
//! types of `chainboard-model`.

pub mod backoff;
pub mod chain;
pub mod frame;
pub mod plan;
pub mod rest;
pub mod socket;
mod wire;

pub use chain::{ChainAssembler, ChainPage, Normalizer, PageError, Rejection, assemble};
pub use frame::{FrameError, FrameParser, FrameSink, FrameStats};

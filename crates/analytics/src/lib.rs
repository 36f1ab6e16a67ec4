//! chainboard's analytics: the models traders watch, rebuilt every second from what the
//! live feed changed.
//!
//! The epoch engine keeps the board and its live quotes; this crate turns them into
//! the two published models, per underlying:
//!
//! - the **heatmap**: the strikes × expirations board with, per contract, the quote,
//!   the implied volatility and greeks solved from the live mid ([`valuation`]), open
//!   interest, volume and dealer GEX;
//! - **GEX**: dealer gamma exposure per strike, per expiration and in total, by open
//!   interest and by today's volume, with delta, vanna and charm exposure, per expiry
//!   filter ([`gex`]), and the key levels: call wall, put wall and the zero-gamma flip
//!   with its roots and gamma curve, held steady from tick to tick ([`levels`]);
//!   and on a third basis, flow-adjusted: open interest plus the change today's
//!   signed customer flow made to dealers' books;
//! - **flow**: the hedge pressure dealers took on from today's customer flow and the
//!   contracts and strikes with the most of it lately ([`flow`]).
//!
//! [`Models`] advances both tick by tick in O(changed) ([`builder`]), producing
//! immutable [`HeatmapSnapshot`]s and [`GexSnapshot`]s with a per-underlying seq, and
//! diffs between consecutive ones ([`snapshot`]); [`json`] renders them in the
//! published, schema-checked JSON; [`history`] writes each tick's entry of the
//! session's timeline and reads it back; [`publish::finish`] settles a tick's levels against
//! the last published one and renders its documents and diffs. [`ModelObserver`] drives
//! the builders from the ingestion loop. Everything here is synchronous and free of
//! I/O: time is passed in.

pub mod builder;
pub mod config;
pub mod flow;
pub mod gex;
pub mod history;
pub mod json;
pub mod layout;
pub mod levels;
pub mod observer;
pub mod publish;
pub mod snapshot;
pub mod valuation;

pub use builder::{Models, Recomputed, Tick};
pub use config::ModelConfig;
pub use flow::{FlowSummary, HedgePressure, TopFlow};
pub use gex::{ExpiryFilter, Metric};
pub use layout::{Expiry, Layout, Position};
pub use observer::{ModelObserver, ModelSink};
pub use snapshot::{
    Cell, Column, DiffError, EpochInfo, Exposures, FeedStatus, GammaCurve, GexDiff, GexSnapshot,
    HeatmapDiff, HeatmapSnapshot, Levels, ZeroGamma,
};
pub use valuation::{Anchor, GreeksSource, Unusable};

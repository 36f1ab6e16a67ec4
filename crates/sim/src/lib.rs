//! A deterministic option market that speaks Massive's wire formats.
//!
//! chainboard's hot paths (chain loading, frame parsing, hydration) are measured and
//! tested against this simulator rather than against the live vendor, and the fake
//! Massive server will serve it over REST and WebSocket. Everything is seeded: the same
//! config and seeds give the same bytes, so a benchmark or a failing test replays.
//!
//! - [`chain`]: a realistic SPX- or NDX-like chain ([`SimChain`], [`ChainConfig`]):
//!   the listed expirations and strikes, BSM prices on a skewed smile, quotes, open
//!   interest, volume and trades.
//! - [`rest`]: the chain as `GET /v3/snapshot/options/I:SPX` pages ([`chain_pages`]).
//! - [`photo`]: the chain as the engine's `ChainPhoto` directly, for tests and
//!   benchmarks of the models.
//! - [`traffic`]: WebSocket frames of quotes and trades skewed to near-the-money,
//!   near-expiry contracts ([`QuoteTraffic`]), rendered or as structured
//!   [`TrafficEvent`]s.
//! - [`tape`]: how customers trade against the book: each print's true side (never
//!   on the wire), its price and its condition codes, so trade signing can be scored.
//! - [`market`]: several chains trading live ([`Market`]): index paths, traffic,
//!   strikes listed as the index moves, expirations settling, and photos that show
//!   the latest quotes. What the fake Massive server (`chainboard-fake`) serves.

mod calendar;
pub mod chain;
pub mod market;
mod path;
pub mod photo;
pub mod positioning;
pub mod rest;
pub mod tape;
mod ticks;
pub mod traffic;

pub use chain::{ChainConfig, SimChain};
pub use market::{Market, MarketConfig, MarketEvent, Photo};
pub use rest::{chain_pages, snapshot_page};
pub use tape::TrueFlow;
pub use traffic::{EventKind, QuoteTraffic, TrafficConfig, TrafficEvent};

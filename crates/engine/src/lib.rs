//! The epoch engine: chainboard's core, synchronous and free of I/O.
//!
//! An **epoch** is a frozen board of option contracts taken from one chain photo
//! (Massive's REST chain snapshot, normalized); live quotes and trades may only
//! repaint prices on it. This crate decides when a photo starts a new epoch (the
//! geometry changed, the feed went silent, an operator asked), guards against bad
//! photos, paints live updates onto the board, and tracks which contracts changed for
//! the models' next tick.
//!
//! Nothing here reads a clock, opens a socket or spawns a task: every call takes the
//! current time as an argument and returns what happened. That makes the engine
//! replayable, testable with exact times, and fast (see `cargo bench -p chainboard --bench hydrate`).
//!
//! - [`Engine`]: one underlying's engine (photos, hydration, watchdog).
//! - [`Epoch`]: a frozen [`Board`] and the live state painted on it.
//! - [`Watchdog`]: the silence rule, documented in [`watchdog`].
//! - [`DirtySet`]: changed contracts, drained in O(changed).
//! - [`flow`]: trades signed into each contract's session flow, carried across epochs.
//! - [`BoardObserver`]: what downstream consumers (the store writer) implement.

pub mod board;
pub mod dirty;
pub mod engine;
pub mod epoch;
pub mod flow;
pub mod observer;
pub mod watchdog;

pub use board::{Board, GeometryDiff, Slot};
pub use dirty::DirtySet;
pub use engine::{
    Engine, EngineConfig, EngineStats, EpochStarted, Hydration, PhotoOutcome, PhotoReason,
    PhotoRejection, PhotoRequest,
};
pub use epoch::{DirtyConsumer, Epoch};
pub use flow::{FlowStats, Refused, Session};
pub use observer::BoardObserver;
pub use watchdog::{WatchState, Watchdog, WatchdogConfig};

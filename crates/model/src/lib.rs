//! Pure domain types shared by every chainboard crate.
//!
//! This crate sits at the bottom of the dependency graph (see `docs/architecture.md`):
//! it knows nothing of sockets, Redis, tokio or Massive's JSON. Everything here is a
//! value type whose constructor rejects bad input ("parse, don't validate"), so the
//! engine and the models above never re-check what a symbol, a strike or an epoch id
//! means.
//!
//! - [`symbol`]: Massive's `O:` + OCC option symbols, parsed into a [`ContractKey`].
//! - [`ticker`]: small inline ASCII names ([`Root`], [`Underlying`]) that are `Copy`.
//! - [`roots`]: which underlying a root belongs to and how it settles.
//! - [`contract`]: a contract's frozen [`ContractGeometry`] and its mutable
//!   [`ContractState`], split so that hydration cannot change geometry.
//! - [`chain`]: a normalized chain snapshot (the "photo") and why contracts were rejected.
//! - [`epoch`]: epoch ids and the reasons an epoch begins.
//! - [`flow`]: trades signed against the quote in force, and a contract's session
//!   flow.
//! - [`time`]: timestamp unit detection for vendor values of unknown magnitude.
//! - [`swar`]: eight-bytes-at-a-time text scanning for the hot path.

pub mod chain;
pub mod contract;
pub mod epoch;
pub mod flow;
pub mod roots;
pub mod swar;
pub mod symbol;
pub mod ticker;
pub mod time;

pub use chain::{ChainContract, ChainPhoto, RejectReason, RejectTally};
pub use contract::{
    AggregateUpdate, ContractGeometry, ContractRecord, ContractState, FieldMask, Greeks,
    PriorQuote, QuoteUpdate, SlowFields, TradeUpdate, UpdateError,
};
pub use epoch::{EpochId, EpochIdError, EpochReason};
pub use flow::{Conditions, ContractFlow, Excluded, FlowConfig, QuoteSource, Rule, Side, Signed};
pub use roots::{RootInfo, RootMap, Settlement};
pub use symbol::{ContractKey, Right, Strike, SymbolError};
pub use ticker::{Root, TickerError, Underlying};

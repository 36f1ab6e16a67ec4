//! Pure option math for chainboard: no I/O, no clock, no allocation.
//!
//! The model builders turn live quotes into live greeks and GEX with these functions,
//! and the simulator prices its synthetic chain with the same code, so a benchmark and
//! the live path agree on what a price means. Inputs are plain `f64`s in the units the
//! design uses everywhere: index points, years, annualized decimal rates and vols.
//!
//! - [`normal`]: the standard normal distribution, accurate in the tails.
//! - [`bsm`]: Black-Scholes-Merton prices and greeks for European options.
//! - [`iv`]: implied volatility from a price (Jäckel's "Let's Be Rational").
//! - [`expiry`]: the exact settlement moment of a contract and the time left to it.
//! - [`exposure`]: dealer exposures (GEX, DEX, vanna, charm) in dollars.
//! - [`levels`]: the zero-gamma flip, found by re-pricing gamma over hypothetical spots.

pub mod bsm;
pub mod expiry;
pub mod exposure;
pub mod iv;
pub mod levels;
pub mod normal;

pub use bsm::{Greeks, Inputs};
pub use iv::{IvError, IvInputs};

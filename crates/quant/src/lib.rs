//! Pure option math for chainboard: no I/O, no clock, no allocation.
//!
//! The model builders turn live quotes into live greeks and GEX with these functions,
//! and the simulator prices its synthetic chain with the same code, so a benchmark and
//! the live path agree on what a price means. Inputs are plain `f64`s in the units the
//! design uses everywhere: index points, years, annualized decimal rates and vols.
//!
//! - [`normal`]: the standard normal distribution, accurate in the tails.
//! - [`bsm`]: Black-Scholes-Merton prices and greeks for European options.

pub mod bsm;
pub mod normal;

pub use bsm::{Greeks, Inputs};

//! One module per `chainboard` command.

pub(crate) mod bench;
pub(crate) mod demo;
pub(crate) mod generate;
pub(crate) mod normalize;

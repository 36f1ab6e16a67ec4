//! One module per `chainboard` command.

pub(crate) mod bench;
pub(crate) mod normalize;

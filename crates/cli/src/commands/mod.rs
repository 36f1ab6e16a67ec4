//! One module per `chainboard` command.

pub(crate) mod bench;
pub(crate) mod bench_store;
pub(crate) mod bench_stream;
pub(crate) mod demo;
pub(crate) mod fake_massive;
pub(crate) mod generate;
pub(crate) mod http;
pub(crate) mod inspect;
pub(crate) mod normalize;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod tour;

/// The async runtime a long-running command runs on: multi-threaded, with I/O and
/// timers.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

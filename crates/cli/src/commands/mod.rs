//! One module per `chainboard` command.

pub(crate) mod bench;
pub(crate) mod bench_history;
pub(crate) mod bench_store;
pub(crate) mod bench_stream;
pub(crate) mod demo;
pub(crate) mod fake_massive;
pub(crate) mod generate;
pub(crate) mod http;
pub(crate) mod inspect;
pub(crate) mod normalize;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod tour;

/// Opens the store the flags name: embedded without `redis`, one Redis server, or a
/// Redis Cluster (`cluster`, `redis` naming one or more nodes). A store that answers
/// must be the kind the flags say, or this fails at once naming the flag; one that
/// does not answer yet is retried later by its users, as ever.
pub(crate) async fn open_store(
    redis: Option<&str>,
    cluster: bool,
    cluster_flag: &str,
) -> anyhow::Result<chainboard_store::Store> {
    use chainboard_store::{Store, StoreError};
    let store = match redis {
        Some(seeds) if cluster => Store::connect_cluster(seeds).await?,
        url => Store::connect(url).await?,
    };
    match store.check_topology().await {
        Ok(()) => {}
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(store = %store.describe(), error = %e, "the store does not answer yet; its kind is checked when it does")
        }
        Err(e @ StoreError::WrongKind(_)) if cluster => {
            anyhow::bail!("{e} (drop {cluster_flag}, or point --redis at a cluster)")
        }
        Err(e @ StoreError::WrongKind(_)) => anyhow::bail!("{e} (pass {cluster_flag})"),
        Err(e) => anyhow::bail!("cannot use {}: {e}", store.describe()),
    }
    Ok(store)
}

/// The async runtime a long-running command runs on: multi-threaded, with I/O and
/// timers.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

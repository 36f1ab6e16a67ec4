//! `chainboard serve`: the web UI, the API, the browser stream and metrics, over what
//! a `chainboard run` (or `demo --redis`) publishes to Redis. No ingestion, no
//! models: any number of these serve one service's board, each holding nothing but
//! the latest documents, and each costing Redis one read per tick whatever the
//! number of browsers.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chainboard_service::{ServeConfig, Serving};
use chainboard_store::KeySchema;

use super::http::HttpArgs;
use super::run::parse_symbols;
use super::service::interrupted;

/// Arguments of `chainboard serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    http: HttpArgs,
    /// The Redis the service publishes to.
    #[arg(long, env = "REDIS_URL")]
    redis: String,
    /// `--redis` is a Redis Cluster (one or more of its nodes, comma-separated), as
    /// for `run --redis-cluster`.
    #[arg(long)]
    redis_cluster: bool,
    /// Underlyings to serve, comma-separated (those the service publishes).
    #[arg(long, value_delimiter = ',', default_value = "SPX")]
    symbols: Vec<String>,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    for_secs: Option<f64>,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let symbols = parse_symbols(&args.symbols)?;
    let http = args.http.config()?;
    crate::logging::init();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let store =
            super::open_store(Some(&args.redis), args.redis_cluster, "--redis-cluster").await?;
        let from = store.describe();
        let config = ServeConfig {
            store,
            symbols,
            schema: KeySchema {
                cluster: args.redis_cluster,
            },
            listen: args.http.listen,
            http,
            leases: None,
        };
        let serving = Serving::start(config).await.map_err(|e| match e {
            chainboard_service::StartError::Listen { .. } => anyhow::anyhow!("{e} (--listen)"),
            e => e.into(),
        })?;
        println!(
            "chainboard is serving http://{}/ from {from}",
            serving.address()
        );
        match args.for_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => interrupted().await,
        }
        serving.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

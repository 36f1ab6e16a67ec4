//! `chainboard demo` (the default command): the whole service on a simulated market,
//! with nothing to configure.
//!
//! It starts the fake Massive on a loopback port with simulated SPX and NDX markets,
//! then the same service `chainboard run` starts against Massive — the real REST and
//! WebSocket clients over real sockets, the epoch engines, the models, the store
//! (embedded, or Redis with `--redis`) and the web UI — and prints the URL.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_massive::rest::ApiKey;
use chainboard_service::ModelSettings;
use chainboard_service::ingest::IngestConfig;
use chainboard_service::publisher::PublisherConfig;
use chainboard_service::worker::DEFAULT_LEASE_TTL;
use chainboard_store::KeySchema;
use chainboard_store::writer::WriterConfig;
use url::Url;

use super::http::HttpArgs;
use super::record::{DigestArgs, RecordArgs};
use super::run::{parse_symbols, positive_secs};
use super::service::{self, Settings};

/// The key the demo's fake Massive expects; it never leaves the loopback interface.
const DEMO_KEY: &str = "chainboard-demo";

/// Arguments of `chainboard demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    digests: DigestArgs,
    /// Underlyings of the simulated market.
    #[arg(long, value_delimiter = ',', default_value = "SPX,NDX")]
    symbols: Vec<String>,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the substrate and snapshots in this Redis instead of in memory (the
    /// process is then an ingestion worker, as `run --redis`).
    #[arg(long)]
    redis: Option<String>,
    /// `--redis` is a Redis Cluster (one or more of its nodes, comma-separated).
    #[arg(long, requires = "redis")]
    redis_cluster: bool,
    /// Seconds between chain photos (a new strike shows up on the board with the
    /// next photo).
    #[arg(long, default_value_t = 30.0)]
    refresh_secs: f64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    for_secs: Option<f64>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            http: HttpArgs::default(),
            record: RecordArgs::default(),
            digests: DigestArgs::default(),
            symbols: vec!["SPX".to_owned(), "NDX".to_owned()],
            seed: 7,
            redis: None,
            redis_cluster: false,
            refresh_secs: 30.0,
            for_secs: None,
        }
    }
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let underlyings = parse_symbols(&args.symbols)?;
    crate::logging::init();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let fake_config = FakeConfig {
            api_key: DEMO_KEY.to_owned(),
            seed: args.seed,
            underlyings: underlyings.clone(),
            ..FakeConfig::default()
        };
        let fake = FakeMassive::start(fake_config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("starting the simulated Massive on loopback")?;
        tracing::info!(rest = %fake.rest_url(), "simulated Massive (control: /_fake/…)");
        let key = ApiKey::new(DEMO_KEY.to_owned()).context("the demo key")?;
        let mut config = IngestConfig::new(
            Url::parse(&fake.rest_url())?,
            Url::parse(&fake.ws_url())?,
            key,
            underlyings,
        );
        config.refresh_every = positive_secs("--refresh-secs", args.refresh_secs)?;
        let schema = KeySchema {
            cluster: args.redis_cluster,
        };
        let settings = Settings {
            redis: args.redis.clone(),
            redis_cluster: args.redis_cluster,
            writer: WriterConfig {
                schema,
                ..WriterConfig::default()
            },
            models: ModelSettings {
                publisher: PublisherConfig {
                    schema,
                    ..PublisherConfig::default()
                },
                ..ModelSettings::default()
            },
            listen: Some(args.http.listen),
            http: args.http.config()?,
            for_secs: args.for_secs,
            lease_ttl: DEFAULT_LEASE_TTL,
            record: args.record.recorder(),
            digests: args.digests.clone(),
        };
        println!(
            "simulated Massive at {} (faults: {}/_fake/…)",
            fake.rest_url(),
            fake.rest_url()
        );
        let outcome = service::run_service(config, settings, async { Ok(()) }).await;
        fake.shutdown().await;
        outcome
    })
}

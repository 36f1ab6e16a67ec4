//! `chainboard fake-massive`: the fake Massive as a standalone server, for trying
//! `chainboard run` without an account and for poking at the protocol by hand.
//!
//! It serves Massive's REST and WebSocket endpoints over a simulated SPX and NDX
//! market until interrupted; faults are injected through its control endpoint
//! (`/_fake/...`, documented in the `chainboard-fake` crate).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chainboard_fake::{FakeConfig, FakeMassive};
use chainboard_model::Underlying;

/// Arguments of `chainboard fake-massive`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The API key clients must present.
    #[arg(long, default_value = "fake-key")]
    api_key: String,
    /// Underlyings to simulate, comma-separated (SPX and NDX have realistic chains).
    #[arg(long, value_delimiter = ',', default_value = "SPX,NDX")]
    symbols: Vec<String>,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let mut underlyings = Vec::new();
    for s in &args.symbols {
        let s = s.trim().trim_start_matches("I:").to_ascii_uppercase();
        underlyings.push(
            Underlying::new(&s).with_context(|| format!("--symbols: {s:?} is not a ticker"))?,
        );
    }
    crate::logging::init();
    let config = FakeConfig {
        api_key: args.api_key.clone(),
        seed: args.seed,
        underlyings,
        ..FakeConfig::default()
    };
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let fake = FakeMassive::start(config, args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!(
            "fake Massive listening: --rest-url {} --ws-url {} --api-key {}",
            fake.rest_url(),
            fake.ws_url(),
            args.api_key
        );
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        fake.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

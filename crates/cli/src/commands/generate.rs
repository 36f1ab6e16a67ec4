//! `chainboard generate`: a deterministic chain and quote traffic in Massive's wire
//! format, written to files.
//!
//! The chain file holds one chain snapshot response per line (as `normalize` and
//! `bench hydrate --chain` read them); the frames file one WebSocket text frame per
//! line (as `bench hydrate --frames` reads them). The same flags give the same bytes,
//! so a benchmark figure can be reproduced anywhere.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chainboard_sim::{ChainConfig, QuoteTraffic, SimChain, TrafficConfig, chain_pages};

/// Which simulated index.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Index {
    /// SPX/SPXW around 6850.
    Spx,
    /// NDX/NDXP around 21000.
    Ndx,
}

/// Arguments of `chainboard generate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The index to simulate.
    #[arg(long, value_enum, default_value_t = Index::Spx)]
    index: Index,
    /// Seed of the chain and of the traffic.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The trading date the chain is listed for (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-24")]
    today: jiff::civil::Date,
    /// Where to write the chain snapshot pages (JSON lines).
    #[arg(long, value_name = "FILE")]
    chain_out: PathBuf,
    /// Where to write the WebSocket frames (one per line); omit for none.
    #[arg(long, value_name = "FILE")]
    frames_out: Option<PathBuf>,
    /// Number of frames.
    #[arg(long, default_value_t = 20_000)]
    frames: usize,
    /// Events per frame (Massive batches events into JSON arrays).
    #[arg(long, default_value_t = 50)]
    events_per_frame: usize,
    /// Fraction of events for contracts not on the chain (exercises geometry_miss).
    #[arg(long, default_value_t = 0.0)]
    miss_fraction: f64,
    /// Fraction of events that are trades; the rest are quotes.
    #[arg(long, default_value_t = 0.05)]
    trade_fraction: f64,
    /// Contracts per chain page (Massive allows at most 250).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u16).range(1..=250))]
    page_limit: u16,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    for (name, f) in [
        ("--miss-fraction", args.miss_fraction),
        ("--trade-fraction", args.trade_fraction),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&f),
            "{name} must be between 0 and 1, got {f}"
        );
    }
    let config = match args.index {
        Index::Spx => ChainConfig::spx_like(args.today, args.seed),
        Index::Ndx => ChainConfig::ndx_like(args.today, args.seed),
    };
    let chain = SimChain::generate(config);
    // Stamps: 16:00 UTC on `today`, so identical flags give identical files.
    let now_ms = jiff::tz::TimeZone::UTC
        .to_timestamp(args.today.at(16, 0, 0, 0))?
        .as_millisecond();

    let pages = chain_pages(&chain, usize::from(args.page_limit), now_ms);
    let mut out = create(&args.chain_out)?;
    for page in &pages {
        writeln!(out, "{page}")?;
    }
    out.flush()?;
    eprintln!(
        "{}: {} contracts in {} pages",
        args.chain_out.display(),
        chain.len(),
        pages.len()
    );

    if let Some(path) = &args.frames_out {
        let traffic_config = TrafficConfig {
            miss_fraction: args.miss_fraction,
            trade_fraction: args.trade_fraction,
            ..TrafficConfig::default()
        };
        let mut traffic = QuoteTraffic::with_config(&chain, args.seed, traffic_config);
        let mut out = create(path)?;
        let mut frame = String::new();
        for i in 0..args.frames {
            frame.clear();
            traffic.next_frame(args.events_per_frame, now_ms + i as i64, &mut frame);
            writeln!(out, "{frame}")?;
        }
        out.flush()?;
        eprintln!(
            "{}: {} frames of {} events",
            path.display(),
            args.frames,
            args.events_per_frame
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn create(path: &PathBuf) -> Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path).with_context(|| {
        format!("cannot write {}", path.display())
    })?))
}

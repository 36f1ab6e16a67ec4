//! `chainboard bench history`: what a history request costs.
//!
//! Fills a store with a session of history entries (`--ticks`, one a second, each
//! the entry of a real SPX-sized GEX snapshot from the simulator, as the publisher
//! writes it) under a symbol of its own, then times the API's reader
//! ([`HistoryReader`]) answering the whole session in `--columns` columns, request
//! after request: store reads, parsing and rendering, as `GET
//! /api/v1/gex/{symbol}/history` does minus the socket. Prints the median and the
//! spread, and removes what it wrote.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chainboard_analytics::{ModelConfig, Models, history, levels, observer::feed_status};
use chainboard_engine::{Engine, EngineConfig, PhotoOutcome};
use chainboard_model::Underlying;
use chainboard_server::HistoryQuery;
use chainboard_service::HistoryReader;
use chainboard_sim::{ChainConfig, SimChain};
use chainboard_store::{Batch, KeySchema, Op, Store};

/// Arguments of `chainboard bench history`.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Redis URL; without it, the embedded store.
    #[arg(long, env = "REDIS_URL")]
    redis: Option<String>,
    /// Entries in the session (a regular session at 1 Hz is 23,400).
    #[arg(long, default_value_t = 23_400, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    ticks: u64,
    /// Columns each request asks for.
    #[arg(long, default_value_t = 1_500, value_parser = clap::value_parser!(u64).range(1..=5_000))]
    columns: u64,
    /// Requests timed.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
}

/// The bench's own symbol, so a shared Redis's real history is never touched.
const SYMBOL: &str = "HBENCH";

/// 2026-12-04 14:30 UTC: the session's first tick.
const T0_MS: u64 = 1_796_394_600_000;

pub(crate) fn run(args: &HistoryArgs) -> Result<ExitCode> {
    let symbol = Underlying::new(SYMBOL).context("the bench's symbol")?;
    let fields = entry()?;
    let size: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let store = Store::connect(args.redis.as_deref()).await?;
        store
            .ping()
            .await
            .with_context(|| format!("cannot reach {}", store.describe()))?;
        let schema = KeySchema::default();
        let key = schema.gex_history(symbol);
        if store.exists(&key).await? {
            bail!("{key} exists in {}: remove it, or use another database", store.describe());
        }
        let started = Instant::now();
        fill(&store, &key, &fields, args.ticks).await?;
        println!(
            "{}: {} entries of {size} bytes (fields and values) written in {:.1} s",
            store.describe(),
            args.ticks,
            started.elapsed().as_secs_f64()
        );
        let reader = HistoryReader::new(store.clone(), schema);
        let span_ms = args.ticks * 1_000;
        let query = HistoryQuery {
            from_ms: Some(T0_MS),
            to_ms: Some(T0_MS + span_ms - 1),
            step_ms: Some(span_ms.div_ceil(args.columns).max(1_000)),
            filter: "all".to_owned(),
        };
        let mut times = Vec::new();
        let mut bytes = 0;
        let result = async {
            for _ in 0..args.requests {
                let t = Instant::now();
                let doc = reader
                    .read(symbol, query.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                times.push(t.elapsed().as_secs_f64() * 1_000.0);
                bytes = doc.len();
            }
            anyhow::Ok(())
        }
        .await;
        store.apply(&one(Op::Del { key: key.clone() })).await?;
        result?;
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "history of {} ticks in {} columns ({:.1} s each), {} requests: median {:.1} ms, p10 {:.1}, p90 {:.1}, max {:.1}; document {:.2} MB",
            args.ticks,
            span_ms.div_ceil(query.step_ms.unwrap_or(1_000)),
            query.step_ms.unwrap_or(1_000) as f64 / 1_000.0,
            args.requests,
            at(0.5),
            at(0.1),
            at(0.9),
            at(1.0),
            bytes as f64 / 1e6
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// One history entry of a simulated SPX board, settled as published.
fn entry() -> Result<Vec<(&'static str, String)>> {
    let spx = Underlying::new("SPX").context("SPX")?;
    let now = T0_MS as i64;
    let today = jiff::civil::date(2026, 12, 4);
    let chain = SimChain::generate(ChainConfig::spx_like(today, 7));
    let photo = chainboard_sim::photo::photo(&chain, now, |_| true);
    let mut engine = Engine::new(spx, EngineConfig::default());
    if !matches!(engine.on_photo(photo, now), PhotoOutcome::Started(_)) {
        bail!("the simulated chain did not start an epoch");
    }
    let consumer = engine.add_dirty_consumer().context("a dirty set")?;
    let mut models = Models::new(spx, ModelConfig::for_underlying(spx), consumer);
    let status = feed_status(&engine, now);
    let tick = models
        .start_epoch(engine.epoch_mut().context("an epoch")?, status, now)
        .context("laying out the board")?;
    let gex = levels::settle(&tick.heatmap, &tick.gex, models.config(), None);
    Ok(history::entry_fields(&gex))
}

/// Writes `ticks` copies of `fields`, one a second from [`T0_MS`], with their own
/// seq and time.
async fn fill(
    store: &Store,
    key: &str,
    fields: &[(&'static str, String)],
    ticks: u64,
) -> Result<()> {
    let mut batch = Batch::new();
    for i in 0..ticks {
        let at_ms = T0_MS + i * 1_000;
        let mut fields = fields.to_vec();
        for (name, value) in &mut fields {
            if *name == "tick" {
                // format, seq, time, epoch, spot: this tick's seq and time.
                let mut tick: Vec<String> = value.split(',').map(str::to_owned).collect();
                tick[1] = (at_ms + 1).to_string();
                tick[2] = format!("{}", at_ms as f64 / 1_000.0);
                *value = tick.join(",");
            }
        }
        batch.push(Op::XAdd {
            key: key.to_owned(),
            max_len: ticks as usize,
            at_ms: Some(at_ms),
            fields,
        });
        if batch.len() == 500 || i + 1 == ticks {
            store.apply(&batch).await?;
            batch = Batch::new();
        }
    }
    Ok(())
}

fn one(op: Op) -> Batch {
    let mut batch = Batch::new();
    batch.push(op);
    batch
}

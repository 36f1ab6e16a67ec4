//! `chainboard inspect`: what an operator (or another process) sees in Redis, read
//! from the store alone: the active epoch and who holds its underlying's ingestion
//! lease, the epoch's meta, counts, TTLs and a few records, then the models' keys:
//! the heatmap and GEX snapshots (seq, TTL, levels) and the length of the GEX
//! history stream.
//!
//! It reads exactly the keys a third-party reader would, through the same key schema,
//! so it doubles as a check that the substrate is self-describing.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chainboard_model::{EpochId, Underlying};
use chainboard_store::{KeySchema, KeyType, Store, Ttl};

/// Arguments of `chainboard inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Redis URL (`redis://host:port/db`).
    #[arg(long, env = "REDIS_URL")]
    redis: String,
    /// Underlying whose active epoch to show.
    #[arg(long, default_value = "SPX")]
    symbol: String,
    /// Records to print, nearest the middle strike of the nearest expiration.
    #[arg(long, default_value_t = 4)]
    records: usize,
    /// A Redis Cluster (`--redis` names one or more of its nodes, comma-separated),
    /// whose keys carry hash tags (`--redis-cluster` on `run`).
    #[arg(long)]
    cluster: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let symbol = args
        .symbol
        .trim()
        .trim_start_matches("I:")
        .to_ascii_uppercase();
    let symbol = Underlying::new(&symbol).with_context(|| format!("--symbol: {symbol:?}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(inspect(args, symbol))
}

async fn inspect(args: &Args, symbol: Underlying) -> Result<ExitCode> {
    let store = super::open_store(Some(&args.redis), args.cluster, "--cluster").await?;
    store
        .ping()
        .await
        .with_context(|| format!("cannot reach {}", store.describe()))?;
    let keys = KeySchema {
        cluster: args.cluster,
    };
    let Some(current) = store.get(&keys.current(symbol)).await? else {
        bail!(
            "no active epoch for {symbol} in {} ({} is not set)",
            store.describe(),
            keys.current(symbol)
        );
    };
    let id = EpochId::parse(&current)
        .with_context(|| format!("{} holds {current:?}", keys.current(symbol)))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} -> {id}", keys.current(symbol))?;
    let lease = keys.lease(symbol);
    match store.get(&lease).await? {
        // "<token> <holder>": the ingestion worker that writes the board.
        Some(held) => writeln!(
            out,
            "{lease} -> {held} ({})",
            ttl_text(store.pttl(&lease).await?)
        )?,
        None => writeln!(out, "{lease}: none (a single process, or no worker leads)")?,
    }
    let meta = store.hgetall(&keys.meta(&id)).await?;
    if meta.is_empty() {
        writeln!(out, "  meta: missing (the epoch has expired)")?;
        return Ok(ExitCode::FAILURE);
    }
    writeln!(
        out,
        "  meta ({}): {}",
        ttl_text(store.pttl(&keys.meta(&id)).await?),
        meta.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    let strikes = store.zrange_with_scores(&keys.strikes(&id)).await?;
    let expirations = store.zrange_with_scores(&keys.expirations(&id)).await?;
    writeln!(
        out,
        "  contracts: {} in {}; expirations: {} ({} .. {})",
        strikes.len(),
        keys.strikes(&id),
        expirations.len(),
        expirations.first().map_or("-", |(d, _)| d.as_str()),
        expirations.last().map_or("-", |(d, _)| d.as_str()),
    )?;
    if let Some((nearest, _)) = expirations.first() {
        records(&mut out, &store, keys, &id, nearest, args.records).await?;
    }
    models(&mut out, &store, keys, symbol).await?;
    Ok(ExitCode::SUCCESS)
}

async fn records(
    out: &mut impl Write,
    store: &Store,
    keys: KeySchema,
    id: &EpochId,
    nearest: &str,
    count: usize,
) -> Result<()> {
    let date: jiff::civil::Date = nearest
        .parse()
        .with_context(|| format!("bad expiration {nearest:?}"))?;
    let series = store.zrange_with_scores(&keys.expiration(id, date)).await?;
    let mid = series.len() / 2;
    let from = mid.saturating_sub(count / 2);
    for (ticker, _) in series.iter().skip(from).take(count) {
        let key = format!("{}{ticker}", keys.contract_prefix(id));
        let ttl = ttl_text(store.pttl(&key).await?);
        let record = match store.key_type(&key).await? {
            Some(KeyType::Hash) => store
                .hgetall(&key)
                .await?
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            Some(KeyType::String) => store.get(&key).await?.unwrap_or_default(),
            Some(other) => format!("unexpected type {other:?}"),
            None => "missing".to_owned(),
        };
        writeln!(out, "  {key} ({ttl}): {record}")?;
    }
    Ok(())
}

/// The models' keys: one line per snapshot, one for the history stream.
async fn models(
    out: &mut impl Write,
    store: &Store,
    keys: KeySchema,
    symbol: Underlying,
) -> Result<()> {
    let heatmap_key = keys.heatmap_snapshot(symbol);
    match snapshot(store, &heatmap_key).await? {
        None => writeln!(
            out,
            "{heatmap_key}: missing (no model tick in the last 5 s)"
        )?,
        Some((ttl, bytes, v)) => {
            let sources = &v["sources"];
            writeln!(
                out,
                "{heatmap_key} ({ttl}): seq={} epoch={} contracts={} spot={} live={} vendor={} missing={} bytes={bytes}",
                v["seq"],
                v["epoch"]["id"].as_str().unwrap_or("?"),
                v["contracts"]["gex"].as_array().map_or(0, Vec::len),
                v["spot"],
                sources["live"],
                sources["vendor"],
                sources["missing"],
            )?;
        }
    }
    let gex_key = keys.gex_snapshot(symbol);
    match snapshot(store, &gex_key).await? {
        None => writeln!(out, "{gex_key}: missing")?,
        Some((ttl, bytes, v)) => {
            let all = &v["filters"]["all"];
            writeln!(
                out,
                "{gex_key} ({ttl}): seq={} net_gex={} zero_gamma={} ({}) call_wall={} put_wall={} bytes={bytes}",
                v["seq"],
                all["total"]["net_gex"],
                all["levels"]["zero_gamma"],
                all["levels"]["zero_gamma_status"].as_str().unwrap_or("?"),
                all["levels"]["call_wall"],
                all["levels"]["put_wall"],
            )?;
        }
    }
    let history = keys.gex_history(symbol);
    writeln!(out, "{history}: {} entries", store.xlen(&history).await?)?;
    Ok(())
}

/// A JSON snapshot key: its TTL, size and parsed value.
async fn snapshot(store: &Store, key: &str) -> Result<Option<(String, usize, serde_json::Value)>> {
    let ttl = ttl_text(store.pttl(key).await?);
    let Some(text) = store.get(key).await? else {
        return Ok(None);
    };
    let value = serde_json::from_str(&text).with_context(|| format!("{key} is not JSON"))?;
    Ok(Some((ttl, text.len(), value)))
}

fn ttl_text(ttl: Ttl) -> String {
    match ttl {
        Ttl::Missing => "missing".to_owned(),
        Ttl::Persistent => "no TTL".to_owned(),
        Ttl::Millis(ms) => format!("TTL {:.1} s", ms as f64 / 1000.0),
    }
}

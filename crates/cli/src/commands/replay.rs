//! `chainboard replay DIR`: a recording (`run --record`, `demo --record`) driven
//! through the service again, with the recording's clock: the same epochs, seqs,
//! snapshots and levels as the live run, served by the same UI and API (the session
//! view's scrubber included) and, with `--redis`, written to the same keys.
//!
//! It prints what the recording holds before it starts, and its throughput when the
//! recording ends; then it exits, or with `--hold` keeps serving until interrupted.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chainboard_recording::Recording;
use chainboard_service::publisher::PublisherConfig;
use chainboard_service::replay::{self as replaying, ReplayConfig, Speed};
use chainboard_service::{Inputs, ModelSettings, Service, ServiceConfig, StartError};
use chainboard_store::writer::WriterConfig;
use chainboard_store::{Fences, KeySchema};

use super::http::HttpArgs;
use super::record::DigestArgs;
use super::service::{interrupted, summary, write_digests};

/// Arguments of `chainboard replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The recording's directory.
    dir: std::path::PathBuf,
    /// Begin pacing here (RFC 3339, or Unix seconds); what comes before is replayed
    /// at full speed so the board, the models and the history are as they were.
    #[arg(long, value_parser = parse_time)]
    from: Option<i64>,
    /// End here (RFC 3339, or Unix seconds).
    #[arg(long, value_parser = parse_time)]
    to: Option<i64>,
    /// A multiple of real time (1, 10, …) or `max`.
    #[arg(long, default_value = "1", value_parser = parse_speed)]
    speed: Speed,
    /// Keep the substrate and snapshots in this Redis, as the live run did with
    /// `--redis`; without it, an embedded in-memory store.
    #[arg(long)]
    redis: Option<String>,
    /// `--redis` is a Redis Cluster.
    #[arg(long, requires = "redis")]
    redis_cluster: bool,
    /// Keep serving the UI and API when the recording ends, until interrupted.
    #[arg(long)]
    hold: bool,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    digests: DigestArgs,
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    s.parse()
}

/// RFC 3339 (`2026-12-04T15:30:00Z`) or Unix seconds, as Unix ms.
fn parse_time(s: &str) -> Result<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..4.0e9).contains(&secs) => Ok((secs * 1e3) as i64),
        _ => bail!("`{s}` is not a time: RFC 3339 (2026-12-04T15:30:00Z) or Unix seconds"),
    }
}

fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    crate::logging::init();
    let (recording, problems) = Recording::open(&args.dir)?;
    for p in &problems {
        eprintln!("chainboard: warning: {p}");
    }
    let (underlyings, settings) = replaying::recorded(&recording).map_err(anyhow::Error::msg)?;
    describe(&recording, &underlyings);
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        bail!("--from ({}) is after --to ({})", at(from), at(to));
    }
    let (first, last) = span(&recording);
    if let (Some(from), Some(last)) = (args.from, last)
        && from > last
    {
        bail!(
            "--from ({}) is after the recording ends ({})",
            at(from),
            at(last)
        );
    }
    if let (Some(to), Some(first)) = (args.to, first)
        && to < first
    {
        bail!(
            "--to ({}) is before the recording begins ({})",
            at(to),
            at(first)
        );
    }
    let schema = KeySchema {
        cluster: args.redis_cluster,
    };
    let models = settings.models(ModelSettings {
        publisher: PublisherConfig {
            schema,
            ..PublisherConfig::default()
        },
        ..ModelSettings::default()
    });
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let store = super::open_store(args.redis.as_deref(), args.redis_cluster, "--redis-cluster").await?;
        let (digests, tap) = args.digests.start().unzip();
        let config = ServiceConfig {
            inputs: Inputs::Replay(ReplayConfig {
                recording,
                from_ms: args.from,
                to_ms: args.to,
                speed: args.speed,
            }),
            record: None,
            store,
            writer: WriterConfig {
                schema,
                ..WriterConfig::default()
            },
            models,
            listen: Some(args.http.listen),
            http: args.http.config()?,
            fences: Fences::none(),
            tap,
        };
        let mut service = Service::start(config).await.map_err(|e| match e {
            StartError::Listen { .. } => anyhow::anyhow!("{e} (--listen)"),
            e => e.into(),
        })?;
        if let Some(address) = service.address() {
            println!("chainboard is serving the replay at http://{address}/");
        }
        let ended = tokio::select! {
            result = service.ingestion_ended() => { result?; true }
            () = interrupted() => false,
        };
        if ended && args.hold {
            println!("the recording has ended; serving until interrupted (--hold)");
            interrupted().await;
        }
        let progress = service.replay().cloned().context("a replay's progress")?;
        let stopped = service.stop().await;
        summary(&stopped);
        let p = &progress;
        let recorded_ms = p.last_ms.load(Ordering::Relaxed) - p.first_ms.load(Ordering::Relaxed);
        let wall = Duration::from_millis(p.wall_ms.load(Ordering::Relaxed));
        let quotes: u64 = stopped.status.boards.iter().map(|b| b.stats.quotes + b.stats.geometry_miss).sum();
        println!(
            "replay records={} frames={} photos={} problems={} diverged={} recorded_s={:.1} wall_s={:.2} times_real_time={:.1} quotes={} quotes_per_s={:.0} complete={}",
            p.records.load(Ordering::Relaxed),
            p.frames.load(Ordering::Relaxed),
            p.photos.load(Ordering::Relaxed),
            p.problems.load(Ordering::Relaxed) + problems.len() as u64,
            p.diverged.load(Ordering::Relaxed),
            recorded_ms as f64 / 1e3,
            wall.as_secs_f64(),
            recorded_ms as f64 / 1e3 / wall.as_secs_f64().max(1e-9),
            quotes,
            quotes as f64 / wall.as_secs_f64().max(1e-9),
            p.done.load(Ordering::Relaxed),
        );
        write_digests(digests)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The recording's time range, from its segments' indexes (a segment without one
/// leaves that end unknown).
fn span(recording: &Recording) -> (Option<i64>, Option<i64>) {
    let segments = recording.segments();
    let first = segments.first().and_then(|s| s.index.as_ref()?.first_ms);
    let last = segments.last().and_then(|s| s.index.as_ref()?.last_ms);
    (first, last)
}

/// What the recording holds, from its header and indexes.
fn describe(recording: &Recording, underlyings: &[chainboard_model::Underlying]) {
    let segments = recording.segments();
    let bytes: u64 = segments.iter().map(|s| s.bytes).sum();
    let (first, last) = span(recording);
    let range = match (first, last) {
        (Some(f), Some(l)) => format!("{} to {} ({:.0} s)", at(f), at(l), (l - f) as f64 / 1e3),
        (Some(f), None) => format!("from {} (the last segment was not closed)", at(f)),
        _ => "times unknown (no index)".to_owned(),
    };
    println!(
        "recording {}: {} segment(s), {:.1} MB, {}, {}",
        recording.dir().display(),
        segments.len(),
        bytes as f64 / 1e6,
        underlyings
            .iter()
            .map(|u| u.as_str())
            .collect::<Vec<_>>()
            .join(","),
        range
    );
    for s in segments {
        match &s.index {
            Some(index) => {
                for e in &index.epochs {
                    println!("  epoch {} ({}) at {}", e.id, e.reason, at(e.at_ms));
                }
                if !index.closed {
                    println!(
                        "  {} was not closed (a crash?): its tail is read as far as it goes",
                        s.path.display()
                    );
                }
            }
            None => println!(
                "  {} has no index: the recorder did not close it",
                s.path.display()
            ),
        }
    }
}

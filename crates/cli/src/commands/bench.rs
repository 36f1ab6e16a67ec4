//! `chainboard bench …`: hot paths measured on recorded or generated data.
//!
//! `bench hydrate` is the ingest hot path end to end, on one core: raw WebSocket text
//! frames → frame parser → OCC symbol → board slot → contract state and dirty set.
//! Loading the chain and reading the frames from disk happen before the clock starts.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use chainboard_engine::{Engine, EngineConfig, PhotoOutcome, Session};
use chainboard_massive::{Normalizer, assemble};
use chainboard_model::{RootMap, Underlying};
use chainboard_recording::{Event, Feed as RecordedFeed, Header, Recorder, RecorderConfig};
use chainboard_service::Feed;

use crate::input;

/// `chainboard bench` commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Bench {
    /// Raw frames → parse → apply to an epoch, on one core.
    Hydrate(HydrateArgs),
    /// The store's write-behind: a full epoch write, then hydration with the
    /// coalescing writer attached, against hydration without it.
    Store(super::bench_store::StoreArgs),
    /// What browser stream clients cost the service: CPU per tick's fan-out, memory
    /// per client, memory after they leave (`--hostile`: clients that never read and
    /// spam resync).
    Stream(super::bench_stream::StreamArgs),
    /// The GEX history endpoint's reader: a session of entries answered in columns.
    History(super::bench_history::HistoryArgs),
}

/// Arguments of `chainboard bench hydrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct HydrateArgs {
    /// Chain snapshot responses (JSON lines, one response per line) that make the board.
    #[arg(long, value_name = "PAGE_FILE")]
    chain: PathBuf,
    /// WebSocket text frames, one per line, applied in order.
    #[arg(long, value_name = "FRAME_FILE")]
    frames: PathBuf,
    /// Apply the whole frame file this many times; each pass is reported, the last
    /// line totals all passes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    passes: u32,
    /// Record every frame as `run --record` does, into a new directory under this
    /// one (deleted afterwards): what recording costs the hot path.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

pub(crate) fn run(bench: &Bench) -> Result<ExitCode> {
    match bench {
        Bench::Hydrate(args) => hydrate(args),
        Bench::Store(args) => super::bench_store::run(args),
        Bench::Stream(args) => super::bench_stream::run(args),
        Bench::History(args) => super::bench_history::run(args),
    }
}

fn hydrate(args: &HydrateArgs) -> Result<ExitCode> {
    let roots = RootMap::default();
    let now_ms = unix_ms_now();
    let mut engines = load_engines(&args.chain, &roots, now_ms)?;
    // Every trade in the frames is signed into flow whatever day they were generated
    // on: the bench measures signing, not the session check's refusals.
    for engine in &mut engines {
        engine.set_session(Session {
            date: jiff::civil::Date::ZERO,
            start_ms: i64::MIN,
            end_ms: i64::MAX,
        });
    }
    let frames = input::frames(&args.frames)?;
    if frames.is_empty() {
        bail!("{} holds no frames", args.frames.display());
    }
    let mut feed = Feed::new(engines, roots);
    let recording = match &args.record {
        Some(dir) => Some(BenchRecording::start(dir, &feed, now_ms)?),
        None => None,
    };
    // A recorder is handed the frame's shared bytes, as the socket's are.
    let shared: Vec<Bytes> = match &recording {
        Some(_) => frames
            .iter()
            .map(|f| Bytes::copy_from_slice(f.as_bytes()))
            .collect(),
        None => Vec::new(),
    };

    // Frame arrival times are synthetic, 1 ms apart from the load time, so no clock is
    // read inside the measured loop.
    let start_ms = now_ms;
    let (mut total_quotes, mut total_seconds) = (0u64, 0f64);
    for pass in 1..=args.passes {
        let (quotes_before, miss_before) = (quotes(&feed), misses(&feed));
        let t = Instant::now();
        for (i, frame) in frames.iter().enumerate() {
            let at = start_ms + i as i64;
            if let Some(r) = &recording {
                r.recorder.record(
                    at,
                    Event::Frame {
                        feed: RecordedFeed::Options,
                        text: shared[i].clone(),
                    },
                );
            }
            // Malformed frames are counted by the feed; the run goes on.
            let _ = feed.apply_frame(frame, at);
        }
        let seconds = t.elapsed().as_secs_f64();
        let pass_quotes = quotes(&feed) - quotes_before;
        eprintln!(
            "pass {pass}: quotes={pass_quotes} geometry_miss={} seconds={seconds:.6} quotes_per_s={:.0}",
            misses(&feed) - miss_before,
            pass_quotes as f64 / seconds
        );
        total_quotes += pass_quotes;
        total_seconds += seconds;
    }
    let s = feed.stats();
    eprintln!(
        "frames={} malformed_frames={} invalid_events={} unknown_events={} bad_symbols={} unrouted={}",
        s.frames, s.malformed_frames, s.invalid_events, s.unknown_events, s.bad_symbols, s.unrouted
    );
    for e in feed.engines() {
        let f = e.flow_stats();
        eprintln!(
            "{} flow: trades buy/sell/unknown={:?} excluded={} refused={:?} signed_share={:.3}",
            e.underlying(),
            f.trades,
            f.excluded.iter().sum::<u64>(),
            f.refused,
            f.signed_share()
        );
    }
    if let Some(r) = recording {
        r.finish();
    }
    writeln!(
        std::io::stdout().lock(),
        "quotes={total_quotes} geometry_miss={} seconds={total_seconds:.6} quotes_per_s={:.0}",
        misses(&feed),
        total_quotes as f64 / total_seconds
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The recorder of `bench hydrate --record`, in a directory of its own.
struct BenchRecording {
    recorder: Recorder,
    dir: PathBuf,
}

impl BenchRecording {
    fn start(parent: &Path, feed: &Feed, now_ms: i64) -> Result<Self> {
        let dir = parent.join(format!("bench-hydrate-{}-{now_ms}", std::process::id()));
        let header = Header {
            format: chainboard_recording::FORMAT_VERSION,
            writer: "chainboard bench hydrate".to_owned(),
            started_ms: now_ms,
            underlyings: feed
                .engines()
                .iter()
                .map(|e| e.underlying().to_string())
                .collect(),
            settings: serde_json::Value::Null,
        };
        let recorder = Recorder::start(RecorderConfig::new(&dir, 64 << 30), header)?;
        Ok(Self { recorder, dir })
    }

    /// Waits for the writer, reports what it kept and dropped, deletes the files.
    fn finish(self) {
        let stats = self.recorder.stats().clone();
        self.recorder.close();
        eprintln!(
            "recorded records={} dropped={} raw_bytes={} written_bytes={}",
            stats.records.load(Ordering::Relaxed),
            stats.dropped.load(Ordering::Relaxed),
            stats.raw_bytes.load(Ordering::Relaxed),
            stats.written_bytes.load(Ordering::Relaxed),
        );
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Quote events that reached an engine (applied or counted as `geometry_miss`).
pub(crate) fn quotes(feed: &Feed) -> u64 {
    feed.engines()
        .iter()
        .map(|e| e.stats().quotes + e.stats().geometry_miss)
        .sum()
}

fn misses(feed: &Feed) -> u64 {
    feed.engines().iter().map(|e| e.stats().geometry_miss).sum()
}

/// Builds one engine per underlying found in the chain file, each with its startup
/// epoch.
pub(crate) fn load_engines(
    path: &std::path::Path,
    roots: &RootMap,
    now_ms: i64,
) -> Result<Vec<Engine>> {
    let responses = input::responses(path)?;
    let any = Normalizer::new(roots, None);
    let mut underlyings: BTreeSet<Underlying> = BTreeSet::new();
    for r in &responses {
        let page = any
            .page(&r.body)
            .with_context(|| format!("{}: unusable chain page", r.origin))?;
        underlyings.extend(page.contracts.iter().map(|c| c.geometry.underlying));
    }
    if underlyings.is_empty() {
        bail!("{} holds no usable contracts", path.display());
    }
    let mut engines = Vec::new();
    for underlying in underlyings {
        let bodies = responses.iter().map(|r| r.body.as_str());
        let (photo, _) = assemble(bodies, roots, underlying, now_ms)?;
        let mut engine = Engine::new(underlying, EngineConfig::default());
        match engine.on_photo(photo, now_ms) {
            PhotoOutcome::Started(s) => {
                eprintln!("epoch {} ({}): {} contracts", s.id, s.reason, s.contracts);
            }
            other => bail!("the chain of {underlying} did not start an epoch: {other:?}"),
        }
        engines.push(engine);
    }
    Ok(engines)
}

/// The wall clock in Unix ms: the binary is the edge where time enters.
pub(crate) fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

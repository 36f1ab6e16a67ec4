//! `chainboard bench store`: what the epoch substrate costs.
//!
//! 1. **Full epoch write**: every record, the geometry ZSETs and the meta, then the
//!    `current` pointer, timed from the hand-over to the moment the pointer names the
//!    epoch (what a reader waits for).
//! 2. **Hydration with the writer attached**: the frame file replayed as in
//!    `bench hydrate` for a window of `--seconds`, with the writer's observer ticked as
//!    the ingestion loop does; windows alternate with windows without it, so the
//!    slowdown of the hot path is measured under the same machine conditions. The
//!    writer runs on its own thread, as in the service (and the store on the other
//!    core: on a 2-core machine the three compete).
//! 3. **Field updates per second** written to the store by the writer during the
//!    attached windows (after coalescing), and the writer's flush lag. Medians over
//!    the windows.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chainboard_engine::BoardObserver;
use chainboard_model::RootMap;
use chainboard_service::Feed;
use chainboard_store::writer::{self, WriterConfig};
use chainboard_store::{KeySchema, Store};

use super::bench::{load_engines, quotes, unix_ms_now};
use crate::input;

/// Arguments of `chainboard bench store`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// Chain snapshot responses (JSON lines) that make the board.
    #[arg(long, value_name = "PAGE_FILE")]
    chain: PathBuf,
    /// WebSocket text frames, one per line.
    #[arg(long, value_name = "FRAME_FILE")]
    frames: PathBuf,
    /// Redis URL; without it, the embedded store.
    #[arg(long, env = "REDIS_URL")]
    redis: Option<String>,
    /// Writer flush cadence in milliseconds (the service's default is 200).
    #[arg(long, default_value_t = 200)]
    flush_ms: u64,
    /// Windows with the writer attached, each followed by one without.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    passes: u32,
    /// Length of each window, seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

/// Frames between two observer ticks: the ingestion loop polls a few times a second,
/// and checking the clock every frame would itself cost the hot path.
const FRAMES_PER_TICK_CHECK: usize = 64;

pub(crate) fn run(args: &StoreArgs) -> Result<ExitCode> {
    let roots = RootMap::default();
    let now_ms = unix_ms_now();
    let engines = load_engines(&args.chain, &roots, now_ms)?;
    let frames = input::frames(&args.frames)?;
    if frames.is_empty() {
        bail!("{} holds no frames", args.frames.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let store = runtime.block_on(Store::connect(args.redis.as_deref()))?;
    runtime
        .block_on(store.ping())
        .with_context(|| format!("cannot reach {}", store.describe()))?;
    let config = WriterConfig {
        flush_every: Duration::from_millis(args.flush_ms),
        ..WriterConfig::default()
    };
    let (mut handle, _task) = {
        let _enter = runtime.enter();
        writer::spawn(store.clone(), config)
    };
    let health = handle.health().clone();
    let mut feed = Feed::new(engines, roots);
    let mut out = std::io::stdout().lock();

    // 1. Full epoch writes.
    for engine in feed.engines_mut() {
        let id = engine.epoch().map(|e| e.id()).context("no epoch")?;
        let contracts = engine.epoch().map_or(0, |e| e.len());
        let pointer = KeySchema::default().current(engine.underlying());
        let t = Instant::now();
        handle.epoch_started(engine, now_ms);
        runtime.block_on(async {
            loop {
                if store.get(&pointer).await?.as_deref() == Some(id.to_string().as_str()) {
                    return anyhow::Ok(());
                }
                if t.elapsed() > Duration::from_secs(120) {
                    bail!(
                        "the epoch was not written within 120 s: {:?}",
                        health.last_error()
                    );
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })?;
        writeln!(
            out,
            "epoch_write epoch={id} contracts={contracts} seconds={:.3} store={}",
            t.elapsed().as_secs_f64(),
            store.describe()
        )?;
    }

    // 2. Hydration with and without the writer, in alternating windows of
    //    `--seconds`, the frame file replayed as often as it takes.
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut fields_per_s = Vec::new();
    let mut clock = now_ms;
    let window = Duration::from_secs_f64(args.seconds);
    for _ in 0..args.passes {
        for attached in [true, false] {
            let before_q = quotes(&feed);
            let before_f = health.fields_written.load(Ordering::Relaxed);
            let t = Instant::now();
            'window: loop {
                for chunk in frames.chunks(FRAMES_PER_TICK_CHECK) {
                    for frame in chunk {
                        clock += 1;
                        let _ = feed.apply_frame(frame, clock);
                    }
                    if attached {
                        for engine in feed.engines_mut() {
                            handle.tick(engine, clock);
                        }
                    }
                    if t.elapsed() >= window {
                        break 'window;
                    }
                }
            }
            let seconds = t.elapsed().as_secs_f64();
            let rate = (quotes(&feed) - before_q) as f64 / seconds;
            if attached {
                let fields = health.fields_written.load(Ordering::Relaxed) - before_f;
                fields_per_s.push(fields as f64 / seconds);
                with.push(rate);
            } else {
                without.push(rate);
                // What changed without the writer is not the writer's to write.
                for engine in feed.engines_mut() {
                    if let Some(epoch) = engine.epoch_mut() {
                        epoch.drain_dirty(|_, _, _, _| {});
                    }
                }
            }
            eprintln!("window writer={attached} quotes_per_s={rate:.0} seconds={seconds:.3}");
            // Let the writer finish its backlog so windows do not overlap.
            std::thread::sleep(config.flush_every * 2);
        }
    }
    let (w, wo) = (median(&mut with), median(&mut without));
    writeln!(
        out,
        "hydrate quotes_per_s_with_writer={w:.0} quotes_per_s_without={wo:.0} slowdown_pct={:.1}",
        (1.0 - w / wo) * 100.0
    )?;
    writeln!(
        out,
        "writer fields_per_s={:.0} flushes={} flush_lag_ms={} backpressure={} errors={}",
        median(&mut fields_per_s),
        health.flushes.load(Ordering::Relaxed),
        health.flush_lag_ms.load(Ordering::Relaxed),
        health.backpressure.load(Ordering::Relaxed),
        health.errors.load(Ordering::Relaxed),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

//! `chainboard tour`: the epoch engine and the models at work on a simulated SPX
//! market, step by step, in a second, with simulated time.
//!
//! It walks through what the service does with Massive's data: a chain photo becomes
//! the startup epoch and the models solve every contract's greeks; skewed quote
//! traffic, with a few symbols that are not listed, hydrates it through the real frame
//! parser and feed, and one model tick turns what changed into GEX and its levels; a
//! photo after a large spot move
//! lists new strikes and starts a `geometry_change` epoch; a silent feed makes the
//! watchdog ask for a forced photo, which starts a `stale_feed` epoch. Time is
//! simulated, so the run is the same every time for a given seed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chainboard_analytics::observer::feed_status;
use chainboard_analytics::{ExpiryFilter, ModelConfig, Models, levels};
use chainboard_engine::{Engine, EngineConfig, EpochStarted, PhotoOutcome};
use chainboard_massive::assemble;
use chainboard_model::{ChainPhoto, ContractRecord, EpochReason, RootMap, Underlying};
use chainboard_service::Feed;
use chainboard_sim::{ChainConfig, QuoteTraffic, SimChain, TrafficConfig, chain_pages};

/// Arguments of `chainboard tour`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Args {
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let today = jiff::civil::date(2026, 11, 24);
    let t0 = jiff::tz::TimeZone::UTC
        .to_timestamp(today.at(16, 0, 0, 0))?
        .as_millisecond();
    let spx = Underlying::new("SPX")?;
    let roots = RootMap::default();
    let mut out = std::io::stdout().lock();

    writeln!(
        out,
        "chainboard tour: a simulated SPX market through the epoch engine\n"
    )?;
    let config = ChainConfig::spx_like(today, args.seed);
    let chain = SimChain::generate(config.clone());
    let (photo, pages) = photo(&chain, &roots, spx, t0)?;
    let mut engine = Engine::new(spx, EngineConfig::default());
    let started = expect_epoch(engine.on_photo(photo, t0))?;
    report(&mut out, &started, &format!("{pages} chain pages"))?;
    // The models drain their own dirty set, once a second in the service.
    let consumer = engine
        .add_dirty_consumer()
        .context("a dirty set for the models")?;
    let mut models = Models::new(spx, ModelConfig::for_underlying(spx), consumer);
    let status = feed_status(&engine, t0);
    let clock = Instant::now();
    let first = models
        .start_epoch(
            engine.epoch_mut().context("an epoch is active")?,
            status,
            t0,
        )
        .context("laying out the board")?;
    writeln!(
        out,
        "models: every contract's implied volatility and greeks in {:.0} ms (live={} vendor={} missing={})",
        clock.elapsed().as_secs_f64() * 1000.0,
        first.heatmap.meta.sources[0],
        first.heatmap.meta.sources[1],
        first.heatmap.meta.sources[2],
    )?;

    // Live paint: quotes and trades skewed to near-the-money, near-expiry contracts,
    // half a percent of them for contracts that are not listed.
    let mut feed = Feed::new(vec![engine], roots.clone());
    let traffic_config = TrafficConfig {
        miss_fraction: 0.005,
        ..TrafficConfig::default()
    };
    let mut traffic = QuoteTraffic::with_config(&chain, args.seed, traffic_config);
    let (frames, per_frame) = (4_000, 50);
    let mut frame = String::new();
    let clock = Instant::now();
    for i in 0..frames {
        frame.clear();
        traffic.next_frame(per_frame, t0 + i, &mut frame);
        feed.apply_frame(&frame, t0 + i)
            .context("a generated frame failed to parse")?;
    }
    let elapsed = clock.elapsed();
    let engine = &mut feed.engines_mut()[0];
    let stats = *engine.stats();
    writeln!(
        out,
        "live feed: {} frames, {} quotes and {} trades painted, {} geometry_miss (not on the board), in {:.0} ms",
        frames,
        stats.quotes,
        stats.trades,
        stats.geometry_miss,
        elapsed.as_secs_f64() * 1000.0
    )?;

    let now = t0 + frames;
    let status = feed_status(engine, now);
    let clock = Instant::now();
    let tick = models
        .tick(
            engine.epoch_mut().context("an epoch is active")?,
            status,
            now,
        )
        .context("the models follow the engine's epoch")?;
    let tick_ms = clock.elapsed().as_secs_f64() * 1000.0;
    writeln!(
        out,
        "model tick {}: {} re-quoted contracts re-solved and re-summed in {tick_ms:.1} ms",
        tick.heatmap.seq(),
        tick.evaluated,
    )?;
    let gex = levels::settle(&tick.heatmap, &tick.gex, models.config(), None);
    let level = |x: Option<f64>| x.map_or_else(|| "none".to_owned(), |v| format!("{v:.2}"));
    for filter in [ExpiryFilter::All, ExpiryFilter::ZeroDte] {
        let f = gex.filter(filter);
        writeln!(
            out,
            "  GEX {:>4}: net {:+.2} bn $/1% move; call wall {}; put wall {}; zero-gamma flip {}",
            filter.as_str(),
            f.total.net_gex() / 1e9,
            level(f.levels.call_wall.map(|k| k.points())),
            level(f.levels.put_wall.map(|k| k.points())),
            level(f.levels.zero_gamma.level()),
        )?;
    }
    writeln!(
        out,
        "\nnearest-expiry contracts around the money, as published:"
    )?;
    let spot = traffic.spot();
    let epoch = engine.epoch().context("an epoch is active")?;
    let nearest = epoch
        .board()
        .contracts()
        .iter()
        .map(|g| g.key.expiration)
        .min();
    let mut near: Vec<_> = epoch
        .board()
        .contracts()
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            Some(g.key.expiration) == nearest && (g.key.strike.points() - spot).abs() <= 5.0
        })
        .map(|(i, g)| ContractRecord::new(g, &epoch.states()[i]))
        .collect();
    near.sort_by(|a, b| a.strike.cmp(&b.strike).then(a.right.cmp(&b.right)));
    for record in near.iter().take(4) {
        writeln!(out, "  {}", serde_json::to_string(record)?)?;
    }

    // The index rallies 4%: the next photo lists new strikes above and drops some
    // below, so its geometry differs and a new epoch begins.
    let t1 = t0 + 30_000;
    let moved = SimChain::generate(ChainConfig {
        spot: config.spot * 1.04,
        ..config.clone()
    });
    let (photo, pages) = self::photo(&moved, &roots, spx, t1)?;
    let started = expect_epoch(engine.on_photo(photo, t1))?;
    report(
        &mut out,
        &started,
        &format!("{pages} chain pages after a 4% rally"),
    )?;

    // Silence: no live message for 5 s makes the watchdog ask for a forced photo, and
    // that photo starts a stale_feed epoch even though nothing else changed.
    let t2 = t1 + 5_000;
    let request = engine
        .poll(t2)
        .context("the watchdog asks for a photo after 5 s of silence")?;
    writeln!(
        out,
        "\nfeed silent for {} ms: watchdog requests a photo ({:?})",
        engine.feed_silence_ms(t2),
        request.reason
    )?;
    let (photo, pages) = self::photo(&moved, &roots, spx, t2)?;
    let started = expect_epoch(engine.on_photo(photo, t2 + 800))?;
    report(&mut out, &started, &format!("{pages} chain pages"))?;

    let stats = engine.stats();
    let by_reason: Vec<String> = EpochReason::ALL
        .iter()
        .map(|&r| format!("{r}={}", stats.epochs_for(r)))
        .collect();
    writeln!(out, "\nepochs by reason: {}", by_reason.join(" "))?;
    writeln!(
        out,
        "`chainboard run` does this live against Massive every second; see README.md"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The chain as Massive's pages, normalized and assembled into one photo.
fn photo(
    chain: &SimChain,
    roots: &RootMap,
    underlying: Underlying,
    taken_at_ms: i64,
) -> Result<(ChainPhoto, usize)> {
    let pages = chain_pages(chain, 250, taken_at_ms);
    Ok(assemble(
        pages.iter().map(String::as_str),
        roots,
        underlying,
        taken_at_ms,
    )?)
}

fn expect_epoch(outcome: PhotoOutcome) -> Result<EpochStarted> {
    match outcome {
        PhotoOutcome::Started(s) => Ok(s),
        other => bail!("expected a new epoch, got {other:?}"),
    }
}

fn report(out: &mut impl Write, s: &EpochStarted, from: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "\nepoch {} ({}): {} contracts from {from}; +{} / -{} contracts against {}",
        s.id,
        s.reason,
        s.contracts,
        s.diff.added.len(),
        s.diff.removed.len(),
        s.previous
            .map_or_else(|| "nothing".to_string(), |p| p.to_string()),
    )
}

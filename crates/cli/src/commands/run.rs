//! `chainboard run`: live ingestion from Massive (or anything that speaks its
//! protocol, such as `chainboard fake-massive`) into the epoch engines, with the
//! epoch substrate written behind them and the models (heatmap, GEX and levels)
//! published every second.
//!
//! Before starting the long-running tasks it makes one REST call (the market status)
//! so that the three mistakes a person makes first fail at once with a clear message:
//! no key, a host that cannot be reached, a key Massive refuses. After that, every
//! failure is retried and logged; only a refused key stops the service.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chainboard_engine::{EngineConfig, WatchdogConfig};
use chainboard_massive::backoff::BackoffConfig;
use chainboard_massive::plan::{PlannerConfig, QUOTES_PER_CONNECTION};
use chainboard_massive::rest::{ApiKey, ChainFilter, LoadError, RestClient};
use chainboard_model::Underlying;
use chainboard_quant::exposure::DealerSign;
use chainboard_service::ModelSettings;
use chainboard_service::ingest::IngestConfig;
use chainboard_service::publisher::PublisherConfig;
use chainboard_service::worker::DEFAULT_LEASE_TTL;
use chainboard_store::KeySchema;
use chainboard_store::writer::{RecordFormat, WriterConfig};
use url::Url;

use super::http::HttpArgs;
use super::record::{DigestArgs, RecordArgs};
use super::service::{self, Settings};

/// Massive's REST base.
const MASSIVE_REST: &str = "https://api.massive.com";
/// Massive's real-time WebSocket base.
const MASSIVE_WS: &str = "wss://socket.massive.com";
/// Massive's 15-minute-delayed WebSocket base.
const MASSIVE_WS_DELAYED: &str = "wss://delayed.massive.com";

/// Which WebSocket host, when `--ws-url` is not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FeedKind {
    /// `wss://socket.massive.com`.
    #[default]
    Realtime,
    /// `wss://delayed.massive.com` (15-minute delayed plans).
    Delayed,
}

/// Arguments of `chainboard run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Massive API key.
    #[arg(long, env = "MASSIVE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// REST base URL.
    #[arg(long, default_value = MASSIVE_REST)]
    rest_url: Url,
    /// WebSocket base URL; `/options` and `/indices` are appended. Overrides `--feed`.
    #[arg(long)]
    ws_url: Option<Url>,
    /// Real-time or delayed WebSocket host.
    #[arg(long, value_enum, default_value_t)]
    feed: FeedKind,
    /// Underlyings, comma-separated; all share one options connection.
    #[arg(long, value_delimiter = ',', default_value = "SPX")]
    symbols: Vec<String>,
    /// Seconds between chain photos (forced photos come on top).
    #[arg(long, default_value_t = 30.0)]
    refresh_secs: f64,
    /// Largest REST response body accepted, in MiB: a larger one is refused while it
    /// is read (a real chain page is about 0.25 MiB).
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
    /// Seconds of feed silence before a fresh photo starts a `stale_feed` epoch.
    #[arg(long, default_value_t = 5.0)]
    stale_after_secs: f64,
    /// Contracts with quote subscriptions, at most 1,000 (Massive's limit for the one
    /// options connection chainboard opens).
    #[arg(long, default_value_t = 1_000)]
    quote_budget: usize,
    /// Only load expirations at most this many days out.
    #[arg(long)]
    max_days: Option<u32>,
    /// Only load strikes within this fraction of spot (0.1 = ±10%), anchored.
    #[arg(long)]
    strike_window: Option<f64>,
    /// Redis URL for the epoch substrate; without it, an embedded in-memory store.
    #[arg(long, env = "REDIS_URL")]
    redis: Option<String>,
    /// `--redis` is a Redis Cluster (one or more of its nodes, comma-separated):
    /// every key of an underlying carries its symbol as a hash tag
    /// (`epoch:{SPX}-…`, `massive:epoch:current:{SPX}`), so its fenced writes stay
    /// in one slot.
    #[arg(long, requires = "redis")]
    redis_cluster: bool,
    /// Store each contract as one compact JSON string instead of a hash.
    #[arg(long)]
    json_records: bool,
    /// Seconds an epoch's keys live without a refresh.
    #[arg(long, default_value_t = 300.0)]
    store_ttl_secs: f64,
    /// Risk-free rate for implied volatility and greeks (0.04 = 4%).
    #[arg(long, default_value_t = 0.04)]
    rate: f64,
    /// Dividend yield of the index, overriding the built-in one (SPX 0.013, NDX
    /// 0.007).
    #[arg(long)]
    div_yield: Option<f64>,
    /// Which side counts positive in GEX.
    #[arg(long, value_enum, default_value_t)]
    dealer_sign: DealerSignArg,
    /// Seconds between model ticks (heatmap and GEX snapshots).
    #[arg(long, default_value_t = 1.0)]
    tick_secs: f64,
    /// Minutes of customer flow that top flow ranks contracts and strikes over.
    #[arg(long, default_value_t = 15.0)]
    flow_window_mins: f64,
    /// Entries kept in each `massive:gex:history:<symbol>` stream.
    #[arg(long, default_value_t = 23_400)]
    history_max: usize,
    /// Milliseconds an ingestion lease lives without renewal (with `--redis`): a
    /// standby worker takes the underlyings over within this plus one chain photo
    /// of the leader's death. Renewed every third of it.
    #[arg(long, default_value_t = DEFAULT_LEASE_TTL.as_millis() as u64)]
    lease_ttl_ms: u64,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    digests: DigestArgs,
    /// Serve no HTTP (with `--redis`): an ingestion worker only, for `chainboard
    /// serve` processes to serve from Redis.
    #[arg(long, requires = "redis")]
    no_http: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    for_secs: Option<f64>,
}

/// The dealer-positioning convention of GEX.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DealerSignArg {
    /// Dealers long calls, short puts: calls positive, puts negative.
    #[default]
    CallsLong,
    /// Dealers short calls, long puts.
    PutsLong,
}

/// The models' flags, checked.
pub(crate) fn model_settings(args: &Args) -> Result<ModelSettings> {
    if !(args.rate.is_finite() && (-0.05..=0.5).contains(&args.rate)) {
        bail!(
            "--rate: expected an annual rate between -0.05 and 0.5, got {}",
            args.rate
        );
    }
    if let Some(q) = args.div_yield
        && !(q.is_finite() && (0.0..=0.5).contains(&q))
    {
        bail!("--div-yield: expected a yield between 0 and 0.5, got {q}");
    }
    if args.history_max == 0 {
        bail!("--history-max: keep at least one entry");
    }
    if !(args.flow_window_mins.is_finite() && (1.0..=1440.0).contains(&args.flow_window_mins)) {
        bail!(
            "--flow-window-mins: expected 1 to 1440 minutes, got {}",
            args.flow_window_mins
        );
    }
    Ok(ModelSettings {
        flow_window_ms: (args.flow_window_mins * 60_000.0).round() as i64,
        rate: args.rate,
        div_yield: args.div_yield,
        dealer_sign: match args.dealer_sign {
            DealerSignArg::CallsLong => DealerSign::CallsLong,
            DealerSignArg::PutsLong => DealerSign::PutsLong,
        },
        tick_ms: positive_secs("--tick-secs", args.tick_secs)?.as_millis() as i64,
        publisher: PublisherConfig {
            schema: KeySchema {
                cluster: args.redis_cluster,
            },
            history_max: args.history_max,
            ..PublisherConfig::default()
        },
    })
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let config = config(args)?;
    crate::logging::init();
    let runtime = super::runtime()?;
    let writer = WriterConfig {
        schema: KeySchema {
            cluster: args.redis_cluster,
        },
        format: if args.json_records {
            RecordFormat::Json
        } else {
            RecordFormat::Hash
        },
        ttl: positive_secs("--store-ttl-secs", args.store_ttl_secs)?,
        ..WriterConfig::default()
    };
    let settings = Settings {
        redis: args.redis.clone(),
        redis_cluster: args.redis_cluster,
        writer,
        models: model_settings(args)?,
        listen: (!args.no_http).then_some(args.http.listen),
        http: args.http.config()?,
        for_secs: args.for_secs,
        lease_ttl: lease_ttl(args.lease_ttl_ms)?,
        record: args.record.recorder(),
        digests: args.digests.clone(),
    };
    runtime.block_on(async {
        let check = preflight(&config).await;
        service::run_service(config, settings, async { check }).await
    })
}

/// `--lease-ttl-ms`, checked: at least a second, so a third of it leaves room for a
/// renewal's round trip (a renewal Redis does not answer gives up after 2 s, so the
/// shorter the TTL, the fewer such renewals a leader survives), and short enough
/// that a failover is not a coffee break.
fn lease_ttl(ms: u64) -> Result<Duration> {
    if !(1_000..=120_000).contains(&ms) {
        bail!("--lease-ttl-ms: expected 1000 to 120000 milliseconds, got {ms}");
    }
    Ok(Duration::from_millis(ms))
}

/// `--symbols` as underlyings: trimmed, `I:` dropped, upper-cased, de-duplicated, at
/// least one.
pub(crate) fn parse_symbols(raw: &[String]) -> Result<Vec<Underlying>> {
    let mut underlyings = Vec::new();
    for s in raw {
        let s = s.trim().trim_start_matches("I:").to_ascii_uppercase();
        let u = Underlying::new(&s).with_context(|| format!("--symbols: {s:?} is not a ticker"))?;
        if !underlyings.contains(&u) {
            underlyings.push(u);
        }
    }
    if underlyings.is_empty() {
        bail!("--symbols: name at least one underlying, e.g. SPX,NDX");
    }
    Ok(underlyings)
}

/// Builds the ingestion config from the flags, rejecting bad values with a message
/// that names the flag.
pub(crate) fn config(args: &Args) -> Result<IngestConfig> {
    let Some(key) = args.api_key.clone().and_then(ApiKey::new) else {
        bail!("no Massive API key: pass --api-key or set MASSIVE_API_KEY");
    };
    let underlyings = parse_symbols(&args.symbols)?;
    let secs = positive_secs;
    if !(1..=QUOTES_PER_CONNECTION).contains(&args.quote_budget) {
        bail!(
            "--quote-budget: expected 1 to {QUOTES_PER_CONNECTION} (Massive quotes at most that many contracts on one connection), got {}",
            args.quote_budget
        );
    }
    if let Some(w) = args.strike_window
        && !(w > 0.0 && w < 1.0)
    {
        bail!("--strike-window: expected a fraction between 0 and 1, got {w}");
    }
    let ws_url = args.ws_url.clone().map_or_else(
        || {
            Url::parse(match args.feed {
                FeedKind::Realtime => MASSIVE_WS,
                FeedKind::Delayed => MASSIVE_WS_DELAYED,
            })
        },
        Ok,
    )?;
    for (flag, url, schemes) in [
        ("--rest-url", &args.rest_url, ["http", "https"]),
        ("--ws-url", &ws_url, ["ws", "wss"]),
    ] {
        if !schemes.contains(&url.scheme()) {
            bail!("{flag}: expected a {} URL, got {url}", schemes.join(" or "));
        }
    }
    let mut config = IngestConfig::new(args.rest_url.clone(), ws_url, key, underlyings);
    config.refresh_every = secs("--refresh-secs", args.refresh_secs)?;
    if args.max_body_mib == 0 || args.max_body_mib > 4096 {
        bail!("--max-body-mib must be between 1 and 4096");
    }
    config.rest.max_body_bytes = args.max_body_mib << 20;
    let stale = secs("--stale-after-secs", args.stale_after_secs)?;
    config.engine = EngineConfig {
        watchdog: WatchdogConfig {
            stale_after_ms: stale.as_millis() as i64,
            ..WatchdogConfig::default()
        },
        ..EngineConfig::default()
    };
    config.planner = PlannerConfig {
        quote_budget: args.quote_budget,
        ..PlannerConfig::default()
    };
    config.filter = ChainFilter {
        max_days: args.max_days,
        strike_window: args.strike_window,
    };
    Ok(config)
}

/// A flag's seconds as a duration, or an error naming the flag.
pub(crate) fn positive_secs(name: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v > 0.0 && v < 1e7 {
        Ok(Duration::from_secs_f64(v))
    } else {
        bail!("{name}: expected a positive number of seconds, got {v}")
    }
}

/// One quick REST call with the key, so a missing host or a refused key fails now.
async fn preflight(config: &IngestConfig) -> Result<()> {
    let mut rest = config.rest.clone();
    rest.attempts = 2;
    rest.timeout = Duration::from_secs(10);
    rest.backoff = BackoffConfig::from_millis(200, 1_000);
    let client = RestClient::new(rest, config.key.clone())?;
    match client.market_open().await {
        Ok(open) => {
            tracing::info!(market_open = open, "Massive reachable");
            Ok(())
        }
        Err(e @ LoadError::Unauthorized { .. }) => {
            Err(e).context("the API key was rejected; check MASSIVE_API_KEY or --api-key")
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot reach Massive at {}", config.rest.rest_url))
        }
    }
}

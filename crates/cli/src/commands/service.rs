//! The service as `run` and `demo` run it: [`chainboard_service::Service`] (or, over
//! Redis, a [`chainboard_service::Worker`] that runs it while it holds the leases)
//! started, stopped on Ctrl-C, SIGTERM or `--for-secs`, and summed up on stdout.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::record::{DigestArgs, Digests};
use anyhow::Result;
use chainboard_analytics::ExpiryFilter;
use chainboard_recording::RecorderConfig;
use chainboard_server::ServerConfig;
use chainboard_service::ingest::IngestConfig;
use chainboard_service::{
    Inputs, ModelSettings, Service, ServiceConfig, StartError, Stopped, Worker, WorkerConfig,
};
use chainboard_store::Fences;
use chainboard_store::writer::WriterConfig;

/// What the service needs beyond ingestion's own config.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Redis URL; `None` for the embedded store.
    pub(crate) redis: Option<String>,
    /// `redis` names nodes of a Redis Cluster.
    pub(crate) redis_cluster: bool,
    /// The epoch substrate's write-behind.
    pub(crate) writer: WriterConfig,
    /// The models and their publisher.
    pub(crate) models: ModelSettings,
    /// Where the HTTP server listens; `None` for none (`--no-http`).
    pub(crate) listen: Option<SocketAddr>,
    /// Its limits and access rules.
    pub(crate) http: ServerConfig,
    /// Stop after this long (default: until interrupted).
    pub(crate) for_secs: Option<f64>,
    /// With Redis, how long an ingestion lease lives without renewal.
    pub(crate) lease_ttl: Duration,
    /// Where to record the inputs (`--record`).
    pub(crate) record: Option<RecorderConfig>,
    /// Where to write the published ticks' digests (`--digests`).
    pub(crate) digests: DigestArgs,
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, what systemd, Docker and Kubernetes send
/// to stop a service: both stop it the same graceful way.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the service until interrupted (Ctrl-C or SIGTERM, or `for_secs`), stops it
/// and prints a summary. `before_start` runs once the store is open, before anything
/// connects: `run` checks Massive there. With Redis the process is an ingestion
/// worker ([`Worker`]): it ingests only while it holds its underlyings' leases.
pub(crate) async fn run_service(
    ingest: IngestConfig,
    settings: Settings,
    before_start: impl std::future::Future<Output = Result<()>>,
) -> Result<ExitCode> {
    // A malformed URL fails now; a Redis that is down is retried by the writer.
    let store = super::open_store(
        settings.redis.as_deref(),
        settings.redis_cluster,
        "--redis-cluster",
    )
    .await?;
    before_start.await?;
    let (digests, tap) = settings.digests.start().unzip();
    let config = ServiceConfig {
        inputs: Inputs::Massive(Box::new(ingest)),
        record: settings.record,
        store,
        writer: settings.writer,
        models: settings.models,
        listen: settings.listen,
        http: settings.http,
        fences: Fences::none(),
        tap,
    };
    let listen_flag = |e: StartError| match e {
        StartError::Listen { .. } => anyhow::anyhow!("{e} (--listen)"),
        e => e.into(),
    };
    let stop = async {
        match settings.for_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => interrupted().await,
        }
    };
    if settings.redis.is_none() {
        let mut service = Service::start(config).await.map_err(listen_flag)?;
        if let Some(address) = service.address() {
            println!("chainboard is serving http://{address}/");
        }
        let outcome = tokio::select! {
            () = stop => Ok(()),
            result = service.ingestion_ended() => result.map_err(anyhow::Error::from),
        };
        let stopped = service.stop().await;
        summary(&stopped);
        write_digests(digests)?;
        return outcome.map(|()| ExitCode::SUCCESS);
    }
    let config = WorkerConfig {
        service: config,
        holder: worker_name(),
        lease_ttl: settings.lease_ttl,
    };
    let holder = config.holder.clone();
    let mut worker = Worker::start(config).await.map_err(listen_flag)?;
    match worker.address() {
        Some(address) => println!("chainboard is serving http://{address}/"),
        None => println!("chainboard ingestion worker {holder} (no HTTP)"),
    }
    let outcome = tokio::select! {
        () = stop => Ok(()),
        result = worker.ended() => result.map_err(anyhow::Error::from),
    };
    let stopped = worker.stop().await;
    if let Some(last) = &stopped.last_term {
        summary(last);
    }
    let l = &stopped.leases;
    println!(
        "lease holder={} role={} terms={} takeovers={} lost={} fenced_writes={}",
        l.holder,
        l.role.as_str(),
        l.terms,
        l.takeovers,
        l.lost,
        l.fenced_writes
    );
    write_digests(digests)?;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// This process's name as a worker, `host:pid` (its leases add `#term`), so a log
/// line or `inspect` names the machine and the process that holds an underlying.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Writes the digests, when collected, and says where.
pub(crate) fn write_digests(digests: Option<Digests>) -> Result<()> {
    if let Some(digests) = digests {
        let n = digests.write()?;
        println!("digests ticks={n}");
    }
    Ok(())
}

pub(crate) fn summary(stopped: &Stopped) {
    let (health, publisher) = (&stopped.store_health, &stopped.publisher);
    for b in &stopped.status.boards {
        println!(
            "{} epoch={} contracts={} quotes={} trades={} geometry_miss={}",
            b.underlying,
            b.epoch.map_or_else(|| "none".to_owned(), |e| e.to_string()),
            b.contracts,
            b.stats.quotes,
            b.stats.trades,
            b.stats.geometry_miss,
        );
    }
    println!(
        "store degraded={} epochs_written={} fields_written={} errors={}",
        health.degraded(),
        health.epochs_written.load(Ordering::Relaxed),
        health.fields_written.load(Ordering::Relaxed),
        health.errors.load(Ordering::Relaxed),
    );
    for symbol in publisher.symbols() {
        if let Some(p) = publisher.watch(symbol).borrow().clone() {
            let all = p.gex.filter(ExpiryFilter::All);
            let level = |x: Option<f64>| x.map_or_else(|| "none".to_owned(), |v| format!("{v:.2}"));
            println!(
                "{symbol} models seq={} spot={} net_gex={:.0} zero_gamma={} call_wall={} put_wall={} live_greeks={}",
                p.heatmap.seq(),
                level(p.heatmap.meta.spot),
                all.total.net_gex(),
                level(all.levels.zero_gamma.level()),
                level(all.levels.call_wall.map(|k| k.points())),
                level(all.levels.put_wall.map(|k| k.points())),
                p.heatmap.meta.sources[0],
            );
        }
    }
    let published = publisher.health();
    println!(
        "models published={} skipped={} errors={}",
        published.published.load(Ordering::Relaxed),
        published.skipped.load(Ordering::Relaxed),
        published.errors.load(Ordering::Relaxed),
    );
    if let Some(r) = &stopped.recorder {
        println!(
            "recording records={} bytes={} raw_bytes={} dropped={} segments_deleted={} errors={}",
            r.records.load(Ordering::Relaxed),
            r.written_bytes.load(Ordering::Relaxed),
            r.raw_bytes.load(Ordering::Relaxed),
            r.dropped.load(Ordering::Relaxed),
            r.segments_deleted.load(Ordering::Relaxed),
            r.errors.load(Ordering::Relaxed),
        );
    }
    println!("store flushed={}", stopped.flushed);
}

//! The service as `run` and `demo` run it: [`chainboard_service::Service`] started,
//! stopped on Ctrl-C, SIGTERM or `--for-secs`, and summed up on stdout.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use chainboard_analytics::ExpiryFilter;
use chainboard_server::ServerConfig;
use chainboard_service::ingest::{IngestConfig, IngestStatus};
use chainboard_service::publisher::PublisherHandle;
use chainboard_service::{ModelSettings, Service, ServiceConfig};
use chainboard_store::Store;
use chainboard_store::writer::{StoreHealth, WriterConfig};

/// What the service needs beyond ingestion's own config.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Redis URL; `None` for the embedded store.
    pub(crate) redis: Option<String>,
    /// The epoch substrate's write-behind.
    pub(crate) writer: WriterConfig,
    /// The models and their publisher.
    pub(crate) models: ModelSettings,
    /// Where the HTTP server listens.
    pub(crate) listen: SocketAddr,
    /// Its limits and access rules.
    pub(crate) http: ServerConfig,
    /// Stop after this long (default: until interrupted).
    pub(crate) for_secs: Option<f64>,
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
/// connects: `run` checks Massive there.
pub(crate) async fn run_service(
    ingest: IngestConfig,
    settings: Settings,
    before_start: impl std::future::Future<Output = Result<()>>,
) -> Result<ExitCode> {
    // A malformed URL fails now; a Redis that is down is retried by the writer.
    let store = Store::connect(settings.redis.as_deref()).await?;
    before_start.await?;
    let config = ServiceConfig {
        ingest,
        store,
        writer: settings.writer,
        models: settings.models,
        listen: settings.listen,
        http: settings.http,
    };
    let mut service = Service::start(config).await.map_err(|e| match e {
        chainboard_service::StartError::Listen { .. } => anyhow::anyhow!("{e} (--listen)"),
        e => e.into(),
    })?;
    println!("chainboard is serving http://{}/", service.address());
    let stop = async {
        match settings.for_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => interrupted().await,
        }
    };
    tokio::pin!(stop);
    let outcome = tokio::select! {
        () = &mut stop => Ok(()),
        result = service.ingestion_ended() => result.map_err(anyhow::Error::from),
    };
    let (publisher, health) = (service.publisher().clone(), service.store_health().clone());
    let stopped = service.stop().await;
    summary(&stopped.status, &health, &publisher);
    println!("store flushed={}", stopped.flushed);
    outcome.map(|()| ExitCode::SUCCESS)
}

fn summary(status: &IngestStatus, health: &StoreHealth, publisher: &PublisherHandle) {
    for b in &status.boards {
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
}

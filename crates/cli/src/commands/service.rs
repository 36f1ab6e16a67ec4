//! The service as `run` and `demo` start it: the store, its write-behind, the models
//! and their publisher, ingestion, and the HTTP server, wired together and stopped
//! together.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use chainboard_analytics::ExpiryFilter;
use chainboard_engine::BoardObserver;
use chainboard_server::{AppState, ServerConfig};
use chainboard_service::ingest::{self, IngestConfig};
use chainboard_service::{LocalSource, TickTimes, TimedModels};
use chainboard_store::Store;
use chainboard_store::writer::WriterConfig;

use super::run::ModelSettings;

/// What the service needs beyond ingestion's own config.
#[derive(Debug)]
pub(crate) struct Service {
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

/// How long shutdown waits for the writer to hand its last batches to the store.
const WRITER_FLUSH: Duration = Duration::from_secs(5);

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, what systemd, Docker and Kubernetes send
/// to stop a service: both stop it the same graceful way.
async fn interrupted() {
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

/// Runs the service until interrupted (Ctrl-C or SIGTERM, or `for_secs`), then stops
/// it in order: ingestion, the writer's last writes, the browser streams (closed with
/// 1001), the HTTP server; and prints a summary.
/// `before_start` runs once the store is open, before anything connects: `run` checks
/// Massive there.
pub(crate) async fn serve(
    config: IngestConfig,
    service: Service,
    before_start: impl std::future::Future<Output = Result<()>>,
) -> Result<ExitCode> {
    // A malformed URL fails now; a Redis that is down is retried by the writer.
    let store = Store::connect(service.redis.as_deref()).await?;
    before_start.await?;
    let listener = tokio::net::TcpListener::bind(service.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", service.listen))?;
    let address = listener.local_addr()?;
    let mut http_config = service.http;
    http_config.access.listening_on(address);
    if let Err(e) = store.ping().await {
        tracing::warn!(store = %store.describe(), error = %e, "store unavailable; running in memory until it answers");
    }
    tracing::info!(store = %store.describe(), "epoch substrate");
    let (writer, writer_task) = chainboard_store::writer::spawn(store.clone(), service.writer);
    let health = writer.health().clone();
    let publisher = chainboard_service::publisher::spawn(store.clone(), service.models.publisher);
    let ticks = Arc::new(TickTimes::default());
    let models = TimedModels::new(service.models.observer(&publisher), ticks.clone());
    let observers: Vec<Box<dyn BoardObserver>> = vec![Box::new(writer), Box::new(models)];
    tracing::info!(
        rest = %config.rest.rest_url,
        ws = %config.options_socket.ws_url,
        symbols = ?config.underlyings.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>(),
        "starting ingestion"
    );
    let symbols = config.underlyings.clone();
    let mut handle = ingest::start(config, Some(Box::new(observers)))?;
    let source = LocalSource::new(
        publisher.clone(),
        handle.subscribe(),
        health.clone(),
        store.describe(),
        ticks,
    );
    let state = AppState::new(symbols, Arc::new(source), http_config);
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(chainboard_server::serve(listener, state.clone(), async {
        let _ = http_stopped.await;
    }));
    println!("chainboard is serving http://{address}/");
    tracing::info!(%address, "web UI and API");

    let stop = async {
        match service.for_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => interrupted().await,
        }
    };
    tokio::pin!(stop);
    let outcome = tokio::select! {
        () = &mut stop => Ok(()),
        result = handle.join() => result.map_err(anyhow::Error::from),
    };
    // Stop ingestion: its task drops the engines' observers, the writer's handle
    // among them, so the writer drains what it was handed and ends.
    handle.abort();
    let flushed = tokio::time::timeout(WRITER_FLUSH, writer_task)
        .await
        .is_ok();
    if !flushed {
        tracing::warn!(store = %store.describe(), "the store did not take the last writes in time");
    }
    state.close_streams(Duration::from_secs(1)).await;
    let _ = stop_http.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), http).await;
    summary(&handle.status(), &health, &publisher);
    println!("store flushed={flushed}");
    outcome.map(|()| ExitCode::SUCCESS)
}

fn summary(
    status: &chainboard_service::ingest::IngestStatus,
    health: &chainboard_store::writer::StoreHealth,
    publisher: &chainboard_service::publisher::PublisherHandle,
) {
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

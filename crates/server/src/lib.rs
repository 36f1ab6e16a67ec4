//! chainboard's HTTP side: the JSON API, the browser stream, metrics, health and the
//! web UI, over what the pipeline publishes.
//!
//! - [`app`] builds the router from an [`AppState`], so tests drive it over a real
//!   socket or call it directly; [`serve`] runs it on a listener until shutdown.
//! - [`source`]: what the server reads (each symbol's latest documents, the
//!   service's status) through one interface, in process or from Redis.
//! - [`api`]: symbols, snapshots, GEX history, epochs, `/healthz`, `/readyz`, the
//!   OpenAPI document.
//! - [`stream`]: full snapshots then diffs over a WebSocket, shared bytes and a queue
//!   bounded in documents and bytes per client, a cap on clients.
//! - [`access`]: the Host, Origin and token checks in front of every route;
//!   [`config`] holds them and the stream's limits.
//! - [`metrics`]: Prometheus text.
//! - [`web`]: the UI's files, compiled into the binary (no build step, no other
//!   hosts).

mod access;
pub mod api;
pub mod config;
pub mod metrics;
pub mod source;
pub mod state;
pub mod stream;
pub mod web;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

pub use config::{Access, AccessError, ServerConfig, StreamLimits};
pub use source::{
    Doc, Documents, HistoryError, HistoryQuery, HistoryResult, ServiceStatus, Source,
};
pub use state::AppState;

/// Every route, behind the access guard ([`access`]).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/symbols", get(api::symbols))
        .route("/api/v1/heatmap/{symbol}", get(api::heatmap))
        .route("/api/v1/gex/{symbol}", get(api::gex))
        .route("/api/v1/gex/{symbol}/history", get(api::gex_history))
        .route("/api/v1/epochs/{symbol}", get(api::epochs))
        .route("/api/v1/stream/{symbol}", get(stream::stream))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/", get(web::index))
        .route("/{file}", get(web::file))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::guard,
        ))
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

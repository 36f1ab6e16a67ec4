//! A fake Massive: the vendor's REST and WebSocket protocol over real sockets, backed
//! by chainboard's market simulator, with faults on demand.
//!
//! chainboard's Massive clients, its epoch engine and the whole service are tested
//! end to end against this rather than the live vendor: it speaks
//! Massive's documented protocol exactly (paths, query parameters, JSON shapes, status events, limits),
//! it is deterministic in what it lists, and a test can make it fail the ways the real
//! service does — a stalled feed, dropped sockets, rate-limited or failing pages,
//! malformed frames, refused keys, newly listed strikes.
//!
//! ```text
//!              ┌────────────── FakeMassive (one listener) ──────────────┐
//!  REST  ─────►│ /v3/snapshot/options/I:SPX  ◄── stored Photos ◄──┐     │
//!              │ /v3/snapshot/indices, /v1/marketstatus/now       │     │
//!  WS    ─────►│ /options, /indices ◄── Tick (rendered once) ◄── Market task
//!              │ /_fake/* (fault injection, stats)                │ step every tick
//!              └──────────────────────────────────────────────────┴─────┘
//! ```
//!
//! - [`FakeConfig`] says what to serve; [`FakeMassive::start`] binds and runs it.
//! - [`Control`] injects faults (also over HTTP, `/_fake/*`: see [`control`]).
//! - [`FakeStats`] counts what happened, for assertions.
//! - The market itself is [`chainboard_sim::Market`]: SPX- and NDX-like chains, index
//!   paths, traffic skewed to near-the-money, near-expiry contracts, strikes listed as
//!   the index moves, expirations settling at 16:00 New York time.
//!
//! The REST error shapes and the WebSocket status messages the fake chose where
//! Massive's documentation leaves them open are listed in [`rest`]'s and `session`'s docs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use chainboard_model::Underlying;
use chainboard_sim::{Market, MarketConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub mod control;
pub mod rest;
mod session;
mod state;
pub mod stats;
mod ws;

pub use control::Control;
pub use stats::{FakeStats, UnderlyingStats};

use state::Shared;

/// What the fake serves and how it behaves. Start from [`FakeConfig::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct FakeConfig {
    /// The one API key accepted, on REST and WebSocket.
    pub api_key: String,
    /// Seed of the market: the same seed lists the same chains and draws the same
    /// traffic (what arrives within a tick depends on wall-clock timing).
    pub seed: u64,
    /// The indices with option chains; SPX and NDX have realistic chains, any other
    /// name gets an SPX-shaped chain at 1000 with roots `<name>`/`<name>W`.
    pub underlyings: Vec<Underlying>,
    /// The trading day of the chains (their first 0DTE expiration). `None`: the
    /// exchange's session date now (today in New York before the close, else the next
    /// trading day: a demo started on a Saturday trades Monday's chain). Another date
    /// shifts the market's calendar by whole days: settlement times still follow the
    /// wall clock's time of day.
    pub today: Option<jiff::civil::Date>,
    /// How often the market moves and frames go out.
    pub tick: Duration,
    /// Events generated per underlying per tick, before subscription filtering.
    pub events_per_tick: usize,
    /// How long a socket may go without `auth` before `auth_timeout` and close.
    pub auth_timeout: Duration,
    /// Contracts a socket may hold quote (`Q`) subscriptions for (Massive: 1,000).
    pub max_quoted_contracts: usize,
    /// Authenticated sockets per cluster (`/options`, `/indices`): the newest wins,
    /// the oldest gets `max_connections` and is closed. Zero counts as one.
    pub max_connections: usize,
    /// What `/v1/marketstatus/now` and the indices snapshot report.
    pub market_open: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            api_key: "fake-key".to_owned(),
            seed: 1,
            underlyings: ["SPX", "NDX"]
                .into_iter()
                .filter_map(|u| Underlying::new(u).ok())
                .collect(),
            today: None,
            tick: Duration::from_millis(100),
            events_per_tick: 400,
            auth_timeout: Duration::from_secs(10),
            max_quoted_contracts: 1_000,
            max_connections: 1,
            market_open: true,
        }
    }
}

/// A running fake Massive. Dropping it stops its tasks; [`FakeMassive::shutdown`]
/// also closes its sockets politely first.
#[derive(Debug)]
pub struct FakeMassive {
    addr: SocketAddr,
    shared: Arc<Shared>,
    control: Control,
    server: Option<JoinHandle<()>>,
    market: Option<JoinHandle<()>>,
}

/// The fake's routes on `shared`.
fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v3/snapshot/options/{underlying}", get(rest::chain))
        .route("/v3/snapshot/indices", get(rest::indices))
        .route("/v1/marketstatus/now", get(rest::market_now))
        .route("/options", get(ws::options))
        .route("/indices", get(ws::indices))
        .route("/_fake/stall", post(control::stall))
        .route("/_fake/drop", post(control::drop_all))
        .route("/_fake/list-strikes", post(control::list_strikes))
        .route("/_fake/fail-page", post(control::fail_page))
        .route("/_fake/malformed", post(control::malformed))
        .route("/_fake/reject-auth", post(control::reject_auth))
        .route("/_fake/stats", get(control::stats))
        .fallback(rest::not_found)
        .with_state(shared)
}

impl FakeMassive {
    /// Generates the market, binds `listen` (port 0 picks a free port) and starts
    /// serving. Generating SPX and NDX chains takes a moment (about a second in a
    /// debug build); it runs off the async threads.
    ///
    /// Fails if the address cannot be bound, or (`InvalidInput`) if an underlying
    /// cannot be simulated (its name cannot be an option root).
    pub async fn start(config: FakeConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let start_ms = state::unix_ms();
        let today = config.today.unwrap_or_else(|| {
            chainboard_quant::expiry::session_date(
                start_ms,
                &chainboard_sim::market::exchange_time_zone(),
            )
        });
        let market_config =
            MarketConfig::for_underlyings(&config.underlyings, today, config.seed, start_ms)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "an underlying cannot be simulated (its name is not an option root)",
                    )
                })?;
        let market = tokio::task::spawn_blocking(move || Market::new(market_config, start_ms))
            .await
            .map_err(std::io::Error::other)?;
        let rest_url = format!("http://{addr}");
        let shared = Arc::new(Shared::new(config, market, rest_url));
        let mut shutdown = shared.shutdown.subscribe();
        let router = app(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake Massive server stopped");
            }
        });
        let market = tokio::spawn(state::run_market(Arc::clone(&shared)));
        Ok(Self {
            addr,
            control: Control::new(Arc::clone(&shared)),
            shared,
            server: Some(server),
            market: Some(market),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST base URL, `http://127.0.0.1:PORT`: what a client puts before
    /// `/v3/...`, and what `next_url` starts with.
    pub fn rest_url(&self) -> String {
        self.shared.rest_url.clone()
    }

    /// The WebSocket base URL, `ws://127.0.0.1:PORT`: clients append `/options` or
    /// `/indices`, as with Massive's hosts.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Fault injection.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The counters now.
    pub fn stats(&self) -> FakeStats {
        self.shared.stats()
    }

    /// Stops the market, closes every socket with a close frame, and stops serving.
    /// Returns within a few seconds even if clients do not cooperate.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        for task in [self.market.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for FakeMassive {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        for task in [self.market.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

//! Fault injection: the same operations from Rust ([`Control`]) and over HTTP
//! (`/_fake/*`, for a fake run as a process).
//!
//! The HTTP control endpoints are a test tool on the fake's own listener and need no
//! API key; never expose a fake to anything but a test. Bad parameters get a 400 with
//! a JSON `{"error": ...}`.
//!
//! | request | effect |
//! |---|---|
//! | `POST /_fake/stall?seconds=N` | no data frames for N seconds (fractions allowed) |
//! | `POST /_fake/drop` | every WebSocket closed abruptly |
//! | `POST /_fake/list-strikes?symbol=SPX` | new strikes listed now |
//! | `POST /_fake/fail-page?page=K&status=429&times=1` | page K of the next loads fails |
//! | `POST /_fake/malformed?frames=N` | next N data frames per options socket are broken |
//! | `POST /_fake/reject-auth?on=true` | every key refused while on |
//! | `GET /_fake/stats` | [`FakeStats`] as JSON |

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chainboard_model::Underlying;

use crate::state::{Shared, lock, unix_ms};
use crate::stats::FakeStats;

/// Longest stall accepted: a day; anything longer is a mistake in a test.
const MAX_STALL: Duration = Duration::from_secs(86_400);

/// Fault injection for a running [`crate::FakeMassive`]. Every method is synchronous
/// and cheap (at most a short lock), takes effect at once, and is also reachable over
/// HTTP (see the module docs).
#[derive(Debug, Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Sends no data frames (quotes, trades, index values) for `duration`; sockets
    /// stay open, status messages and pings are still answered, and the market keeps
    /// moving (a chain photo shows quotes the feed did not send). A new call replaces
    /// the previous stall; `Duration::ZERO` ends it.
    pub fn stall(&self, duration: Duration) {
        let until = Instant::now().checked_add(duration.min(MAX_STALL));
        *lock(&self.shared.faults.stall_until) = until;
    }

    /// Closes every WebSocket abruptly: the TCP connection ends with no close frame
    /// and no status, as when a server or a network dies.
    pub fn drop_connections(&self) {
        self.shared.drops.send_modify(|n| *n += 1);
    }

    /// Lists new strikes for `underlying` now: a strike halfway between neighbouring
    /// strikes within ±0.5% of spot, in every expiration (`6852.5` between `6850` and
    /// `6855`; see `chainboard_sim::chain::SimChain::list_midpoints`). They are in the
    /// next chain photo and quoted from the next tick. Returns the number of contracts
    /// added: 0 for an underlying the fake does not serve, or once the gaps near the
    /// money are under a point.
    pub fn list_strikes(&self, underlying: Underlying) -> usize {
        let mut market = lock(&self.shared.market);
        let Some(book) = market.book_of(underlying) else {
            return 0;
        };
        let added = market.list_strikes(book, unix_ms());
        if added > 0 {
            crate::stats::bump(&self.shared.counters.list_events);
        }
        added
    }

    /// Fails the next `times` requests for page `page` of a chain load (1-based: page
    /// 1 is a request without a cursor) with HTTP `status` and Massive's error body:
    /// 429 gets the rate-limit error, anything else "Internal server error". A status
    /// that is not a 4xx or 5xx is served as 500. Replaces an earlier setting for the
    /// same page; `times == 0` clears it. Page 0 does not exist and is ignored.
    pub fn fail_pages(&self, page: usize, status: u16, times: usize) {
        if page == 0 {
            tracing::warn!("fail_pages: page numbers start at 1; ignored");
            return;
        }
        let mut fails = lock(&self.shared.faults.fail_pages);
        if times == 0 {
            fails.remove(&page);
        } else {
            fails.insert(page, (status, times));
        }
    }

    /// Makes the next `frames` data frames on every open options socket malformed
    /// (cut short or with a stray byte after the array: not valid JSON). Sockets opened
    /// later are not affected; a new call replaces the count.
    pub fn send_malformed(&self, frames: usize) {
        let faults = &self.shared.faults;
        faults
            .malformed_frames
            .store(frames as u64, Ordering::Relaxed);
        faults.malformed_generation.fetch_add(1, Ordering::Relaxed);
    }

    /// While `on`, every key is refused: REST answers 401 "Unknown API Key" and a
    /// WebSocket `auth` gets `auth_failed` (then the socket closes). Open sockets that
    /// already authenticated are not affected.
    pub fn reject_auth(&self, on: bool) {
        self.shared.faults.reject_auth.store(on, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn stats(&self) -> FakeStats {
        self.shared.stats()
    }
}

type Params = Vec<(String, String)>;

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn ok(body: serde_json::Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// Reads parameter `name` with `parse`, or explains what is wrong.
fn required<T>(
    params: &Result<Query<Params>, QueryRejection>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, String> {
    let Ok(Query(params)) = params else {
        return Err("invalid query string".to_owned());
    };
    let value = params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("missing parameter: {name}"))?;
    parse(value).ok_or_else(|| format!("invalid value for {name}: {value:?}"))
}

/// The value of a [`required`] parameter, or the handler returns a 400.
macro_rules! try_param {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(message) => return bad(message),
        }
    };
}

/// `POST /_fake/stall?seconds=N`.
pub(crate) async fn stall(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let seconds = try_param!(required(&query, "seconds", |v| {
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= MAX_STALL.as_secs_f64())
    }));
    Control::new(shared).stall(Duration::from_secs_f64(seconds));
    ok(serde_json::json!({ "stalled_seconds": seconds }))
}

/// `POST /_fake/drop`.
pub(crate) async fn drop_all(State(shared): State<Arc<Shared>>) -> Response {
    Control::new(shared).drop_connections();
    ok(serde_json::json!({ "dropped": true }))
}

/// `POST /_fake/list-strikes?symbol=SPX` (`I:SPX` accepted too).
pub(crate) async fn list_strikes(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let underlying = try_param!(required(&query, "symbol", |v| {
        Underlying::new(v.strip_prefix("I:").unwrap_or(v)).ok()
    }));
    let control = Control::new(shared);
    if lock(&control.shared.market).book_of(underlying).is_none() {
        return bad(format!("the fake does not serve {underlying}"));
    }
    let added = control.list_strikes(underlying);
    ok(serde_json::json!({ "symbol": underlying.as_str(), "listed_contracts": added }))
}

/// `POST /_fake/fail-page?page=K&status=429&times=1`.
pub(crate) async fn fail_page(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let page = try_param!(required(&query, "page", |v| {
        v.parse::<usize>().ok().filter(|p| *p >= 1)
    }));
    let status = try_param!(required(&query, "status", |v| {
        v.parse::<u16>()
            .ok()
            .filter(|s| *s == 429 || (500..=599).contains(s))
    }));
    let times = match &query {
        Ok(Query(p)) if p.iter().any(|(k, _)| k == "times") => {
            try_param!(required(&query, "times", |v| v.parse::<usize>().ok()))
        }
        _ => 1,
    };
    Control::new(shared).fail_pages(page, status, times);
    ok(serde_json::json!({ "page": page, "status": status, "times": times }))
}

/// `POST /_fake/malformed?frames=N`.
pub(crate) async fn malformed(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let frames = try_param!(required(&query, "frames", |v| v.parse::<usize>().ok()));
    Control::new(shared).send_malformed(frames);
    ok(serde_json::json!({ "frames": frames }))
}

/// `POST /_fake/reject-auth?on=true|false`.
pub(crate) async fn reject_auth(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let on = try_param!(required(&query, "on", |v| v.parse::<bool>().ok()));
    Control::new(shared).reject_auth(on);
    ok(serde_json::json!({ "reject_auth": on }))
}

/// `GET /_fake/stats`.
pub(crate) async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    (StatusCode::OK, Json(shared.stats())).into_response()
}

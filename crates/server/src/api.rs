//! The JSON API: symbols, the latest snapshots, the GEX history, epochs, health and
//! readiness.
//!
//! Snapshots are served from the [`Source`](crate::source::Source)'s latest documents,
//! exactly the bytes the publisher wrote to the store, so an API reader and a Redis
//! reader see the same bytes. Errors are JSON (`{"error": …, "code": …}`) with the
//! right status and never carry internals.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chainboard_model::Underlying;
use chainboard_model::time::ms_to_seconds;
use serde_json::{Value, json};

use crate::source::{Doc, Documents, HistoryError, HistoryQuery, ServiceStatus};
use crate::state::AppState;

/// An error a client can act on.
#[derive(Debug)]
pub(crate) enum AppError {
    /// The path names no symbol this service publishes.
    UnknownSymbol(String),
    /// Nothing published yet for the symbol (the first photo is loading).
    NotReady(Underlying),
    /// A stream request that is not a valid WebSocket upgrade: what is wrong.
    BadUpgrade(&'static str),
    /// A query parameter that cannot be served: its name and what is wrong.
    BadParameter(&'static str, String),
    /// The history could not be read (the store did not answer).
    HistoryUnavailable(String),
}

impl From<HistoryError> for AppError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::BadParameter { name, why } => AppError::BadParameter(name, why),
            HistoryError::Unavailable(why) => AppError::HistoryUnavailable(why),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            AppError::UnknownSymbol(raw) => (
                StatusCode::NOT_FOUND,
                "unknown_symbol",
                // Echo only what is printable and short: a path is user input.
                format!(
                    "no such symbol: {:?}",
                    raw.chars()
                        .filter(|c| c.is_ascii_graphic())
                        .take(16)
                        .collect::<String>()
                ),
            ),
            AppError::NotReady(symbol) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("no snapshot of {symbol} yet; the first chain photo is loading"),
            ),
            AppError::BadUpgrade(why) => (StatusCode::BAD_REQUEST, "bad_upgrade", why.to_owned()),
            AppError::BadParameter(name, why) => {
                let body = json!({
                    "error": format!("{name}: {why}"),
                    "code": "bad_parameter",
                    "parameter": name,
                });
                return (StatusCode::BAD_REQUEST, Json(body)).into_response();
            }
            AppError::HistoryUnavailable(why) => {
                tracing::warn!(error = %why, "history read failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "history_unavailable",
                    "the history store did not answer; try again".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message, "code": code }))).into_response()
    }
}

/// A JSON document as the response body, without a copy.
fn json_text(body: bytes::Bytes) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /api/v1/symbols`.
pub(crate) async fn symbols(State(state): State<AppState>) -> Json<Value> {
    let symbols: Vec<&str> = state.inner.symbols.iter().map(|u| u.as_str()).collect();
    Json(json!({ "symbols": symbols }))
}

/// The latest published tick of the symbol a path names.
fn latest(state: &AppState, raw: String) -> Result<std::sync::Arc<Documents>, AppError> {
    let symbol = state.symbol(&raw).ok_or(AppError::UnknownSymbol(raw))?;
    let latest = state.inner.source.documents(symbol).borrow().clone();
    latest.ok_or(AppError::NotReady(symbol))
}

/// `GET /api/v1/heatmap/{symbol}`: the latest `chainboard/heatmap/v1` document.
pub(crate) async fn heatmap(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let docs = latest(&state, raw)?;
    Ok(json_text(
        docs.json(Doc::Heatmap).cloned().unwrap_or_default(),
    ))
}

/// `GET /api/v1/gex/{symbol}`: the latest `chainboard/gex/v1` document.
pub(crate) async fn gex(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let docs = latest(&state, raw)?;
    Ok(json_text(docs.json(Doc::Gex).cloned().unwrap_or_default()))
}

/// `GET /api/v1/gex/{symbol}/history?from=&to=&step=&filter=`: the session's GEX
/// timeline (`chainboard/gex-history/v1`). `from` and `to` are Unix seconds or
/// RFC 3339 times, `step` seconds; each is optional (the source decides the
/// defaults). A parameter that is malformed, repeated or unknown is a JSON 400 that
/// names it.
pub(crate) async fn gex_history(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let symbol = state.symbol(&raw).ok_or(AppError::UnknownSymbol(raw))?;
    let query = history_query(query.as_deref().unwrap_or_default())?;
    let doc = state.inner.source.history(symbol, query).await?;
    Ok(json_text(doc))
}

/// A history request's query string, checked.
fn history_query(raw: &str) -> Result<HistoryQuery, AppError> {
    let mut query = HistoryQuery {
        from_ms: None,
        to_ms: None,
        step_ms: None,
        filter: "all".to_owned(),
    };
    let mut seen = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let name: &'static str = match &*name {
            "from" => "from",
            "to" => "to",
            "step" => "step",
            "filter" => "filter",
            other => {
                let shown: String = other
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(16)
                    .collect();
                return Err(AppError::BadParameter(
                    "query",
                    format!(
                        "unknown parameter {shown:?}; the parameters are from, to, step and filter"
                    ),
                ));
            }
        };
        if seen.contains(&name) {
            return Err(AppError::BadParameter(name, "given twice".to_owned()));
        }
        seen.push(name);
        match name {
            "from" => query.from_ms = Some(instant(name, &value)?),
            "to" => query.to_ms = Some(instant(name, &value)?),
            "step" => query.step_ms = Some(seconds(name, &value)?),
            _ => query.filter = value.chars().take(16).collect(),
        }
    }
    Ok(query)
}

/// The latest instant a query may name: the year 9999.
const LAST_MS: u64 = 253_402_300_799_999;

/// A time as Unix seconds (a fraction allowed) or an RFC 3339 timestamp, in Unix ms.
fn instant(name: &'static str, raw: &str) -> Result<u64, AppError> {
    let bad = || {
        AppError::BadParameter(
            name,
            "not a time: give Unix seconds (1765000000.5) or RFC 3339 (2026-12-04T14:30:00Z), 1970 to 9999".to_owned(),
        )
    };
    let ms = match raw.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => (s * 1_000.0).round(),
        Ok(_) => return Err(bad()),
        Err(_) => {
            let t: jiff::Timestamp = raw.trim().parse().map_err(|_| bad())?;
            t.as_millisecond() as f64
        }
    };
    if !(0.0..=LAST_MS as f64).contains(&ms) {
        return Err(bad());
    }
    Ok(ms as u64)
}

/// A duration in seconds (a fraction allowed), in ms.
fn seconds(name: &'static str, raw: &str) -> Result<u64, AppError> {
    match raw.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s * 1_000.0 <= LAST_MS as f64 => {
            Ok((s * 1_000.0).round() as u64)
        }
        _ => Err(AppError::BadParameter(
            name,
            "not a duration: give seconds greater than 0".to_owned(),
        )),
    }
}

/// `GET /api/v1/epochs/{symbol}`: the active epoch and recent transitions.
pub(crate) async fn epochs(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let symbol = state.symbol(&raw).ok_or(AppError::UnknownSymbol(raw))?;
    Ok(Json(epochs_doc(&state.inner.source.status(), symbol)))
}

/// The epochs document: also sent on the browser stream as part of the status.
pub(crate) fn epochs_doc(status: &ServiceStatus, symbol: Underlying) -> Value {
    let transitions: Vec<Value> = status
        .transitions
        .iter()
        .rev()
        .filter(|t| t.underlying == symbol.as_str())
        .map(|t| {
            json!({
                "id": t.id,
                "reason": t.reason,
                "previous": t.previous,
                "at": ms_to_seconds(t.at_ms),
                "contracts": t.contracts,
                "added": t.added,
                "removed": t.removed,
            })
        })
        .collect();
    let active = status.board(symbol).and_then(|b| {
        let id = b.epoch.as_deref()?;
        Some(json!({
            "id": id,
            "reason": b.reason,
            "contracts": b.contracts,
            "started_at": transitions
                .iter()
                .find(|t| t["id"] == id)
                .map(|t| t["at"].clone()),
        }))
    });
    json!({
        "symbol": symbol.as_str(),
        "active": active,
        "transitions": transitions,
    })
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: ready when ingestion has not stopped, every symbol has a snapshot
/// younger than the snapshot TTL (after which the store's copy is gone too) whose
/// feed is live (a feed silent beyond the watchdog's `stale_after` while the market
/// is open is not; a closed market is not an error), and the store is not degraded.
/// 503 with the reasons otherwise, per symbol and component.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let now_ms = unix_ms_now();
    let status = state.inner.source.status();
    let fresh_ms = i64::try_from(status.snapshot_ttl_ms).unwrap_or(i64::MAX);
    let mut problems = Vec::new();
    if let Some(fatal) = &status.fatal {
        problems.push(format!("ingestion stopped: {fatal}"));
    }
    let market_open = status.market_open != Some(false);
    for &symbol in &state.inner.symbols {
        match state.inner.source.documents(symbol).borrow().as_ref() {
            None => problems.push(format!("{symbol}: no snapshot yet")),
            Some(d) if now_ms - d.ts_ms > fresh_ms => problems.push(format!(
                "{symbol}: last snapshot {} ms old",
                now_ms - d.ts_ms
            )),
            Some(d) if market_open && !d.feed.is_live() => {
                problems.push(format!(
                    "{symbol}: feed silent for {} ms while the market is open ({})",
                    d.feed.silence_ms, d.feed.state
                ));
            }
            Some(_) => {}
        }
    }
    let store = &status.store;
    if store.degraded {
        problems.push(format!(
            "store {} degraded: {}",
            store.name,
            store.last_error.as_deref().unwrap_or_default()
        ));
    }
    let body = json!({
        "ready": problems.is_empty(),
        "problems": problems,
        "store": { "name": store.name, "degraded": store.degraded },
    });
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The wall clock, Unix ms: the server's one clock read, to age snapshots.
fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi() -> Response {
    json_text(bytes::Bytes::from_static(OPENAPI.as_bytes()))
}

/// The API's OpenAPI document (`docs/openapi.json`).
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{AppError, history_query};

    /// The parameter a query is refused for.
    fn refused(raw: &str) -> &'static str {
        match history_query(raw) {
            Err(AppError::BadParameter(name, _)) => name,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn history_queries_read_seconds_and_rfc3339() {
        let q = history_query("from=1765000000.25&to=2026-12-04T14:30:00Z&step=15&filter=0dte")
            .expect("valid");
        assert_eq!(q.from_ms, Some(1_765_000_000_250));
        assert_eq!(q.to_ms, Some(1_796_394_600_000));
        assert_eq!(q.step_ms, Some(15_000));
        assert_eq!(q.filter, "0dte");
        let empty = history_query("").expect("valid");
        assert_eq!((empty.from_ms, empty.step_ms), (None, None));
        assert_eq!(empty.filter, "all");
    }

    #[test]
    fn a_bad_history_query_names_its_parameter() {
        assert_eq!(refused("from=yesterday"), "from");
        assert_eq!(refused("from=-5"), "from");
        assert_eq!(refused("to=1e300"), "to");
        assert_eq!(refused("to=NaN"), "to");
        assert_eq!(refused("step=0"), "step");
        assert_eq!(refused("step=-1"), "step");
        assert_eq!(refused("step=15&step=30"), "step");
        assert_eq!(refused("stpe=15"), "query");
    }

    proptest! {
        /// Any query string: a query or a named refusal, never a panic.
        #[test]
        fn fuzz_history_queries(raw in "\\PC{0,40}|(from|to|step|filter)=\\PC{0,12}") {
            match history_query(&raw) {
                Ok(_) | Err(AppError::BadParameter(..)) => {}
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}

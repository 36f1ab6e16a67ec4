//! The JSON API: symbols, the latest snapshots, epochs, health and readiness.
//!
//! Snapshots are served from the [`Source`](crate::source::Source)'s latest documents,
//! exactly the bytes the publisher wrote to the store, so an API reader and a Redis
//! reader see the same bytes. Errors are JSON (`{"error": …, "code": …}`) with the
//! right status and never carry internals.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chainboard_model::Underlying;
use chainboard_model::time::ms_to_seconds;
use serde_json::{Value, json};

use crate::source::{Doc, Documents, ServiceStatus};
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

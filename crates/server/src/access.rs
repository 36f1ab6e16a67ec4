//! The guard in front of every route: the `Host` check, the `Origin` check and the
//! token.
//!
//! - **Host** must be one the server answers to ([`Access`]'s hosts: the loopback
//!   names by default). A page on `evil.example` whose DNS name is re-pointed at
//!   127.0.0.1 (DNS rebinding) sends `Host: evil.example` and is refused.
//! - **Origin**, when a browser sends one (always on a WebSocket upgrade and on
//!   cross-site requests), must be the server's own (its host and port equal the
//!   `Host` the request was sent to) or one configured with `--allowed-origin`. A
//!   page on another site can neither open the stream nor read the API; `null`
//!   (sandboxed frames, files) is refused.
//! - **Token**, when one is configured: every `/api/…` request and `/metrics` must
//!   carry `Authorization: Bearer <token>`; the stream may carry it as `?token=`
//!   instead (browsers cannot set headers on a WebSocket). The UI's files, `/healthz`
//!   and `/readyz` stay open: they hold no market data, and probes must reach them.
//!
//! Refusals are JSON like every other error (`403 forbidden_host`,
//! `403 forbidden_origin`, `401 unauthorized`) and counted in
//! `chainboard_http_denied_total{reason}`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::Ordering;

use crate::config::Access;
use crate::state::AppState;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// `Host` is not one the server answers to.
    Host,
    /// `Origin` is another site's.
    Origin,
    /// The token is missing or wrong.
    Token,
}

impl Denied {
    /// Every reason, in `/metrics` order.
    pub(crate) const ALL: [Denied; 3] = [Denied::Host, Denied::Origin, Denied::Token];

    /// Its `reason` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Denied::Host => "host",
            Denied::Origin => "origin",
            Denied::Token => "token",
        }
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Denied::Host => (
                StatusCode::FORBIDDEN,
                "forbidden_host",
                "this server does not answer to that Host (see --allowed-host)",
            ),
            Denied::Origin => (
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "requests from that origin are not allowed (see --allowed-origin)",
            ),
            Denied::Token => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid token is required: Authorization: Bearer <token>",
            ),
        };
        let mut response =
            (status, Json(json!({ "error": message, "code": code }))).into_response();
        if self == Denied::Token {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The middleware: passes the request on, or answers the refusal.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state.inner.config.access, request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(denied) => {
            state.inner.denied[denied as usize].fetch_add(1, Ordering::Relaxed);
            denied.into_response()
        }
    }
}

/// Whether `access` lets this request through.
pub(crate) fn check(access: &Access, uri: &Uri, headers: &HeaderMap) -> Result<(), Denied> {
    // HTTP/1.1 requires `Host`; HTTP/2 carries it as the URI's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .map(str::to_ascii_lowercase);
    if !access.any_host && !host.as_ref().is_some_and(|h| access.hosts.contains(h)) {
        return Err(Denied::Host);
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin
            .to_str()
            .map_err(|_| Denied::Origin)?
            .to_ascii_lowercase();
        let same_site = origin
            .split_once("://")
            .is_some_and(|(_, authority)| Some(authority) == host.as_deref());
        if !same_site && !access.origins.contains(&origin) {
            return Err(Denied::Origin);
        }
    }
    if let Some(token) = &access.token {
        let path = uri.path();
        if path.starts_with("/api/") || path == "/metrics" {
            let given = bearer(headers).or_else(|| {
                path.starts_with("/api/v1/stream/")
                    .then(|| query_token(uri))
                    .flatten()
            });
            if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
                return Err(Denied::Token);
            }
        }
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn query_token(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Compares two secrets in time that depends on their lengths only, so the answer's
/// timing does not tell an attacker how much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;

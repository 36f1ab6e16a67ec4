//! Massive's REST endpoints, as chainboard uses them: the option chain snapshot (paged,
//! filtered, from a stored photo), the indices snapshot and the market status.
//!
//! Errors use Massive's documented shapes (the exact texts for a key are the ones
//! Polygon/Massive is reported to send):
//!
//! | case | HTTP | body |
//! |---|---|---|
//! | no key | 401 | `{"status":"ERROR","request_id":..,"error":"API Key was not provided"}` |
//! | wrong key, or `reject_auth` on | 401 | `{"status":"ERROR","request_id":..,"error":"Unknown API Key"}` |
//! | injected 429 | 429 | `{"status":"ERROR",..,"error":"You've exceeded the maximum requests per minute, ..."}` |
//! | injected 5xx | that | `{"status":"ERROR",..,"error":"Internal server error"}` |
//! | bad parameter or cursor | 400 | `{"status":"ERROR",..,"error":"<what is wrong>"}` |
//! | unknown path | 404 | `{"status":"NOT_FOUND",..,"message":"Not found"}` |
//!
//! A chain load is consistent: its first page takes a [`chainboard_sim::Photo`] of the live market and
//! every `next_url` carries an opaque cursor naming that photo, the position and the
//! filters (never the key), so later pages come from the same instant.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chainboard_model::{Right, Underlying};
use chainboard_sim::chain::SimContract;
use chainboard_sim::rest::{MAX_LIMIT, hex};
use jiff::civil::Date;
use serde::Serialize;

use crate::state::{Shared, lock, unix_ms};
use crate::stats::bump;

/// Massive's default `limit` for the chain snapshot.
const DEFAULT_LIMIT: usize = 10;
/// The 429 text Massive sends.
pub(crate) const RATE_LIMIT_ERROR: &str = "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. https://massive.com/pricing";
/// The 5xx text.
pub(crate) const SERVER_ERROR: &str = "Internal server error";
/// No key in the request.
pub(crate) const NO_KEY_ERROR: &str = "API Key was not provided";
/// A key that is not the configured one.
pub(crate) const BAD_KEY_ERROR: &str = "Unknown API Key";

type Params = Vec<(String, String)>;

/// A JSON response with `status`.
fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// `{"status":"ERROR","request_id":..,"error":text}` with HTTP `status`.
pub(crate) fn error(shared: &Shared, status: StatusCode, text: &str) -> Response {
    let id = shared.request_id();
    let body = ErrorBody {
        status: "ERROR",
        request_id: &id,
        error: Some(text),
        message: None,
    };
    json(status, serde_json::to_string(&body).unwrap_or_default())
}

/// The answer to an injected failure of status `code`.
pub(crate) fn injected(shared: &Shared, code: u16) -> Response {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = if status == StatusCode::TOO_MANY_REQUESTS {
        RATE_LIMIT_ERROR
    } else {
        SERVER_ERROR
    };
    error(shared, status, text)
}

/// Any path the fake does not serve.
pub(crate) async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    let id = shared.request_id();
    let body = ErrorBody {
        status: "NOT_FOUND",
        request_id: &id,
        error: None,
        message: Some("Not found"),
    };
    json(
        StatusCode::NOT_FOUND,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A request refused before it reaches a handler's work: the status and the text of
/// Massive's error body (rendered with a request id by [`Refusal::respond`]).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    text: String,
}

impl Refusal {
    fn respond(self, shared: &Shared) -> Response {
        error(shared, self.status, &self.text)
    }
}

/// Checks the key (`Authorization: Bearer` first, then `apiKey`).
fn authorize(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<(), Refusal> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let key = bearer.or_else(|| param(params, "apiKey"));
    let refusal = match key {
        None => Some(NO_KEY_ERROR),
        Some(_)
            if shared
                .faults
                .reject_auth
                .load(std::sync::atomic::Ordering::Relaxed) =>
        {
            Some(BAD_KEY_ERROR)
        }
        Some(k) if k != shared.config.api_key => Some(BAD_KEY_ERROR),
        Some(_) => None,
    };
    match refusal {
        None => Ok(()),
        Some(text) => {
            bump(&shared.counters.rest_unauthorized);
            Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                text: text.to_owned(),
            })
        }
    }
}

/// The query's parameters, or why they cannot be read.
fn params_of(query: Result<Query<Params>, QueryRejection>) -> Result<Params, Refusal> {
    query.map(|Query(p)| p).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        text: format!("invalid query string: {e}"),
    })
}

/// Reads the parameters and checks the key.
fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Params, Refusal> {
    let params = params_of(query)?;
    authorize(shared, headers, &params)?;
    Ok(params)
}

/// The filters and page size of a chain load.
#[derive(Debug, Clone, Default, PartialEq)]
struct ChainQuery {
    limit: usize,
    strike: Bounds<f64>,
    expiration: Bounds<Date>,
    right: Option<Right>,
}

/// `.gte`, `.gt`, `.lte`, `.lt` of one field.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bounds<T> {
    gte: Option<T>,
    gt: Option<T>,
    lte: Option<T>,
    lt: Option<T>,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    fn contains(&self, x: T) -> bool {
        self.gte.is_none_or(|b| x >= b)
            && self.gt.is_none_or(|b| x > b)
            && self.lte.is_none_or(|b| x <= b)
            && self.lt.is_none_or(|b| x < b)
    }

    /// Reads `<field>`, `<field>.gte`, ... from `params` with `parse`.
    fn parse(
        params: &Params,
        field: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Self, String> {
        let mut b = Self {
            gte: None,
            gt: None,
            lte: None,
            lt: None,
        };
        for (k, v) in params {
            let Some(op) = k.strip_prefix(field) else {
                continue;
            };
            let slot = match op {
                "" => None,
                ".gte" => Some(&mut b.gte),
                ".gt" => Some(&mut b.gt),
                ".lte" => Some(&mut b.lte),
                ".lt" => Some(&mut b.lt),
                _ => return Err(format!("unsupported filter: {k}")),
            };
            let value = parse(v).ok_or_else(|| format!("invalid value for {k}: {v:?}"))?;
            match slot {
                Some(slot) => *slot = Some(value),
                None => {
                    b.gte = Some(value);
                    b.lte = Some(value);
                }
            }
        }
        Ok(b)
    }

    fn encode(&self, show: impl Fn(T) -> String) -> String {
        [self.gte, self.gt, self.lte, self.lt]
            .map(|v| v.map(&show).unwrap_or_default())
            .join("|")
    }
}

impl ChainQuery {
    /// Reads a first page's parameters; unknown ones are ignored, as Massive does.
    fn parse(params: &Params) -> Result<Self, String> {
        let limit = match param(params, "limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("invalid value for limit: {v:?}"))?,
        };
        if let Some(sort) = param(params, "sort").filter(|s| *s != "ticker") {
            return Err(format!("the fake serves sort=ticker only, not {sort:?}"));
        }
        if let Some(order) = param(params, "order").filter(|s| *s != "asc") {
            return Err(format!("the fake serves order=asc only, not {order:?}"));
        }
        let right = match param(params, "contract_type") {
            None => None,
            Some("call") => Some(Right::Call),
            Some("put") => Some(Right::Put),
            Some(other) => return Err(format!("invalid value for contract_type: {other:?}")),
        };
        Ok(Self {
            limit: limit.clamp(1, MAX_LIMIT),
            strike: Bounds::parse(params, "strike_price", |v| {
                v.parse::<f64>().ok().filter(|x| x.is_finite())
            })?,
            expiration: Bounds::parse(params, "expiration_date", |v| v.parse::<Date>().ok())?,
            right,
        })
    }

    fn matches(&self, c: &SimContract) -> bool {
        self.right.is_none_or(|r| c.right() == r)
            && self.strike.contains(c.strike())
            && self.expiration.contains(c.key.expiration)
    }
}

/// Where the next page of a load starts: opaque to the client (hex).
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    photo: u64,
    /// 1-based page number within the load, for `fail_pages`.
    page: usize,
    /// Index in the photo's listing where the next page starts.
    pos: usize,
    query: ChainQuery,
}

impl Cursor {
    fn encode(&self) -> String {
        let q = &self.query;
        let right = q.right.map_or("", Right::as_str);
        let text = format!(
            "v1|{}|{}|{}|{}|{}|{}|{right}",
            self.photo,
            self.page,
            self.pos,
            q.limit,
            q.strike.encode(|x| x.to_string()),
            q.expiration.encode(|d| d.to_string()),
        );
        hex(text.as_bytes())
    }

    fn decode(cursor: &str) -> Option<Self> {
        let bytes = unhex(cursor)?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let f: Vec<&str> = text.split('|').collect();
        if f.len() != 14 || f[0] != "v1" {
            return None;
        }
        let opt = |s: &str| -> Option<Option<f64>> {
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        let opt_date = |s: &str| -> Option<Option<Date>> {
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(Self {
            photo: f[1].parse().ok()?,
            page: f[2].parse().ok()?,
            pos: f[3].parse().ok()?,
            query: ChainQuery {
                limit: f[4].parse::<usize>().ok()?.clamp(1, MAX_LIMIT),
                strike: Bounds {
                    gte: opt(f[5])?,
                    gt: opt(f[6])?,
                    lte: opt(f[7])?,
                    lt: opt(f[8])?,
                },
                expiration: Bounds {
                    gte: opt_date(f[9])?,
                    gt: opt_date(f[10])?,
                    lte: opt_date(f[11])?,
                    lt: opt_date(f[12])?,
                },
                right: match f[13] {
                    "" => None,
                    "call" => Some(Right::Call),
                    "put" => Some(Right::Put),
                    _ => return None,
                },
            },
        })
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 4096 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `GET /v3/snapshot/options/{underlyingAsset}`.
pub(crate) async fn chain(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    bump(&shared.counters.chain_requests);
    let params = match admit(&shared, &headers, query) {
        Ok(p) => p,
        Err(r) => return r.respond(&shared),
    };
    let Ok(Path(asset)) = path else {
        return error(&shared, StatusCode::BAD_REQUEST, "invalid underlying asset");
    };
    let cursor = match param(&params, "cursor") {
        Some(c) => match Cursor::decode(c) {
            Some(c) => Some(c),
            None => return error(&shared, StatusCode::BAD_REQUEST, "invalid cursor"),
        },
        None => None,
    };
    let page = cursor.as_ref().map_or(1, |c| c.page);
    if let Some(status) = shared.faults.take_page_failure(page) {
        bump(&shared.counters.pages_failed);
        return injected(&shared, status);
    }
    let request_id = shared.request_id();
    let (photo_id, photo, pos, query) = match cursor {
        Some(c) => {
            let Some(photo) = lock(&shared.photos).get(c.photo) else {
                return error(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "cursor expired: its chain photo is no longer kept; start the load again",
                );
            };
            if format!("I:{}", photo.underlying()) != asset {
                return error(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "cursor is for another underlying",
                );
            }
            (c.photo, photo, c.pos, c.query)
        }
        None => {
            let query = match ChainQuery::parse(&params) {
                Ok(q) => q,
                Err(e) => return error(&shared, StatusCode::BAD_REQUEST, &e),
            };
            let photo = asset
                .strip_prefix("I:")
                .and_then(|u| Underlying::new(u).ok())
                .and_then(|u| {
                    let market = lock(&shared.market);
                    market.photo(market.book_of(u)?, unix_ms())
                });
            let Some(photo) = photo else {
                // Massive answers an unknown underlying with an empty chain.
                bump(&shared.counters.pages_served);
                let body =
                    chainboard_sim::snapshot_page(&asset, 0.0, &[], unix_ms(), &request_id, None);
                return json(StatusCode::OK, body);
            };
            bump(&shared.counters.photos_taken);
            let photo = Arc::new(photo);
            let id = lock(&shared.photos).insert(Arc::clone(&photo));
            (id, photo, 0, query)
        }
    };
    let listed = photo.listed();
    let mut indices = Vec::with_capacity(query.limit);
    let mut i = pos;
    while i < listed.len() && indices.len() < query.limit {
        if query.matches(&listed[i]) {
            indices.push(i);
        }
        i += 1;
    }
    let next = (i..listed.len()).find(|&j| query.matches(&listed[j]));
    let next_url = next.map(|pos| {
        let cursor = Cursor {
            photo: photo_id,
            page: page.saturating_add(1),
            pos,
            query,
        };
        format!(
            "{}/v3/snapshot/options/{asset}?cursor={}",
            shared.rest_url,
            cursor.encode()
        )
    });
    let body = photo.render_page(&indices, &request_id, next_url.as_deref());
    bump(&shared.counters.pages_served);
    json(StatusCode::OK, body)
}

#[derive(Serialize)]
struct IndicesPage<'a> {
    status: &'static str,
    request_id: &'a str,
    results: Vec<serde_json::Value>,
}

fn index_name(u: &str) -> &str {
    match u {
        "SPX" => "Standard & Poor's 500",
        "NDX" => "Nasdaq-100",
        other => other,
    }
}

fn market_status(shared: &Shared) -> &'static str {
    if shared.config.market_open {
        "open"
    } else {
        "closed"
    }
}

/// `GET /v3/snapshot/indices?ticker.any_of=I:SPX,I:NDX` (or `ticker=`; neither: all).
pub(crate) async fn indices(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let params = match admit(&shared, &headers, query) {
        Ok(p) => p,
        Err(r) => return r.respond(&shared),
    };
    let now_ns = i128::from(unix_ms()) * 1_000_000;
    let market = lock(&shared.market);
    let tickers: Vec<String> = match param(&params, "ticker.any_of").or(param(&params, "ticker")) {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        None => (0..market.books())
            .filter_map(|b| market.underlying(b))
            .map(|u| format!("I:{u}"))
            .collect(),
    };
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let results = tickers
        .iter()
        .map(|ticker| {
            let session = ticker
                .strip_prefix("I:")
                .and_then(|u| Underlying::new(u).ok())
                .and_then(|u| market.session(market.book_of(u)?));
            match session {
                Some(s) => {
                    let change = s.value - s.previous_close;
                    serde_json::json!({
                        "ticker": ticker,
                        "name": index_name(ticker.trim_start_matches("I:")),
                        "type": "indices",
                        "market_status": market_status(&shared),
                        "value": round(s.value),
                        "last_updated": now_ns,
                        "timeframe": "REAL-TIME",
                        "session": {
                            "change": round(change),
                            "change_percent": round(100.0 * change / s.previous_close),
                            "close": round(s.value),
                            "high": round(s.high),
                            "low": round(s.low),
                            "open": round(s.open),
                            "previous_close": round(s.previous_close),
                        },
                    })
                }
                None => serde_json::json!({
                    "ticker": ticker,
                    "error": "NOT_FOUND",
                    "message": "Ticker not found.",
                }),
            }
        })
        .collect();
    drop(market);
    let request_id = shared.request_id();
    let page = IndicesPage {
        status: "OK",
        request_id: &request_id,
        results,
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&page).unwrap_or_default(),
    )
}

/// `GET /v1/marketstatus/now`, in the shape Massive sends (camelCase, no `status`).
pub(crate) async fn market_now(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    if let Err(r) = admit(&shared, &headers, query) {
        return r.respond(&shared);
    }
    let state = market_status(&shared);
    let tz = chainboard_sim::market::exchange_time_zone();
    let server_time = jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let body = serde_json::json!({
        "afterHours": false,
        "currencies": { "crypto": "open", "fx": "open" },
        "earlyHours": false,
        "exchanges": { "nasdaq": state, "nyse": state, "otc": state },
        "indicesGroups": {
            "s_and_p": state,
            "societe_generale": state,
            "msci": state,
            "ftse_russell": state,
            "mstar": state,
            "mstarc": state,
            "cccy": state,
            "cgi": state,
            "nasdaq": state,
            "dow_jones": state,
        },
        "market": state,
        "serverTime": server_time,
    });
    json(StatusCode::OK, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let query = ChainQuery::parse(&params(&[
            ("limit", "1000"),
            ("strike_price.gte", "6800.5"),
            ("expiration_date.lt", "2026-12-01"),
            ("contract_type", "put"),
        ]))
        .expect("valid");
        assert_eq!(query.limit, 250);
        let cursor = Cursor {
            photo: 7,
            page: 3,
            pos: 500,
            query,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "zz", "abc", "7631", &hex(b"v1|1|2|3")] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_filters_are_explained() {
        for (k, v) in [
            ("limit", "ten"),
            ("strike_price.gte", "abc"),
            ("strike_price.between", "1"),
            ("expiration_date", "2026-13-01"),
            ("contract_type", "straddle"),
            ("order", "desc"),
        ] {
            let e = ChainQuery::parse(&params(&[(k, v)])).expect_err(k);
            assert!(e.contains(k) || e.contains(v), "{e}");
        }
        let q =
            ChainQuery::parse(&params(&[("limit", "0"), ("strike_price", "6850")])).expect("valid");
        assert_eq!(q.limit, 1);
        assert!(q.strike.contains(6850.0) && !q.strike.contains(6855.0));
    }
}

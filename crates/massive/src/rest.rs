//! Massive's REST API as chainboard uses it: whole chain photos, index values and the
//! market's status.
//!
//! # A load is all or nothing
//!
//! A chain photo is only worth anything complete: an epoch built from 60 of 100 pages
//! would be a board missing strikes, and the geometry diff would call the missing ones
//! removed. So [`RestClient::load_chain`] either returns every page of one load,
//! normalized and assembled, or an error; nothing partial ever reaches an engine.
//! Each page is retried on its own (jittered exponential backoff on 413, 429, 499,
//! 5xx, timeouts and broken connections, as Massive's own clients do) before the load
//! gives up.
//!
//! # The key
//!
//! The API key travels only in the `Authorization: Bearer` header, and only to the
//! configured REST origin: a `next_url` pointing anywhere else ends the load rather
//! than hand the key to another host. [`ApiKey`] prints as `***`, and errors carry
//! URLs without their query, so the key never reaches a log line.
//!
//! # Cursors
//!
//! `next_url` is followed as given (it carries the cursor and the filters). Massive
//! has been reported to loop on this endpoint, so a URL seen twice in one load ends it
//! with [`LoadError::RepeatingCursor`], and a load longer than
//! [`RestConfig::max_pages`] pages ends with [`LoadError::TooManyPages`].
//!
//! # Filters that do not chase the spot
//!
//! A strike filter centred on the live spot would change on every load, and every
//! change of filter changes the photo's geometry, which starts a new epoch. A
//! [`FilterAnchor`] keeps the window where it is until the spot has used up half of it,
//! then re-centres once, so a drifting spot moves the window rarely and by a lot.

use std::fmt;
use std::time::{Duration, Instant};

use chainboard_model::{ChainPhoto, RootMap, Underlying};
use jiff::civil::Date;
use reqwest::StatusCode;
use serde::Deserialize;
use thiserror::Error;
use url::Url;

use crate::backoff::{Backoff, BackoffConfig};
use crate::chain::{ChainAssembler, Normalizer, PageError};

/// A Massive API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding whitespace (a pasted newline) is dropped.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into().trim().to_owned();
        (!key.is_empty()).then_some(Self(key))
    }

    /// The key itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// REST client settings.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Base URL, `https://api.massive.com` in production.
    pub rest_url: Url,
    /// Results per page; Massive's maximum is 250.
    pub limit: usize,
    /// A load longer than this many pages is refused (a full SPX chain is about 100).
    pub max_pages: usize,
    /// Per-request timeout, connection included.
    pub timeout: Duration,
    /// Attempts per page before the load fails (the first try included).
    pub attempts: u32,
    /// Waits between attempts.
    pub backoff: BackoffConfig,
    /// A response body larger than this is refused while it is read, never held
    /// whole: a full page of 250 contracts is about 250 KB, so the default (64 MiB)
    /// is far above any real page and far below what would hurt the process.
    pub max_body_bytes: usize,
    /// Whether a loaded chain keeps the bodies of its pages
    /// ([`LoadedChain::bodies`]), for a recording.
    pub keep_bodies: bool,
}

impl RestConfig {
    /// Defaults against `rest_url`.
    pub fn new(rest_url: Url) -> Self {
        Self {
            rest_url,
            limit: 250,
            max_pages: 1_000,
            timeout: Duration::from_secs(15),
            attempts: 5,
            backoff: BackoffConfig::from_millis(500, 15_000),
            max_body_bytes: 64 << 20,
            keep_bodies: false,
        }
    }
}

/// Why a REST call failed. Messages name the endpoint, never the key.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The key was refused or lacks the entitlement; retrying cannot help.
    #[error("Massive refused the API key (HTTP {status}): {message}")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// The vendor's explanation.
        message: String,
    },
    /// A page kept failing with a retryable error until the attempts ran out, or
    /// failed with one that cannot be retried.
    #[error("{endpoint}: page {page} failed after {attempts} attempt(s): {last}")]
    Page {
        /// Path of the request, without query.
        endpoint: String,
        /// 1-based page number within the load.
        page: usize,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// `next_url` returned a URL already followed in this load.
    #[error("chain load of {underlying}: next_url repeated at page {page}; the cursor loops")]
    RepeatingCursor {
        /// Whose chain.
        underlying: Underlying,
        /// The page that would have repeated.
        page: usize,
    },
    /// The load did not end within [`RestConfig::max_pages`].
    #[error("chain load of {underlying}: more than {max} pages; refusing to continue")]
    TooManyPages {
        /// Whose chain.
        underlying: Underlying,
        /// The limit.
        max: usize,
    },
    /// `next_url` points at another host, which must not receive the key.
    #[error("next_url points outside {expected}; refusing to send the key there")]
    ForeignCursor {
        /// The configured origin.
        expected: String,
    },
    /// The client could not be built or a URL could not be formed.
    #[error("REST client: {0}")]
    Setup(String),
}

impl LoadError {
    /// Whether the error is about the key, so the caller should stop rather than retry.
    pub fn is_auth(&self) -> bool {
        matches!(self, LoadError::Unauthorized { .. })
    }

    /// Whether retrying the same load cannot help: a refused key, or a cursor that
    /// points at another host every time.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            LoadError::Unauthorized { .. } | LoadError::ForeignCursor { .. } | LoadError::Setup(_)
        )
    }
}

/// A finished, complete chain photo.
#[derive(Debug)]
pub struct LoadedChain {
    /// The photo.
    pub snapshot: ChainPhoto,
    /// Pages read.
    pub pages: usize,
    /// Retries spent (all pages).
    pub retries: u32,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// Each page's body as received, in order, when [`RestConfig::keep_bodies`] is
    /// set (else empty): the photo as a recording holds it.
    pub bodies: Vec<String>,
}

/// An index's level from `GET /v3/snapshot/indices`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexValue {
    /// The index.
    pub underlying: Underlying,
    /// Its level.
    pub value: f64,
    /// When Massive last updated it, Unix ms.
    pub ts_ms: Option<i64>,
}

/// Optional server-side filters for chain loads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChainFilter {
    /// Only expirations at most this many days after today.
    pub max_days: Option<u32>,
    /// Only strikes within this fraction of the anchored spot (0.1 = ±10%).
    pub strike_window: Option<f64>,
}

/// A [`ChainFilter`] held in place while the spot drifts (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct FilterAnchor {
    filter: ChainFilter,
    anchor: Option<f64>,
}

impl FilterAnchor {
    /// An anchor for `filter`, not yet placed.
    pub fn new(filter: ChainFilter) -> Self {
        Self {
            filter,
            anchor: None,
        }
    }

    /// The spot the strike window is centred on, once placed.
    pub fn anchor(&self) -> Option<f64> {
        self.anchor
    }

    /// The query parameters for a load made at `today` with the spot at `spot`.
    /// Without a known spot the strike window is left out (the whole chain is loaded)
    /// rather than guessed.
    pub fn query(&mut self, spot: Option<f64>, today: Date) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(days) = self.filter.max_days {
            let last = today
                .checked_add(jiff::Span::new().days(i64::from(days)))
                .unwrap_or(today);
            q.push(("expiration_date.gte", today.to_string()));
            q.push(("expiration_date.lte", last.to_string()));
        }
        if let (Some(w), Some(spot)) = (self.filter.strike_window, spot)
            && w > 0.0
            && spot.is_finite()
            && spot > 0.0
        {
            let anchor = match self.anchor {
                Some(a) if (spot / a - 1.0).abs() <= w / 2.0 => a,
                _ => spot,
            };
            self.anchor = Some(anchor);
            // Whole points, so the URL is the same from load to load; the tolerance
            // keeps float noise (6800 × 1.1 = 7480.000000000001) from adding a point.
            let low = (anchor * (1.0 - w) + 1e-6).floor();
            let high = (anchor * (1.0 + w) - 1e-6).ceil();
            q.push(("strike_price.gte", format!("{low}")));
            q.push(("strike_price.lte", format!("{high}")));
        }
        q
    }
}

/// Massive's REST API with a key.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    config: RestConfig,
    key: ApiKey,
}

/// One item of `GET /v3/snapshot/indices`.
#[derive(Debug, Deserialize)]
struct MassiveIndexItem {
    ticker: Option<String>,
    value: Option<f64>,
    last_updated: Option<f64>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MassiveIndicesResponse {
    status: Option<String>,
    results: Option<Vec<MassiveIndexItem>>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MassiveMarketStatus {
    market: Option<String>,
}

/// What one attempt at a page produced.
enum Attempt {
    Body(String),
    Retry(String),
    Fatal(LoadError),
}

impl RestClient {
    /// A client for `config` sending `key`.
    pub fn new(config: RestConfig, key: ApiKey) -> Result<Self, LoadError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("chainboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LoadError::Setup(e.without_url().to_string()))?;
        Ok(Self { http, config, key })
    }

    /// The settings.
    pub fn config(&self) -> &RestConfig {
        &self.config
    }

    /// Loads `underlying`'s whole chain (`I:` prefixed, as Massive names indices) with
    /// `query`'s filters. `taken_at_ms` stamps the photo (the load's start, from the
    /// caller's clock). All or nothing; see the module docs.
    pub async fn load_chain(
        &self,
        underlying: Underlying,
        roots: &RootMap,
        query: &[(&'static str, String)],
        taken_at_ms: i64,
    ) -> Result<LoadedChain, LoadError> {
        let started = Instant::now();
        let mut url = self.endpoint(&format!("/v3/snapshot/options/I:{underlying}"))?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("limit", &self.config.limit.to_string());
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let normalizer = Normalizer::new(roots, Some(underlying));
        let mut assembler = ChainAssembler::new(underlying, taken_at_ms);
        let mut followed = rustc_hash::FxHashSet::default();
        let mut retries = 0;
        let mut bodies = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page_no = assembler.pages() + 1;
            if page_no > self.config.max_pages {
                return Err(LoadError::TooManyPages {
                    underlying,
                    max: self.config.max_pages,
                });
            }
            if !followed.insert(url.as_str().to_owned()) {
                return Err(LoadError::RepeatingCursor {
                    underlying,
                    page: page_no,
                });
            }
            let (page, body, spent) = self.fetch_page(&url, page_no, &normalizer).await?;
            retries += spent;
            if self.config.keep_bodies {
                bodies.push(body);
            }
            next = match &page.next_url {
                Some(n) => Some(self.follow(n)?),
                None => None,
            };
            tracing::debug!(
                %underlying,
                page = page_no,
                contracts = page.contracts.len(),
                rejected = page.rejections.len(),
                "chain page"
            );
            assembler.add(page);
        }
        let pages = assembler.pages();
        let snapshot = assembler.finish();
        let elapsed = started.elapsed();
        tracing::info!(
            %underlying,
            pages,
            contracts = snapshot.contracts.len(),
            rejected = snapshot.rejected.total(),
            retries,
            elapsed_ms = elapsed.as_millis() as u64,
            "chain loaded"
        );
        Ok(LoadedChain {
            snapshot,
            pages,
            retries,
            elapsed,
            bodies,
        })
    }

    /// The levels of `underlyings` from the indices snapshot. Tickers Massive does not
    /// know or the key is not entitled to are left out (logged), not errors.
    pub async fn index_values(
        &self,
        underlyings: &[Underlying],
    ) -> Result<Vec<IndexValue>, LoadError> {
        let mut url = self.endpoint("/v3/snapshot/indices")?;
        let tickers: Vec<String> = underlyings.iter().map(|u| format!("I:{u}")).collect();
        url.query_pairs_mut()
            .append_pair("ticker.any_of", &tickers.join(","));
        let response: MassiveIndicesResponse = self.get_json(&url, "indices snapshot").await?;
        if let Some(status) = response.status.as_deref()
            && status != "OK"
        {
            return Err(LoadError::Page {
                endpoint: url.path().to_owned(),
                page: 1,
                attempts: 1,
                last: format!(
                    "status {status}: {}",
                    response.error.or(response.message).unwrap_or_default()
                ),
            });
        }
        let mut out = Vec::new();
        for item in response.results.unwrap_or_default() {
            let ticker = item.ticker.unwrap_or_default();
            let Some(u) = underlyings
                .iter()
                .find(|u| ticker.strip_prefix("I:") == Some(u.as_str()))
            else {
                continue;
            };
            match (item.value, item.error) {
                (Some(value), None) if value.is_finite() && value > 0.0 => out.push(IndexValue {
                    underlying: *u,
                    value,
                    ts_ms: item
                        .last_updated
                        .and_then(chainboard_model::time::unix_ms_from_any_f64),
                }),
                (_, error) => tracing::warn!(
                    %ticker,
                    error = error.as_deref().unwrap_or("no value"),
                    message = item.message.as_deref().unwrap_or(""),
                    "index value unavailable"
                ),
            }
        }
        Ok(out)
    }

    /// Whether the market is open now (`GET /v1/marketstatus/now`; extended hours count
    /// as closed for the index options this serves).
    pub async fn market_open(&self) -> Result<bool, LoadError> {
        let url = self.endpoint("/v1/marketstatus/now")?;
        let status: MassiveMarketStatus = self.get_json(&url, "market status").await?;
        Ok(status.market.as_deref() == Some("open"))
    }

    /// A small JSON document, with retries; `what` names it in errors.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        what: &str,
    ) -> Result<T, LoadError> {
        let body = self.fetch_with_retries(url, 1).await?.0;
        serde_json::from_str(&body).map_err(|e| LoadError::Page {
            endpoint: url.path().to_owned(),
            page: 1,
            attempts: 1,
            last: format!("not a valid {what}: {e}"),
        })
    }

    fn endpoint(&self, path: &str) -> Result<Url, LoadError> {
        self.config
            .rest_url
            .join(path)
            .map_err(|e| LoadError::Setup(format!("bad REST URL for {path}: {e}")))
    }

    /// Resolves a `next_url` against the base and checks it stays on our origin.
    fn follow(&self, next: &str) -> Result<Url, LoadError> {
        let url = self
            .config
            .rest_url
            .join(next)
            .map_err(|e| LoadError::Setup(format!("bad next_url: {e}")))?;
        if url.origin() != self.config.rest_url.origin() {
            return Err(LoadError::ForeignCursor {
                expected: self.config.rest_url.origin().ascii_serialization(),
            });
        }
        Ok(url)
    }

    /// One page with retries, normalized. Returns the page, its body and the retries
    /// spent.
    async fn fetch_page(
        &self,
        url: &Url,
        page_no: usize,
        normalizer: &Normalizer<'_>,
    ) -> Result<(crate::chain::ChainPage, String, u32), LoadError> {
        let mut backoff = Backoff::unseeded(self.config.backoff);
        let mut last = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(backoff.next_delay()).await;
            }
            let body = match self.attempt(url, page_no).await {
                Attempt::Body(body) => body,
                Attempt::Retry(why) => {
                    tracing::warn!(path = url.path(), page = page_no, attempt, %why, "chain page failed; retrying");
                    last = why;
                    continue;
                }
                Attempt::Fatal(e) => return Err(e),
            };
            match normalizer.page(&body) {
                Ok(page) => return Ok((page, body, attempt - 1)),
                Err(PageError::NotAuthorized { message, .. }) => {
                    return Err(LoadError::Unauthorized {
                        status: 403,
                        message,
                    });
                }
                // A broken body may be a cut transfer: worth another try.
                Err(e) => {
                    tracing::warn!(path = url.path(), page = page_no, attempt, error = %e, "chain page unusable; retrying");
                    last = e.to_string();
                }
            }
        }
        Err(LoadError::Page {
            endpoint: url.path().to_owned(),
            page: page_no,
            attempts: self.config.attempts.max(1),
            last,
        })
    }

    /// A small document with retries: the body and the retries spent.
    async fn fetch_with_retries(
        &self,
        url: &Url,
        page_no: usize,
    ) -> Result<(String, u32), LoadError> {
        let mut backoff = Backoff::unseeded(self.config.backoff);
        let mut last = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(backoff.next_delay()).await;
            }
            match self.attempt(url, page_no).await {
                Attempt::Body(body) => return Ok((body, attempt - 1)),
                Attempt::Retry(why) => last = why,
                Attempt::Fatal(e) => return Err(e),
            }
        }
        Err(LoadError::Page {
            endpoint: url.path().to_owned(),
            page: page_no,
            attempts: self.config.attempts.max(1),
            last,
        })
    }

    async fn attempt(&self, url: &Url, page_no: usize) -> Attempt {
        let response = match self
            .http
            .get(url.clone())
            .bearer_auth(self.key.expose())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(transport_error(&e)),
        };
        let status = response.status();
        let body = match read_capped(response, self.config.max_body_bytes).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => return Attempt::Retry(transport_error(&e)),
            Err(e) => {
                return Attempt::Fatal(LoadError::Page {
                    endpoint: url.path().to_owned(),
                    page: page_no,
                    attempts: 1,
                    last: e.to_string(),
                });
            }
        };
        if status.is_success() {
            return Attempt::Body(body);
        }
        let said = vendor_text(&body);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Fatal(LoadError::Unauthorized {
                status: status.as_u16(),
                message: said,
            });
        }
        let why = format!("HTTP {}: {said}", status.as_u16());
        if retryable(status) {
            Attempt::Retry(why)
        } else {
            Attempt::Fatal(LoadError::Page {
                endpoint: url.path().to_owned(),
                page: page_no,
                attempts: 1,
                last: why,
            })
        }
    }
}

/// Why a response body was not read.
#[derive(Debug, Error)]
enum BodyError {
    /// The connection failed mid-body (retryable).
    #[error("transport error")]
    Transport(reqwest::Error),
    /// The body is larger than the configured cap.
    #[error("response body over the {limit}-byte limit (max_body_bytes)")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The body is not UTF-8 text.
    #[error("response body is not UTF-8 text")]
    NotText,
}

/// The body of `response` as text, refusing it as soon as it is known to exceed
/// `limit` bytes (from `Content-Length`, or while the chunks arrive): a hostile or
/// broken server cannot make the process hold more than `limit` bytes of it.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| BodyError::NotText)
}

/// The statuses Massive's own clients retry.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 413 | 429 | 499 | 500 | 502 | 503 | 504)
}

/// A transport failure in words, without the URL (and so without any query).
fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    let mut msg = format!("{kind}: {}", DisplayChain(e));
    msg.truncate(300);
    msg
}

/// An error and its sources on one line, URL stripped from the top.
struct DisplayChain<'a>(&'a reqwest::Error);

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut source = std::error::Error::source(self.0);
        let mut first = true;
        while let Some(s) = source {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{s}")?;
            first = false;
            source = s.source();
        }
        if first {
            f.write_str("request failed")?;
        }
        Ok(())
    }
}

/// The vendor's `error` or `message` from an error body, or a short excerpt.
fn vendor_text(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        status: Option<String>,
        error: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => {
            let text = b.error.or(b.message).unwrap_or_default();
            match b.status {
                Some(s) => format!("{s}: {text}"),
                None => text,
            }
        }
        Err(_) => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new(" secret-key\n").expect("non-empty");
        assert_eq!(key.expose(), "secret-key");
        assert_eq!(format!("{key} {key:?}"), "*** ApiKey(***)");
        assert!(ApiKey::new("  ").is_none());
    }

    #[test]
    fn the_strike_window_stays_put_until_half_used() {
        let mut anchor = FilterAnchor::new(ChainFilter {
            max_days: Some(45),
            strike_window: Some(0.1),
        });
        let today = date(2026, 11, 23);
        let first = anchor.query(Some(6_800.0), today);
        assert_eq!(
            first,
            vec![
                ("expiration_date.gte", "2026-11-23".to_owned()),
                ("expiration_date.lte", "2027-01-07".to_owned()),
                ("strike_price.gte", "6120".to_owned()),
                ("strike_price.lte", "7480".to_owned()),
            ]
        );
        // Drifts within ±5% keep the same query.
        for spot in [6_810.0, 6_500.0, 7_130.0] {
            assert_eq!(anchor.query(Some(spot), today), first);
        }
        // Past half the window it re-centres once.
        let moved = anchor.query(Some(7_200.0), today);
        assert_eq!(anchor.anchor(), Some(7_200.0));
        assert_ne!(moved, first);
        assert_eq!(anchor.query(Some(7_150.0), today), moved);
    }

    #[test]
    fn no_spot_means_no_strike_filter() {
        let mut anchor = FilterAnchor::new(ChainFilter {
            max_days: None,
            strike_window: Some(0.1),
        });
        assert!(anchor.query(None, date(2026, 11, 23)).is_empty());
        assert!(anchor.query(Some(f64::NAN), date(2026, 11, 23)).is_empty());
    }

    #[test]
    fn next_url_must_stay_on_the_origin() {
        let client = RestClient::new(
            RestConfig::new(Url::parse("http://127.0.0.1:9/").expect("url")),
            ApiKey::new("k").expect("key"),
        )
        .expect("client");
        assert!(
            client
                .follow("/v3/snapshot/options/I:SPX?cursor=abc")
                .is_ok()
        );
        assert!(
            client
                .follow("http://127.0.0.1:9/v3/snapshot/options/I:SPX?cursor=abc")
                .is_ok()
        );
        assert!(matches!(
            client.follow("https://evil.example/v3?cursor=abc"),
            Err(LoadError::ForeignCursor { .. })
        ));
    }

    #[test]
    fn vendor_error_bodies_are_summarised() {
        assert_eq!(
            vendor_text(r#"{"status":"ERROR","request_id":"x","error":"slow down"}"#),
            "ERROR: slow down"
        );
        assert_eq!(
            vendor_text(r#"{"status":"NOT_AUTHORIZED","message":"not entitled"}"#),
            "NOT_AUTHORIZED: not entitled"
        );
        assert_eq!(
            vendor_text("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}

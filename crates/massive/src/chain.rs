//! Chain snapshot pages → a normalized [`ChainPhoto`].
//!
//! A full SPX chain is 100+ pages of up to 250 contracts. [`Normalizer::page`] turns one
//! response body into domain contracts; [`ChainAssembler`] joins the pages of one load
//! into the photo the engine takes. The rules, from Massive's documented behaviour:
//!
//! - Strict about identity and numbers: the ticker must parse, `details` must agree
//!   with it, prices, sizes and open interest must be non-negative. A contract that
//!   fails is rejected *on its own*, counted by [`RejectReason`]; the page survives.
//! - Tolerant about everything else: `greeks` absent or `{}`, no `last_quote` /
//!   `last_trade` / `implied_volatility` / `break_even_price`, `value` (indices) or
//!   `price` (equities) for the underlying, timestamps in ns or ms.
//! - A body whose `status` is not `OK` (or `DELAYED`, which Massive uses for delayed
//!   entitlements) is a [`PageError`] carrying the vendor's text, whatever the HTTP
//!   code was: `NOT_AUTHORIZED` puts it in `message`, `ERROR` in `error`.
//! - An `OK` page must carry `results`: `[]` is a legitimately empty chain (an
//!   underlying with nothing listed); a missing or `null` array is malformed, so a
//!   truncated or mangled answer never passes as "no contracts".

use chainboard_model::time::{count_from_f64, unix_ms_from_any};
use chainboard_model::{
    ChainContract, ChainPhoto, ContractKey, ContractState, Greeks, RejectReason, RejectTally,
    RootMap, SlowFields, Strike, Underlying,
};
use rustc_hash::FxHashSet;
use thiserror::Error;

use crate::wire::{MassiveChainResponse, MassiveChainResult};

/// Why a whole page is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PageError {
    /// `status: NOT_AUTHORIZED`: the key lacks the entitlement (HTTP 403).
    #[error("Massive refused the request (NOT_AUTHORIZED): {message} [request_id {request_id}]")]
    NotAuthorized {
        /// The vendor's `message`.
        message: String,
        /// The vendor's `request_id`, for support.
        request_id: String,
    },
    /// Any other non-`OK` status (`ERROR` on a 429, a 5xx, ...).
    #[error("Massive answered status {status}: {error} [request_id {request_id}]")]
    Vendor {
        /// The vendor's `status`.
        status: String,
        /// The vendor's `error` (or `message`).
        error: String,
        /// The vendor's `request_id`.
        request_id: String,
    },
    /// Not a JSON object of the documented shape.
    #[error("chain page is not a valid snapshot response: {0}")]
    Malformed(String),
}

impl PageError {
    /// Whether retrying cannot help (the key is not entitled). Rate limits and server
    /// errors are decided by the transport, which knows the HTTP status.
    pub fn is_fatal(&self) -> bool {
        matches!(self, PageError::NotAuthorized { .. })
    }
}

/// One rejected contract, for logs and the `normalize` command's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// The ticker, when there was one.
    pub ticker: Option<String>,
    /// Detail for a human.
    pub detail: String,
}

/// One page, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainPage {
    /// Accepted contracts, in page order.
    pub contracts: Vec<ChainContract>,
    /// Rejected contracts.
    pub rejections: Vec<Rejection>,
    /// The next page's URL (without the API key), if any.
    pub next_url: Option<String>,
    /// The underlying's value (`value` for indices, `price` for equities), from the
    /// first result that carried one.
    pub underlying_value: Option<f64>,
    /// The vendor's request id.
    pub request_id: Option<String>,
}

impl ChainPage {
    /// Rejections counted by reason.
    pub fn tally(&self) -> RejectTally {
        let mut t = RejectTally::default();
        self.rejections.iter().for_each(|r| t.add(r.reason));
        t
    }
}

/// Turns chain pages into domain contracts.
#[derive(Debug, Clone)]
pub struct Normalizer<'a> {
    roots: &'a RootMap,
    expected: Option<Underlying>,
}

impl<'a> Normalizer<'a> {
    /// A normalizer for the chain of `expected` (contracts of other underlyings are
    /// rejected), or for any underlying when `None`.
    pub fn new(roots: &'a RootMap, expected: Option<Underlying>) -> Self {
        Self { roots, expected }
    }

    /// Normalizes one response body.
    pub fn page(&self, body: &str) -> Result<ChainPage, PageError> {
        let response: MassiveChainResponse<'_> =
            serde_json::from_str(body).map_err(|e| PageError::Malformed(e.to_string()))?;
        let request_id = response.request_id.clone();
        match response.status.as_deref() {
            Some("OK" | "DELAYED") => {}
            Some("NOT_AUTHORIZED") => {
                return Err(PageError::NotAuthorized {
                    message: response.message.or(response.error).unwrap_or_default(),
                    request_id: request_id.unwrap_or_default(),
                });
            }
            Some(other) => {
                return Err(PageError::Vendor {
                    status: other.to_owned(),
                    error: response.error.or(response.message).unwrap_or_default(),
                    request_id: request_id.unwrap_or_default(),
                });
            }
            None => return Err(PageError::Malformed("no status field".into())),
        }

        let mut page = ChainPage {
            contracts: Vec::new(),
            rejections: Vec::new(),
            next_url: response.next_url,
            underlying_value: None,
            request_id,
        };
        // `results: []` is a chain with nothing listed; a page without the array (or
        // with `null`) says nothing about the chain and must not pass as empty.
        let Some(results) = response.results else {
            return Err(PageError::Malformed(
                "an OK page without `results` (an empty chain is `\"results\": []`)".into(),
            ));
        };
        for raw in results {
            let result: MassiveChainResult = match serde_json::from_str(raw.get()) {
                Ok(r) => r,
                Err(e) => {
                    page.rejections.push(Rejection {
                        reason: RejectReason::Malformed,
                        ticker: ticker_of(raw.get()),
                        detail: e.to_string(),
                    });
                    continue;
                }
            };
            if page.underlying_value.is_none() {
                page.underlying_value = result
                    .underlying_asset
                    .as_ref()
                    .and_then(|u| u.value.or(u.price))
                    .filter(|v| v.is_finite() && *v > 0.0);
            }
            match self.contract(&result) {
                Ok(c) => page.contracts.push(c),
                Err(r) => page.rejections.push(r),
            }
        }
        Ok(page)
    }

    fn contract(&self, r: &MassiveChainResult) -> Result<ChainContract, Rejection> {
        let ticker = r.details.as_ref().and_then(|d| d.ticker.as_deref());
        let reject = |reason, detail: String| Rejection {
            reason,
            ticker: ticker.map(str::to_owned),
            detail,
        };
        let (Some(details), Some(ticker)) = (&r.details, ticker) else {
            return Err(reject(
                RejectReason::MissingTicker,
                "no details.ticker".into(),
            ));
        };
        let key = ContractKey::parse(ticker)
            .map_err(|e| reject(RejectReason::BadTicker, e.to_string()))?;
        let geometry = self.roots.geometry(key).ok_or_else(|| {
            reject(
                RejectReason::UnmappedRoot,
                format!("root {} has no configured underlying", key.root),
            )
        })?;
        let info = &geometry;
        if let Some(expected) = self.expected.filter(|e| *e != info.underlying) {
            return Err(reject(
                RejectReason::ForeignUnderlying,
                format!(
                    "root {} belongs to {}, not {expected}",
                    key.root, info.underlying
                ),
            ));
        }

        match details.contract_type.as_deref() {
            None => {}
            Some(t) if t == key.right.as_str() => {}
            Some(t @ ("call" | "put")) => {
                return Err(reject(
                    RejectReason::DetailsMismatch,
                    format!("contract_type {t} but ticker says {}", key.right.as_str()),
                ));
            }
            Some(t) => {
                return Err(reject(
                    RejectReason::UnsupportedType,
                    format!("contract_type {t}"),
                ));
            }
        }
        if let Some(points) = details.strike_price
            && Strike::from_points(points) != Some(key.strike)
        {
            return Err(reject(
                RejectReason::DetailsMismatch,
                format!("strike_price {points} but ticker says {}", key.strike),
            ));
        }
        if let Some(date) = details.expiration_date.as_deref()
            && date.parse::<jiff::civil::Date>().ok() != Some(key.expiration)
        {
            return Err(reject(
                RejectReason::DetailsMismatch,
                format!("expiration_date {date} but ticker says {}", key.expiration),
            ));
        }
        if let Some(shares) = details.shares_per_contract
            && shares != 100.0
        {
            return Err(reject(
                RejectReason::NonStandardDeliverable,
                format!("shares_per_contract {shares}"),
            ));
        }

        let state = state(r).map_err(|field| {
            reject(
                RejectReason::InvalidValue,
                format!("{field} is out of range"),
            )
        })?;
        Ok(ChainContract { geometry, state })
    }
}

/// The photo's view of a contract's state; `Err(field)` names a number out of range.
fn state(r: &MassiveChainResult) -> Result<ContractState, &'static str> {
    let mut s = ContractState::default();
    if let Some(q) = &r.last_quote {
        s.bid = price(q.bid, "last_quote.bid")?;
        s.ask = price(q.ask, "last_quote.ask")?;
        s.bid_size = count(q.bid_size, "last_quote.bid_size")?;
        s.ask_size = count(q.ask_size, "last_quote.ask_size")?;
        s.quote_ts_ms = timestamp(q.last_updated.as_ref());
    }
    if let Some(t) = &r.last_trade {
        s.last_price = price(t.price, "last_trade.price")?;
        s.last_size = count(t.size, "last_trade.size")?;
        s.trade_ts_ms = timestamp(t.sip_timestamp.as_ref());
    }
    s.volume = count(r.day.as_ref().and_then(|d| d.volume), "day.volume")?;
    let g = r.greeks.as_ref();
    s.slow = SlowFields {
        greeks: Greeks {
            delta: g.and_then(|g| g.delta),
            gamma: g.and_then(|g| g.gamma),
            theta: g.and_then(|g| g.theta),
            vega: g.and_then(|g| g.vega),
        },
        iv: price(r.implied_volatility, "implied_volatility")?,
        oi: count(r.open_interest, "open_interest")?,
    };
    Ok(s)
}

fn price(v: Option<f64>, field: &'static str) -> Result<Option<f64>, &'static str> {
    match v {
        Some(p) if !(p.is_finite() && p >= 0.0) => Err(field),
        v => Ok(v),
    }
}

fn count(v: Option<f64>, field: &'static str) -> Result<Option<u64>, &'static str> {
    match v {
        None => Ok(None),
        Some(n) => count_from_f64(n).map(Some).ok_or(field),
    }
}

fn timestamp(v: Option<&serde_json::Number>) -> Option<i64> {
    let n = v?;
    match n.as_i64() {
        Some(i) => unix_ms_from_any(i),
        None => chainboard_model::time::unix_ms_from_any_f64(n.as_f64()?),
    }
}

/// Best-effort ticker of a result that failed to deserialize, for the report.
fn ticker_of(raw: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    v.get("details")?.get("ticker")?.as_str().map(str::to_owned)
}

/// Joins the pages of one chain load into a [`ChainPhoto`].
///
/// A contract seen on an earlier page of the same load is rejected as
/// [`RejectReason::Duplicate`] (Massive's cursor has been seen to loop), so the photo
/// holds each contract once, as first received.
#[derive(Debug)]
pub struct ChainAssembler {
    photo: ChainPhoto,
    seen: FxHashSet<ContractKey>,
    pages: usize,
}

impl ChainAssembler {
    /// Starts the photo of `underlying`'s chain, whose load began at `taken_at_ms`.
    pub fn new(underlying: Underlying, taken_at_ms: i64) -> Self {
        Self {
            photo: ChainPhoto {
                underlying,
                taken_at_ms,
                underlying_value: None,
                contracts: Vec::new(),
                rejected: RejectTally::default(),
            },
            seen: FxHashSet::default(),
            pages: 0,
        }
    }

    /// Adds a normalized page.
    pub fn add(&mut self, page: ChainPage) {
        self.pages += 1;
        self.photo.rejected.merge(&page.tally());
        if self.photo.underlying_value.is_none() {
            self.photo.underlying_value = page.underlying_value;
        }
        for mut c in page.contracts {
            if !self.seen.insert(c.geometry.key) {
                self.photo.rejected.add(RejectReason::Duplicate);
                continue;
            }
            c.state.slow_ts_ms = Some(self.photo.taken_at_ms);
            self.photo.contracts.push(c);
        }
    }

    /// Pages added so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Contracts accepted so far.
    pub fn len(&self) -> usize {
        self.photo.contracts.len()
    }

    /// Whether no contract was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.photo.contracts.is_empty()
    }

    /// The finished photo.
    pub fn finish(self) -> ChainPhoto {
        self.photo
    }
}

/// Normalizes and assembles every page of one load of `underlying`'s chain, taken at
/// `taken_at_ms`, into a photo; returns it with the number of pages. All or nothing:
/// the first unusable page is the error.
pub fn assemble<'p>(
    pages: impl IntoIterator<Item = &'p str>,
    roots: &RootMap,
    underlying: Underlying,
    taken_at_ms: i64,
) -> Result<(ChainPhoto, usize), PageError> {
    let normalizer = Normalizer::new(roots, Some(underlying));
    let mut assembler = ChainAssembler::new(underlying, taken_at_ms);
    for page in pages {
        assembler.add(normalizer.page(page)?);
    }
    let pages = assembler.pages();
    Ok((assembler.finish(), pages))
}

#[cfg(test)]
mod tests;

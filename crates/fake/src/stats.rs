//! Counters of what the fake did, for tests to assert on and for `GET /_fake/stats`.
//!
//! Every counter is a relaxed atomic bumped where the event happens; [`FakeStats`] is a
//! snapshot of them (not a consistent cut: counters read a few nanoseconds apart).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of the fake's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FakeStats {
    /// WebSocket connections upgraded, on either cluster.
    pub connections_accepted: u64,
    /// WebSocket connections open now.
    pub connections_open: u64,
    /// Successful WebSocket authentications.
    pub auth_success: u64,
    /// Failed WebSocket authentications (wrong key, or `reject_auth` on).
    pub auth_failed: u64,
    /// Connections closed with `auth_timeout`.
    pub auth_timeouts: u64,
    /// Older connections closed with `max_connections` when a newer one authenticated.
    pub max_connections_closed: u64,
    /// Connections closed with `slow_consumer`.
    pub slow_consumers: u64,
    /// Connections closed abruptly by `drop_connections`.
    pub connections_dropped: u64,
    /// REST requests refused for their API key (`401`).
    pub rest_unauthorized: u64,
    /// Requests to the chain snapshot endpoint, whatever their outcome.
    pub chain_requests: u64,
    /// Chain snapshot pages served (`200`).
    pub pages_served: u64,
    /// Chain snapshot pages failed on purpose by `fail_pages`.
    pub pages_failed: u64,
    /// Chain photos taken (one per chain load: a first page).
    pub photos_taken: u64,
    /// `subscribe` messages received after authentication.
    pub subscribe_messages: u64,
    /// The most contracts any one connection held quote (`Q`) subscriptions for.
    pub quoted_contracts_max: u64,
    /// Quote subscriptions refused for the per-connection contract limit.
    pub quote_limit_rejections: u64,
    /// Data frames sent (queued to a socket), malformed ones included.
    pub frames_sent: u64,
    /// Events in those frames.
    pub events_sent: u64,
    /// Data frames deliberately malformed by `send_malformed`.
    pub malformed_sent: u64,
    /// Market ticks run.
    pub ticks: u64,
    /// Ticks whose frames were withheld by `stall`.
    pub stalled_ticks: u64,
    /// Listing events that added strikes (index moves and `list_strikes`).
    pub list_events: u64,
    /// Per underlying, in configuration order.
    pub underlyings: Vec<UnderlyingStats>,
}

/// One underlying's market, for [`FakeStats`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnderlyingStats {
    /// The index (`SPX`).
    pub symbol: String,
    /// Its level now.
    pub spot: f64,
    /// Contracts listed now.
    pub contracts: usize,
    /// Listing events that added strikes.
    pub listings: u64,
    /// Contracts added by them.
    pub listed_contracts: u64,
    /// Contracts removed at settlement.
    pub expired_contracts: u64,
    /// Bumped on every change of the set of listed contracts: a client's epoch should
    /// change when this does.
    pub geometry_version: u64,
    /// The true customer flow of every print on a listed contract (the side is never
    /// on the wire): what a client's trade signing can be checked against.
    pub true_flow: chainboard_sim::TrueFlow,
}

/// The live counters behind [`FakeStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) auth_success: AtomicU64,
    pub(crate) auth_failed: AtomicU64,
    pub(crate) auth_timeouts: AtomicU64,
    pub(crate) max_connections_closed: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) connections_dropped: AtomicU64,
    pub(crate) rest_unauthorized: AtomicU64,
    pub(crate) chain_requests: AtomicU64,
    pub(crate) pages_served: AtomicU64,
    pub(crate) pages_failed: AtomicU64,
    pub(crate) photos_taken: AtomicU64,
    pub(crate) subscribe_messages: AtomicU64,
    pub(crate) quoted_contracts_max: AtomicU64,
    pub(crate) quote_limit_rejections: AtomicU64,
    pub(crate) frames_sent: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) malformed_sent: AtomicU64,
    pub(crate) ticks: AtomicU64,
    pub(crate) stalled_ticks: AtomicU64,
    pub(crate) list_events: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

impl Counters {
    /// The counters now, without the per-underlying part.
    pub(crate) fn snapshot(&self) -> FakeStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FakeStats {
            connections_accepted: get(&self.connections_accepted),
            connections_open: get(&self.connections_open),
            auth_success: get(&self.auth_success),
            auth_failed: get(&self.auth_failed),
            auth_timeouts: get(&self.auth_timeouts),
            max_connections_closed: get(&self.max_connections_closed),
            slow_consumers: get(&self.slow_consumers),
            connections_dropped: get(&self.connections_dropped),
            rest_unauthorized: get(&self.rest_unauthorized),
            chain_requests: get(&self.chain_requests),
            pages_served: get(&self.pages_served),
            pages_failed: get(&self.pages_failed),
            photos_taken: get(&self.photos_taken),
            subscribe_messages: get(&self.subscribe_messages),
            quoted_contracts_max: get(&self.quoted_contracts_max),
            quote_limit_rejections: get(&self.quote_limit_rejections),
            frames_sent: get(&self.frames_sent),
            events_sent: get(&self.events_sent),
            malformed_sent: get(&self.malformed_sent),
            ticks: get(&self.ticks),
            stalled_ticks: get(&self.stalled_ticks),
            list_events: get(&self.list_events),
            underlyings: Vec::new(),
        }
    }
}

//! The state every request and socket shares, and the market task that moves it.
//!
//! One [`Market`] (behind a mutex: each tick and each photo hold it for about a
//! millisecond) is stepped by one task every [`FakeConfig::tick`]. Each step's events
//! are rendered to JSON once, into a [`Tick`], and fanned out to every socket over a
//! bounded broadcast channel; each socket picks the events its client subscribed to.
//! A socket that falls a whole channel behind is a slow consumer and is closed.
//!
//! Chain loads read [`Photo`]s kept in a small [`PhotoStore`], so every page of one
//! load comes from the same instant however long the load takes.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chainboard_model::{ContractKey, Underlying};
use chainboard_sim::{Market, MarketEvent, Photo};
use tokio::sync::{broadcast, mpsc, watch};

use crate::FakeConfig;
use crate::stats::{self, Counters, FakeStats, UnderlyingStats};

/// Ticks a socket may fall behind before it is a slow consumer: a few seconds of
/// data at the default tick.
pub(crate) const TICK_QUEUE: usize = 64;
/// Chain photos kept for paging: enough for several loads in flight; a cursor into an
/// evicted photo is answered 400 and the client starts its load again.
const MAX_PHOTOS: usize = 16;

/// Locks `m`, recovering from poisoning: every critical section leaves the state
/// consistent (plain assignments), so a panic elsewhere must not wedge the server.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The two WebSocket clusters; each has its own connection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Cluster {
    /// `/options`: `Q`, `T`, `A`, `AM` on option contracts.
    Options,
    /// `/indices`: `V`, `A`, `AM` on indices.
    Indices,
}

/// Faults a test has asked for; read by the paths they affect.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// No data frames go out before this instant.
    pub(crate) stall_until: Mutex<Option<Instant>>,
    /// Page number (1-based within a load) → (HTTP status, requests left to fail).
    pub(crate) fail_pages: Mutex<BTreeMap<usize, (u16, usize)>>,
    /// Bumped by every `send_malformed` call, so each socket notices it once.
    pub(crate) malformed_generation: AtomicU64,
    /// How many frames the latest `send_malformed` asked for.
    pub(crate) malformed_frames: AtomicU64,
    /// While set, every key is refused.
    pub(crate) reject_auth: AtomicBool,
}

impl Faults {
    /// Whether data is being withheld now.
    pub(crate) fn stalled(&self) -> bool {
        lock(&self.stall_until).is_some_and(|until| Instant::now() < until)
    }

    /// If page `page` is to fail, uses up one failure and returns the status.
    pub(crate) fn take_page_failure(&self, page: usize) -> Option<u16> {
        let mut fails = lock(&self.fail_pages);
        let (status, left) = fails.get_mut(&page)?;
        let status = *status;
        *left = left.saturating_sub(1);
        if *left == 0 {
            fails.remove(&page);
        }
        Some(status)
    }
}

/// The chain photos that loads in flight are paging through.
#[derive(Debug, Default)]
pub(crate) struct PhotoStore {
    next_id: u64,
    photos: VecDeque<(u64, Arc<Photo>)>,
}

impl PhotoStore {
    /// Keeps `photo`, evicting the oldest beyond the bound; returns its id.
    pub(crate) fn insert(&mut self, photo: Arc<Photo>) -> u64 {
        self.next_id += 1;
        self.photos.push_back((self.next_id, photo));
        while self.photos.len() > MAX_PHOTOS {
            self.photos.pop_front();
        }
        self.next_id
    }

    /// The photo `id`, if still kept.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<Photo>> {
        self.photos
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, p)| Arc::clone(p))
    }
}

/// Authenticated sockets, oldest first, for the per-cluster connection limit.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    entries: Vec<(Cluster, u64, mpsc::Sender<()>)>,
}

impl Registry {
    /// Adds socket `id`; if its cluster then holds more than `max` sockets, tells the
    /// oldest ones to go (Massive: "a new connection may drop the older one").
    /// Returns how many were told.
    pub(crate) fn admit(
        &mut self,
        cluster: Cluster,
        id: u64,
        evict: mpsc::Sender<()>,
        max: usize,
    ) -> usize {
        self.entries.push((cluster, id, evict));
        let mut evicted = 0;
        while self.entries.iter().filter(|e| e.0 == cluster).count() > max.max(1) {
            let Some(oldest) = self.entries.iter().position(|e| e.0 == cluster) else {
                break;
            };
            let (_, _, tx) = self.entries.remove(oldest);
            // A full or closed channel means that socket is already going.
            let _ = tx.try_send(());
            evicted += 1;
        }
        evicted
    }

    /// Forgets socket `id`.
    pub(crate) fn remove(&mut self, id: u64) {
        self.entries.retain(|e| e.1 != id);
    }
}

/// One option event of a tick, rendered.
#[derive(Debug, Clone)]
pub(crate) struct EncodedEvent {
    /// The contract, for matching subscriptions.
    pub(crate) key: ContractKey,
    /// `T` rather than `Q`.
    pub(crate) trade: bool,
    /// Where its JSON object is in [`Tick::text`].
    pub(crate) range: Range<usize>,
}

/// One index value (`V`) of a tick, rendered.
#[derive(Debug, Clone)]
pub(crate) struct EncodedValue {
    /// The index.
    pub(crate) underlying: Underlying,
    /// Where its JSON object is in [`Tick::text`].
    pub(crate) range: Range<usize>,
}

/// One market step, rendered once for every socket.
#[derive(Debug, Default)]
pub(crate) struct Tick {
    /// The JSON objects of every event, back to back.
    pub(crate) text: String,
    /// Option quotes and trades.
    pub(crate) options: Vec<EncodedEvent>,
    /// Index values.
    pub(crate) values: Vec<EncodedValue>,
}

impl Tick {
    /// The JSON object of an event.
    pub(crate) fn json(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }
}

/// Everything the server's handlers and tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// As given to `start`.
    pub(crate) config: FakeConfig,
    /// The simulated market.
    pub(crate) market: Mutex<Market>,
    /// Photos of loads in flight.
    pub(crate) photos: Mutex<PhotoStore>,
    /// What happened.
    pub(crate) counters: Counters,
    /// What is to go wrong.
    pub(crate) faults: Faults,
    /// Authenticated sockets.
    pub(crate) registry: Mutex<Registry>,
    /// Rendered market steps, to every socket.
    pub(crate) ticks: broadcast::Sender<Arc<Tick>>,
    /// Bumped to drop every socket abruptly.
    pub(crate) drops: watch::Sender<u64>,
    /// Set when the server stops.
    pub(crate) shutdown: watch::Sender<bool>,
    /// `http://127.0.0.1:PORT`, the base of `next_url`.
    pub(crate) rest_url: String,
    /// Source of socket ids and request ids.
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig, market: Market, rest_url: String) -> Self {
        Self {
            config,
            market: Mutex::new(market),
            photos: Mutex::new(PhotoStore::default()),
            counters: Counters::default(),
            faults: Faults::default(),
            registry: Mutex::new(Registry::default()),
            ticks: broadcast::channel(TICK_QUEUE).0,
            drops: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            rest_url,
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh id for a socket.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A request id like Massive's: 32 hex digits, unique within this server.
    pub(crate) fn request_id(&self) -> String {
        let n = self.next_id();
        format!("{:016x}{:016x}", mix(n ^ self.config.seed), mix(n))
    }

    /// The counters and the market's state now.
    pub(crate) fn stats(&self) -> FakeStats {
        let mut stats = self.counters.snapshot();
        let market = lock(&self.market);
        stats.underlyings = (0..market.books())
            .map(|b| {
                let book = market.book_stats(b).unwrap_or_default();
                UnderlyingStats {
                    symbol: market
                        .underlying(b)
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    spot: market.spot(b).unwrap_or_default(),
                    contracts: market.chain(b).map_or(0, |c| c.len()),
                    listings: book.listings,
                    listed_contracts: book.listed_contracts,
                    expired_contracts: book.expired_contracts,
                    geometry_version: book.geometry_version,
                    true_flow: book.true_flow,
                }
            })
            .collect();
        stats
    }
}

/// Steps the market every tick and fans the rendered events out, until shutdown.
pub(crate) async fn run_market(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut interval = tokio::time::interval(shared.config.tick.max(Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut events = Vec::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        let now_ms = unix_ms();
        let tick = {
            let mut market = lock(&shared.market);
            events.clear();
            let report = market.step(now_ms, shared.config.events_per_tick, &mut events);
            if report.listed > 0 {
                stats::bump(&shared.counters.list_events);
            }
            render(&market, &events, now_ms)
        };
        stats::bump(&shared.counters.ticks);
        if shared.faults.stalled() {
            stats::bump(&shared.counters.stalled_ticks);
            continue;
        }
        // No receivers is not an error: nobody is connected.
        let _ = shared.ticks.send(Arc::new(tick));
    }
}

/// Renders one step: every option event, then one `V` per index.
fn render(market: &Market, events: &[MarketEvent], now_ms: i64) -> Tick {
    let mut tick = Tick {
        text: String::with_capacity(events.len() * 140),
        options: Vec::with_capacity(events.len()),
        values: Vec::with_capacity(market.books()),
    };
    for e in events {
        let Some(key) = market.event_key(e) else {
            continue;
        };
        let start = tick.text.len();
        if market.write_event(e, now_ms, &mut tick.text) {
            tick.options.push(EncodedEvent {
                key,
                trade: e.event.is_trade(),
                range: start..tick.text.len(),
            });
        }
    }
    for b in 0..market.books() {
        let (Some(underlying), Some(spot)) = (market.underlying(b), market.spot(b)) else {
            continue;
        };
        let start = tick.text.len();
        let value = (spot * 100.0).round() / 100.0;
        // Writing to a String cannot fail.
        let _ = write!(
            tick.text,
            r#"{{"ev":"V","val":{value},"T":"I:{underlying}","t":{now_ms}}}"#
        );
        tick.values.push(EncodedValue {
            underlying,
            range: start..tick.text.len(),
        });
    }
    tick
}

/// SplitMix64's finaliser: request ids that look random but are reproducible.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

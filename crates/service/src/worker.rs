//! An ingestion worker: one of several processes that can ingest the same
//! underlyings into one Redis, of which one at a time does, per lease.
//!
//! A worker starts on **standby**: it asks for the lease of every underlying it is
//! configured with (`massive:lease:<symbol>`, [`chainboard_store::lease`]), all or
//! none, in symbol order (two workers asking for the same set cannot each hold half
//! of it), and asks again every tenth of the lease's TTL while someone else holds
//! one; grants it cannot complete are given back as they were. Each term names
//! itself anew in the leases (`host:pid#term`). Once it holds them all it
//! **leads**: it reads where each board stands (the epoch the store points at; a
//! store that cannot say sends it back to standby rather than guess), starts a
//! [`Service`] whose every write is fenced by those leases and which resumes each
//! board after that epoch, so epoch ids and seqs keep increasing across workers; the
//! first epoch says `failover` when the lease was taken over from a holder that did
//! not hand it over. It renews the leases every third of the TTL, counted from when
//! it asked for them.
//!
//! It **steps down** (stops ingestion, counts `lost`, logs why, gives up what is
//! still its own without handing it over, and goes back to standby) when a renewal
//! is refused (someone else holds the lease: this worker was paused or cut off past
//! the TTL), when the store refused one of its writes for the same reason (noticed
//! at the next renewal tick, a third of the TTL at most; every write meanwhile is
//! refused by the fence, never applied), or when no renewal succeeded for a whole
//! TTL (it cannot know whether it still leads, so it assumes not). On a clean stop
//! it hands its leases over, so a standby starts at once and with reason
//! `startup`.
//!
//! A worker's HTTP side (optional) serves the board from the store like `chainboard
//! serve` ([`Serving`]), whether it leads or not, with its own [`LeaseStatus`] in the
//! status and `/metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chainboard_model::{EpochId, EpochReason, Underlying};
use chainboard_server::source::{LeaseRole, LeaseStatus};
use chainboard_store::{Acquired, Fences, KeySchema, LeaseGrant, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Serving;
use crate::ingest::IngestError;
use crate::running::{Inputs, ServeConfig, Service, ServiceConfig, StartError, Stopped};

/// The lease TTL when none is given: a failed worker's underlyings are taken over
/// within this plus one chain photo.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// Everything a worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The service it runs while leading; its `listen` is the worker's own HTTP
    /// side (served over the store), and its `fences` are replaced by the leases'.
    pub service: ServiceConfig,
    /// This worker's name (`host:pid`); each term's leases add `#term`.
    pub holder: String,
    /// How long a lease lives without renewal.
    pub lease_ttl: Duration,
}

/// The worker's leases as its status shows them, shared with its HTTP side.
#[derive(Debug, Default)]
pub struct LeaseBoard {
    status: Mutex<LeaseStatus>,
    /// The current term's fences (their refused count) and the refusals of the
    /// terms before it.
    fences: Mutex<(Fences, u64)>,
}

impl LeaseBoard {
    /// The leases now.
    pub fn status(&self) -> LeaseStatus {
        let mut status = lock(&self.status).clone();
        let (fences, before) = &*lock(&self.fences);
        status.fenced_writes = before + fences.refused();
        status
    }

    fn update(&self, f: impl FnOnce(&mut LeaseStatus)) {
        f(&mut lock(&self.status));
    }

    fn lead(&self, fences: &Fences, held: &[Underlying], took_over: bool) {
        let mut current = lock(&self.fences);
        current.1 += current.0.refused();
        current.0 = fences.clone();
        drop(current);
        self.update(|s| {
            s.role = LeaseRole::Leader;
            s.held = held.iter().map(|u| u.as_str().to_owned()).collect();
            s.waiting_for = None;
            s.terms += 1;
            s.takeovers += u64::from(took_over);
        });
    }

    fn stand_by(&self, waiting_for: Option<String>) {
        self.update(|s| {
            s.role = LeaseRole::Standby;
            s.held.clear();
            s.waiting_for = waiting_for;
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the worker's loop returns: why it ended, and its last term's service.
type Ended = (Result<(), IngestError>, Option<Stopped>);

/// How a worker ended.
#[derive(Debug)]
pub struct WorkerStopped {
    /// The last term's service as it stopped, if the worker ever led.
    pub last_term: Option<Stopped>,
    /// Its leases when it stopped.
    pub leases: LeaseStatus,
}

/// A running worker.
#[derive(Debug)]
pub struct Worker {
    serving: Option<Serving>,
    board: Arc<LeaseBoard>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Ended>>,
    /// The last term, once [`Worker::ended`] saw the task end.
    last_term: Option<Stopped>,
}

impl Worker {
    /// Binds the HTTP side (if any) and starts on standby, on the current Tokio
    /// runtime. Leases need Redis: with the embedded store the worker still starts,
    /// and says on every attempt why it cannot lead.
    pub async fn start(config: WorkerConfig) -> Result<Self, StartError> {
        let board = Arc::new(LeaseBoard::default());
        board.update(|s| {
            s.holder = config.holder.clone();
            s.role = LeaseRole::Standby;
        });
        let service = &config.service;
        let serving = match service.listen {
            Some(listen) => Some(
                Serving::start(ServeConfig {
                    store: service.store.clone(),
                    symbols: service.inputs.underlyings(),
                    schema: service.models.publisher.schema,
                    listen,
                    http: service.http.clone(),
                    leases: Some(board.clone()),
                })
                .await?,
            ),
            None => None,
        };
        let (stop, stopped) = oneshot::channel();
        let lead = Leadership {
            config,
            board: board.clone(),
        };
        let task = tokio::spawn(lead.run(stopped));
        Ok(Self {
            serving,
            board,
            stop: Some(stop),
            task: Some(task),
            last_term: None,
        })
    }

    /// Where its HTTP side listens, if it has one.
    pub fn address(&self) -> Option<SocketAddr> {
        self.serving.as_ref().map(Serving::address)
    }

    /// Its leases now.
    pub fn leases(&self) -> LeaseStatus {
        self.board.status()
    }

    /// Resolves if the worker ends by itself: only when its ingestion stopped for
    /// good (a refused key). Cancel-safe; afterwards only [`Worker::stop`] is left.
    pub async fn ended(&mut self) -> Result<(), IngestError> {
        let Some(task) = &mut self.task else {
            return std::future::pending().await;
        };
        let outcome = task.await;
        self.task = None;
        match outcome {
            Ok((result, last)) => {
                self.last_term = last;
                result
            }
            // A bug, not a market event: say so rather than serve a board nobody
            // ingests.
            Err(e) => Err(IngestError::Setup(format!("the worker's task failed: {e}"))),
        }
    }

    /// Stops leading (if it does), releases its leases, and stops its HTTP side.
    pub async fn stop(mut self) -> WorkerStopped {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let last_term = match self.task.take() {
            Some(task) => task.await.ok().and_then(|(_, last)| last),
            None => self.last_term.take(),
        };
        if let Some(serving) = self.serving {
            serving.stop().await;
        }
        WorkerStopped {
            last_term,
            leases: self.board.status(),
        }
    }
}

/// The worker's loop: standby, lead, step down, again.
struct Leadership {
    config: WorkerConfig,
    board: Arc<LeaseBoard>,
}

/// Why a term ended.
enum TermEnd {
    /// Asked to stop.
    Stop,
    /// Ingestion stopped for good.
    Fatal(IngestError),
    /// The leases were lost.
    Lost(String),
    /// The term could not begin (the store's state unreadable); stand by again.
    Retry,
}

impl Leadership {
    async fn run(self, mut stop: oneshot::Receiver<()>) -> Ended {
        let mut last_term = None;
        loop {
            let Some((grants, asked_at)) = self.acquire(&mut stop).await else {
                return (Ok(()), last_term);
            };
            let (end, stopped) = self.lead(grants, asked_at, &mut stop).await;
            last_term = stopped;
            match end {
                TermEnd::Stop => return (Ok(()), last_term),
                TermEnd::Fatal(e) => return (Err(e), last_term),
                TermEnd::Lost(why) => {
                    self.board.update(|s| s.lost += 1);
                    tracing::error!(holder = %self.config.holder, %why, "lost the ingestion leases; stopped ingesting, back on standby");
                }
                TermEnd::Retry => {}
            }
        }
    }

    fn store(&self) -> &Store {
        &self.config.service.store
    }

    fn schema(&self) -> KeySchema {
        self.config.service.models.publisher.schema
    }

    fn symbols(&self) -> Vec<Underlying> {
        let mut symbols = self.config.service.inputs.underlyings();
        symbols.sort_unstable();
        symbols.dedup();
        symbols
    }

    /// Waits until every configured underlying's lease is this worker's, and says
    /// when the granting request was sent (the leases' TTLs run from about then);
    /// `None` once asked to stop. Never stops halfway through asking: grants are
    /// never left behind.
    async fn acquire(
        &self,
        stop: &mut oneshot::Receiver<()>,
    ) -> Option<(Vec<(Underlying, LeaseGrant)>, Instant)> {
        let mut said: Option<String> = None;
        let mut every = tokio::time::interval(self.config.lease_ttl / 10);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut *stop => return None,
                _ = every.tick() => {}
            }
            let asked_at = Instant::now();
            let why = match self.try_acquire().await {
                Ok(grants) => return Some((grants, asked_at)),
                Err(why) => why,
            };
            if said.as_ref() != Some(&why) {
                tracing::info!(holder = %self.config.holder, %why, "standing by");
                self.board.stand_by(Some(why.clone()));
                said = Some(why);
            }
        }
    }

    /// This worker's name in the leases of its next term: `host:pid#term`, so no
    /// two of its terms are ever granted the same lease value (`chainboard_store::lease`).
    fn term_holder(&self) -> String {
        let terms = lock(&self.board.status).terms;
        format!("{}#{}", self.config.holder, terms + 1)
    }

    /// Every lease, or none (the ones taken are given back as they were) and why.
    async fn try_acquire(&self) -> Result<Vec<(Underlying, LeaseGrant)>, String> {
        let schema = self.schema();
        let holder = self.term_holder();
        let mut grants = Vec::new();
        let mut refused = None;
        for symbol in self.symbols() {
            let asked = self
                .store()
                .acquire_lease(
                    &schema.lease(symbol),
                    &schema.lease_term(symbol),
                    &holder,
                    self.config.lease_ttl,
                )
                .await;
            match asked {
                Ok(Acquired::Granted(grant)) => grants.push((symbol, grant)),
                Ok(Acquired::Held(by)) => {
                    refused = Some(format!("{symbol} is held by {by}"));
                    break;
                }
                Err(e) => {
                    refused = Some(format!("cannot take the {symbol} lease: {e}"));
                    break;
                }
            }
        }
        match refused {
            None => Ok(grants),
            Some(why) => {
                self.roll_back(&grants).await;
                Err(why)
            }
        }
    }

    /// Gives back grants this worker will not use, leaving each lease's record as it
    /// found it: a lease taken over stays one that lapsed, so whoever takes it next
    /// still says `failover`.
    async fn roll_back(&self, grants: &[(Underlying, LeaseGrant)]) {
        for (symbol, grant) in grants {
            self.release_one(*symbol, grant, !grant.took_over).await;
        }
    }

    /// Gives the leases up: handed over (a clean stop: the next holder starts with
    /// `startup`) or not (stepping down: the next holder takes over).
    async fn release(&self, grants: &[(Underlying, LeaseGrant)], handed_over: bool) {
        for (symbol, grant) in grants {
            self.release_one(*symbol, grant, handed_over).await;
        }
    }

    async fn release_one(&self, symbol: Underlying, grant: &LeaseGrant, handed_over: bool) {
        let term = self.schema().lease_term(symbol);
        // Deletes the lease only if it is still ours: safe whatever happened.
        if let Err(e) = self.store().release_lease(grant, &term, handed_over).await {
            tracing::warn!(%symbol, error = %e, "could not release the lease; it lapses on its own");
        }
    }

    /// Leads until stopped, fatally ended, or the leases are lost. `asked_at` is
    /// when the grants were asked for: the leases' TTLs run from about then, so the
    /// renewals are timed from it, not from when the service is up.
    async fn lead(
        &self,
        grants: Vec<(Underlying, LeaseGrant)>,
        asked_at: Instant,
        stop: &mut oneshot::Receiver<()>,
    ) -> (TermEnd, Option<Stopped>) {
        let ttl = self.config.lease_ttl;
        let mut renew = tokio::time::interval_at((asked_at + ttl / 3).into(), ttl / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut renewed_at = asked_at;
        let took_over = grants.iter().any(|(_, g)| g.took_over);
        let fences = Fences::new(grants.iter().map(|(u, g)| (*u, g.fence.clone())));
        let held: Vec<Underlying> = grants.iter().map(|(u, _)| *u).collect();
        let resume = match self.resume(&grants).await {
            Ok(resume) => resume,
            Err(why) => {
                // Guessing would restart the epoch ids and overwrite live keys.
                tracing::warn!(%why, "cannot read where the board stands; giving the leases back");
                self.roll_back(&grants).await;
                self.board.stand_by(Some(why));
                return (TermEnd::Retry, None);
            }
        };
        let mut config = self.config.service.clone();
        config.listen = None;
        config.fences = fences.clone();
        if let Inputs::Massive(ingest) = &mut config.inputs {
            ingest.underlyings = held.clone();
            ingest.resume = resume;
        }
        if let Some(record) = &mut config.record {
            // Each term is a recording of its own, replayable from where it began.
            let term = lock(&self.board.status).terms + 1;
            record.dir = record.dir.join(format!("term-{term}"));
        }
        let mut service = match Service::start(config).await {
            Ok(service) => service,
            Err(StartError::Ingest(e)) => {
                self.release(&grants, true).await;
                return (TermEnd::Fatal(e), None);
            }
            Err(StartError::Record(e)) => {
                self.release(&grants, true).await;
                return (TermEnd::Fatal(IngestError::Setup(e.to_string())), None);
            }
            Err(e) => {
                // Without an HTTP address to bind only ingestion can refuse; should
                // anything else, stand by and try again.
                tracing::warn!(error = %e, "the service did not start; giving the leases back");
                self.roll_back(&grants).await;
                return (TermEnd::Retry, None);
            }
        };
        tracing::info!(
            holder = %self.config.holder,
            symbols = ?held.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            leases = ?grants.iter().map(|(_, g)| g.fence.value.as_str()).collect::<Vec<_>>(),
            took_over,
            "leading: holding the ingestion leases"
        );
        self.board.lead(&fences, &held, took_over);
        let end = loop {
            tokio::select! {
                _ = &mut *stop => break TermEnd::Stop,
                result = service.ingestion_ended() => break match result {
                    Ok(()) => TermEnd::Stop,
                    Err(e) => TermEnd::Fatal(e),
                },
                _ = renew.tick() => {
                    if fences.refused() > 0 {
                        break TermEnd::Lost("the store refused a write: another worker holds the lease".to_owned());
                    }
                    let sent = Instant::now();
                    match self.renew(&grants).await {
                        Ok(()) => renewed_at = sent,
                        Err(Renewal::Refused(why)) => break TermEnd::Lost(why),
                        Err(Renewal::Failed(why)) if renewed_at.elapsed() >= ttl => {
                            break TermEnd::Lost(format!("no renewal for the lease's TTL ({} ms): {why}", ttl.as_millis()));
                        }
                        Err(Renewal::Failed(why)) => {
                            tracing::warn!(%why, "lease renewal failed; retrying until the TTL runs out");
                        }
                    }
                }
            }
        };
        let stopped = service.stop().await;
        // Whatever is still ours goes: handed over on a clean stop, given up (the
        // next holder takes over) when the term was lost.
        self.release(&grants, matches!(end, TermEnd::Stop | TermEnd::Fatal(_)))
            .await;
        self.board.stand_by(None);
        (end, Some(stopped))
    }

    /// Renews every lease.
    async fn renew(&self, grants: &[(Underlying, LeaseGrant)]) -> Result<(), Renewal> {
        for (symbol, grant) in grants {
            match self.store().renew_lease(grant, self.config.lease_ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Renewal::Refused(format!(
                        "the {symbol} lease is no longer ours (this worker was paused or cut off past its TTL)"
                    )));
                }
                Err(e) => return Err(Renewal::Failed(e.to_string())),
            }
        }
        Ok(())
    }

    /// Per underlying, the epoch the store points at (if any), to continue after,
    /// and why the first epoch begins; why not, if the store cannot say.
    async fn resume(
        &self,
        grants: &[(Underlying, LeaseGrant)],
    ) -> Result<BTreeMap<Underlying, (Option<EpochId>, EpochReason)>, String> {
        let schema = self.schema();
        let mut resume = BTreeMap::new();
        for (symbol, grant) in grants {
            let key = schema.current(*symbol);
            let last = match self.store().get(&key).await {
                Ok(Some(id)) => match EpochId::parse(&id) {
                    Ok(id) if id.underlying == *symbol => Some(id),
                    // Someone else's value: nothing to continue, but nothing to
                    // wait for either.
                    _ => {
                        tracing::warn!(%key, value = %id, "the pointer holds no epoch of this underlying; starting a new chain");
                        None
                    }
                },
                Ok(None) => None,
                Err(e) => return Err(format!("cannot read {key}: {e}")),
            };
            let reason = if grant.took_over {
                EpochReason::Failover
            } else {
                EpochReason::Startup
            };
            resume.insert(*symbol, (last, reason));
        }
        Ok(resume)
    }
}

/// Why a renewal did not happen.
enum Renewal {
    /// The lease is someone else's.
    Refused(String),
    /// The store did not answer; the lease may still be ours.
    Failed(String),
}

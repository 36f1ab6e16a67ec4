//! An ingestion worker: one of several processes that can ingest the same
//! underlyings into one Redis, of which one at a time does, per lease.
//!
//! A worker starts on **standby**: it asks for the lease of every underlying it is
//! configured with (`massive:lease:<symbol>`, [`chainboard_store::lease`]), all or
//! none, in symbol order (two workers asking for the same set cannot each hold half
//! of it), and asks again every tenth of the lease's TTL while someone else holds
//! one. Once it holds them all it **leads**: it starts a [`Service`] whose every
//! write is fenced by those leases, resuming each underlying's board after the epoch
//! the store points at, so epoch ids and seqs keep increasing across workers; the
//! first epoch says `failover` when the lease was taken over from a holder whose
//! lease lapsed. It renews the leases every third of the TTL.
//!
//! It **steps down** (stops ingestion at once, counts `lost`, logs why, and goes back
//! to standby) when a renewal is refused (someone else holds the lease: this worker
//! was paused or cut off past the TTL), when the store refused one of its writes for
//! the same reason, or when no renewal succeeded for a whole TTL (it cannot know
//! whether it still leads, so it assumes not). Its writes in flight meanwhile are
//! refused by the fence, never applied. On a clean stop it releases its leases, so a
//! standby starts at once and with reason `startup`.
//!
//! A worker's HTTP side (optional) serves the board from the store like `chainboard
//! serve` ([`Serving`]), whether it leads or not, with its own [`LeaseStatus`] in the
//! status and `/metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chainboard_model::{EpochId, EpochReason, Underlying};
use chainboard_server::source::LeaseStatus;
use chainboard_store::{Acquired, Fences, KeySchema, LeaseGrant, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Serving;
use crate::ingest::IngestError;
use crate::running::{ServeConfig, Service, ServiceConfig, StartError, Stopped};

/// The lease TTL when none is given: a failed worker's underlyings are taken over
/// within this plus one chain photo.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// Everything a worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The service it runs while leading; its `listen` is the worker's own HTTP
    /// side (served over the store), and its `fences` are replaced by the leases'.
    pub service: ServiceConfig,
    /// This worker's name in the leases (`host:pid`).
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
            s.role = "leader".to_owned();
            s.held = held.iter().map(|u| u.as_str().to_owned()).collect();
            s.waiting_for = None;
            s.terms += 1;
            s.takeovers += u64::from(took_over);
        });
    }

    fn stand_by(&self, waiting_for: Option<String>) {
        self.update(|s| {
            s.role = "standby".to_owned();
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
    ended: Option<Stopped>,
}

impl Worker {
    /// Binds the HTTP side (if any) and starts on standby, on the current Tokio
    /// runtime. Leases need Redis: with the embedded store the worker still starts,
    /// and says on every attempt why it cannot lead.
    pub async fn start(config: WorkerConfig) -> Result<Self, StartError> {
        let board = Arc::new(LeaseBoard::default());
        board.update(|s| {
            s.holder = config.holder.clone();
            s.role = "standby".to_owned();
        });
        let service = &config.service;
        let serving = match service.listen {
            Some(listen) => Some(
                Serving::start(ServeConfig {
                    store: service.store.clone(),
                    symbols: service.ingest.underlyings.clone(),
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
            ended: None,
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
                self.ended = last;
                result
            }
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops leading (if it does), releases its leases, and stops its HTTP side.
    pub async fn stop(mut self) -> WorkerStopped {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let last_term = match self.task.take() {
            Some(task) => task.await.ok().and_then(|(_, last)| last),
            None => self.ended.take(),
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
}

impl Leadership {
    async fn run(self, mut stop: oneshot::Receiver<()>) -> Ended {
        let mut last_term = None;
        loop {
            let grants = tokio::select! {
                _ = &mut stop => return (Ok(()), last_term),
                grants = self.acquire() => grants,
            };
            let (end, stopped) = self.lead(grants, &mut stop).await;
            last_term = stopped;
            match end {
                TermEnd::Stop => return (Ok(()), last_term),
                TermEnd::Fatal(e) => return (Err(e), last_term),
                TermEnd::Lost(why) => {
                    self.board.update(|s| s.lost += 1);
                    tracing::error!(holder = %self.config.holder, %why, "lost the ingestion leases; stopped ingesting, back on standby");
                }
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
        let mut symbols = self.config.service.ingest.underlyings.clone();
        symbols.sort_unstable();
        symbols.dedup();
        symbols
    }

    /// Waits until every configured underlying's lease is this worker's.
    async fn acquire(&self) -> Vec<(Underlying, LeaseGrant)> {
        let mut said: Option<String> = None;
        let mut every = tokio::time::interval(self.config.lease_ttl / 10);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let why = match self.try_acquire().await {
                Ok(grants) => return grants,
                Err(why) => why,
            };
            if said.as_ref() != Some(&why) {
                tracing::info!(holder = %self.config.holder, %why, "standing by");
                self.board.stand_by(Some(why.clone()));
                said = Some(why);
            }
        }
    }

    /// Every lease, or none (the ones taken are given back) and why.
    async fn try_acquire(&self) -> Result<Vec<(Underlying, LeaseGrant)>, String> {
        let schema = self.schema();
        let mut grants = Vec::new();
        let mut refused = None;
        for symbol in self.symbols() {
            let asked = self
                .store()
                .acquire_lease(
                    &schema.lease(symbol),
                    &schema.lease_term(symbol),
                    &self.config.holder,
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
                self.release(&grants).await;
                Err(why)
            }
        }
    }

    async fn release(&self, grants: &[(Underlying, LeaseGrant)]) {
        let schema = self.schema();
        for (symbol, grant) in grants {
            if let Err(e) = self
                .store()
                .release_lease(grant, &schema.lease_term(*symbol))
                .await
            {
                tracing::warn!(%symbol, error = %e, "could not release the lease; it lapses on its own");
            }
        }
    }

    /// Leads until stopped, fatally ended, or the leases are lost.
    async fn lead(
        &self,
        grants: Vec<(Underlying, LeaseGrant)>,
        stop: &mut oneshot::Receiver<()>,
    ) -> (TermEnd, Option<Stopped>) {
        let took_over = grants.iter().any(|(_, g)| g.took_over);
        let fences = Fences::new(grants.iter().map(|(u, g)| (*u, g.fence.clone())));
        let held: Vec<Underlying> = grants.iter().map(|(u, _)| *u).collect();
        let mut config = self.config.service.clone();
        config.listen = None;
        config.fences = fences.clone();
        config.ingest.underlyings = held.clone();
        config.ingest.resume = self.resume(&grants).await;
        tracing::info!(
            holder = %self.config.holder,
            symbols = ?held.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            tokens = ?grants.iter().map(|(_, g)| g.token).collect::<Vec<_>>(),
            took_over,
            "leading: holding the ingestion leases"
        );
        self.board.lead(&fences, &held, took_over);
        let mut service = match Service::start(config).await {
            Ok(service) => service,
            Err(StartError::Ingest(e)) => {
                self.release(&grants).await;
                return (TermEnd::Fatal(e), None);
            }
            Err(e) => {
                // Without an HTTP address to bind, only ingestion can refuse.
                self.release(&grants).await;
                return (TermEnd::Lost(e.to_string()), None);
            }
        };
        let ttl = self.config.lease_ttl;
        let mut renew = tokio::time::interval(ttl / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.tick().await;
        let mut renewed_at = Instant::now();
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
                    match self.renew(&grants).await {
                        Ok(()) => renewed_at = Instant::now(),
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
        if matches!(end, TermEnd::Stop | TermEnd::Fatal(_)) {
            self.release(&grants).await;
        }
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

    /// Per underlying, the epoch the store points at, to continue after, and why the
    /// first epoch begins.
    async fn resume(
        &self,
        grants: &[(Underlying, LeaseGrant)],
    ) -> BTreeMap<Underlying, (EpochId, EpochReason)> {
        let schema = self.schema();
        let mut resume = BTreeMap::new();
        for (symbol, grant) in grants {
            let pointer = self.store().get(&schema.current(*symbol)).await;
            let last = match pointer {
                Ok(Some(id)) => EpochId::parse(&id).ok(),
                Ok(None) | Err(_) => None,
            };
            let reason = if grant.took_over {
                EpochReason::Failover
            } else {
                EpochReason::Startup
            };
            if let Some(last) = last.filter(|l| l.underlying == *symbol) {
                resume.insert(*symbol, (last, reason));
            } else if grant.took_over {
                // Nothing to continue, but the first epoch still says why it began.
                tracing::info!(%symbol, "took the lease over with no current epoch in the store");
            }
        }
        resume
    }
}

/// Why a renewal did not happen.
enum Renewal {
    /// The lease is someone else's.
    Refused(String),
    /// The store did not answer; the lease may still be ours.
    Failed(String),
}
